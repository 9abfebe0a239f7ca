"""What the job tests share: a big file to import in small chunks, and waiting for things."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from adpulse.client import AdpulseClient, Operation
from adpulse.files import split
from adpulse.v1 import ingest_service_pb2 as ipb
from tests.support.facts import Fact, random_facts

CHUNK = 64 << 10
TENANT = "importer"
# Upkeep every second, so a reconciler's re-send comes quickly after a restart.
FAST_UPKEEP = {"ADPULSE_RECONCILE_SECONDS": "1", "ADPULSE_HEARTBEAT_SECONDS": "1"}


def big_facts() -> list[Fact]:
    """About 7,000 ad-days with unique keys: a dozen 64 KiB chunks."""
    return random_facts(seed=5, n_campaigns=60, days=60)


def chunks(data: bytes) -> int:
    return sum(1 for _ in split(io.BytesIO(data), "csv", "generic", CHUNK))


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def import_file(client: AdpulseClient, path: str, **options: object) -> Operation:
    return client.import_file(ipb.ImportFileRequest(path=path, chunk_bytes=CHUNK, **options))  # type: ignore[arg-type]
