"""Log lines: JSON unless a person is watching a terminal, and the call's request id on each."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import grpc
import pytest

from adpulse.server.observe import logs
from adpulse.server.settings import Settings, SettingsError
from adpulse.server.transport.calls import Call


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _one_call_line(stream: io.StringIO, fmt: str) -> str:
    logs.configure(fmt, "INFO", stream)
    call = Call(method="/adpulse.v1.AnalyticsService/QueryMetrics", metadata=(), request_id="req-42")
    call.tenant, call.code = "acme", grpc.StatusCode.OK
    token = logs.enter_call(call)
    try:
        logging.getLogger("adpulse.test").info("answered %d groups", 3, extra={"rows": 3})
    finally:
        logs.leave_call(token)
    logging.getLogger("adpulse.test").info("outside any call")
    return stream.getvalue()


def test_json_when_no_terminal_is_attached() -> None:
    first, second = (json.loads(line) for line in _one_call_line(io.StringIO(), "auto").splitlines())
    assert first["message"] == "answered 3 groups" and first["level"] == "info"
    assert (first["request_id"], first["tenant"], first["rows"]) == ("req-42", "acme", 3)
    assert first["method"] == "/adpulse.v1.AnalyticsService/QueryMetrics"
    assert "request_id" not in second


def test_plain_text_on_a_terminal_unless_json_is_asked_for() -> None:
    first, second = _one_call_line(Terminal(), "auto").splitlines()
    assert first.endswith(
        "answered 3 groups rows=3 request_id=req-42 "
        "method=/adpulse.v1.AnalyticsService/QueryMetrics tenant=acme"
    )
    assert " INFO adpulse.test: " in first and second.endswith("outside any call")
    assert json.loads(_one_call_line(Terminal(), "json").splitlines()[0])["request_id"] == "req-42"


def test_log_and_metrics_settings() -> None:
    assert Settings.from_env({}).log_format == "auto"
    assert Settings.from_env({"ADPULSE_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError, match="ADPULSE_LOG_FORMAT"):
        Settings.from_env({"ADPULSE_LOG_FORMAT": "xml"})
    assert Settings.from_env({}).metrics_listen == "127.0.0.1:9464"
    assert Settings.from_env({"ADPULSE_METRICS_LISTEN": ""}).metrics_listen == ""
    assert not Settings.from_env({}).metrics_tenant_labels
    assert Settings.from_env({"ADPULSE_METRICS_TENANT_LABELS": "1"}).metrics_tenant_labels
