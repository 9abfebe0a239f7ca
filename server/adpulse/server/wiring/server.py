"""An `adpulse serve` process: the shared core, the embedded worker and upkeep, and the gRPC
server with its servicers and call pipeline."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from adpulse.server.domain.operations import OperationKind
from adpulse.server.observe import traces
from adpulse.server.observe.instrument import Instruments
from adpulse.server.observe.metrics import Metrics, ScrapedGauge
from adpulse.server.observe.steps import AccessLogStep, MetricsStep, RequestStep, TraceStep
from adpulse.server.observe.worker import count_tasks
from adpulse.server.settings import Settings
from adpulse.server.storage import broker, gauges, postgres
from adpulse.server.storage.files import private_dir, write_private
from adpulse.server.storage.secret_box import SecretBox
from adpulse.server.transport import grpc_server
from adpulse.server.transport.access_servicer import AccessServicer
from adpulse.server.transport.alert_servicer import AlertServicer
from adpulse.server.transport.analytics_servicer import AnalyticsUseCases
from adpulse.server.transport.auth_step import AuthStep, access_rules
from adpulse.server.transport.jobs_servicers import JobsAnalyticsServicer, JobsIngestServicer
from adpulse.server.transport.operations_servicer import OperationsServicer
from adpulse.server.transport.rate_limits import rate_limits
from adpulse.server.transport.tenant_servicer import TenantServicer
from adpulse.server.usecases.access import AccessUseCase, Authenticator
from adpulse.server.usecases.alerts.dispatch import DigestScheduler
from adpulse.server.usecases.alerts.subscriptions import AlertsUseCase
from adpulse.server.usecases.audit import AuditUseCase
from adpulse.server.usecases.currency import CurrencyUseCase
from adpulse.server.usecases.ingestion_runs import IngestionRunsUseCase
from adpulse.server.usecases.jobs.export_metrics import ExportDownloads
from adpulse.server.usecases.jobs.import_file import ImportFileJob
from adpulse.server.usecases.jobs.tenant_data import ARCHIVE_SUFFIX
from adpulse.server.usecases.operations import OperationsUseCase
from adpulse.server.usecases.query_metrics import MetricsResult, QueryMetricsUseCase
from adpulse.server.usecases.result_cache import ResultCache
from adpulse.server.usecases.tenant_data import TenantDataUseCase
from adpulse.server.wiring.core import Core, address_policy, build_core, close_all, now, today
from adpulse.server.wiring.jobs import runtime as job_runtime
from adpulse.server.wiring.jobs import steps as day_steps
from adpulse.server.worker.alerts import AlertUpkeep
from adpulse.server.worker.celery_app import QUEUE, CeleryJobQueue, RuntimeHolder, make_app
from adpulse.server.worker.embedded import EmbeddedWorker, Upkeep

log = logging.getLogger(__name__)


@dataclass
class App:
    """A running server and what to close, in order, when it stops."""

    grpc: grpc_server.GrpcServer
    settings: Settings
    _closers: list[Callable[[], None]] = field(default_factory=list)
    metrics_address: str = ""  # where /metrics is served; empty when it is off

    @property
    def address(self) -> str:
        return self.grpc.address

    def stop(self) -> None:
        self.grpc.stop(self.settings.shutdown_grace_seconds)
        close_all(self._closers)


def _query_metrics(settings: Settings, core: Core, metrics: Metrics) -> QueryMetricsUseCase:
    """QueryMetrics with this process's result cache; it and the insight runs' are published as
    metrics."""
    cache: ResultCache[MetricsResult] = ResultCache(settings.query_cache_bytes)
    metrics.register_cache("query_results", lambda: cache)
    metrics.register_cache("insight_runs", lambda: core.insight_runs)
    metrics.register_gauge(
        ScrapedGauge(
            "adpulse_cache_bytes",
            "Bytes a cache holds.",
            ("cache",),
            lambda: {("query_results",): cache.bytes, ("insight_runs",): core.insight_runs.bytes},
        )
    )
    return QueryMetricsUseCase(
        core.kernel, core.facts, core.tenant_settings, core.versions, cache, max_groups=settings.max_groups
    )


def _access(settings: Settings, core: Core) -> tuple[AccessServicer, AuthStep]:
    """Key checks and the audit log, and the operator key of a first start (written to the data
    dir, never logged)."""
    audit = AuditUseCase(core.audit_log)
    authenticator = Authenticator(core.access, settings.auth_cache_seconds)
    access = AccessUseCase(core.access, authenticator)
    key_file = settings.admin_key_file.resolve()
    if access.ensure_operator_key(lambda text: write_private(key_file, text + "\n")):
        log.info("no API keys yet: wrote an operator key to %s", key_file)
    rules = access_rules(grpc_server.SERVICE_NAMES)
    auth = AuthStep(
        authenticator, rules, reflection_needs_key=settings.reflection_needs_key, audit=audit.record
    )
    return AccessServicer(access, audit), auth


def _alert_upkeep(settings: Settings, core: Core) -> AlertUpkeep:
    digests = (
        DigestScheduler(
            core.alerts,
            core.insight_store,
            core.alert_queue,
            at=settings.alert_digest_at,
            days=settings.alert_digest_days,
            max_insights=settings.alert_digest_max_insights,
        )
        if settings.alert_digest_at
        else None
    )
    return AlertUpkeep(core.alerts, core.alert_queue, digests, settings.reconcile_seconds)


def _serve(
    settings: Settings, core: Core, metrics: Metrics, operations: OperationsUseCase, box: SecretBox
) -> grpc_server.GrpcServer:
    """The gRPC server over the core's use cases."""
    currency = CurrencyUseCase(core.fx_rates, core.tenant_settings, core.versions)
    access, auth = _access(settings, core)
    return grpc_server.start(
        settings,
        JobsIngestServicer(
            core.kernel,
            core.ingest,
            IngestionRunsUseCase(core.kernel, core.runs, core.facts, core.checkpoints, settings.restatement),
            currency,
            operations=operations,
            importer=ImportFileJob(core.ingest, core.files, core.operations),
            files=core.files,
            max_upload_bytes=settings.max_upload_bytes,
        ),
        JobsAnalyticsServicer(
            _query_metrics(settings, core, metrics),
            AnalyticsUseCases(
                trends=core.trends,
                anomalies=core.anomalies,
                explain=core.explain,
                insights=core.insights,
                search=core.search,
                today=today,
            ),
            operations=operations,
            downloads=ExportDownloads(core.files),
            steps=list(day_steps(core)),
        ),
        TenantServicer(
            currency,
            TenantDataUseCase(
                operations,
                core.tenant_settings,
                ExportDownloads(core.files, OperationKind.EXPORT_TENANT_DATA, lambda _: ARCHIVE_SUFFIX),
            ),
        ),
        OperationsServicer(operations, max_wait=dt.timedelta(seconds=settings.max_wait_seconds)),
        # Observers outermost, so they see calls a later step refuses.
        steps=(
            RequestStep(),
            TraceStep(),
            AccessLogStep(),
            MetricsStep(metrics),
            auth,
            rate_limits(settings),
        ),
        alerts=AlertServicer(
            AlertsUseCase(
                core.alerts,
                box,
                core.alert_queue,
                policy=address_policy(settings),
                max_subscriptions=settings.alert_max_subscriptions,
                now=now,
            )
        ),
        access=access,
    )


