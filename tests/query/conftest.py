"""One embedded ClickHouse (chDB) for the store-level tests of this package.

chDB allows one data path per process, so every test here shares this one (tests/conftest.py's
`chdb_dir`); tenants keep them apart. The server tests open chDB in their servers' processes.

The engine starts with a config that declares a one-shard cluster on this node, so the cluster
shape of the schema (Distributed tables over local ones) runs here too, in its own database:
chDB has no Keeper, so only its Replicated engines and ON CLUSTER cannot run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from adpulse.server.storage import clickhouse
from adpulse.server.storage.clickhouse_schema import ClickHouseSchema

CLUSTER = "adpulse_test"
CLUSTER_DATABASE = "clustered"
# The node's own TCP port makes its one replica local: chDB listens on none, and a local
# replica is read and written in process.
_CONFIG = f"""<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers>
    <{CLUSTER}>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>9000</port></replica>
      </shard>
    </{CLUSTER}>
  </remote_servers>
</clickhouse>
"""
_REPLICATED = re.compile(r"Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?")


def without_keeper(statement: str) -> str:
    """A cluster statement as one node without Keeper runs it: plain engines, no ON CLUSTER."""
    return _REPLICATED.sub(r"\1(", statement.replace(f" ON CLUSTER {CLUSTER}", ""))


class _Engine:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._options = {"config-file": str(path.parent / "config.xml")}
        (path.parent / "config.xml").write_text(_CONFIG)

    def pool(self, database: str | None = None, settings: dict[str, Any] | None = None) -> Any:
        def client() -> Any:
            return clickhouse_connect.get_client(
                dsn=f"chdb://{self._path}", database=database, settings=settings, chdb_options=self._options
            )

        return clickhouse.ClientPool(client, 4, client())


@pytest.fixture(scope="session")
def ch_engine(chdb_dir: Path) -> _Engine:
    return _Engine(chdb_dir)


@pytest.fixture(scope="session")
def ch_client(ch_engine: _Engine) -> Iterator[Any]:
    client = ch_engine.pool()
    clickhouse.migrate(client)
    yield client
    client.close()


@pytest.fixture(scope="session")
def ch_cluster_client(ch_engine: _Engine, ch_client: Any) -> Iterator[Any]:
    """A client of the cluster shape's tables (their own database), with its session settings."""
    ch_client.command(f"CREATE DATABASE IF NOT EXISTS {CLUSTER_DATABASE}")
    schema = ClickHouseSchema(CLUSTER)
    client = ch_engine.pool(CLUSTER_DATABASE, schema.session_settings)
    for statement in schema.ddl():
        client.command(without_keeper(statement))
    yield client
    client.close()
