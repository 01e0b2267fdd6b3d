"""The chart's tests: helm (built once from its Go module by the stack's `kube` part) and the
local kube-apiserver. Without a controller-manager nothing runs a pod or a Job there, and a
deleted namespace never goes away: each test gets a namespace of its own and leaves it."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopstream.settings import REPO_ROOT, Settings, get_settings
from stack import control
from stack.kube_part import Kube

CHART = REPO_ROOT / "charts" / "shopstream"
KEDA_CRDS = Path(__file__).parent / "keda-crds"
# A first run builds helm (and kube-apiserver, if the operator's tests have not) from source.
BUILD_TIMEOUT_S = 40 * 60
# A cold `make image`: the Debian base, then the image (about 2 minutes here).
IMAGE_BUILD_TIMEOUT_S = 15 * 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test that needs helm (or the API server) builds them when they are missing,
    and the first that needs the image builds it: only those get the time a build takes."""
    here = Path(__file__).parent
    ours = [item for item in items if here in item.path.parents]
    kube = Kube(get_settings())
    builds = [("image", IMAGE_BUILD_TIMEOUT_S)]
    if not (kube.binary.exists() and kube.helm.exists()):
        builds.append(("helm", BUILD_TIMEOUT_S))
    for fixture, timeout in builds:
        first = next((item for item in ours if fixture in getattr(item, "fixturenames", ())), None)
        if first is not None:
            first.add_marker(pytest.mark.timeout(timeout))


def run(argv: Sequence[str], stdin: str | None = None) -> str:
    result = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv[:3])} ... failed:\n{result.stderr}{result.stdout}")
    return result.stdout


@dataclass
class Helm:
    binary: Path

    def __call__(self, *args: str) -> str:
        return run([str(self.binary), *args])

    def template(
        self, *values: str, namespace: str = "shop", files: Sequence[Path] = ()
    ) -> list[dict[str, Any]]:
        """The chart rendered with the values ``files`` and ``--set`` ``values``: its objects,
        hooks and CRDs too."""
        options = [f"--values={path}" for path in files] + [f"--set={value}" for value in values]
        text = self("template", "shop", str(CHART), "-n", namespace, "--include-crds", *options)
        return [document for document in yaml.safe_load_all(text) if document]


@pytest.fixture(scope="session")
def helm() -> Helm:
    kube = Kube(get_settings())
    kube.install(lambda message: None)  # builds helm once, then only checks it is there
    return Helm(kube.helm)


@dataclass
class Cluster:
    kube: Kube
    helm: Helm

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return run(["kubectl", f"--kubeconfig={self.kube.kubeconfig}", *args], stdin=stdin)

    def helm_in(self, *args: str) -> str:
        return self.helm(f"--kubeconfig={self.kube.kubeconfig}", *args)

    def namespace(self, secrets: dict[str, str]) -> str:
        name = f"chart-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", name)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "shopstream-secrets", "namespace": name},
            "stringData": secrets,
        }
        self.kubectl("apply", "-f", "-", stdin=json.dumps(secret))
        return name


@pytest.fixture(scope="session")
async def cluster(stack_settings: Settings, helm: Helm) -> AsyncIterator[Cluster]:
    kube = Kube(stack_settings)
    started = not kube.is_running()
    await control.up(stack_settings, [kube], lambda message: None)
    cluster = Cluster(kube, helm)
    # KEDA's own CRDs, so that the chart's ScaledObjects meet KEDA's real schema.
    cluster.kubectl("apply", "--server-side", "-f", str(KEDA_CRDS))
    for crd in ("scaledobjects.keda.sh", "triggerauthentications.keda.sh"):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}")
    yield cluster
    if started:  # leave a kube part running only if someone else had started it
        control.down([kube], lambda message: None)
