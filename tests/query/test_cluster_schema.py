"""The cluster shape of the ClickHouse schema (issue 14, item 7), generated from the same
migrations as the single node's.

No ClickHouse cluster runs here, so the DDL is checked twice: as text (every table a Replicated
local table under Keeper macros with a Distributed twin sharded by tenant, ON CLUSTER
everywhere), and by running it on chDB over a one-shard cluster of this node with the
Replicated engines and ON CLUSTER taken out (no Keeper). There the fact store, the rollups and
the tenant data store, unchanged, write and read through the Distributed tables with the
cluster's session settings, and must answer exactly what the single-node tables answer.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpulse.server.domain.fx import FxRate
from adpulse.server.domain.metrics_query import FactSelection, Granularity, GroupColumn
from adpulse.server.domain.query_plan import Source
from adpulse.server.storage import migrations
from adpulse.server.storage.clickhouse_schema import LEDGER, MIGRATIONS, ClickHouseSchema
from adpulse.server.storage.fact_store import ClickHouseFactStore, ClickHouseFxRates
from adpulse.server.storage.rollups import ClickHouseRollups
from adpulse.server.storage.tenant_data import ClickHouseTenantData
from tests.query.conftest import CLUSTER, without_keeper
from tests.query.test_rollups import BATCH, DAYS, FIRST_DAY, _batch, _canonical

SCHEMA = ClickHouseSchema(CLUSTER)
_CREATED = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
_ENGINE = re.compile(r"ENGINE = (\w+)\((.*)\)", re.S)


def _single_node_tables() -> list[str]:
    statements = [s for m in migrations.load(MIGRATIONS) for s in m.statements]
    return [LEDGER, *(m.group(1) for s in statements if (m := _CREATED.match(s)))]


def _created(statements: list[str]) -> dict[str, str]:
    return {m.group(1): s for s in statements if (m := _CREATED.match(s))}


def test_every_table_is_replicated_on_every_node_behind_a_distributed_twin() -> None:
    statements = list(SCHEMA.ddl())
    created = _created(statements)
    tables = _single_node_tables()
    assert len(tables) >= 5 and set(created) == {t for n in tables for t in (n, f"{n}_local")}
    assert all(re.search(rf"^\w+ TABLE (IF NOT EXISTS )?\w+ ON CLUSTER {CLUSTER}\s", s) for s in statements)
    for table in tables:
        engine, args = _ENGINE.search(created[f"{table}_local"]).groups()  # type: ignore[union-attr]
        assert engine.startswith("Replicated") and engine.endswith("MergeTree"), table
        path, replica = (a.strip(" '") for a in args.split(",")[:2])
        assert path == f"/clickhouse/tables/{{shard}}/{{database}}/{table}_local" and replica == "{replica}"
        twin = created[table]
        assert f"AS {table}_local" in twin  # the same columns, by construction
        engine, args = _ENGINE.search(twin).groups()  # type: ignore[union-attr]
        key = "version" if table == LEDGER else "tenant"  # the ledger has no tenant: its key
        assert (engine, args) == (
            "Distributed",
            f"{CLUSTER}, currentDatabase(), {table}_local, cityHash64({key})",
        )


def test_column_changes_reach_both_tables_and_indexes_only_the_data() -> None:
    statements = list(SCHEMA.ddl())
    alters = [s for s in statements if s.startswith("ALTER")]
    change = "ADD COLUMN IF NOT EXISTS name_version UInt64 AFTER campaign_name"
    for table in ("campaign_daily_local", "campaign_daily"):
        assert f"ALTER TABLE {table} ON CLUSTER adpulse_test {change}" in alters
    indexes = [s for s in alters if "ADD INDEX" in s]
    assert indexes and all(s.startswith("ALTER TABLE ad_metrics_local ") for s in indexes)


def test_a_table_added_later_gets_its_cluster_form_too() -> None:
    later = (
        "CREATE TABLE IF NOT EXISTS dimension_names (tenant LowCardinality(String), "
        "kind LowCardinality(String), id String, name String, spend Decimal(18, 6), version UInt64) "
        "ENGINE = ReplacingMergeTree(version) ORDER BY (tenant, kind, id)"
    )
    local, distributed = SCHEMA.statements(later)
    assert local.startswith("CREATE TABLE IF NOT EXISTS dimension_names_local ON CLUSTER adpulse_test")
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/dimension_names_local'" in local
    )
    assert distributed.endswith("dimension_names_local, cityHash64(tenant))")
    with pytest.raises(ValueError, match="no cluster form"):
        SCHEMA.statements("CREATE MATERIALIZED VIEW v AS SELECT 1")
    with pytest.raises(ValueError, match="mixes"):
        SCHEMA.statements("ALTER TABLE t ADD COLUMN x UInt8, ADD INDEX i x TYPE minmax")
    assert ClickHouseSchema().statements(later) == [later]  # a single node runs it as written


def test_adpulse_ddl_prints_the_schema_of_either_shape() -> None:
    adpulse = Path(sys.executable).parent / "adpulse"
    for args, schema in (([], ClickHouseSchema()), (["--cluster", CLUSTER], SCHEMA)):
        done = subprocess.run([adpulse, "ddl", *args], capture_output=True, text=True, check=True)
        assert done.stdout == "".join(f"{s};\n\n" for s in schema.ddl())
    refused = subprocess.run(
        [adpulse, "ddl", "--cluster", "no-such"], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1 and "is not an identifier" in refused.stderr


def _columns(client: Any) -> dict[str, list[tuple[str, str, str]]]:
    rows = client.query(
        "SELECT table, name, type, default_expression FROM system.columns "
        "WHERE database = currentDatabase() ORDER BY table, position"
    ).result_rows
    tables: dict[str, list[tuple[str, str, str]]] = {}
    for table, *column in rows:
        tables.setdefault(table, []).append(tuple(column))
    return tables


def test_the_cluster_ddl_runs_and_declares_the_single_node_columns(
    ch_client: Any, ch_cluster_client: Any
) -> None:
    single, cluster = _columns(ch_client), _columns(ch_cluster_client)
    for table in _single_node_tables():
        assert cluster[table] == cluster[f"{table}_local"] == single[table], table
    engines = dict(
        ch_cluster_client.query(
            "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
        ).result_rows
    )
    assert {t: engines[t] for t in _single_node_tables()} == dict.fromkeys(
        _single_node_tables(), "Distributed"
    )
    assert {e for t, e in engines.items() if t.endswith("_local")} == {"ReplacingMergeTree"}
    # The statements are idempotent, as the migrations must be: a second run changes nothing.
    for statement in SCHEMA.ddl():
        ch_cluster_client.command(without_keeper(statement))
    assert _columns(ch_cluster_client) == cluster


_DAY = Granularity.DAY
# Each source answers these groupings: facts and campaign_daily all, account_daily those without
# campaign, campaign_monthly those without date over the range's whole month (February).
_GROUPINGS = (
    ((GroupColumn("platform"),), (Source.FACTS, Source.CAMPAIGN_DAILY, Source.ACCOUNT_DAILY)),
    (
        (GroupColumn("date", Granularity.WEEK), GroupColumn("campaign_id")),
        (Source.FACTS, Source.CAMPAIGN_DAILY),
    ),
    ((GroupColumn("date", _DAY), GroupColumn("account_id")), (Source.FACTS, Source.ACCOUNT_DAILY)),
    ((GroupColumn("campaign_id"),), (Source.FACTS, Source.CAMPAIGN_MONTHLY)),
)
RATES = [FxRate(FIRST_DAY + dt.timedelta(days=d), "EUR", "USD", Decimal("1.0831")) for d in range(DAYS + 1)]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(BATCH, min_size=1, max_size=2))
def test_the_same_code_answers_the_same_through_the_distributed_tables(
    ch_client: Any, ch_cluster_client: Any, batches: list[tuple[str, list[Any]]]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    stores = [ClickHouseFactStore(c) for c in (ch_client, ch_cluster_client)]
    for store, client in zip(stores, (ch_client, ch_cluster_client), strict=True):
        for i, (currency, rows) in enumerate(batches):
            store.insert(tenant, i + 1, _batch(currency, rows, i + 1))
        ClickHouseFxRates(client).upsert(tenant, RATES)
    last = FIRST_DAY + dt.timedelta(days=DAYS)
    assert ClickHouseRollups(ch_cluster_client).mismatches(tenant, FIRST_DAY, last) == []
    span = FactSelection(tenant, FIRST_DAY, last)
    for groups, sources in _GROUPINGS:
        with_name = any(g.column == "campaign_id" for g in groups)
        for source in sources:
            single, cluster = (
                _canonical(store.grouped_sums(span, groups, with_name, source=source)) for store in stores
            )
            assert cluster == single and single, (groups, source)
        single, cluster = (_canonical(s.grouped_sums(span, groups, False, "USD")) for s in stores)
        assert cluster == single and single, (groups, "USD")
    # Exports and deletions find the tenant's tables by the names queries use.
    data = [ClickHouseTenantData(ch_client), ClickHouseTenantData(ch_cluster_client, SCHEMA)]
    assert data[1].tables() == data[0].tables() == sorted(_single_node_tables()[1:])
    for table in data[0].tables():
        single, cluster = (
            sum(b.num_rows for b in d.batches(table, tenant)) for d in data
        )  # FINAL rows: the local table's engine is looked up, not the Distributed one's
        assert cluster == single, table


def test_deletes_name_each_nodes_local_table_on_the_whole_cluster() -> None:
    # Not runnable without Keeper; a Distributed table takes no mutation, so this is the form.
    assert SCHEMA.mutation_target("ad_metrics") == "`ad_metrics_local` ON CLUSTER adpulse_test"
    assert ClickHouseSchema().mutation_target("ad_metrics") == "`ad_metrics`"
