"""The stores and use cases both a server and a worker process need: every store is chosen here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adpulse import _kernel
from adpulse.server import faults
from adpulse.server.domain.search import SearchLimits
from adpulse.server.observe.instrument import Instruments
from adpulse.server.settings import Settings
from adpulse.server.storage import clickhouse, postgres
from adpulse.server.storage.access_store import PostgresAccessStore
from adpulse.server.storage.alert_store import PostgresAlertStore
from adpulse.server.storage.audit_store import PostgresAuditLog
from adpulse.server.storage.batch_ledger import PostgresBatchLedger
from adpulse.server.storage.checkpoints import PostgresCheckpoints, PostgresTenantSettings
from adpulse.server.storage.clickhouse_schema import ClickHouseSchema
from adpulse.server.storage.data_versions import PostgresDataVersions
from adpulse.server.storage.dimension_values import ClickHouseDimensionValues
from adpulse.server.storage.fact_store import ClickHouseFactStore, ClickHouseFxRates
from adpulse.server.storage.files import LocalFileArea, StorageQuota
from adpulse.server.storage.ingestion_runs import Heartbeat, PostgresRunStore
from adpulse.server.storage.insight_store import PostgresInsightStore
from adpulse.server.storage.operations import PostgresOperationStore
from adpulse.server.storage.rollups import ClickHouseRollups
from adpulse.server.storage.tenant_data import ClickHouseTenantData, PostgresTenantData
from adpulse.server.usecases.alerts.dispatch import AlertDispatcher
from adpulse.server.usecases.alerts.subscriptions import AddressPolicy
from adpulse.server.usecases.analytics import AnomaliesUseCase, ExplainChangeUseCase, TrendsUseCase
from adpulse.server.usecases.fair_share import Rate, RowQuota
from adpulse.server.usecases.ingest import IngestUseCase
from adpulse.server.usecases.insights import InsightsRun, InsightsUseCase
from adpulse.server.usecases.result_cache import ResultCache
from adpulse.server.usecases.search import SearchUseCase
from adpulse.server.worker.alerts import CeleryAlertQueue

log = logging.getLogger(__name__)


def close_all(closers: list[Callable[[], None]]) -> None:
    for close in reversed(closers):
        try:
            close()
        except Exception:
            log.exception("error while closing %s", close)


def today() -> dt.date:
    """Today in UTC: restatement windows and default ranges count from it."""
    return dt.datetime.now(dt.UTC).date()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def address_policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy(
        settings.alert_allow_loopback, tuple(ipaddress.ip_network(n) for n in settings.alert_allow_networks)
    )


@dataclass
class Core:
    """The stores and use cases that both a server and a worker process need."""

    pool: postgres.Pool
    kernel: Any
    facts: Any
    ingest: IngestUseCase
    runs: PostgresRunStore
    tenant_settings: PostgresTenantSettings
    versions: PostgresDataVersions
    operations: PostgresOperationStore
    files: LocalFileArea
    rollups: ClickHouseRollups
    trends: TrendsUseCase
    anomalies: AnomaliesUseCase
    explain: ExplainChangeUseCase
    insights: InsightsUseCase
    search: SearchUseCase
    alerts: PostgresAlertStore
    alert_queue: CeleryAlertQueue
    insight_store: PostgresInsightStore
    tenant_rows: PostgresTenantData
    tenant_facts: ClickHouseTenantData
    insight_runs: ResultCache[InsightsRun]
    fx_rates: Any
    checkpoints: PostgresCheckpoints
    access: PostgresAccessStore
    audit_log: PostgresAuditLog


def row_quota(settings: Settings) -> RowQuota:
    """The ingest-rows buckets the settings describe (each process keeps its own)."""
    return RowQuota(
        Rate(settings.tenant_rows_per_second, settings.tenant_row_burst),
        {tenant: Rate(rows, 2 * rows) for tenant, _, rows in settings.tenant_rate_overrides},
    )


def build_core(
    settings: Settings,
    postgres_dsn: str,
    instance_id: str,
    closers: list[Callable[[], None]],
    *,
    inst: Instruments,
    celery: Any,
) -> Core:
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
    kernel, facts = faults.wrap(_kernel, ClickHouseFactStore(ch_client), settings.faults)
    kernel, facts = inst.kernel(kernel), inst.clickhouse(facts)
    versions = inst.postgres(PostgresDataVersions(pool))
    runs = inst.postgres(PostgresRunStore(pool, instance_id, settings.heartbeat_seconds))
    tenant_settings = inst.postgres(PostgresTenantSettings(pool))
    anomalies = AnomaliesUseCase(kernel, facts, settings.restatement, today, settings.max_series)
    explain = ExplainChangeUseCase(kernel, facts)
    alerts, alert_queue, insight_store = (
        inst.postgres(PostgresAlertStore(pool)),
        CeleryAlertQueue(celery),
        inst.postgres(PostgresInsightStore(pool)),
    )
    insight_runs: ResultCache[InsightsRun] = ResultCache(settings.insight_runs_cache_bytes)
    return Core(
        pool=pool,
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
                row_quota=row_quota(settings).take_rows,
            )
        ),
        runs=runs,
        tenant_settings=tenant_settings,
        versions=versions,
        operations=inst.postgres(PostgresOperationStore(pool, postgres_dsn)),
        files=LocalFileArea(
            settings.effective_import_dir,
            settings.effective_export_dir,
            StorageQuota(settings.tenant_storage_bytes, dict(settings.tenant_storage_overrides)),
        ),
        rollups=inst.clickhouse(ClickHouseRollups(ch_client)),
        trends=TrendsUseCase(kernel, facts, tenant_settings, settings.max_series),
        anomalies=anomalies,
        explain=explain,
        insights=InsightsUseCase(
            kernel,
            facts=facts,
            store=insight_store,
            anomalies=anomalies,
            explain=explain,
            today=today,
            runs=insight_runs,
            events=AlertDispatcher(alerts, alert_queue, now),
        ),
        search=SearchUseCase(
            inst.clickhouse(ClickHouseDimensionValues(ch_client)),
            SearchLimits(settings.max_search_query_chars, settings.max_search_page_size),
        ),
        alerts=alerts,
        alert_queue=alert_queue,
        insight_store=insight_store,
        tenant_rows=inst.postgres(PostgresTenantData(pool)),
        tenant_facts=inst.clickhouse(ClickHouseTenantData(ch_client, schema)),
        insight_runs=insight_runs,
        fx_rates=inst.clickhouse(ClickHouseFxRates(ch_client)),
        checkpoints=PostgresCheckpoints(pool),
        access=PostgresAccessStore(pool),
        audit_log=PostgresAuditLog(pool),
    )
