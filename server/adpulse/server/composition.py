"""The composition root: the one place that turns settings into stores, use cases and a server."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adpulse import _kernel
from adpulse.server import faults
from adpulse.server.domain.operations import OperationKind
from adpulse.server.domain.search import SearchLimits
from adpulse.server.observe import traces
from adpulse.server.observe.instrument import Instruments
from adpulse.server.observe.metrics import Metrics, ScrapedGauge
from adpulse.server.observe.steps import AccessLogStep, MetricsStep, RequestStep
from adpulse.server.observe.worker import count_tasks
from adpulse.server.settings import Settings, SettingsError
from adpulse.server.storage import broker, clickhouse, gauges, postgres
from adpulse.server.storage.access_store import PostgresAccessStore
from adpulse.server.storage.alert_store import PostgresAlertStore
from adpulse.server.storage.audit_store import PostgresAuditLog
from adpulse.server.storage.batch_ledger import PostgresBatchLedger
from adpulse.server.storage.checkpoints import PostgresCheckpoints, PostgresTenantSettings
from adpulse.server.storage.clickhouse_schema import ClickHouseSchema
from adpulse.server.storage.data_versions import PostgresDataVersions
from adpulse.server.storage.dimension_values import ClickHouseDimensionValues
from adpulse.server.storage.fact_store import ClickHouseFactStore, ClickHouseFxRates
from adpulse.server.storage.files import LocalFileArea, StorageQuota, private_dir, write_private
from adpulse.server.storage.ingestion_runs import Heartbeat, PostgresRunStore
from adpulse.server.storage.insight_store import PostgresInsightStore
from adpulse.server.storage.operations import PostgresOperationStore
from adpulse.server.storage.rollups import ClickHouseRollups
from adpulse.server.storage.secret_box import SecretBox
from adpulse.server.storage.tenant_data import ClickHouseTenantData, PostgresTenantData
from adpulse.server.storage.webhook_http import HttpWebhookSender
from adpulse.server.transport import grpc_server
from adpulse.server.transport.access_servicer import AccessServicer
from adpulse.server.transport.alert_servicer import AlertServicer
from adpulse.server.transport.analytics_servicer import AnalyticsUseCases
from adpulse.server.transport.auth_step import AuthStep, access_rules
from adpulse.server.transport.jobs_servicers import JobsAnalyticsServicer, JobsIngestServicer
from adpulse.server.transport.operations_servicer import OperationsServicer
from adpulse.server.transport.rate_limits import RateLimits, rate_limits
from adpulse.server.transport.tenant_servicer import TenantServicer
from adpulse.server.usecases.access import AccessUseCase, Authenticator
from adpulse.server.usecases.alerts.deliver import DeliveryRunner, RetryPolicy
from adpulse.server.usecases.alerts.dispatch import AlertDispatcher, DigestScheduler
from adpulse.server.usecases.alerts.subscriptions import AddressPolicy, AlertsUseCase
from adpulse.server.usecases.analytics import AnomaliesUseCase, ExplainChangeUseCase, TrendsUseCase
from adpulse.server.usecases.audit import AuditUseCase
from adpulse.server.usecases.currency import CurrencyUseCase
from adpulse.server.usecases.ingest import IngestUseCase
from adpulse.server.usecases.ingestion_runs import IngestionRunsUseCase
from adpulse.server.usecases.insights import InsightsRun, InsightsUseCase
from adpulse.server.usecases.jobs.derive import (
    BackfillJob,
    CampaignRollupStep,
    DailyScanJob,
    DayRangeStep,
    InsightsStep,
)
from adpulse.server.usecases.jobs.export_metrics import ExportDownloads, ExportMetricsJob
from adpulse.server.usecases.jobs.import_file import ImportFileJob
from adpulse.server.usecases.jobs.runner import Job, OperationRunner
from adpulse.server.usecases.jobs.schedule import DailyScanScheduler
from adpulse.server.usecases.jobs.tenant_data import (
    ARCHIVE_SUFFIX,
    DeleteTenantDataJob,
    ExportTenantDataJob,
    RetentionSweep,
)
from adpulse.server.usecases.operations import OperationsUseCase
from adpulse.server.usecases.query_metrics import MetricsResult, QueryMetricsUseCase
from adpulse.server.usecases.result_cache import ResultCache
from adpulse.server.usecases.search import SearchUseCase
from adpulse.server.usecases.tenant_data import TenantDataUseCase
from adpulse.server.worker.alerts import AlertUpkeep, CeleryAlertQueue
from adpulse.server.worker.celery_app import QUEUE, CeleryJobQueue, JobRuntime, RuntimeHolder, make_app
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


def close_all(closers: list[Callable[[], None]]) -> None:
    for close in reversed(closers):
        try:
            close()
        except Exception:
            log.exception("error while closing %s", close)


def _today() -> dt.date:
    """Today in UTC: restatement windows and default ranges count from it."""
    return dt.datetime.now(dt.UTC).date()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _address_policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy(
        settings.alert_allow_loopback, tuple(ipaddress.ip_network(n) for n in settings.alert_allow_networks)
    )


@dataclass
class _Core:
    """The stores and use cases that both a server and a worker process need."""

    pool: postgres.Pool
    ch_client: Any
    kernel: Any
    facts: Any
    ingest: IngestUseCase
    runs: PostgresRunStore
    tenant_settings: PostgresTenantSettings
    versions: PostgresDataVersions
    operations: PostgresOperationStore
    files: LocalFileArea
    rollups: ClickHouseRollups
    analytics: AnalyticsUseCases
    alerts: PostgresAlertStore
    alert_queue: CeleryAlertQueue
    insight_store: PostgresInsightStore
    tenant_rows: PostgresTenantData
    tenant_facts: ClickHouseTenantData
    rates: RateLimits
    insight_runs: ResultCache[InsightsRun]


def _core(
    settings: Settings,
    postgres_dsn: str,
    instance_id: str,
    closers: list[Callable[[], None]],
    *,
    inst: Instruments,
    celery: Any,
) -> _Core:
    pool = postgres.open_pool(postgres_dsn)
    closers.append(pool.close)
    postgres.migrate(pool)
    schema = ClickHouseSchema(settings.clickhouse_cluster)
    ch_client = clickhouse.connect(
        settings.effective_clickhouse_dsn, settings.clickhouse_connections, schema.session_settings
    )
    closers.append(ch_client.close)
    clickhouse.migrate(ch_client, schema)

    heartbeat = Heartbeat(pool, instance_id, settings.heartbeat_seconds)
    heartbeat.start()
    closers.append(heartbeat.stop)

    _kernel.set_decompression_budget(settings.decompression_budget_bytes)
    rates = rate_limits(settings)
    kernel, facts = faults.wrap(_kernel, ClickHouseFactStore(ch_client), settings.faults)
    kernel, facts = inst.kernel(kernel), inst.clickhouse(facts)
    versions = inst.postgres(PostgresDataVersions(pool))
    runs = inst.postgres(PostgresRunStore(pool, instance_id, settings.heartbeat_seconds))
    tenant_settings = inst.postgres(PostgresTenantSettings(pool))
    anomalies = AnomaliesUseCase(kernel, facts, settings.restatement, _today, settings.max_series)
    explain = ExplainChangeUseCase(kernel, facts)
    alerts, alert_queue, insight_store = (
        inst.postgres(PostgresAlertStore(pool)),
        CeleryAlertQueue(celery),
        inst.postgres(PostgresInsightStore(pool)),
    )
    insight_runs: ResultCache[InsightsRun] = ResultCache(settings.insight_runs_cache_bytes)
    analytics = AnalyticsUseCases(
        trends=TrendsUseCase(kernel, facts, tenant_settings, settings.max_series),
        anomalies=anomalies,
        explain=explain,
        insights=InsightsUseCase(
            kernel,
            facts=facts,
            store=insight_store,
            anomalies=anomalies,
            explain=explain,
            today=_today,
            runs=insight_runs,
            events=AlertDispatcher(alerts, alert_queue, _now),
        ),
        search=SearchUseCase(
            inst.clickhouse(ClickHouseDimensionValues(ch_client)),
            SearchLimits(settings.max_search_query_chars, settings.max_search_page_size),
        ),
        today=_today,
    )
    return _Core(
        pool=pool,
        ch_client=ch_client,
        kernel=kernel,
        facts=facts,
        ingest=inst.ingest(
            IngestUseCase(
                kernel,
                facts,
                inst.postgres(PostgresBatchLedger(pool)),
                runs,
                versions=versions,
                max_decompressed_bytes=settings.max_decompressed_bytes,
                max_line_bytes=settings.max_line_bytes,
                row_quota=rates.take_rows,
            )
        ),
        runs=runs,
        rates=rates,
        tenant_settings=tenant_settings,
        versions=versions,
        operations=inst.postgres(PostgresOperationStore(pool, postgres_dsn)),
        files=LocalFileArea(
            settings.effective_import_dir,
            settings.effective_export_dir,
            StorageQuota(settings.tenant_storage_bytes, dict(settings.tenant_storage_overrides)),
        ),
        rollups=inst.clickhouse(ClickHouseRollups(ch_client)),
        analytics=analytics,
        alerts=alerts,
        alert_queue=alert_queue,
        insight_store=insight_store,
        tenant_rows=inst.postgres(PostgresTenantData(pool)),
        tenant_facts=inst.clickhouse(ClickHouseTenantData(ch_client, schema)),
        insight_runs=insight_runs,
    )


def _query_metrics(settings: Settings, core: _Core, metrics: Metrics) -> QueryMetricsUseCase:
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


def _steps(core: _Core) -> dict[str, DayRangeStep]:
    """Steps of backfills and daily scans, in the order they run: the rollup first, so the
    insights read the re-derived days."""
    steps: tuple[DayRangeStep, ...] = (
        CampaignRollupStep(core.rollups),
        InsightsStep(core.analytics.insights),
    )
    return {step.name: step for step in steps}


def _runtime(
    settings: Settings,
    core: _Core,
    operations: OperationsUseCase,
    owner: str,
    *,
    close: Callable[[], None],
    box: SecretBox | None,
) -> JobRuntime:
    steps = _steps(core)
    jobs: dict[OperationKind, Job] = {
        OperationKind.IMPORT_FILE: ImportFileJob(core.ingest, core.files, core.operations),
        OperationKind.EXPORT_METRICS: ExportMetricsJob(
            core.kernel, core.facts, core.tenant_settings, core.files, settings.export_part_rows
        ),
        OperationKind.BACKFILL: BackfillJob(steps),
        OperationKind.DAILY_SCAN: DailyScanJob(
            steps,
            core.facts,
            settings.restatement,
            RetentionSweep(
                core.tenant_facts,
                core.rollups,
                core.tenant_settings,
                core.versions,
                core.files,
                settings.file_expiry_days,
                _now,
            ),
        ),
        OperationKind.EXPORT_TENANT_DATA: ExportTenantDataJob(
            core.tenant_rows, core.tenant_facts, core.files, _now
        ),
        OperationKind.DELETE_TENANT_DATA: DeleteTenantDataJob(
            core.tenant_rows, core.tenant_facts, core.files, core.versions, PostgresAuditLog(core.pool).append
        ),
    }
    runner = OperationRunner(
        core.operations,
        jobs=jobs,
        owner=owner,
        slice_seconds=settings.operation_slice_seconds,
        max_recoveries=settings.operation_max_recoveries,
        heartbeat_seconds=settings.heartbeat_seconds,
    )
    scheduler = (
        DailyScanScheduler(operations, core.operations, settings.daily_scan_at)
        if settings.daily_scan_at
        else None
    )
    deliveries = (
        DeliveryRunner(
            core.alerts,
            box,
            HttpWebhookSender(settings.alert_timeout_seconds, _address_policy(settings).allowed_networks),
            core.alert_queue,
            policy=_address_policy(settings),
            retries=RetryPolicy(
                settings.alert_max_attempts,
                settings.alert_retry_base_seconds,
                settings.alert_retry_cap_seconds,
            ),
            timeout_seconds=settings.alert_timeout_seconds,
            now=_now,
        )
        if box
        else None
    )
    return JobRuntime(runner, scheduler, settings.job_max_retries, close, alerts=deliveries)


def _access(settings: Settings, core: _Core) -> tuple[AccessServicer, AuthStep]:
    """Key checks and the audit log, and the operator key of a first start (written to the data
    dir, never logged)."""
    store = PostgresAccessStore(core.pool)
    audit = AuditUseCase(PostgresAuditLog(core.pool))
    authenticator = Authenticator(store, settings.auth_cache_seconds)
    access = AccessUseCase(store, authenticator)
    key_file = settings.admin_key_file.resolve()
    if access.ensure_operator_key(lambda text: write_private(key_file, text + "\n")):
        log.info("no API keys yet: wrote an operator key to %s", key_file)
    rules = access_rules(grpc_server.SERVICE_NAMES)
    auth = AuthStep(
        authenticator, rules, reflection_needs_key=settings.reflection_needs_key, audit=audit.record
    )
    return AccessServicer(access, audit), auth


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
        core = _core(settings, postgres_dsn, instance_id, closers, inst=inst, celery=celery)
        currency = CurrencyUseCase(
            inst.clickhouse(ClickHouseFxRates(core.ch_client)), core.tenant_settings, core.versions
        )

        queue = CeleryJobQueue(celery)
        operations = OperationsUseCase(core.operations, queue, core.files)
        box = SecretBox.from_file(settings.effective_alert_key_file, create=True)
        runtime = _runtime(settings, core, operations, instance_id, close=lambda: None, box=box)
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

        access, auth = _access(settings, core)
        steps = _steps(core)
        server = grpc_server.start(
            settings,
            JobsIngestServicer(
                core.kernel,
                core.ingest,
                IngestionRunsUseCase(
                    core.kernel, core.runs, core.facts, PostgresCheckpoints(core.pool), settings.restatement
                ),
                currency,
                operations=operations,
                importer=ImportFileJob(core.ingest, core.files, core.operations),
                files=core.files,
                max_upload_bytes=settings.max_upload_bytes,
            ),
            JobsAnalyticsServicer(
                _query_metrics(settings, core, metrics),
                core.analytics,
                operations=operations,
                downloads=ExportDownloads(core.files),
                steps=list(steps),
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
                traces.TraceStep(),
                AccessLogStep(),
                MetricsStep(metrics),
                auth,
                core.rates,
            ),
            alerts=AlertServicer(
                AlertsUseCase(
                    core.alerts,
                    box,
                    core.alert_queue,
                    policy=_address_policy(settings),
                    max_subscriptions=settings.alert_max_subscriptions,
                    now=_now,
                )
            ),
            access=access,
        )
        metrics.draining.set_function(lambda: float(server.drain.draining))
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


def _alert_upkeep(settings: Settings, core: _Core) -> AlertUpkeep:
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


def build_worker_runtime(settings: Settings, celery: Any, metrics: Metrics) -> JobRuntime:
    """What an `adpulse worker` process needs to run tasks: its own connections (built in the
    process that uses them, after any fork) to the Postgres and ClickHouse of the settings,
    observed into the worker's `metrics`."""
    if settings.postgres_dsn is None:
        raise SettingsError("adpulse worker needs ADPULSE_POSTGRES_DSN: the Postgres the servers use")
    closers: list[Callable[[], None]] = []
    try:
        owner = f"wrk-{uuid.uuid4().hex[:16]}"
        core = _core(
            settings, settings.postgres_dsn, owner, closers, inst=Instruments(metrics), celery=celery
        )
        operations = OperationsUseCase(core.operations, CeleryJobQueue(celery), core.files)
        # A worker signs with the servers' key (the same ADPULSE_ALERT_KEY_FILE); it never makes one.
        try:
            box: SecretBox | None = SecretBox.from_file(settings.effective_alert_key_file, create=False)
        except SettingsError as err:
            log.warning("%s; this worker runs jobs but sends no alerts", err)
            box = None
        return _runtime(settings, core, operations, owner, close=lambda: close_all(closers), box=box)
    except BaseException:
        with contextlib.suppress(Exception):
            close_all(closers)
        raise
