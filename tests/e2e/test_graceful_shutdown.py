"""SIGTERM on a server with ingest streams open: health turns NOT_SERVING, the batch in flight
is committed and acknowledged, every open stream is then told to go on elsewhere (UNAVAILABLE
with RetryInfo), and a resumed stream continues after the last committed batch."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from adpulse.client import AdpulseClient
from adpulse.v1 import ingest_service_pb2 as pb
from adpulse.v1 import ingest_service_pb2_grpc as pb_grpc
from tests.observe.support import scrape, value
from tests.support.facts import to_csv
from tests.support.server import ServerProcess, running_server

ROW = ["2026-03-01", "google_ads", "a1", "c1", "Brand", "g1", "ad1", "EUR", "100", "5", "7.77", "1", "20"]


class Stream:
    """An ingest stream whose requests the test sends one by one."""

    def __init__(
        self, channel: grpc.Channel, server: ServerProcess, tenant: str, stream_id: str = ""
    ) -> None:
        self._requests: queue.Queue[pb.IngestRequest | None] = queue.Queue()
        self._requests.put(pb.IngestRequest(open=pb.StreamOpen(source="generic", stream_id=stream_id)))
        self.responses: Iterator[pb.IngestResponse] = pb_grpc.IngestServiceStub(channel).Ingest(
            iter(self._requests.get, None),
            metadata=(("x-adpulse-tenant", tenant), *server.key_metadata),
            timeout=120,
        )
        self.opened = next(self.responses).opened

    def send(self, batch_id: str, rows: list[list[str]]) -> None:
        text = pb.TextPayload(format=pb.TEXT_FORMAT_CSV, data=to_csv(rows).encode())
        self._requests.put(pb.IngestRequest(batch=pb.IngestBatch(batch_id=batch_id, text=text)))


def _told_to_resume_elsewhere(error: grpc.RpcError) -> None:
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    kinds = {d.TypeName(): d for d in status.details}
    info = error_details_pb2.ErrorInfo()
    kinds["google.rpc.ErrorInfo"].Unpack(info)
    assert info.reason == "SERVER_SHUTTING_DOWN"
    retry = error_details_pb2.RetryInfo()
    kinds["google.rpc.RetryInfo"].Unpack(retry)
    assert retry.retry_delay.seconds >= 1
    assert "google.rpc.RequestInfo" in kinds
    assert "stream_id" in status.message


def test_sigterm_commits_the_batch_in_flight_then_streams_resume_elsewhere(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = [[*ROW[:6], f"ad{i}", *ROW[7:]] for i in range(5)]
    # Each fact insert waits 1.5 s, so the batch is surely in flight when SIGTERM arrives.
    env = {"ADPULSE_FAULTS": "fact_insert_delay_ms@1500"}
    with running_server(data, env) as server, grpc.insecure_channel(server.address) as channel:
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

        busy = Stream(channel, server, "acme", stream_id="nightly")
        idle = Stream(channel, server, "acme")
        busy.send("b1", rows)
        # The kernel has parsed the batch: its insert (and the 1.5 s wait) has begun.
        deadline = time.monotonic() + 30
        while (
            value(
                scrape(server.metrics_url),
                "adpulse_kernel_call_seconds_count",
                function="kernel.parse_batch",
            )
            < 1
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        server.process.terminate()
        assert statuses.get(timeout=30) == health_pb2.HealthCheckResponse.NOT_SERVING

        assert next(busy.responses).ack.accepted == 5  # finished, committed, acknowledged
        with pytest.raises(grpc.RpcError) as caught:
            next(busy.responses)
        _told_to_resume_elsewhere(caught.value)
        with pytest.raises(grpc.RpcError) as caught:
            next(idle.responses)
        _told_to_resume_elsewhere(caught.value)
        assert server.process.wait(30) == 0  # well inside the 20 s grace of the test servers

    with running_server(data) as again:
        with grpc.insecure_channel(again.address) as channel:
            resumed = Stream(channel, again, "acme", stream_id="nightly")
            assert resumed.opened.last_committed_batch_id == "b1"
        with AdpulseClient(again.address, api_key=again.admin_key, tenant="acme") as client:
            assert client.query_metrics().totals.impressions == 500  # stored once
