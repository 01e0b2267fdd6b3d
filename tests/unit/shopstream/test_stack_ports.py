"""Every port of the local stack is chosen once, in ``StackPorts``: the code and the chart take
it from there, and the few files that cannot compute one repeat it exactly."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from shopstream.settings import REPO_ROOT, StackPorts

PORTS = StackPorts().model_dump()
BLOCK = range(26000, 27000)
# Where the processes and the stack are written; tests and benchmarks pick free ports of their
# own for the instances they start.
CODE = ("shopstream", "stack", "streams", "ops", "api", "operators")
CHART = REPO_ROOT / "charts" / "shopstream"
# Ports a reader could take for ours: one of the block, or one StackPorts chooses.
_NUMBER = re.compile(r"(?<![\w.-])(\d{4,5})(?![\w.-])")
# A port written after a host (``127.0.0.1:26092``, ``0.0.0.0:8080``) or after a port key.
_SPELT_PORT = re.compile(r"(?:\w:|port[\w.\-/]*\"?\s*[:=]\s*\"?)(\d{4,5})\b", re.IGNORECASE)
# A name that holds a port: port, smtp_port, web_port, self.metrics_port, port_number.
_PORT_NAME = re.compile(r"(?:^|[_.])port(?:$|_)", re.IGNORECASE)


def _ours(number: int) -> bool:
    return number in BLOCK or number in PORTS.values()


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO_ROOT)}:{line}"


def _stack_ports_nodes(tree: ast.Module) -> set[int]:
    """The nodes of the StackPorts class: the one place a port is written down."""
    return {
        id(node)
        for top in tree.body
        if isinstance(top, ast.ClassDef) and top.name == "StackPorts"
        for node in ast.walk(top)
    }


def _port_bindings(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) of every keyword argument, assignment and parameter default in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg:
            yield node.arg, node.value
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name | ast.Attribute):
                    yield ast.unparse(target), node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            yield ast.unparse(node.target), node.value
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            positional = arguments.posonlyargs + arguments.args
            defaults = zip(
                positional[len(positional) - len(arguments.defaults) :],
                arguments.defaults,
                strict=True,
            )
            named = zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
            for argument, default in [*defaults, *named]:
                if default is not None:
                    yield argument.arg, default


def _stray_in_python(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    exempt = _stack_ports_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in exempt or not isinstance(node, ast.Constant):
            continue
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            if _ours(node.value):
                yield f"{_where(path, node.lineno)}: {node.value}"
        elif isinstance(node.value, str):
            for number in _NUMBER.findall(node.value) + _SPELT_PORT.findall(node.value):
                if _ours(int(number)):
                    yield f"{_where(path, node.lineno)}: {number} in a string"
    for name, value in _port_bindings(tree):
        literal = isinstance(value, ast.Constant) and isinstance(value.value, int)
        if literal and _PORT_NAME.search(name) and id(value) not in exempt:
            yield f"{_where(path, value.lineno)}: {name} = {ast.unparse(value)}"


def _stray_in_text(path: Path) -> Iterator[str]:
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        ours = [n for n in _NUMBER.findall(line) if _ours(int(n))]
        for found in [*ours, *_SPELT_PORT.findall(line)]:
            yield f"{_where(path, number)}: {found}"


def _files(folder: Path) -> Iterator[Path]:
    """The files of ``folder`` that a process reads; not its prose (Markdown), whose examples
    name the default ports for a reader to type."""
    for path in sorted(folder.rglob("*")):
        if (
            path.is_file()
            and "__pycache__" not in path.parts
            and path.suffix not in (".pyc", ".md")
        ):
            yield path


def test_every_port_of_the_local_stack_is_its_own() -> None:
    numbers = list(PORTS.values())
    shared = {n: [k for k, v in PORTS.items() if v == n] for n in numbers if numbers.count(n) > 1}
    assert shared == {}


def test_every_port_but_the_gateways_is_in_the_block() -> None:
    # The gateway's is the address developers open (README): 8000, where they expect it.
    outside = {name: port for name, port in PORTS.items() if port not in BLOCK}
    assert outside == {"gateway": 8000}


def test_no_code_spells_out_a_port_instead_of_taking_it_from_the_settings() -> None:
    stray: list[str] = []
    for package in CODE:
        for path in _files(REPO_ROOT / package):
            if path.suffix == ".py":
                stray.extend(_stray_in_python(path))
            else:
                stray.extend(_stray_in_text(path))
    assert stray == []


def test_the_charts_templates_take_every_port_from_its_values() -> None:
    stray = [found for path in _files(CHART / "templates") for found in _stray_in_text(path)]
    assert stray == []


def test_the_charts_ports_are_the_local_stacks() -> None:
    # The chart hands each process its port (SHOPSTREAM_PORTS__<NAME>) and opens the same one
    # in its pod; by default the ports a developer knows from the local stack.
    values = yaml.safe_load((CHART / "values.yaml").read_text())["ports"]
    assert values == {
        "gateway": PORTS["gateway"],
        "workerWeb": PORTS["worker_web"],
        "carrierSimulatorMetrics": PORTS["carrier_simulator_metrics"],
        "deadLetterWatchMetrics": PORTS["dead_letter_watch_metrics"],
        "deliveryMetrics": PORTS["delivery_metrics"],
        "operatorMetrics": PORTS["operator_metrics"],
    }


def test_files_that_cannot_compute_a_port_repeat_the_settings_exactly() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.findall(r"^EXPOSE (\d+)$", dockerfile, re.MULTILINE) == [str(PORTS["gateway"])]
    operator = yaml.safe_load((REPO_ROOT / "k8s" / "operator" / "deployment.yaml").read_text())
    pod = operator["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    metrics = PORTS["operator_metrics"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(metrics)
    assert f"--metrics-port={metrics}" in container["args"]
    assert {"name": "metrics", "containerPort": metrics} in container["ports"]
    local = yaml.safe_load((REPO_ROOT / "deploy" / "values-local.yaml").read_text())
    assert local["config"]["kafkaBootstrapServers"].endswith(f":{PORTS['kafka']}")
