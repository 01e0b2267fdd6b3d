"""deploy/aws/iam/<component>.json: each component's IAM policy allows every AWS call its code
makes (tests/unit/deploy/aws_calls.py finds them in the source) and nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from shopstream.settings import REPO_ROOT
from tests.unit.deploy.aws_calls import ENTRIES, NOT_RUN, AwsCall, _path, calls_of

POLICIES = REPO_ROOT / "deploy" / "aws" / "iam"
# Where IAM's action is not the API's name; None: no permission is needed at all.
IAM_ACTIONS: dict[tuple[str, str], str | None] = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("sts", "GetCallerIdentity"): None,
}
# Actions IAM cannot scope to a resource (they act on the account), or SMS to a phone number.
ANY_RESOURCE = {"sqs:ListQueues", "sns:ListTopics", "dynamodb:ListTables", "sns:Publish"}


def _needed(call: AwsCall) -> str | None:
    return IAM_ACTIONS.get((call.service, call.operation), f"{call.service}:{call.operation}")


def _statements(component: str) -> list[dict[str, Any]]:
    policy = json.loads((POLICIES / f"{component}.json").read_text())
    assert policy["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = policy["Statement"]
    assert all(statement["Effect"] == "Allow" for statement in statements)
    return statements


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.mark.parametrize("component", sorted(ENTRIES))
def test_the_policy_allows_every_call_of_the_component_and_nothing_more(component: str) -> None:
    calls = calls_of(component)
    needed = {action for call in calls if (action := _needed(call))}
    allowed = {action for s in _statements(component) for action in _listed(s["Action"])}
    assert needed, f"no AWS call found for {component}: the scan is broken"
    by_action = {action: sorted(c.function for c in calls if _needed(c) == action)
                 for action in needed - allowed}  # fmt: skip
    assert not needed - allowed, f"calls the policy does not allow: {by_action}"
    assert not allowed - needed, f"allowed but never called: {sorted(allowed - needed)}"


@pytest.mark.parametrize("component", sorted(ENTRIES))
def test_only_unscopable_actions_are_allowed_on_any_resource(component: str) -> None:
    for statement in _statements(component):
        if "*" in _listed(statement["Resource"]):
            assert set(_listed(statement["Action"])) <= ANY_RESOURCE, statement["Sid"]
        for resource in _listed(statement["Resource"]):
            assert resource == "*" or "shopstream-" in resource, resource


def test_every_function_left_out_still_exists() -> None:
    for component, functions in NOT_RUN.items():
        for function in functions:
            module, name = function.rsplit(".", 1)
            assert f"def {name}(" in _path(module).read_text(), f"{component}: {function} is gone"


def test_every_component_with_a_policy_has_a_service_account_in_the_chart() -> None:
    values = yaml.safe_load((REPO_ROOT / "charts" / "shopstream" / "values.yaml").read_text())
    accounts = {name.lower() for name in values["serviceAccounts"]}
    for component in ENTRIES:
        assert component.replace("-", "") in accounts
    assert {path.stem for path in POLICIES.glob("*.json")} == set(ENTRIES)