def build(settings: Settings) -> App:
    closers: list[Callable[[], None]] = []
    try:
        private_dir(settings.data_dir)
        postgres_dsn = settings.postgres_dsn
        if postgres_dsn is None:
            embedded = postgres.EmbeddedPostgres(settings.data_dir.resolve() / "postgres")
            closers.append(embedded.stop)
            postgres_dsn = embedded.dsn
        instance_id = f"srv-{uuid.uuid4().hex[:16]}"
        metrics = Metrics(tenant_labels=settings.metrics_tenant_labels)
        inst = Instruments(metrics)
        if traces.setup("adpulse-server"):
            closers.append(traces.shutdown)
        traces.instrument_celery()
        holder = RuntimeHolder(lambda: runtime)
        celery = make_app(settings.broker_url or broker.sqla_broker_url(postgres_dsn), holder)
        core = build_core(settings, postgres_dsn, instance_id, closers, inst=inst, celery=celery)

        queue = CeleryJobQueue(celery)
        operations = OperationsUseCase(core.operations, queue, core.files)
        box = SecretBox.from_file(settings.effective_alert_key_file, create=True)
        runtime = job_runtime(settings, core, operations, instance_id, close=lambda: None, box=box)
        if settings.embedded_worker:
            count_tasks(metrics)
            worker = EmbeddedWorker(celery, runtime.runner, settings.worker_concurrency, instance_id)
            worker.start()
            closers.append(worker.stop)
        embedded_broker = settings.broker_url is None
        upkeep = Upkeep(
            core.operations,
            queue=queue,
            interval=settings.reconcile_seconds,
            requeue_after=dt.timedelta(seconds=settings.requeue_after_seconds),
            # With a broker, Celery beat schedules the scans (`adpulse worker --beat`).
            scheduler=runtime.scheduler if embedded_broker else None,
            prune=(lambda: broker.prune_delivered_messages(core.pool)) if embedded_broker else None,
            # Every server, either shape: re-sends lost alert deliveries and starts the digests.
            also=[_alert_upkeep(settings, core).once],
        )
        upkeep.start()
        closers.append(upkeep.stop)
        metrics.register_gauge(
            ScrapedGauge(
                "adpulse_operations",
                "Operations queued or running, by kind and state.",
                ("kind", "state"),
                lambda: gauges.pending_operations(core.pool),
            )
        )
        metrics.register_gauge(
            ScrapedGauge(
                "adpulse_job_queue_depth",
                "Job messages waiting in the broker.",
                ("queue",),
                lambda: gauges.queue_depth(celery, QUEUE),
            )
        )
        endpoint = metrics.serve(settings.metrics_listen) if settings.metrics_listen else None
        if endpoint is not None:
            closers.append(endpoint.stop)

        server = _serve(settings, core, metrics, operations, box)
        metrics.draining.set_function(lambda: float(server.drain.draining))
        metrics.register_gauge(
            ScrapedGauge(
                "adpulse_unary_calls",
                "Unary calls holding a slot of the fair gate (running) and waiting for one.",
                ("state",),
                lambda: dict(zip([("running",), ("waiting",)], server.gate.occupancy(), strict=True)),
            )
        )
    except BaseException:
        with contextlib.suppress(Exception):
            close_all(closers)
        raise
    return App(
        grpc=server,
        settings=settings,
        _closers=closers,
        metrics_address=endpoint.address if endpoint is not None else "",
    )
