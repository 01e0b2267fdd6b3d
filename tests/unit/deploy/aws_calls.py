"""Every AWS API call a component's code makes, found in its source.

A component is the modules its entry points import, directly or not (import-linter's graph,
grimp). In them, a call ``<receiver>.<operation>(...)`` is an AWS call when the operation is
one of the service's (botocore's own service models) and the receiver is that service's client:
named after the service (``sqs``, ``self.sns``) or a ``client`` in a module that names the
service. Paginators and waiters count as the operations they call. Functions a component
imports but never runs are left out by name in ``NOT_RUN``, each with the reason.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import botocore.session
import grimp
from botocore import xform_name

from shopstream.settings import REPO_ROOT

SERVICES = ("sqs", "sns", "dynamodb", "s3", "lambda", "sts")
OURS = ("shopstream", "streams", "api", "operators", "ops")
GENERIC_RECEIVERS = {"client", "aws"}

# What each component runs: the modules its process starts from (ops.roles).
ENTRIES: dict[str, tuple[str, ...]] = {
    "gateway": ("api.__main__", "api.main"),
    "worker": (
        "streams.__main__",
        *(f"streams.agents.{name}" for name in ("orders", "inventory", "payments", "shipping")),
    ),
    "projector": ("streams.__main__", "streams.agents.projections", "streams.agents.notifications"),
    "delivery": ("streams.delivery.__main__",),
    # The watch, and the dlq commands operators run in its pod (kubectl exec).
    "dlq-watch": ("ops.dead_letters.watch", "ops.dead_letters.commands"),
    "operator": ("operators.__main__",),
}

# Functions a component's modules hold but the component never calls.
NOT_RUN: dict[str, dict[str, str]] = {
    "gateway": {
        "streams.projections.history._put_all": "the projector writes the history",
        "streams.projections.history._recorded": "the projector writes the history",
        "api.idempotency_import.import_keys": (
            "the one-time import of the old DynamoDB keys is run by an operator with their own "
            "credentials (docs/idempotency.md), not by the gateway's pods"
        ),
    },
    "worker": {
        "streams.adapters.payment_package.deploy_function": (
            "deploying the payment function is the pipeline's work, not the worker's"
        ),
    },
    "projector": {
        "streams.adapters.notification_topology.ensure_topology": (
            "the delivery workers make the queues and subscriptions; the projector publishes"
        ),
        "streams.adapters.notification_topology._queue_arn": "only ensure_topology uses it",
    },
}


@dataclass(frozen=True, order=True)
class AwsCall:
    service: str
    operation: str  # the API's name: ReceiveMessage
    function: str  # module.function that makes it


@cache
def _operations() -> dict[str, dict[str, str]]:
    session = botocore.session.get_session()
    return {
        service: {
            xform_name(name): name for name in session.get_service_model(service).operation_names
        }
        for service in SERVICES
    }


@cache
def _waiters() -> dict[str, dict[str, str]]:
    session = botocore.session.get_session()
    found: dict[str, dict[str, str]] = {}
    for service in SERVICES:
        try:
            model = session.get_waiter_model(service)
        except Exception:  # a service without waiters
            found[service] = {}
            continue
        found[service] = {
            xform_name(name): model.get_waiter(name).operation for name in model.waiter_names
        }
    return found


# The agent registry: it imports every role's agents, where a worker imports its roles' only.
REGISTRY = "streams.agents"


@cache
def _graph() -> grimp.ImportGraph:
    graph = grimp.build_graph(*OURS)
    # ENTRIES names each component's agents, so the registry's imports of them are not
    # followed: through it every worker would reach every role's agents.
    for imported in graph.find_modules_directly_imported_by(REGISTRY):
        if imported.startswith(f"{REGISTRY}."):
            graph.remove_import(importer=REGISTRY, imported=imported)
    return graph


def _path(module: str) -> Path:
    path = REPO_ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def modules_of(component: str) -> set[str]:
    graph = _graph()
    found = set(ENTRIES[component])
    for entry in ENTRIES[component]:
        found |= graph.find_upstream_modules(entry)
    return {module for module in found if module.split(".")[0] in OURS}


def _calls_in(module: str) -> set[AwsCall]:
    text = _path(module).read_text()
    named = {service for service in SERVICES if re.search(rf"\b{service}\b", text, re.I)}
    found: set[AwsCall] = set()
    tree = ast.parse(text)
    functions = [node for node in ast.walk(tree)
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]  # fmt: skip
    for function in functions:
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = ast.unparse(node.func.value).removeprefix("self.").lstrip("_")
            services = {receiver} & set(SERVICES) or (
                named if receiver in GENERIC_RECEIVERS else set()
            )
            method = node.func.attr
            argument = node.args[0] if node.args else None
            literal = argument.value if isinstance(argument, ast.Constant) else None
            for service in services:
                operation = _operations()[service].get(method)
                if method == "get_paginator" and isinstance(literal, str):
                    operation = _operations()[service].get(literal)
                if method == "get_waiter" and isinstance(literal, str):
                    operation = _waiters()[service].get(literal)
                if operation:
                    found.add(AwsCall(service, operation, f"{module}.{function.name}"))
    return found


def calls_of(component: str) -> set[AwsCall]:
    """Every AWS call the component's code makes (less the functions it never runs)."""
    skipped = NOT_RUN.get(component, {})
    found: set[AwsCall] = set()
    for module in modules_of(component):
        found |= {call for call in _calls_in(module) if call.function not in skipped}
    return found
