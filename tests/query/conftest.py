"""One embedded ClickHouse (chDB) for the store-level tests of this package.

chDB allows one data path per process, so every test here shares this one; tenants keep them
apart. The server tests never open chDB in the test process (their servers are subprocesses).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adpulse.server.storage import clickhouse


@pytest.fixture(scope="session")
def ch_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    client = clickhouse.connect(f"chdb://{tmp_path_factory.mktemp('chdb')}/clickhouse")
    clickhouse.migrate(client)
    yield client
    client.close()
