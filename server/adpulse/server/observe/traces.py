"""OpenTelemetry traces: one trace per call (its span opened by `steps.TraceStep`), child spans for
the kernel, the stores and the hand-off of a job, and the trace carried in the job's Celery
message to the worker. Nothing here knows the call pipeline, so a worker loads no gRPC transport.

Configured by the standard variables: spans are exported over OTLP when
OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, by gRPC unless
OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says `http/protobuf`; OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* and the exporter's own
OTEL_EXPORTER_OTLP_* settings (headers, certificate, timeout) are read by the SDK itself;
OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none switch tracing off. Without an endpoint no
SDK is installed and every span below is the API's no-op.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

log = logging.getLogger(__name__)
TRACER = "adpulse"  # the instrumentation scope of every adpulse span


def setup(service_name: str, env: Mapping[str, str] | None = None) -> bool:
    """Installs the SDK with an OTLP exporter when the environment asks for one."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or env.get("OTEL_TRACES_EXPORTER") == "none":
        return False
    if not (env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
    )
    exporter: Any
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        exporter = GrpcExporter()
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        exporter = HttpExporter()
    else:
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r} is not supported: use grpc or http/protobuf"
        )
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over this default.
    provider = TracerProvider(resource=Resource({SERVICE_NAME: service_name}).merge(Resource.create()))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("exporting traces over OTLP (%s)", protocol)
    return True


def shutdown() -> None:
    """Flushes the spans still buffered (a stopping process would lose them)."""
    provider = trace.get_tracer_provider()
    stop = getattr(provider, "shutdown", None)
    if stop is not None:
        stop()


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, str] | None = None) -> Iterator[Span]:
    """A child of the current span; an exception marks it failed with the error's class only
    (its message may hold values that do not belong in a trace)."""
    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


_celery_lock = threading.Lock()
_celery_connected = False


def instrument_celery() -> None:
    """Carries the current trace in every task message and continues it in the worker: a
    PRODUCER span where a job is handed off, a CONSUMER span around the task that runs it."""
    global _celery_connected  # noqa: PLW0603 - Celery's signals are process-wide too
    from celery import signals

    with _celery_lock:
        if _celery_connected:
            return
        _celery_connected = True
    producing: dict[str, Span] = {}
    running: dict[str, tuple[Span, object]] = {}
    tracer = trace.get_tracer(TRACER)

    def before_publish(sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
        if headers is None:
            return
        sent = tracer.start_span(
            f"send {sender}", kind=SpanKind.PRODUCER, attributes={"messaging.system": "celery"}
        )
        propagate.inject(headers, context=trace.set_span_in_context(sent))
        producing[str(headers.get("id"))] = sent

    def after_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        sent = producing.pop(str((headers or {}).get("id")), None)
        if sent is not None:
            sent.end()

    def prerun(task_id: str = "", task: Any = None, **_: Any) -> None:
        parent = propagate.extract(task.request, getter=_RequestGetter())
        started = tracer.start_span(
            f"run {task.name}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "celery"},
        )
        running[task_id] = (started, otel_context.attach(trace.set_span_in_context(started, parent)))

    def postrun(task_id: str = "", state: str = "", **_: Any) -> None:
        entry = running.pop(task_id, None)
        if entry is None:
            return
        started, token = entry
        if state not in {"SUCCESS", ""}:
            started.set_status(Status(StatusCode.ERROR, state))
        started.end()
        otel_context.detach(token)  # type: ignore[arg-type]

    signals.before_task_publish.connect(before_publish, weak=False)
    signals.after_task_publish.connect(after_publish, weak=False)
    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)


class _RequestGetter(Getter[Any]):
    """Celery puts a message's own headers on the task request as attributes."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = getattr(carrier, key, None)
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Any) -> list[str]:
        return list(vars(carrier))
