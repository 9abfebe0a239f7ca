"""Two servers on one Postgres and one ClickHouse: a write through one is seen by the other's
next query, though the other had the old answer cached.

The two servers are two sets of the server's use cases, each with its own result cache, in this
process: chDB opens its data in one process only, so two server *processes* can share a
ClickHouse server but not the embedded engine (README, "Dashboard speed"). What makes the
second server fresh is the tenant's data version in Postgres, which both read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from adpulse import _kernel
from adpulse.server.domain.ingest import BatchPayload, StreamSpec
from adpulse.server.domain.metrics_query import Dimension, Granularity, build_query
from adpulse.server.storage import postgres
from adpulse.server.storage.batch_ledger import PostgresBatchLedger
from adpulse.server.storage.checkpoints import PostgresTenantSettings
from adpulse.server.storage.data_versions import PostgresDataVersions
from adpulse.server.storage.fact_store import ClickHouseFactStore
from adpulse.server.storage.ingestion_runs import PostgresRunStore
from adpulse.server.usecases.ingest import IngestUseCase
from adpulse.server.usecases.query_metrics import MetricsResult, QueryMetricsUseCase
from adpulse.server.usecases.result_cache import ResultCache
from tests.support.facts import latest_by_key, random_facts, restated, to_csv

FACTS = random_facts(seed=21, n_campaigns=4, days=5)


@dataclass
class Server:
    ingest: IngestUseCase
    query: QueryMetricsUseCase


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[postgres.Pool]:
    embedded = postgres.EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "postgres")
    pool = postgres.open_pool(embedded.dsn)
    postgres.migrate(pool)
    yield pool
    pool.close()
    embedded.stop()


def _server(pool: postgres.Pool, ch_client: Any) -> Server:
    facts = ClickHouseFactStore(ch_client)
    versions = PostgresDataVersions(pool)
    runs = PostgresRunStore(pool, f"srv-{uuid.uuid4().hex[:8]}", 15)
    cache: ResultCache[MetricsResult] = ResultCache(64 << 20)
    return Server(
        IngestUseCase(_kernel, facts, PostgresBatchLedger(pool), runs, versions=versions),
        QueryMetricsUseCase(
            _kernel, facts, PostgresTenantSettings(pool), versions, cache, max_groups=100_000
        ),
    )


def _costs(server: Server, tenant: str) -> tuple[dict[str, int], bool]:
    query = build_query(
        tenant=tenant,
        start_date="",
        end_date="",
        dimensions=(Dimension.CAMPAIGN,),
        granularity=Granularity.DAY,
        filters=(),
        order_by="",
        page_size=0,
        offset=0,
    )
    page = server.query.execute(query)
    return dict(
        zip(page.rows["campaign_id"].to_pylist(), page.rows["cost_micros"].to_pylist(), strict=True)
    ), page.cached


def _ingest(server: Server, tenant: str, csv: str) -> None:
    stream = server.ingest.open_stream(tenant, StreamSpec("generic"))
    outcome = server.ingest.ingest_batch(stream, BatchPayload(f"b-{uuid.uuid4().hex}", "csv", csv.encode()))
    assert outcome.rejected == 0


def test_a_write_through_one_server_is_read_fresh_through_the_other(
    pool: postgres.Pool, ch_client: Any
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    one, other = _server(pool, ch_client), _server(pool, ch_client)
    _ingest(one, tenant, to_csv(f.csv_values() for f in FACTS))
    before, _ = _costs(other, tenant)
    assert _costs(other, tenant) == (before, True)  # the other server now has it cached

    late = [restated(f, cost=f.cost + Decimal(2)) for f in FACTS if f.campaign_id == "cmp-1"]
    _ingest(one, tenant, to_csv(f.csv_values() for f in late))
    after, cached = _costs(other, tenant)
    assert not cached
    want = sum(int(f.cost * 10**6) for f in latest_by_key([*FACTS, *late]) if f.campaign_id == "cmp-1")
    assert after["cmp-1"] == want != before["cmp-1"]
    assert {k: v for k, v in after.items() if k != "cmp-1"} == {
        k: v for k, v in before.items() if k != "cmp-1"
    }
