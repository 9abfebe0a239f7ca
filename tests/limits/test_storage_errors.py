"""Storage errors are classified once, in the storage layer, from what the real stores say:
transient failures are retryable (StorageUnavailable), refusals of the data are not
(StorageRejected, INVALID_ARGUMENT), and our own bugs stay internal errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from adpulse.server.domain.errors import StorageRejected, StorageUnavailable
from adpulse.server.storage import clickhouse, postgres


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = postgres.EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "postgres")
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ch(chdb_dir: Path) -> Any:
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    client.command(
        "CREATE TABLE IF NOT EXISTS storage_errors_monthly (date Date, v Int64) ENGINE = MergeTree "
        "PARTITION BY toYYYYMM(date) ORDER BY date"
    )
    return client


def _pg_fails(dsn: str, sql: str, *params: object) -> BaseException:
    with (
        pytest.raises(Exception) as caught,
        postgres.unavailable_on_failure(),
        psycopg.connect(dsn, autocommit=True) as conn,
    ):
        conn.execute("CREATE TABLE IF NOT EXISTS t (name text PRIMARY KEY, n smallint, doc jsonb)")
        conn.execute(sql, params)
    return caught.value


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("INSERT INTO t (name) VALUES (%s)", ("a\0b",)),  # NUL in text: 22021
        ("INSERT INTO t (name, doc) VALUES ('j', %s::jsonb)", ('{"a": "\\u0000"}',)),  # 22P05
        ("INSERT INTO t (name, n) VALUES ('big', %s)", (1 << 20,)),  # out of range: 22003
        ("INSERT INTO t (name) VALUES (%s)", ("x" * 20000 + "".join(map(str, range(3000))),)),  # 54000
    ],
    ids=["nul", "jsonb-nul", "out-of-range", "index-row-too-big"],
)
def test_postgres_refusals_of_the_data_are_permanent(pg: str, sql: str, params: tuple[Any, ...]) -> None:
    error = _pg_fails(pg, sql, *params)

    assert isinstance(error, StorageRejected)
    assert error.reason == "STORAGE_REJECTED"
    assert error.metadata.get("sqlstate", "22")[:2] in {"22", "54"}
    assert "INSERT" not in error.message


def test_postgres_lost_connections_are_transient(pg: str) -> None:
    with psycopg.connect(pg, autocommit=True) as victim:
        pid = victim.info.backend_pid
        with psycopg.connect(pg, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StorageUnavailable), postgres.unavailable_on_failure():
            victim.execute("SELECT 1")


def test_postgres_bugs_stay_internal(pg: str) -> None:
    error = _pg_fails(pg, "SELECT * FROM no_such_table")

    assert isinstance(error, psycopg.errors.UndefinedTable)


def _ch_fails(client: Any, table: pa.Table, settings: dict[str, Any]) -> BaseException:
    with pytest.raises(Exception) as caught, clickhouse.unavailable_on_failure():
        client.insert_arrow("storage_errors_monthly", table, settings=settings)
    return caught.value


def test_clickhouse_too_many_partitions_is_permanent(ch: Any) -> None:
    months = pa.table(
        {
            "date": pa.array([dt.date(2020 + m // 12, m % 12 + 1, 1) for m in range(3)], pa.date32()),
            "v": pa.array([1, 2, 3], pa.int64()),
        }
    )

    error = _ch_fails(ch, months, {"max_partitions_per_insert_block": 2})

    assert isinstance(error, StorageRejected)
    assert error.reason == "STORAGE_TOO_MANY_PARTITIONS"
    assert ch.query("SELECT count() FROM storage_errors_monthly").result_rows[0][0] == 0


def test_clickhouse_values_out_of_range_are_permanent(ch: Any) -> None:
    with pytest.raises(StorageRejected) as caught, clickhouse.unavailable_on_failure():
        ch.command("SELECT accurateCast(300, 'UInt8')")
    assert caught.value.reason == "STORAGE_REJECTED"


def test_clickhouse_busy_is_transient(ch: Any) -> None:
    with pytest.raises(StorageUnavailable), clickhouse.unavailable_on_failure():
        ch.query("SELECT groupArray(number) FROM numbers(10000000)", settings={"max_memory_usage": 1 << 20})


def test_clickhouse_bugs_stay_internal(ch: Any) -> None:
    with pytest.raises(Exception) as caught, clickhouse.unavailable_on_failure():
        ch.query("SELECT * FROM no_such_table")
    assert not isinstance(caught.value, StorageUnavailable | StorageRejected)
