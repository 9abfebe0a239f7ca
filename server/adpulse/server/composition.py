"""The composition root: the one place that turns settings into stores, use cases and a server."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from adpulse import _kernel
from adpulse.server import faults
from adpulse.server.settings import Settings
from adpulse.server.storage import clickhouse, postgres
from adpulse.server.storage.batch_ledger import PostgresBatchLedger
from adpulse.server.storage.fact_store import ClickHouseFactStore
from adpulse.server.storage.insight_store import PostgresInsightStore
from adpulse.server.transport import grpc_server
from adpulse.server.transport.analytics_servicer import AnalyticsServicer, AnalyticsUseCases
from adpulse.server.transport.ingest_servicer import IngestServicer
from adpulse.server.usecases.analytics import AnomaliesUseCase, ExplainChangeUseCase, TrendsUseCase
from adpulse.server.usecases.ingest import IngestUseCase
from adpulse.server.usecases.insights import InsightsUseCase
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


def _today() -> dt.date:
    """Today in UTC: restatement windows and default ranges count from it."""
    return dt.datetime.now(dt.UTC).date()


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

        kernel = faults.wrap_kernel(_kernel, settings.faults)
        facts = ClickHouseFactStore(ch_client)
        ledger = PostgresBatchLedger(pool)
        anomalies = AnomaliesUseCase(kernel, facts, settings.restatement, _today)
        explain = ExplainChangeUseCase(kernel, facts)
        analytics = AnalyticsUseCases(
            trends=TrendsUseCase(kernel, facts),
            anomalies=anomalies,
            explain=explain,
            insights=InsightsUseCase(
                kernel,
                facts=facts,
                store=PostgresInsightStore(pool),
                anomalies=anomalies,
                explain=explain,
                today=_today,
            ),
            today=_today,
        )
        server = grpc_server.start(
            settings,
            IngestServicer(IngestUseCase(kernel, facts, ledger)),
            AnalyticsServicer(QueryMetricsUseCase(kernel, facts), analytics),
        )
    except BaseException:
        with contextlib.suppress(Exception):
            close_all(closers)
        raise
    return App(grpc=server, settings=settings, _closers=closers)
