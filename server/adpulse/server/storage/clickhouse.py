"""ClickHouse: the client (chDB in-process or a server over HTTP), migrations, error mapping."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver import exceptions as ch_errors

from adpulse.server.domain.errors import FieldViolation, StorageRejected, StorageUnavailable
from adpulse.server.settings import SettingsError
from adpulse.server.storage import migrations
from adpulse.server.storage.clickhouse_schema import (
    LEDGER,
    LEDGER_DDL,
    MIGRATIONS,
    SINGLE_NODE,
    ClickHouseSchema,
)

log = logging.getLogger(__name__)
# ClickHouse error codes that mean "try again": memory, concurrency and time limits, timeouts.
_TRANSIENT_CODES = {159, 160, 164, 202, 203, 209, 210, 241, 242, 252, 285, 394, 425, 999}
# Codes that mean "this data can never be stored": values out of a type's range, text the
# engine cannot read, sizes over its own limits. Retrying the same request fails again.
_PERMANENT_CODES = {6, 27, 38, 41, 53, 69, 70, 72, 131, 321, 395}
# TOO_MANY_PARTS (252) is both "merges lag behind inserts" (transient) and "one insert spans
# too many partitions" (permanent): only the message tells them apart.
_TOO_MANY_PARTITIONS = "partitions for single insert block"
_CODE = re.compile(r"Code: (\d+)")
# Every insert of ingested rows (facts and the rollups they refresh): a batch may hold any dates
# the kernel accepts (2000-01-01..2099-12-31: 1200 months), tables are partitioned by month,
# and ClickHouse's default of 100 partitions per insert would refuse a valid batch for good.
INSERT_SETTINGS = {"max_partitions_per_insert_block": 1200}


def connect(dsn: str, connections: int = 4, settings: dict[str, Any] | None = None) -> ClientPool:
    """Clients for `chdb:///path` (the embedded engine) or `http(s)://…` (a server), each
    running every statement with `settings` (those of the schema's shape)."""
    if dsn.startswith("chdb://"):
        if importlib.util.find_spec("chdb") is None:
            raise SettingsError(
                "this install has no embedded ClickHouse engine (the server image has none): set "
                "ADPULSE_CLICKHOUSE_DSN, or install adpulse[embedded]"
            )
        Path(dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    with unavailable_on_failure():
        first = clickhouse_connect.get_client(dsn=dsn, settings=settings)
    return ClientPool(lambda: clickhouse_connect.get_client(dsn=dsn, settings=settings), connections, first)


class ClientPool:
    """Up to `size` clients, one lent per call, so up to `size` statements run at once.

    One clickhouse-connect client runs one statement at a time: a chDB client holds one engine
    handle behind a lock (measured: 4 threads on one client take as long as running their
    queries one after another), and an HTTP client's session refuses concurrent queries. chDB
    runs the statements of different handles of its one engine in parallel, and a server those
    of different connections. Callers beyond `size` wait for a client."""

    def __init__(self, factory: Callable[[], Any], size: int, first: Any) -> None:
        self._factory = factory
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._idle.put(first)
        self._all = [first]
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(self) -> Iterator[Any]:
        with self._slots:
            try:
                client = self._idle.get_nowait()
            except queue.Empty:
                with unavailable_on_failure():
                    client = self._factory()
                with self._lock:
                    self._all.append(client)
            try:
                yield client
            finally:
                self._idle.put(client)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        with self.lease() as client:
            return client.command(*args, **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        with self.lease() as client:
            return client.query(*args, **kwargs)

    def query_arrow(self, *args: Any, **kwargs: Any) -> Any:
        with self.lease() as client:
            return client.query_arrow(*args, **kwargs)

    def insert_arrow(self, *args: Any, **kwargs: Any) -> Any:
        with self.lease() as client:
            return client.insert_arrow(*args, **kwargs)

    @contextlib.contextmanager
    def query_arrow_stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """The client stays lent until the stream is closed."""
        with self.lease() as client, client.query_arrow_stream(*args, **kwargs) as stream:
            yield stream

    def close(self) -> None:
        with self._lock:
            for client in self._all:
                client.close()


@contextlib.contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Every ClickHouse failure classified once, here: transient ones become StorageUnavailable
    (UNAVAILABLE with RetryInfo), permanent refusals of the data StorageRejected
    (INVALID_ARGUMENT, never retryable); the rest are our bugs and propagate as internal errors."""
    try:
        yield
    except ch_errors.OperationalError as err:
        # The error's text may quote the statement: the log gets its class only (no SQL in logs).
        log.warning("clickhouse unavailable: %s", type(err).__name__)
        raise StorageUnavailable("the fact store is unavailable; retry later", "STORAGE_UNAVAILABLE") from err
    except ch_errors.DatabaseError as err:
        kind = classify(str(err))
        if kind is not None:
            raise kind from err
        raise


def classify(text: str) -> StorageUnavailable | StorageRejected | None:
    """The error a ClickHouse failure with message `text` stands for; None for our own bugs."""
    match = _CODE.search(text)
    code = int(match.group(1)) if match else None
    if code == 252 and _TOO_MANY_PARTITIONS in text.lower():
        log.warning("clickhouse refused an insert: code 252 (too many partitions)")
        return StorageRejected(
            "the batch's dates span more months than the fact store takes in one insert; "
            "send fewer months per batch",
            "STORAGE_TOO_MANY_PARTITIONS",
            violations=[FieldViolation("batch", "spans too many months", "STORAGE_TOO_MANY_PARTITIONS")],
        )
    if code in _TRANSIENT_CODES:
        log.warning("clickhouse transient failure: code %s", code)
        return StorageUnavailable("the fact store is busy; retry later", "STORAGE_UNAVAILABLE")
    if code in _PERMANENT_CODES:
        log.warning("clickhouse refused the data: code %s", code)
        return StorageRejected(
            f"the fact store refused the data for good (ClickHouse error {code}); "
            "retrying the same request fails again",
            "STORAGE_REJECTED",
            metadata={"clickhouse_code": str(code)},
            violations=[FieldViolation("request", "refused by the fact store", "STORAGE_REJECTED")],
        )
    return None


def migrate(client: ClientPool, schema: ClickHouseSchema = SINGLE_NODE) -> None:
    """Applies pending migrations in the schema's shape. Statements are idempotent, so
    concurrent starts are safe."""
    with unavailable_on_failure():
        for statement in schema.statements(LEDGER_DDL):
            client.command(statement)
        applied = {row[0] for row in client.query(f"SELECT version FROM {LEDGER}").result_rows}
        for migration in migrations.load(MIGRATIONS):
            if migration.version in applied:
                continue
            for statement in migration.statements:
                for shaped in schema.statements(statement):
                    client.command(shaped)
            client.command(
                f"INSERT INTO {LEDGER} (version, name) VALUES ({{v:UInt32}}, {{n:String}})",
                parameters={"v": migration.version, "n": migration.name},
            )
            log.info("clickhouse migration %s applied", migration.name)
