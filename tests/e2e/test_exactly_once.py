"""Exactly-once under real faults: whatever fails, the client's retry with the same batch ids
ends with stored == sent (row count, sum of cost, a hash over all rows) and no duplicates."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError, IngestReport, StreamOptions
from adpulse.v1 import ingestion_run_pb2 as rpb
from tests.support.facts import fingerprint, random_facts, sent_rows, to_csv
from tests.support.server import ServerProcess, running_server, start_server, stop_embedded_postgres
from tests.support.stored import stored_rows

FACTS = random_facts(seed=11, n_campaigns=40, days=30)
BATCH_BYTES = 24 * 1024  # many small batches, so faults land mid-stream


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(to_csv(f.csv_values() for f in FACTS))
    return path


def _assert_stored_equals_sent(client: AdpulseClient) -> None:
    assert fingerprint(stored_rows(client)) == fingerprint(sent_rows(FACTS))


@pytest.mark.parametrize("fault", ["fact_insert_fails_before@3", "fact_insert_fails_after@3"])
def test_a_store_failing_around_the_insert_is_retried_to_exactly_once(
    tmp_path: Path, export: Path, fault: str
) -> None:
    with (
        running_server(tmp_path / "data", env={"ADPULSE_FAULTS": fault}) as server,
        AdpulseClient(server.address, api_key=server.admin_key) as client,
    ):
        with pytest.raises(AdpulseError) as caught:
            client.ingest_files([export], batch_bytes=BATCH_BYTES)
        assert caught.value.code == "UNAVAILABLE"  # retryable, and said so

        retry = client.ingest_files([export], batch_bytes=BATCH_BYTES)

        assert retry.rejected == 0
        assert retry.accepted + retry.duplicates == len(FACTS)
        assert retry.duplicates > 0  # the batches before the fault were replays
        _assert_stored_equals_sent(client)


def test_a_client_cancelling_mid_stream_then_resuming_stores_everything_once(
    server: ServerProcess, tenant: str, export: Path
) -> None:
    options = StreamOptions(stream_id="cancel-then-resume")

    def interrupt_after_first_ack(report: IngestReport) -> None:
        raise KeyboardInterrupt  # what Ctrl-C in the CLI does: the call is cancelled mid-stream

    with AdpulseClient(server.address, api_key=server.admin_key, tenant=tenant) as client:
        with pytest.raises(KeyboardInterrupt):
            client.ingest_files([export], options, batch_bytes=BATCH_BYTES, on_ack=interrupt_after_first_ack)

        resumed = client.ingest_files([export], options, resume=True, batch_bytes=BATCH_BYTES)

        assert resumed.skipped_batches >= 1
        _assert_stored_equals_sent(client)
        _, cancelled = client.runs(limit=2).runs
        assert cancelled.state == rpb.RUN_STATE_CANCELLED


def test_a_server_killed_mid_stream_and_restarted_loses_nothing(tmp_path: Path, export: Path) -> None:
    data = tmp_path / "data"
    env = {"ADPULSE_HEARTBEAT_SECONDS": "1"}
    options = StreamOptions(stream_id="killed-mid-stream")
    server = start_server(data, env)
    try:
        killed = threading.Event()

        def kill_after_a_few(report: object) -> None:
            if getattr(report, "accepted", 0) > 300 and not killed.is_set():
                killed.set()
                server.process.send_signal(signal.SIGKILL)

        with (
            AdpulseClient(server.address, api_key=server.admin_key) as client,
            pytest.raises(AdpulseError) as caught,
        ):
            client.ingest_files([export], options, batch_bytes=BATCH_BYTES, on_ack=kill_after_a_few)
        assert killed.is_set() and caught.value.code in {"UNAVAILABLE", "INTERNAL", "UNKNOWN"}
        server.process.wait(30)

        with (
            running_server(data, env) as restarted,
            AdpulseClient(restarted.address, api_key=restarted.admin_key) as client,
        ):
            resumed = client.ingest_files([export], options, resume=True, batch_bytes=BATCH_BYTES)
            assert resumed.skipped_batches >= 1
            _assert_stored_equals_sent(client)
            (killed_run,) = [r for r in client.runs().runs if r.run_id != resumed.run_id]
            assert _eventually(lambda: client.run(killed_run.run_id).state == rpb.RUN_STATE_ABANDONED)
    finally:
        server.kill()
        stop_embedded_postgres(data)


def _eventually(check: Callable[[], bool], seconds: float = 30) -> bool:
    """Heartbeats are 1 s here; a dead server's run turns abandoned after 6 missed ones."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True
