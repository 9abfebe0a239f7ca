"""The composition root: the one place that turns settings into stores, use cases and a server."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from adpulse import _kernel
from adpulse.server import faults
from adpulse.server.settings import Settings
from adpulse.server.storage import clickhouse, postgres
from adpulse.server.storage.batch_ledger import PostgresBatchLedger
from adpulse.server.storage.checkpoints import PostgresCheckpoints, PostgresTenantSettings
from adpulse.server.storage.fact_store import ClickHouseFactStore, ClickHouseFxRates
from adpulse.server.storage.ingestion_runs import Heartbeat, PostgresRunStore
from adpulse.server.transport import grpc_server
from adpulse.server.transport.analytics_servicer import AnalyticsServicer
from adpulse.server.transport.ingest_servicer import IngestServicer
from adpulse.server.transport.tenant_servicer import TenantServicer
from adpulse.server.usecases.currency import CurrencyUseCase
from adpulse.server.usecases.ingest import IngestUseCase
from adpulse.server.usecases.ingestion_runs import IngestionRunsUseCase
from adpulse.server.usecases.query_metrics import QueryMetricsUseCase

log = logging.getLogger(__name__)


@dataclass
class App:
    """A running server and what to close, in order, when it stops."""

    grpc: grpc_server.GrpcServer
    settings: Settings
    _closers: list[Callable[[], None]] = field(default_factory=list)

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


def build(settings: Settings) -> App:
    closers: list[Callable[[], None]] = []
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        postgres_dsn = settings.postgres_dsn
        if postgres_dsn is None:
            embedded = postgres.EmbeddedPostgres(settings.data_dir.resolve() / "postgres")
            closers.append(embedded.stop)
            postgres_dsn = embedded.dsn
        pool = postgres.open_pool(postgres_dsn)
        closers.append(pool.close)
        postgres.migrate(pool)
        ch_client = clickhouse.connect(settings.effective_clickhouse_dsn)
        closers.append(ch_client.close)
        clickhouse.migrate(ch_client)

        instance_id = f"srv-{uuid.uuid4().hex[:16]}"
        heartbeat = Heartbeat(pool, instance_id, settings.heartbeat_seconds)
        heartbeat.start()
        closers.append(heartbeat.stop)

        kernel, facts = faults.wrap(_kernel, ClickHouseFactStore(ch_client), settings.faults)
        ledger = PostgresBatchLedger(pool)
        runs = PostgresRunStore(pool, instance_id, settings.heartbeat_seconds)
        tenant_settings = PostgresTenantSettings(pool)
        currency = CurrencyUseCase(ClickHouseFxRates(ch_client), tenant_settings)
        server = grpc_server.start(
            settings,
            IngestServicer(
                kernel,
                IngestUseCase(kernel, facts, ledger, runs, settings.max_decompressed_bytes),
                IngestionRunsUseCase(kernel, runs, facts, PostgresCheckpoints(pool), settings.restatement),
                currency,
            ),
            AnalyticsServicer(QueryMetricsUseCase(kernel, facts, tenant_settings)),
            TenantServicer(currency),
        )
    except BaseException:
        with contextlib.suppress(Exception):
            close_all(closers)
        raise
    return App(grpc=server, settings=settings, _closers=closers)
