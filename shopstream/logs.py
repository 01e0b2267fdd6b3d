"""Structured JSON logs for every process, with the bound context (order_id, trace_id).

Libraries that log through the standard library (aiokafka, faust, uvicorn) are rendered by
the same processor chain, so one process writes one format.
"""

from __future__ import annotations

import logging.config
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog

# What the record being handled adds to every line logged meanwhile (order_id, trace_id, the
# event). One variable set per record: structlog's bound_contextvars copies the whole context
# twice per use, which a stream worker would pay for every record, logged about or not.
_RECORD: ContextVar[Mapping[str, str] | None] = ContextVar("shopstream_record", default=None)


@contextmanager
def record_context(**values: str) -> Iterator[None]:
    """Every line logged inside (in this task) carries ``values``, unless it sets them."""
    token = _RECORD.set(values)
    try:
        yield
    finally:
        _RECORD.reset(token)


def _merge_record_context(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = _RECORD.get()
    if record:
        for key, value in record.items():
            event.setdefault(key, value)
    return event


_SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    _merge_record_context,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
]


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` mapping: JSON lines on stderr (Faust takes it too)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": _SHARED_PROCESSORS,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(),
                ],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


def configure_logging(component: str, level: str = "INFO") -> None:
    """Route structlog and stdlib logging to one JSON line per event on stderr."""
    structlog.configure(
        processors=[
            # First: a record below the level is dropped before any work is done for it.
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(logging_config(level))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(component=component)


def get_logger(name: str, **context: Any) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger.bind(**context) if context else logger
