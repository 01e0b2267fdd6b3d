"""The configuration reference, ``docs/configuration.md``, made from ``shopstream.settings``.

``python -m shopstream.config_reference`` writes it; a test fails while the committed file
differs from what this makes. Each setting's description is the comment written above it (or
beside it) in ``settings.py``: the one place it is explained.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shopstream import settings
from shopstream.settings import (
    ENV_PREFIX,
    NESTED_DELIMITER,
    REPO_ROOT,
    Settings,
    StackPorts,
    local_addresses,
)

SOURCE: Final = Path(settings.__file__)
TARGET: Final = REPO_ROOT / "docs" / "configuration.md"

# Which port each of the local stack's addresses is built from (settings.local_addresses).
_FROM_PORT: Final = {
    "kafka_bootstrap_servers": "kafka",
    "database_url": "postgres",
    "amqp_url": "amqp",
    "mqtt_port": "mqtt",
    "smtp_port": "smtp",
    "notification_order_url": "gateway",
}

_HEADER: Final = """# Configuration

Every process reads its configuration from `SHOPSTREAM_*` environment variables, into the one
settings object `shopstream.settings.Settings`. Lists and sets are JSON
(`SHOPSTREAM_WORKER_ROLES='["projections"]'`); nested settings take `__`
(`SHOPSTREAM_PORTS__GATEWAY=8001`). A `SHOPSTREAM_*` variable that is no setting stops the
process at its start, naming the closest valid one.

The local stack's addresses (Kafka, PostgreSQL, RabbitMQ, MQTT, SMTP, the order links) follow
its ports unless they are set: `SHOPSTREAM_PORTS__KAFKA=27092` moves Kafka and the address
every process uses for it.

Generated from `shopstream/settings.py` by `python -m shopstream.config_reference`; do not edit.
"""


def _comments(class_name: str) -> dict[str, str]:
    """Each field of ``class_name`` and the comment above it, or beside it, in the source."""
    text = SOURCE.read_text()
    lines = text.splitlines()
    found: dict[str, str] = {}
    inline = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type == tokenize.COMMENT and not token.line.strip().startswith("#")
    }
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.ClassDef) and node.name == class_name):
            continue
        for item in node.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            above: list[str] = []
            number = item.lineno - 2
            while number >= 0 and lines[number].strip().startswith("#"):
                above.insert(0, lines[number].strip().lstrip("#").strip())
                number -= 1
            beside = [inline[n] for n in (item.lineno, item.end_lineno) if n in inline]
            found[item.target.id] = " ".join(above + beside[:1])
    return found


def _default(name: str, field: FieldInfo) -> str:
    if name in local_addresses(StackPorts()):
        return f"the local stack's, from `ports.{_FROM_PORT[name]}`"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, SecretStr):
        return "a local-only value"
    if isinstance(value, Path):
        home = Path.home()
        if value.is_relative_to(REPO_ROOT):
            return f"`<repository>/{value.relative_to(REPO_ROOT)}`"
        if value.is_relative_to(home):
            return f"`~/{value.relative_to(home)}`"
    if isinstance(value, frozenset):
        value = sorted(value)
    if isinstance(value, BaseModel):
        return "below"
    if value is None:
        return "unset"
    return f"`{value!r}`".replace("|", "\\|")


def _type(field: FieldInfo) -> str:
    annotation = field.annotation
    shown = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = shown or str(annotation).replace("typing.", "").replace("re.", "")
    return f"`{text}`".replace("|", "\\|")


def _rows(model: type[BaseModel], prefix: str, comments: dict[str, str]) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        described = comments.get(name, "").replace("|", "\\|")
        default = _default(name, field) if model is Settings else f"`{field.default!r}`"
        rows.append(f"| `{variable}` | {_type(field)} | {default} | {described} |")
    return rows


def reference() -> str:
    table = "| variable | type | default | what it is |\n|---|---|---|---|\n"
    ports_prefix = f"{ENV_PREFIX}PORTS{NESTED_DELIMITER}"
    return (
        _HEADER
        + "\n## Settings\n\n"
        + table
        + "\n".join(_rows(Settings, ENV_PREFIX, _comments("Settings")))
        + "\n\n## Ports of the local stack\n\n"
        + "On 127.0.0.1. "
        + " ".join((StackPorts.__doc__ or "").split())
        + "\n\n"
        + table
        + "\n".join(_rows(StackPorts, ports_prefix, _comments("StackPorts")))
        + "\n"
    )


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else TARGET
    target.write_text(reference())
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
