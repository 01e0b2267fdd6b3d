"""The Helm chart (charts/shopstream): linted, rendered and validated offline against
Kubernetes' schemas and the CRDs' own, then installed into the local kube-apiserver."""

from __future__ import annotations

import filecmp
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shopstream.settings import REPO_ROOT
from tests.integration.deploy.conftest import CHART, KEDA_CRDS, Cluster, Helm

WORKLOADS = {"Deployment", "StatefulSet", "Job", "Pod"}
KAFKA = "config.kafkaBootstrapServers=b-1.msk.example:9098"
# The operator's tests apply the same CRDs with kubectl to this API server: helm takes their
# fields over rather than stopping at kubectl's (server-side apply) ownership of them.
SHARED_CRDS = ["--force-conflicts"]


def _kind_and_name(document: dict[str, Any]) -> tuple[str, str]:
    return document["kind"], document["metadata"]["name"]


def _pod_specs(documents: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for document in documents:
        if document["kind"] in WORKLOADS:
            spec = document["spec"]
            pod = spec if document["kind"] == "Pod" else spec["template"]["spec"]
            yield document["metadata"]["name"], pod


def _crd_schemas(*folders: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the openAPIV3Schema of each version of each CRD in ``folders``."""
    schemas = {}
    for folder in folders:
        for path in folder.glob("*.yaml"):
            for crd in yaml.safe_load_all(path.read_text()):
                if not crd:
                    continue
                group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    schema = version["schema"]["openAPIV3Schema"]
                    schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def test_the_chart_passes_helm_lint_strict(helm: Helm) -> None:
    output = helm("lint", "--strict", str(CHART), f"--set={KAFKA}")
    assert "0 chart(s) failed" in output


@pytest.mark.parametrize(
    ("keda", "values"),
    [("true", None), ("false", None), ("false", "values-local.yaml"), ("true", "values-eks.yaml")],
)
def test_every_rendered_object_is_valid_against_its_schema(
    helm: Helm, tmp_path: Path, keda: str, values: str | None
) -> None:
    files = [REPO_ROOT / "deploy" / values] if values else []
    documents = helm.template(
        KAFKA, f"keda.enabled={keda}", "gateway.ingress.enabled=true", files=files
    )
    crd_schemas = _crd_schemas(CHART / "crds", KEDA_CRDS)
    builtin = [doc for doc in documents if (doc["apiVersion"], doc["kind"]) not in crd_schemas]
    rendered = tmp_path / "builtin.yaml"
    rendered.write_text(yaml.safe_dump_all(builtin))
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "kubernetes-validate"), "--strict", str(rendered)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "WARN" not in result.stdout, result.stdout
    custom = [doc for doc in documents if (doc["apiVersion"], doc["kind"]) in crd_schemas]
    for document in custom:
        jsonschema.validate(document, crd_schemas[(document["apiVersion"], document["kind"])])
    kinds = {doc["kind"] for doc in custom}
    assert {"KafkaTopic", "SqsQueue", "SnsTopic", "MqBinding"} <= kinds
    assert ("ScaledObject" in kinds) == (keda == "true")


def test_keda_scales_workers_and_projector_on_lag_up_to_the_partitions(helm: Helm) -> None:
    documents = helm.template(KAFKA, "config.topicPartitions=6")
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in documents
              if doc["kind"] == "ScaledObject"}  # fmt: skip
    for name in ("shop-shopstream-worker", "shop-shopstream-projector"):
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["kind"] == "StatefulSet"
        assert spec["maxReplicaCount"] == 6
        assert spec["triggers"][0]["type"] == "kafka"
        behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300
    groups = {scaled[name]["spec"]["triggers"][0]["metadata"]["consumerGroup"]
              for name in ("shop-shopstream-worker", "shop-shopstream-projector")}  # fmt: skip
    assert groups == {"shopstream", "shopstream-notifications-projections"}
    delivery = scaled["shop-shopstream-delivery"]["spec"]["triggers"]
    assert {trigger["type"] for trigger in delivery} == {"aws-sqs-queue"}
    assert len(delivery) == 3


def test_without_keda_an_hpa_scales_the_workers_down_slowly(helm: Helm) -> None:
    documents = helm.template(KAFKA, "keda.enabled=false")
    hpas = {doc["spec"]["scaleTargetRef"]["name"]: doc["spec"] for doc in documents
            if doc["kind"] == "HorizontalPodAutoscaler"}  # fmt: skip
    worker = hpas["shop-shopstream-worker"]
    assert worker["maxReplicas"] == 4
    assert worker["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    assert "shop-shopstream-delivery" in hpas
    assert not [doc for doc in documents if doc["apiVersion"].startswith("keda.sh/")]


def test_every_pod_runs_unprivileged_read_only_with_resources(helm: Helm) -> None:
    documents = helm.template(KAFKA, "carrierSimulator.enabled=true")
    pods = dict(_pod_specs(documents))
    # gateway, worker, projector, delivery, dlq-watch, carrier, operator, migration, test
    assert len(pods) == 9
    for name, pod in pods.items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"]["memory"], name


def test_long_running_containers_have_probes(helm: Helm) -> None:
    documents = helm.template(KAFKA, "carrierSimulator.enabled=true")
    for name, pod in _pod_specs(documents):
        if pod.get("restartPolicy") == "Never":
            continue  # the migration Job and the test pod end by themselves
        for container in pod["containers"]:
            assert "livenessProbe" in container, name


def test_workers_keep_their_tables_on_a_volume(helm: Helm) -> None:
    documents = helm.template(KAFKA)
    statefulsets = [doc for doc in documents if doc["kind"] == "StatefulSet"]
    assert {doc["metadata"]["name"] for doc in statefulsets} == {
        "shop-shopstream-worker",
        "shop-shopstream-projector",
    }
    for statefulset in statefulsets:
        claim = statefulset["spec"]["volumeClaimTemplates"][0]
        mounts = statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert {"name": claim["metadata"]["name"], "mountPath": "/var/lib/shopstream"} in mounts


def test_service_accounts_carry_their_iam_roles(helm: Helm) -> None:
    role = "arn:aws:iam::123456789012:role/shopstream-delivery"
    documents = helm.template(KAFKA, f"serviceAccounts.delivery.roleArn={role}")
    accounts = {doc["metadata"]["name"]: doc for doc in documents
                if doc["kind"] == "ServiceAccount"}  # fmt: skip
    delivery = accounts["shop-shopstream-delivery"]["metadata"]
    assert delivery["annotations"]["eks.amazonaws.com/role-arn"] == role
    assert "annotations" not in accounts["shop-shopstream-gateway"]["metadata"]


def test_no_pod_is_given_aws_keys_or_the_local_endpoint(helm: Helm) -> None:
    text = yaml.safe_dump_all(helm.template(KAFKA, "carrierSimulator.enabled=true"))
    for forbidden in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "testing"):
        assert forbidden not in text


def test_every_object_carries_the_recommended_labels(helm: Helm) -> None:
    for document in helm.template(KAFKA):
        if document["kind"] == "CustomResourceDefinition":
            continue
        labels = document["metadata"]["labels"]
        for key in ("name", "instance", "version", "component", "part-of", "managed-by"):
            assert f"app.kubernetes.io/{key}" in labels, _kind_and_name(document)


def test_the_migration_job_and_the_test_pod_are_hooks(helm: Helm) -> None:
    documents = {_kind_and_name(doc): doc for doc in helm.template(KAFKA)}
    job = documents[("Job", "shop-shopstream-migrate")]["metadata"]["annotations"]
    assert job["helm.sh/hook"] == "pre-install,pre-upgrade"
    test = documents[("Pod", "shop-shopstream-test-readyz")]["metadata"]["annotations"]
    assert test["helm.sh/hook"] == "test"


def test_the_values_schema_refuses_a_wrong_value(helm: Helm) -> None:
    with pytest.raises(AssertionError, match="at '/gateway/replicas': minimum: got 0, want 1"):
        helm.template(KAFKA, "gateway.replicas=0")
    with pytest.raises(AssertionError, match="additional properties 'replica' not allowed"):
        helm.template(KAFKA, "worker.replica=3")


def test_the_chart_carries_the_crds_and_messaging_resources_of_k8s() -> None:
    for ours, theirs in (("crds", "crds"), ("messaging", "messaging")):
        compared = filecmp.dircmp(CHART / ours, REPO_ROOT / "k8s" / theirs, ignore=["samples"])
        assert not (compared.left_only or compared.right_only or compared.diff_files), (
            f"copy k8s/{theirs}/*.yaml into charts/shopstream/{ours}/"
        )


def test_helm_install_creates_every_object_in_the_api_server(cluster: Cluster) -> None:
    namespace = cluster.namespace({"SHOPSTREAM_JWT_SECRET": "not-the-default"})
    expected = cluster.helm.template(KAFKA, namespace=namespace)
    # Nothing runs a Job here (no controller-manager): the hooks are checked on their own.
    cluster.helm_in("install", "shop", str(CHART), "-n", namespace, "--no-hooks", f"--set={KAFKA}",
                    *SHARED_CRDS)  # fmt: skip
    status = cluster.helm_in("status", "shop", "-n", namespace)
    assert "STATUS: deployed" in status
    missing = []
    for document in expected:
        kind, name = _kind_and_name(document)
        hook = "helm.sh/hook" in (document["metadata"].get("annotations") or {})
        if kind == "CustomResourceDefinition" or hook:
            continue
        scope = [] if kind in {"ClusterRole", "ClusterRoleBinding"} else ["-n", namespace]
        try:
            cluster.kubectl("get", kind.lower(), name, *scope, "-o", "name")
        except AssertionError:
            missing.append((kind, name))
    assert not missing
    # The hooks, as helm keeps them with the release, pass the API server's validation.
    hooks_text = cluster.helm_in("get", "hooks", "shop", "-n", namespace)
    accepted = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                               stdin=hooks_text)  # fmt: skip
    assert "job.batch/shop-shopstream-migrate created (server dry run)" in accepted
    assert "pod/shop-shopstream-test-readyz created (server dry run)" in accepted


def test_helm_install_without_keda_or_messaging_and_an_upgrade(cluster: Cluster) -> None:
    namespace = cluster.namespace({"SHOPSTREAM_JWT_SECRET": "not-the-default"})
    settings = [f"--set={KAFKA}", "--set=keda.enabled=false", "--set=messaging.enabled=false"]
    cluster.helm_in("install", "shop", str(CHART), "-n", namespace, "--no-hooks", *settings,
                    *SHARED_CRDS)  # fmt: skip
    fixed = ["--set=gateway.autoscaling.enabled=false", "--set=gateway.replicas=3"]
    cluster.helm_in("upgrade", "shop", str(CHART), "-n", namespace, "--no-hooks", *settings,
                    *fixed)  # fmt: skip
    replicas = cluster.kubectl("get", "deployment", "shop-shopstream-gateway", "-n", namespace,
                               "-o", "jsonpath={.spec.replicas}")  # fmt: skip
    assert replicas == "3"
    assert cluster.kubectl("get", "hpa", "-n", namespace, "-o", "name").split() == [
        "horizontalpodautoscaler.autoscaling/shop-shopstream-delivery",
        "horizontalpodautoscaler.autoscaling/shop-shopstream-projector",
        "horizontalpodautoscaler.autoscaling/shop-shopstream-worker",
    ]


@pytest.mark.parametrize("cluster_wide", ["false", "true"])
def test_the_operator_reads_secrets_in_the_releases_namespace_only(
    helm: Helm, cluster_wide: str
) -> None:
    documents = helm.template(KAFKA, f"operator.clusterWide={cluster_wide}")
    for document in documents:
        if document["kind"] not in {"Role", "ClusterRole"}:
            continue
        resources = {r for rule in document["rules"] for r in rule["resources"]}
        if "secrets" in resources:
            assert document["kind"] == "Role", document["metadata"]["name"]
