"""Prometheus metrics: the gRPC ecosystem's server metrics plus adpulse's own.

The gRPC metrics have go-grpc-prometheus's names, labels and buckets, so dashboards and alerts
written for Go services work unchanged. Tenant ids become label values only when
ADPULSE_METRICS_TENANT_LABELS is on: a label per tenant multiplies every series by the number
of tenants, which a shared Prometheus may not afford.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
# prometheus/client_golang's DefBuckets, which go-grpc-prometheus uses for handling time.
GO_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Store calls are mostly milliseconds; a slow query or a big insert takes seconds.
STORE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# Go's client exports no `_created` series; neither do we (they double the series count).
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]


class CacheStats(Protocol):
    """What a cache reports: how often it answered from memory and how often it did not."""

    hits: int
    misses: int


class Metrics:
    """Every metric of one process, in its own registry (a test may build several)."""

    def __init__(self, *, tenant_labels: bool = False, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.tenant_labels = tenant_labels
        tenant = ("tenant",) if tenant_labels else ()
        r = self.registry
        self.started = Counter(
            "grpc_server_started_total",
            "Total number of RPCs started on the server.",
            GRPC_LABELS,
            registry=r,
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            (*GRPC_LABELS, "grpc_code", *tenant),
            registry=r,
        )
        self.handling = Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level handled by "
            "the server.",
            GRPC_LABELS,
            buckets=GO_DEFAULT_BUCKETS,
            registry=r,
        )
        self.received = Counter(
            "grpc_server_msg_received_total",
            "Total number of RPC stream messages received on the server.",
            GRPC_LABELS,
            registry=r,
        )
        self.sent = Counter(
            "grpc_server_msg_sent_total",
            "Total number of gRPC stream messages sent by the server.",
            GRPC_LABELS,
            registry=r,
        )
        self.rows = Counter(
            "adpulse_ingest_rows_total",
            "Rows of ingested batches by source and outcome (accepted, rejected, duplicate).",
            ("source", "outcome", *tenant),
            registry=r,
        )
        self.batches = Counter(
            "adpulse_ingest_batches_total",
            "Ingested batches by source and outcome (committed, replayed, refused).",
            ("source", "outcome", *tenant),
            registry=r,
        )
        self.batch_commit = Histogram(
            "adpulse_ingest_batch_commit_seconds",
            "Time to validate, store and commit one batch to the ledger.",
            ("source",),
            buckets=STORE_BUCKETS,
            registry=r,
        )
        self.clickhouse = Histogram(
            "adpulse_clickhouse_query_seconds",
            "Latency of fact-store (ClickHouse) calls by operation.",
            ("operation",),
            buckets=STORE_BUCKETS,
            registry=r,
        )
        self.postgres = Histogram(
            "adpulse_postgres_query_seconds",
            "Latency of metadata-store (Postgres) calls by operation.",
            ("operation",),
            buckets=STORE_BUCKETS,
            registry=r,
        )
        self.kernel = Histogram(
            "adpulse_kernel_call_seconds",
            "Latency of Rust kernel calls by function.",
            ("function",),
            buckets=STORE_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "adpulse_store_errors_total",
            "Failed store and kernel calls by store and error class.",
            ("store", "error"),
            registry=r,
        )
        self.tasks = Counter(
            "adpulse_worker_tasks_total",
            "Job tasks a worker ran, by task and outcome (done, continue, retry, skipped, failed).",
            ("task", "outcome"),
            registry=r,
        )
        self.task_seconds = Histogram(
            "adpulse_worker_task_seconds",
            "Time a worker spent in one job task (one slice of an operation).",
            ("task",),
            buckets=(*GO_DEFAULT_BUCKETS, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.draining = Gauge(
            "adpulse_draining", "1 while the process is shutting down and refusing new work.", registry=r
        )
        build = Gauge("adpulse_build_info", "The running build; always 1.", ("version", "python"), registry=r)
        build.labels(version=_version(), python=platform.python_version()).set(1)
        prometheus_client.ProcessCollector(registry=r)
        prometheus_client.PlatformCollector(registry=r)
        prometheus_client.GCCollector(registry=r)
        self._caches = _Caches()
        r.register(self._caches)

    def tenant(self, tenant: str | None) -> tuple[str, ...]:
        """The tenant label values, empty unless tenant labels are on."""
        return (tenant or "",) if self.tenant_labels else ()

    def register_cache(self, name: str, stats: Callable[[], CacheStats]) -> None:
        """Publishes a cache's hits and misses as `adpulse_cache_requests_total{cache,result}`;
        `stats` is read at each scrape."""
        self._caches.add(name, stats)

    def register_gauge(self, gauge: ScrapedGauge) -> None:
        """A gauge whose values are read at each scrape (e.g. operations by state)."""
        self.registry.register(gauge)

    def serve(self, listen: str) -> MetricsEndpoint:
        """The `/metrics` endpoint on `host:port` (port 0 picks a free one)."""
        return self.serve_registry(self.registry, listen)

    @staticmethod
    def serve_registry(registry: CollectorRegistry, listen: str) -> MetricsEndpoint:
        host, _, port = listen.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        server, thread = prometheus_client.start_http_server(int(port), addr=host, registry=registry)
        shown = f"[{host}]" if ":" in host else host
        return MetricsEndpoint(f"{shown}:{server.server_port}", server.shutdown, thread)


@dataclass
class MetricsEndpoint:
    address: str
    _shutdown: Callable[[], None]
    _thread: object

    def stop(self) -> None:
        self._shutdown()


class _Caches(Collector):
    def __init__(self) -> None:
        self._stats: dict[str, Callable[[], CacheStats]] = {}

    def add(self, name: str, stats: Callable[[], CacheStats]) -> None:
        self._stats[name] = stats

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "adpulse_cache_requests",
            "Cache lookups by cache and result (hit, miss).",
            labels=("cache", "result"),
        )
        for name, read in self._stats.items():
            try:
                stats = read()
            except Exception:
                log.warning("cache %s: could not read its stats", name, exc_info=True)
                continue
            family.add_metric((name, "hit"), stats.hits)
            family.add_metric((name, "miss"), stats.misses)
        yield family


@dataclass(eq=False)  # the registry keys collectors by identity
class ScrapedGauge(Collector):
    """A gauge read at scrape time: `read` maps label values to values."""

    name: str
    doc: str
    labels: tuple[str, ...]
    read: Callable[[], Mapping[tuple[str, ...], float]]

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.name, self.doc, labels=self.labels)
        try:
            values = self.read()
        except Exception as err:  # noqa: BLE001 - see below
            # A store that is down must not break the scrape: the gauge is absent instead, and
            # the store's own metrics and the health check tell why.
            log.warning("metric %s: could not be read: %s", self.name, type(err).__name__)
            return
        for label_values, value in values.items():
            family.add_metric(label_values, value)
        yield family


def _version() -> str:
    try:
        return metadata.version("adpulse")
    except metadata.PackageNotFoundError:
        return "unknown"
