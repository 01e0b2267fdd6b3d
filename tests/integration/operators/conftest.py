"""The operator on a real kube-apiserver: the stack's `kube` part, the CRDs and the operator's
RBAC applied, and `python -m operators` run as a subprocess under its own ServiceAccount's
token, so the tests prove the ClusterRole is enough as well.

Without a controller-manager a deleted namespace never goes away: each test module gets a
fresh namespace and leaves it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shopstream.settings import REPO_ROOT, Settings, get_settings
from stack import control
from stack.environment import local_env
from stack.kube_part import Kube
from stack.process import port_is_free

# A first run builds kube-apiserver from source (10-20 minutes on 2 cores); only the test
# that triggers it gets this long.
BUILD_TIMEOUT_S = 40 * 60
DRIFT_INTERVAL_S = 2.0
# The SNS endpoints the tests' operator allows besides queues of the namespace (over https).
ALLOWED_HOOKS = r"https://hooks[.]example[.]invalid/.*"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if Kube(get_settings()).binary.exists():
        return
    here = Path(__file__).parent
    first = next((item for item in items if here in item.path.parents), None)
    if first is not None:
        first.add_marker(pytest.mark.timeout(BUILD_TIMEOUT_S))


@dataclass
class Cluster:
    kube: Kube
    operator_kubeconfig: Path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            ["kubectl", f"--kubeconfig={self.kube.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result.stdout if result.returncode == 0 else result.stderr


@pytest.fixture(scope="session")
async def cluster(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    kube = Kube(stack_settings)
    started = not kube.is_running()
    await control.up(stack_settings, [kube], lambda message: None)
    cluster = Cluster(kube, tmp_path_factory.mktemp("kube") / "operator.kubeconfig")
    cluster.kubectl("apply", "-f", str(REPO_ROOT / "k8s" / "crds"))
    cluster.kubectl("apply", "-f", str(REPO_ROOT / "k8s" / "operator" / "rbac.yaml"))
    for crd in ("kafkatopics", "sqsqueues", "snstopics", "mqbindings"):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}.messaging.shopstream.io")
    token = cluster.kubectl(
        "create", "token", "shopstream-operator", "-n", "shopstream-system", "--duration=2h"
    ).strip()
    cluster.operator_kubeconfig.write_text(kube.kubeconfig_text(token, namespace="default"))
    yield cluster
    if started:  # leave a kube part running only if someone else had started it
        control.down([kube], lambda message: None)


@dataclass
class Namespace:
    name: str
    cluster: Cluster
    suffix: str

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return self.cluster.kubectl("-n", self.name, *args, stdin=stdin, check=check)

    def apply(self, *documents: dict[str, Any], check: bool = True) -> str:
        items = {"apiVersion": "v1", "kind": "List", "items": list(documents)}
        return self.kubectl("apply", "-f", "-", stdin=json.dumps(items), check=check)

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        text = self.kubectl("get", plural, name, "-o", "json", check=False)
        return json.loads(text) if text.startswith("{") else None

    def ready(self, plural: str, name: str) -> dict[str, Any] | None:
        """The Ready condition, once it describes the object's current generation."""
        found = self.get(plural, name)
        if found is None:
            return None
        status = found.get("status") or {}
        for condition in status.get("conditions") or []:
            if (
                condition["type"] == "Ready"
                and condition.get("observedGeneration") == found["metadata"]["generation"]
            ):
                return dict(condition)
        return None


@pytest.fixture(scope="module")
def namespace(cluster: Cluster, stack_settings: Settings) -> Namespace:
    suffix = uuid.uuid4().hex[:8]
    space = Namespace(f"ops-{suffix}", cluster, suffix)
    cluster.kubectl("create", "namespace", space.name)
    ports = stack_settings.ports
    user, password = "shopstream", "shopstream"  # the local RabbitMQ's administrator
    secrets = {
        "kafka-connection": {"bootstrapServers": stack_settings.kafka_bootstrap_servers},
        "aws-connection": {
            "endpointUrl": str(stack_settings.aws_endpoint_url),
            "region": stack_settings.aws_region,
        },
        "rabbitmq-connection": {
            "managementUrl": f"http://127.0.0.1:{ports.rabbitmq_management}",
            "username": user,
            "password": password,
        },
    }
    space.apply(
        *(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name},
                "stringData": values,
            }
            for name, values in secrets.items()
        ),
        connection_secrets_binding(),
    )
    return space


def connection_secrets_binding() -> dict[str, Any]:
    """What a namespace grants the operator so that it may read its connection Secrets."""
    name = "shopstream-operator-connection-secrets"
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": "shopstream-operator",
                "namespace": "shopstream-system",
            }
        ],
    }


class Operator:
    """`python -m operators` for one namespace, as a subprocess that tests may kill."""

    def __init__(self, cluster: Cluster, namespace: str, settings: Settings, log: Path) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "operators",
            f"--namespace={namespace}",
            f"--drift-interval={DRIFT_INTERVAL_S}",
            f"--metrics-port={_free_port()}",
        ]
        self.env = {
            **os.environ,
            **local_env(settings),
            "KUBECONFIG": str(cluster.operator_kubeconfig),
            "SHOPSTREAM_OPERATOR_SNS_PROTOCOLS": json.dumps(["sqs", "https"]),
            "SHOPSTREAM_OPERATOR_SNS_ENDPOINT_PATTERNS": json.dumps([ALLOWED_HOOKS]),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.argv[-1].split('=')[1]}/metrics"

    def start(self) -> None:
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.argv, stdout=output, stderr=subprocess.STDOUT, env=self.env, cwd=REPO_ROOT
            )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no chance to finish what it was doing."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def new_log(self) -> str:
        """What the operator logged since it was last started."""
        with self.log.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 25) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster,
    namespace: Namespace,
    stack_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    running = Operator(cluster, namespace.name, stack_settings, log)
    running.start()
    yield running
    if running.process is None:
        running.start()
    # The backends are shared and outlive the namespace: let the operator delete what the
    # module's resources made (those with deletionPolicy retain stay; tests remove those).
    namespace.kubectl(
        "delete", "kafkatopics,sqsqueues,snstopics,mqbindings", "--all", "--timeout=60s"
    )
    running.stop()


def _free_port() -> int:
    for port in range(26700, 26800):
        if port_is_free(port):
            return port
    raise RuntimeError("no free port in 26700-26799 for the operator's metrics")
