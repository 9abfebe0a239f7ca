"""Times and traces the kernel and the storage adapters from the outside.

The composition root wraps each adapter in an `Observed` proxy: every public method call is a
span (`clickhouse FactStore.insert`) and an observation of that store's latency histogram.
A method that hands back a context manager (a ledger claim, an operation claim) is observed
when it is entered, and so are the methods of what it yields. The use cases see the same
ports and import neither Prometheus nor OpenTelemetry.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any, TypeVar

from prometheus_client import Histogram

from adpulse.server.domain.ingest import BatchOutcome, BatchPayload, IngestStream
from adpulse.server.observe import logs, traces
from adpulse.server.observe.metrics import Metrics

T = TypeVar("T")


class Probe:
    """Observes calls into one store (`clickhouse`, `postgres`, `kernel`)."""

    def __init__(self, store: str, latency: Histogram, metrics: Metrics) -> None:
        self.store = store
        self._latency = latency
        self._errors = metrics.store_errors

    @contextlib.contextmanager
    def __call__(self, operation: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            with traces.span(
                f"{self.store} {operation}", {"db.system": self.store, "adpulse.operation": operation}
            ):
                yield
        except Exception as exc:
            self._errors.labels(self.store, type(exc).__name__).inc()
            raise
        finally:
            self._latency.labels(operation).observe(time.perf_counter() - started)


class Observed:
    """`target` with each public method observed by `probe` under `prefix.method`."""

    def __init__(self, target: Any, probe: Probe, prefix: str) -> None:
        self._target = target
        self._probe = probe
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name.startswith("_") or isinstance(attr, type) or not callable(attr):
            return attr
        operation = f"{self._prefix}.{name}"
        probe = self._probe

        def observed(*args: Any, **kwargs: Any) -> Any:
            with probe(operation):
                result = attr(*args, **kwargs)
            if isinstance(result, contextlib.AbstractContextManager):
                return _ObservedContext(result, probe, operation)
            return result

        return observed


class _ObservedContext:
    def __init__(self, inner: contextlib.AbstractContextManager[Any], probe: Probe, operation: str) -> None:
        self._inner, self._probe, self._operation = inner, probe, operation

    def __enter__(self) -> Any:
        with self._probe(self._operation):
            entered = self._inner.__enter__()
        return None if entered is None else Observed(entered, self._probe, self._operation)

    def __exit__(self, *exc: Any) -> Any:
        return self._inner.__exit__(*exc)


class Instruments:
    """Wraps adapters for one process's metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._clickhouse = Probe("clickhouse", metrics.clickhouse, metrics)
        self._postgres = Probe("postgres", metrics.postgres, metrics)
        self._kernel = Probe("kernel", metrics.kernel, metrics)

    def clickhouse(self, adapter: T) -> T:
        return Observed(adapter, self._clickhouse, type(adapter).__name__)  # type: ignore[return-value]

    def postgres(self, adapter: T) -> T:
        return Observed(adapter, self._postgres, type(adapter).__name__)  # type: ignore[return-value]

    def kernel(self, kernel: T) -> T:
        return Observed(kernel, self._kernel, "kernel")  # type: ignore[return-value]

    def ingest(self, ingest: T) -> T:
        return MeteredIngest(ingest, self.metrics)  # type: ignore[return-value]


class MeteredIngest:
    """The ingest use case, counting rows and batches by source and timing each batch."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def ingest_batch(self, stream: IngestStream, payload: BatchPayload) -> BatchOutcome:
        m, source = self._metrics, stream.source
        tenant = m.tenant(stream.tenant)
        started = time.perf_counter()
        try:
            with traces.span("ingest batch", {"adpulse.source": source}):
                outcome: BatchOutcome = self._inner.ingest_batch(stream, payload)
        except Exception:
            m.batches.labels(source, "refused", *tenant).inc()
            raise
        if outcome.replayed:
            m.batches.labels(source, "replayed", *tenant).inc()
            return outcome
        m.batch_commit.labels(source).observe(time.perf_counter() - started)
        m.batches.labels(source, "committed", *tenant).inc()
        counts = {"accepted": outcome.accepted, "rejected": outcome.rejected, "duplicate": outcome.duplicates}
        call = logs.current_call()
        for kind, rows in counts.items():
            m.rows.labels(source, kind, *tenant).inc(rows)
            if call is not None:  # for the call's access-log line
                call.facts[f"rows_{kind}"] = call.facts.get(f"rows_{kind}", 0) + rows
        return outcome
