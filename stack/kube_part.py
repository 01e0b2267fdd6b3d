"""A Kubernetes API server (no nodes, no controllers) with its etcd, for the operator's and
the Helm chart's tests.

kube-apiserver is built once from the Go modules of k8s.io/kubernetes by
``stack/kube/build-apiserver.sh`` and cached, and helm from helm.sh/helm/v4 by
``stack/kube/build-helm.sh``; etcd is Debian's. Both listen on loopback with
self-signed certificates, a token file and RBAC, and keep their state under ``.stack/kube``.

What is missing without a controller-manager (tests must live with it): a deleted namespace
stays Terminating forever (use a fresh namespace, never delete one), ownerReferences do not
cascade (no garbage collector), new namespaces get no ``default`` ServiceAccount, and
Deployments create no pods.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx

from shopstream.health import Probe
from shopstream.settings import Settings
from stack.errors import StackError
from stack.part import Part, Progress
from stack.process import Daemon, require_free_ports, run_checked

KUBE_VERSION = "v1.37.2"
BUILD_SCRIPT = Path(__file__).resolve().parent / "kube" / "build-apiserver.sh"
# helm, for the chart's checks and installs (charts/shopstream), built and cached the same way.
HELM_VERSION = "v4.3.2"
HELM_BUILD_SCRIPT = Path(__file__).resolve().parent / "kube" / "build-helm.sh"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# etcd must answer before kube-apiserver starts: the apiserver gives up on a store it cannot
# reach while it sets up its storage, and then exits.
ETCD_START_TIMEOUT_S = 30.0


def _etcd() -> str:
    path = shutil.which("etcd")
    if path is None:
        raise StackError("kube: `etcd` not found; install it: apt-get install etcd-server")
    return path


@functools.cache  # asked on every readiness poll otherwise (through `daemons`)
def _etcd_version(etcd: str) -> str:
    result = subprocess.run([etcd, "--version"], capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if line.startswith("etcd Version:"):
            return line.split(":", 1)[1].strip()
    return ""


class Kube(Part):
    name = "kube"

    @property
    def binary(self) -> Path:
        return self.settings.cache_dir / "kube" / KUBE_VERSION / "kube-apiserver"

    @property
    def helm(self) -> Path:
        return self.settings.cache_dir / "helm" / HELM_VERSION / "helm"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.settings.ports.kube_apiserver}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ports.etcd_client}"

    @property
    def pki(self) -> Path:
        return self.home / "pki"

    @property
    def ca_path(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def tokens_path(self) -> Path:
        return self.home / "tokens.csv"

    @property
    def kubeconfig(self) -> Path:
        """An admin kubeconfig (group system:masters) for kubectl, tests and the operator."""
        return self.home / "kubeconfig"

    def admin_token(self) -> str:
        return self.tokens_path.read_text().split(",", 1)[0]

    @property
    def ports(self) -> dict[str, int]:
        ports = self.settings.ports
        return {
            "kube-apiserver": ports.kube_apiserver,
            "etcd client": ports.etcd_client,
            "etcd peer": ports.etcd_peer,
        }

    @property
    def address(self) -> str:
        return self.url

    @property
    def daemons(self) -> list[Daemon]:
        return [self._etcd_daemon(), self._apiserver_daemon()]

    def _etcd_daemon(self) -> Daemon:
        etcd = _etcd()
        peer = f"http://127.0.0.1:{self.settings.ports.etcd_peer}"
        # etcd before 3.6 cannot answer the apiserver's RequestWatchProgress; frequent
        # server-side progress notifications keep the apiserver's watch caches current
        # (without them it keeps logging "Too large resource version" and answers slower).
        version = _etcd_version(etcd)
        progress_flag = (
            "--experimental-watch-progress-notify-interval=1s"
            if version.startswith(("3.4.", "3.5."))
            else "--watch-progress-notify-interval=1s"
        )
        return Daemon(
            name="etcd",
            argv=[
                etcd,
                "--name=shopstream",
                f"--data-dir={self.home / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=shopstream={peer}",
                "--initial-cluster-state=new",
                f"--quota-backend-bytes={2 * 1024**3}",
                "--logger=zap",
                "--log-outputs=stderr",
                progress_flag,
            ],
            run_dir=self.run_dir,
            log_path=self.log_path.with_name("etcd.log"),
        )

    def _apiserver_daemon(self) -> Daemon:
        return Daemon(
            name="kube-apiserver",
            argv=[
                str(self.binary),
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                # The endpoint reconciler refuses a loopback address; nothing here needs the
                # `kubernetes` Service's endpoints.
                "--endpoint-reconciler-type=none",
                f"--secure-port={self.settings.ports.kube_apiserver}",
                f"--etcd-servers={self.etcd_url}",
                f"--tls-cert-file={self.pki / 'apiserver.crt'}",
                f"--tls-private-key-file={self.pki / 'apiserver.key'}",
                f"--client-ca-file={self.ca_path}",
                f"--token-auth-file={self.tokens_path}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={self.pki / 'sa.pub'}",
                f"--service-account-signing-key-file={self.pki / 'sa.key'}",
                f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--authorization-mode=RBAC",
                # No token controller creates the default ServiceAccount this plugin insists on.
                "--disable-admission-plugins=ServiceAccount",
                f"--cert-dir={self.pki}",
                "--profiling=false",
                # No garbage collector runs: Foreground/Orphan deletes would wait forever on
                # finalizers nobody removes.
                "--enable-garbage-collector=false",
                "--v=0",
            ],
            run_dir=self.run_dir,
            log_path=self.log_path,
        )

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        return [("etcd", self._etcd_health), ("kube-apiserver", self._readyz)]

    async def _etcd_health(self, settings: Settings) -> str:
        async with httpx.AsyncClient(timeout=settings.health_timeout_s) as client:
            response = await client.get(f"{self.etcd_url}/health")
        response.raise_for_status()
        if response.json().get("health") != "true":
            raise RuntimeError(f"etcd reports {response.text.strip()}")
        return "etcd healthy"

    async def _readyz(self, settings: Settings) -> str:
        context = ssl.create_default_context(cafile=str(self.ca_path))
        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        async with httpx.AsyncClient(verify=context, timeout=settings.health_timeout_s) as client:
            ready = await client.get(f"{self.url}/readyz", headers=headers)
            if ready.status_code != 200:
                raise RuntimeError(f"/readyz answered {ready.status_code}: {ready.text[:200]}")
            version = (await client.get(f"{self.url}/version", headers=headers)).json()
        return f"kube-apiserver {version.get('gitVersion', '?')} ready"

    def install(self, progress: Progress) -> None:
        _etcd()
        if shutil.which("openssl") is None:
            raise StackError("kube: `openssl` not found; install it: apt-get install openssl")
        if not self.binary.exists():
            self._build(
                progress,
                f"kube-apiserver {KUBE_VERSION} from Go modules, once (10-20 min",
                BUILD_SCRIPT,
                {"KUBE_VERSION": KUBE_VERSION},
                self.binary,
            )
        if not self.helm.exists():
            self._build(
                progress,
                f"helm {HELM_VERSION} from its Go module, once (4-8 min",
                HELM_BUILD_SCRIPT,
                {"HELM_VERSION": HELM_VERSION},
                self.helm,
            )

    def _build(
        self, progress: Progress, what: str, script: Path, env: dict[str, str], binary: Path
    ) -> None:
        log = self.settings.state_dir / "logs" / "kube-build.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        progress(f"building {what} on 2 cores; follow it in {log})")
        with log.open("ab") as output:
            result = subprocess.run(
                [str(script)],
                stdout=subprocess.DEVNULL,
                stderr=output,
                env={**os.environ, **env, "SHOPSTREAM_CACHE": str(self.settings.cache_dir)},
                check=False,
            )
        if result.returncode != 0 or not binary.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise StackError(f"kube: building {binary.name} failed; {log} ends:\n{tail}")

    def prepare(self, progress: Progress) -> None:
        self.home.chmod(0o700)  # holds the CA key and the admin token
        if not (self.pki / "apiserver.crt").exists():
            progress("kube: creating a CA, the serving certificate and service-account keys")
            self._make_pki()
        if not self.tokens_path.exists():
            # token,user,uid,"groups": one admin in system:masters, which RBAC lets do anything.
            self.tokens_path.write_text(f'{secrets.token_hex(24)},admin,admin,"system:masters"\n')
            self.tokens_path.chmod(0o600)
        # Rewritten every start: the port may have changed since.
        self.kubeconfig.write_text(self.kubeconfig_text(self.admin_token(), namespace="default"))
        self.kubeconfig.chmod(0o600)

    def kubeconfig_text(self, token: str, namespace: str) -> str:
        """A kubeconfig for this API server with a bearer token (an admin's or an SA's)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "shopstream-local",
                    "cluster": {"server": self.url, "certificate-authority": str(self.ca_path)},
                }
            ],
            "users": [{"name": "user", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "shopstream-local",
                    "context": {
                        "cluster": "shopstream-local",
                        "user": "user",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "shopstream-local",
        }
        return json.dumps(config, indent=2) + "\n"  # JSON is YAML, and needs no library

    def _make_pki(self) -> None:
        self.pki.mkdir(parents=True, exist_ok=True)
        self.pki.chmod(0o700)
        (self.pki / "apiserver.ext").write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
            "DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
        )
        steps = [
            "req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.crt"
            " -subj /CN=shopstream-local-ca -addext basicConstraints=critical,CA:TRUE"
            " -addext keyUsage=critical,keyCertSign,cRLSign",
            "req -newkey rsa:2048 -nodes -sha256 -keyout apiserver.key -out apiserver.csr"
            " -subj /CN=kube-apiserver",
            "x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650"
            " -sha256 -extfile apiserver.ext -out apiserver.crt",
            "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key",
            "pkey -in sa.key -pubout -out sa.pub",
        ]
        old_umask = os.umask(0o077)
        try:
            for step in steps:
                argv = ["openssl", *step.split()]  # no argument holds a space
                run_checked(argv, f"kube: openssl {argv[1]}", cwd=self.pki)
        finally:
            os.umask(old_umask)
        for leftover in ("apiserver.csr", "apiserver.ext", "ca.srl"):
            (self.pki / leftover).unlink(missing_ok=True)

    def start(self, progress: Progress) -> None:
        if self.is_running():
            return
        etcd, apiserver = self.daemons
        if etcd.pid() is not None or apiserver.pid() is not None:
            # Half of the part is up (the other died): start clean rather than guess.
            self.stop()
        require_free_ports(self.name, self.ports)
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare(progress)
        etcd.start()
        self._wait_for_etcd(etcd)
        apiserver.start()

    def _wait_for_etcd(self, etcd: Daemon) -> None:
        deadline = time.monotonic() + ETCD_START_TIMEOUT_S
        while True:
            if etcd.exited_early():
                raise StackError(f"kube: etcd exited while starting; its log is {etcd.log_path}")
            try:
                if httpx.get(f"{self.etcd_url}/health", timeout=1).json().get("health") == "true":
                    return
            except (httpx.HTTPError, ValueError):
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise StackError(f"kube: etcd not healthy after {ETCD_START_TIMEOUT_S:.0f}s")
            time.sleep(0.1)
