"""Idle and slow clients cannot take the handler threads: against a server with 8 threads,
4x that many idle ingest streams leave health, a query and another tenant's new stream
answering; an idle stream is closed with DEADLINE_EXCEEDED; WaitOperation is capped."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator

import grpc
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as pb
from adpulse.v1 import ingest_service_pb2_grpc as pb_grpc
from tests.support.facts import to_csv
from tests.support.server import ServerProcess, running_server

THREADS = 8
ROW = ["2026-03-01", "google_ads", "a1", "c1", "Brand", "g1", "ad1", "EUR", "100", "5", "7.77", "1", "20"]
IDLE_SECONDS = 3


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ADPULSE_GRPC_WORKERS": str(THREADS),
        "ADPULSE_MAX_STREAMS": "6",
        "ADPULSE_MAX_STREAMS_PER_TENANT": "3",
        "ADPULSE_STREAM_IDLE_SECONDS": str(IDLE_SECONDS),
        "ADPULSE_MAX_WAIT_SECONDS": "1",
        "ADPULSE_FAULTS": "fact_insert_delay_ms@30000",
    }
    with running_server(tmp_path_factory.mktemp("small") / "data", env) as server:
        yield server


class IdleStream:
    """An ingest stream that sends `open` and then nothing."""

    def __init__(self, channel: grpc.Channel, server: ServerProcess, tenant: str) -> None:
        self._requests: queue.Queue[pb.IngestRequest | None] = queue.Queue()
        self._requests.put(pb.IngestRequest(open=pb.StreamOpen(source="generic")))
        self.responses = pb_grpc.IngestServiceStub(channel).Ingest(
            iter(self._requests.get, None),
            metadata=(("x-adpulse-tenant", tenant), *server.key_metadata),
            timeout=120,
        )

    def first(self) -> pb.IngestResponse | grpc.RpcError:
        try:
            return next(self.responses)
        except grpc.RpcError as err:
            return err

    def close(self) -> None:
        self._requests.put(None)
        self.responses.cancel()


def _details(error: grpc.RpcError) -> dict[str, object]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: dict[str, object] = {}
    for detail in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.RetryInfo,
            error_details_pb2.QuotaFailure,
        ):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.DESCRIPTOR.name] = message
    return found


def test_idle_streams_beyond_the_caps_are_refused_and_everyone_else_is_served(
    small_server: ServerProcess,
) -> None:
    attacker, other = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    with grpc.insecure_channel(small_server.address) as channel:
        streams = [IdleStream(channel, small_server, attacker) for _ in range(4 * THREADS)]
        try:
            answers = [s.first() for s in streams]
            opened = [a for a in answers if isinstance(a, pb.IngestResponse)]
            refused = [a for a in answers if isinstance(a, grpc.RpcError)]
            assert len(opened) == 3
            assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}  # type: ignore[attr-defined]
            details = _details(refused[0])
            assert details["ErrorInfo"].reason == "TOO_MANY_STREAMS"  # type: ignore[attr-defined]
            assert details["RetryInfo"].retry_delay.seconds >= 1  # type: ignore[attr-defined]
            assert details["QuotaFailure"].violations[0].subject == "streams_per_tenant"  # type: ignore[attr-defined]

            # While the attacker's streams sit idle, everything else answers (a deadline, not
            # a wall-clock assertion: a starved server would miss it).
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            apb_grpc.AnalyticsServiceStub(channel).QueryMetrics(
                apb.QueryMetricsRequest(),
                metadata=(("x-adpulse-tenant", attacker), *small_server.key_metadata),
                timeout=10,
            )
            newcomer = IdleStream(channel, small_server, other)
            assert isinstance(newcomer.first(), pb.IngestResponse)
            newcomer.close()
        finally:
            for stream in streams:
                stream.close()


def test_an_idle_stream_is_closed_with_deadline_exceeded(small_server: ServerProcess) -> None:
    with grpc.insecure_channel(small_server.address) as channel:
        stream = IdleStream(channel, small_server, f"t-{uuid.uuid4().hex[:8]}")
        assert isinstance(stream.first(), pb.IngestResponse)

        with pytest.raises(grpc.RpcError) as caught:
            next(stream.responses)

        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
        assert f"no message for {IDLE_SECONDS} s" in caught.value.details()  # type: ignore[attr-defined]
        assert _details(caught.value)["ErrorInfo"].reason == "STREAM_IDLE"  # type: ignore[attr-defined]


def test_wait_operation_answers_within_its_cap(small_server: ServerProcess) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    metadata = (("x-adpulse-tenant", tenant), *small_server.key_metadata)
    imports = small_server.data_dir / "imports" / tenant
    imports.mkdir(parents=True, exist_ok=True)
    (imports / "day.csv").write_text(to_csv([ROW]))
    with grpc.insecure_channel(small_server.address) as channel:
        # Every fact insert of this server waits 30 s (ADPULSE_FAULTS), so the import runs long.
        started = pb_grpc.IngestServiceStub(channel).ImportFile(
            pb.ImportFileRequest(path="day.csv"), metadata=metadata, timeout=30
        )
        # Asked to wait ten minutes, with two to spare, the server answers at its cap (1 s
        # here) with the import still running; a wait past the cap would see it done.
        waited = operations_pb2_grpc.OperationsStub(channel).WaitOperation(
            operations_pb2.WaitOperationRequest(
                name=started.name, timeout=duration_pb2.Duration(seconds=600)
            ),
            metadata=metadata,
            timeout=120,
        )
        assert waited.name == started.name
        assert not waited.done
