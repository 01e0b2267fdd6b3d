import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pydantic import SecretStr

from shopstream.settings import Settings
from streams.adapters.payment_package import (
    HANDLER,
    MODULES,
    _runs_on_lambda,
    build_package,
    code_sha256,
    function_environment,
)

# What Lambda's Python runtime does with the handler setting, then three invocations.
LAMBDA_RUNTIME = """
import importlib, json, sys
sys.path.insert(0, ".")
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module), name)
charge = {"action": "charge", "order_id": "ord-1", "attempt": 1, "amount_cents": 4500,
          "currency": "EUR", "payment_token": "tok_visa", "idempotency_key": "k"}
charged = handler(charge, None)
refund = {"action": "refund", "order_id": "ord-1", "payment_id": charged["payment_id"],
          "amount_cents": 1000, "currency": "EUR", "idempotency_key": "r", "reason": "broken"}
declined = handler({**charge, "payment_token": "tok_chargeDeclined", "idempotency_key": "d"}, None)
print(json.dumps({
    "charged": charged,
    "again": handler(charge, None),
    "declined": declined,
    "refunded": handler(refund, None),
    "invalid": handler({"action": "charge"}, None),
    "from": importlib.import_module(module).__file__,
    "site": [p for p in sys.path if "site-packages" in p],
}))
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("package"))


def names(package: Path) -> set[str]:
    with zipfile.ZipFile(package) as archive:
        return set(archive.namelist())


def test_the_package_holds_the_handler_the_pure_modules_and_pydantic(package: Path) -> None:
    contents = names(package)
    assert "streams/adapters/payment_function.py" in contents
    assert {"streams/__init__.py", "streams/contract.py", "streams/domain/payments.py"} <= contents
    tops = {name.split("/")[0] for name in contents}
    assert {"pydantic", "pydantic_core", "typing_extensions.py", "annotated_types"} <= tops
    assert not tops & {"shopstream", "stack", "api", "boto3", "botocore", "aioboto3", "faust"}
    assert not any(name.endswith(".pyc") for name in contents)
    assert len(MODULES) == len({n for n in contents if n.startswith("streams/")})


def test_the_package_is_the_same_bytes_every_build(package: Path, tmp_path: Path) -> None:
    again = build_package(tmp_path)
    assert again.read_bytes() == package.read_bytes()
    assert code_sha256(again) == code_sha256(package)


def test_the_unzipped_package_answers_in_a_fresh_interpreter_like_lambdas(
    package: Path, tmp_path: Path
) -> None:
    task = tmp_path / "task"  # Lambda unzips the package into /var/task
    with zipfile.ZipFile(package) as archive:
        archive.extractall(task)
    # -I -S: no site-packages, no PYTHONPATH, no current directory: only the zip and stdlib.
    ran = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAMBDA_RUNTIME, HANDLER],
        cwd=task,
        env={"PAYMENT_PROVIDER": "simulated"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    answers = json.loads(ran.stdout)
    assert answers["charged"]["status"] == "succeeded"
    assert answers["again"] == answers["charged"]
    assert answers["declined"]["code"] == "card_declined"
    assert answers["refunded"]["amount_cents"] == 1000
    assert answers["invalid"]["status"] == "invalid"
    assert answers["from"].startswith(str(task))
    assert answers["site"] == []


def test_the_function_environment_carries_the_provider_but_no_unneeded_secret() -> None:
    simulated = Settings(
        payment_provider="simulated", stripe_api_key=SecretStr("sk_test_x"), payment_timeout_s=10
    )
    stripe = Settings(payment_provider="stripe", stripe_api_key=SecretStr("sk_test_x"))
    # The simulation's late-answering card answers a second after the invoker stops waiting.
    assert function_environment(simulated) == {
        "PAYMENT_PROVIDER": "simulated",
        "SIMULATED_LATE_ANSWER_S": "11",
    }
    assert function_environment(stripe) == {
        "PAYMENT_PROVIDER": "stripe",
        "STRIPE_API_KEY": "sk_test_x",
    }


@pytest.mark.parametrize(
    ("tag", "loads"),
    [
        ("cp311-cp311-manylinux_2_17_x86_64", True),
        ("cp311-cp311-manylinux2014_x86_64", True),
        ("cp311-abi3-manylinux_2_26_x86_64", True),
        ("cp311-cp311-manylinux_2_28_x86_64", False),  # newer glibc than Amazon Linux 2's
        ("cp312-cp312-manylinux_2_17_x86_64", False),
        ("cp311-cp311-musllinux_1_2_x86_64", False),
        ("cp311-cp311-manylinux_2_17_aarch64", False),
    ],
)
def test_only_wheels_lambdas_python311_can_load_are_packaged(tag: str, loads: bool) -> None:
    assert _runs_on_lambda(tag, "x86_64") is loads


def test_a_stripe_package_carries_the_sdk_and_its_requirements(tmp_path: Path) -> None:
    tops = {name.split("/")[0] for name in names(build_package(tmp_path, with_stripe=True))}
    assert {"stripe", "requests"} <= tops
