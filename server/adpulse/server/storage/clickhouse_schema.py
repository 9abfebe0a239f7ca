"""The ClickHouse schema in either shape, from the one set of migrations.

A single node runs each migration as written. A cluster (`ADPULSE_CLICKHOUSE_CLUSTER`) gets, for
every table a migration creates, a `ReplicatedReplacingMergeTree` table `<name>_local` on every
node (`ON CLUSTER`, replicated through Keeper under the `{shard}`/`{replica}` macros) and a
`Distributed` table under the table's own name. Every query and insert of the single-node code
then runs unchanged against the Distributed tables.

Rows are sharded by tenant (`cityHash64(tenant)`), so all rows of one key live on one shard:
`FINAL` and the replacing merges stay exact per shard, and the rollup rebuilds, whose
subqueries and joins read the same tenant, may read each shard's local tables
(`distributed_product_mode = 'local'`) and run on the shards themselves
(`parallel_distributed_insert_select = 2`). A table without a tenant column (the migration
ledger) is sharded by its whole sorting key, for the same reason.

The translation knows the statement forms the migrations use (CREATE TABLE of a MergeTree
family engine, ALTER TABLE); a migration with any other statement fails here, and in the
schema tests, until this module learns its cluster form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adpulse.server.storage import migrations

MIGRATIONS = Path(__file__).parent / "clickhouse_migrations"
LEDGER = "adpulse_schema_migrations"
LEDGER_DDL = (
    f"CREATE TABLE IF NOT EXISTS {LEDGER} "
    "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
    "ENGINE = ReplacingMergeTree ORDER BY version"
)
LOCAL_SUFFIX = "_local"
# Where each local table's replicas meet in Keeper; ClickHouse fills in the macros per node.
KEEPER_PATH = "/clickhouse/tables/{shard}/{database}/"
CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_CREATE = re.compile(
    r"CREATE TABLE IF NOT EXISTS (?P<name>\w+)\s*\((?P<columns>.*)\)\s*"
    r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\((?P<args>[^)]*)\))?\s*(?P<rest>.*)",
    re.S,
)
_ALTER = re.compile(r"ALTER TABLE (?P<name>\w+)\s+(?P<actions>.*)", re.S)
_ORDER_BY = re.compile(r"ORDER BY\s+(\([^)]*\)|\w+)")
# ALTER actions on columns change what a Distributed table must declare as well.
_COLUMN_ACTION = re.compile(r"^\s*(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.I)


@dataclass(frozen=True)
class ClickHouseSchema:
    """`cluster` names the cluster of the nodes' `remote_servers`; empty is a single node."""

    cluster: str = ""

    def __post_init__(self) -> None:
        if self.cluster and not CLUSTER_NAME.fullmatch(self.cluster):
            raise ValueError(f"cluster name {self.cluster!r} is not an identifier")

    @property
    def session_settings(self) -> dict[str, str | int]:
        """Settings every statement runs with in this shape."""
        if not self.cluster:
            return {}
        return {
            # Subqueries and joins read the tenant's rows, which sit on the shard being read.
            "distributed_product_mode": "local",
            # Rollup rebuilds read and write one tenant: each shard can do its part alone.
            "parallel_distributed_insert_select": 2,
            # An insert returns once its shard has the rows: a batch is acknowledged after it.
            "distributed_foreground_insert": 1,
            # ... on a majority of the shard's replicas, so losing one loses nothing acknowledged.
            "insert_quorum": "auto",
            # The batch ledger in Postgres deduplicates; ClickHouse's block hashes would drop a
            # legitimate re-insert of identical rows (a tenant re-imported after a deletion).
            "insert_deduplicate": 0,
            # Every statement of a shard goes to its first healthy replica: reads see the
            # writes before them, and the rollup versions come from one clock per shard.
            "load_balancing": "in_order",
        }

    def storage_table(self, table: str) -> str:
        """The table that holds `table`'s rows on each node."""
        return f"{table}{LOCAL_SUFFIX}" if self.cluster else table

    def is_read_table(self, table: str) -> bool:
        """Whether queries name `table` (not a node's local half of a Distributed table)."""
        return not (self.cluster and table.endswith(LOCAL_SUFFIX))

    def mutation_target(self, table: str) -> str:
        """What `ALTER TABLE … DELETE` names to delete `table`'s rows on every shard."""
        return f"`{self.storage_table(table)}`{self._on_cluster}"

    def ddl(self) -> Iterator[str]:
        """Every statement that builds the schema from nothing: the ledger, then each migration."""
        yield from self.statements(LEDGER_DDL)
        for migration in migrations.load(MIGRATIONS):
            for statement in migration.statements:
                yield from self.statements(statement)

    def statements(self, statement: str) -> list[str]:
        """A migration statement in this shape."""
        if not self.cluster:
            return [statement]
        create = _CREATE.fullmatch(statement.strip())
        if create:
            return self._create(**create.groupdict())
        alter = _ALTER.fullmatch(statement.strip())
        if alter:
            return self._alter(alter["name"], alter["actions"])
        raise ValueError(f"no cluster form for the migration statement {statement.strip()[:60]!r}")

    @property
    def _on_cluster(self) -> str:
        return f" ON CLUSTER {self.cluster}" if self.cluster else ""

    def _create(self, name: str, columns: str, engine: str, args: str | None, rest: str) -> list[str]:
        local = self.storage_table(name)
        replication = f"'{KEEPER_PATH}{local}', '{{replica}}'"
        engine_args = f"{replication}, {args}" if args and args.strip() else replication
        order_by = _ORDER_BY.search(rest)
        if order_by is None:
            raise ValueError(f"table {name} has no ORDER BY to shard by")
        names = {column.split()[0].strip("`") for column in _top_level(columns)}
        shard_key = "tenant" if "tenant" in names else order_by.group(1).strip("()")
        return [
            f"CREATE TABLE IF NOT EXISTS {local}{self._on_cluster}\n({columns})\n"
            f"ENGINE = Replicated{engine}({engine_args})\n{rest}",
            f"CREATE TABLE IF NOT EXISTS {name}{self._on_cluster} AS {local}\n"
            f"ENGINE = Distributed({self.cluster}, currentDatabase(), {local}, cityHash64({shard_key}))",
        ]

    def _alter(self, name: str, actions: str) -> list[str]:
        kinds = {bool(_COLUMN_ACTION.match(action)) for action in _top_level(actions)}
        if len(kinds) != 1:
            raise ValueError(f"ALTER TABLE {name} mixes column and other actions: split it in two")
        local = f"ALTER TABLE {self.storage_table(name)}{self._on_cluster} {actions}"
        if kinds == {True}:  # the Distributed table declares the columns too
            return [local, f"ALTER TABLE {name}{self._on_cluster} {actions}"]
        return [local]  # indexes, projections, TTLs and settings live with the data


SINGLE_NODE = ClickHouseSchema()


def _top_level(text: str) -> list[str]:
    """`text` split at the commas outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]
