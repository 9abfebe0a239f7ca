"""Call-pipeline steps that observe every call: its request id, its trace span, its metrics, its
access log.

They run outermost (first to enter, last to exit), so they see calls that a later step such as
authentication refuses, and by their exit the later steps have set the caller and tenant.
"""

from __future__ import annotations

import contextvars
import logging
import time
from functools import cache
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from adpulse.server.observe import logs
from adpulse.server.observe.metrics import Metrics
from adpulse.server.observe.traces import TRACER
from adpulse.server.transport.calls import Call

access_log = logging.getLogger("adpulse.access")
# Before authentication has landed a call's tenant is what the client names in this header.
_TENANT_HEADER = "x-adpulse-tenant"
# go-grpc-prometheus's grpc_code values are Go's code names: "OK", "InvalidArgument", …
_GO_CODE_NAMES = {
    code: "".join(part.capitalize() for part in code.name.split("_")) for code in grpc.StatusCode
}
_GO_CODE_NAMES[grpc.StatusCode.OK] = "OK"
_GO_CODE_NAMES[grpc.StatusCode.CANCELLED] = "Canceled"


class RequestStep:
    """Makes the call the current one for the log, so every line written while it runs carries
    its request id (which the pipeline answers in the response headers)."""

    def __init__(self) -> None:
        self._tokens: dict[int, contextvars.Token[Call | None]] = {}

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        self._tokens[id(call)] = logs.enter_call(call)

    def exit(self, call: Call) -> None:
        token = self._tokens.pop(id(call), None)
        if token is not None:
            logs.leave_call(token)


class MetricsStep:
    """go-grpc-prometheus's server metrics, from the call's record."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        self._metrics.started.labels(*_labels(call)).inc()

    def exit(self, call: Call) -> None:
        m, labels = self._metrics, _labels(call)
        m.handled.labels(*labels, _GO_CODE_NAMES[call.code], *m.tenant(_tenant(call))).inc()
        m.handling.labels(*labels).observe(time.monotonic() - call.started)
        if call.messages_in:
            m.received.labels(*labels).inc(call.messages_in)
        if call.messages_out:
            m.sent.labels(*labels).inc(call.messages_out)


class AccessLogStep:
    """One line per call: who, what, how it ended, how long, how much."""

    def enter(self, call: Call, context: grpc.ServicerContext) -> None:
        """Nothing to do before the call."""

    def exit(self, call: Call) -> None:
        duration_ms = round((time.monotonic() - call.started) * 1000, 3)
        fields: dict[str, Any] = {
            "request_id": call.request_id,
            "method": call.method,
            "tenant": _tenant(call),
            "key_id": call.caller.key_id if call.caller else "",
            "peer": call.peer,
            "code": call.code.name,
            "duration_ms": duration_ms,
            "messages_in": call.messages_in,
            "messages_out": call.messages_out,
            "bytes_in": call.bytes_in,
            "bytes_out": call.bytes_out,
            **{k: v for k, v in call.facts.items() if isinstance(v, int | float | str)},
        }
        level = logging.WARNING if call.code in _SERVER_FAULTS else logging.INFO
        access_log.log(level, "%s %s %.1f ms", call.method, call.code.name, duration_ms, extra=fields)


_SERVER_FAULTS = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS})


def _tenant(call: Call) -> str:
    if call.tenant:
        return call.tenant
    claimed = call.header(_TENANT_HEADER)
    return claimed[0][:64] if claimed else ""


def _labels(call: Call) -> tuple[str, str, str]:
    return _grpc_type(call.method), call.service, call.method_name


@cache
def _grpc_type(method: str) -> str:
    """unary, client_stream, server_stream or bidi_stream, from the method's descriptor."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.lstrip("/").replace("/", "."))
    except KeyError:
        return "unary"
    if found.client_streaming:
        return "bidi_stream" if found.server_streaming else "client_stream"
    return "server_stream" if found.server_streaming else "unary"


class _MetadataGetter(Getter[Call]):
    """Reads a W3C `traceparent`/`tracestate` from a call's metadata."""

    def get(self, carrier: Call, key: str) -> list[str] | None:
        return carrier.header(key) or None

    def keys(self, carrier: Call) -> list[str]:
        return [k for k, _ in carrier.metadata]


class TraceStep:
    """A SERVER span around each call, continuing the client's trace when it sent one."""

    def __init__(self) -> None:
        self._open: dict[int, tuple[Span, object]] = {}

    def enter(self, call: Call, context: Any) -> None:
        parent = propagate.extract(call, getter=_MetadataGetter())
        current = trace.get_tracer(TRACER).start_span(
            call.method.lstrip("/"),
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": call.service,
                "rpc.method": call.method_name,
                "adpulse.request_id": call.request_id,
            },
        )
        token = otel_context.attach(trace.set_span_in_context(current, parent))
        self._open[id(call)] = (current, token)

    def exit(self, call: Call) -> None:
        current, token = self._open.pop(id(call))
        current.set_attribute("rpc.grpc.status_code", call.code.value[0])
        if call.tenant:
            current.set_attribute("adpulse.tenant", call.tenant)
        if call.code is not grpc.StatusCode.OK:
            current.set_status(Status(StatusCode.ERROR, call.code.name))
        current.end()
        otel_context.detach(token)  # type: ignore[arg-type]
