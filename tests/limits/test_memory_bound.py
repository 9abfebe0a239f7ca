"""No request can make the server hold more than its settings allow: 4 concurrent gzip bombs,
then 4 concurrent gzip'd endless lines (in the header and in a data record), then GetTrends by ad
over the widest span, on a server of its own with small limits so the test builds no 1 GiB
payload. The calls are refused (INVALID_ARGUMENT / RESOURCE_EXHAUSTED), the peak RSS (VmHWM of
the server process) grows by less than the bound the settings give, and health still answers.

The bound: every parse of a payload (its request message, its unpacked bytes, the CSV record
buffer) counts against ADPULSE_DECOMPRESSION_BUDGET_BYTES, so at once the server holds at most
the budget plus the messages gRPC has received but not yet handed over (one per stream, each at
most ADPULSE_MAX_MESSAGE_BYTES, held twice: gRPC's buffer and the Python bytes)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as pb
from tests.support.facts import HEADER
from tests.support.server import ServerProcess, running_server

MIB = 1 << 20
PAYLOAD_LIMIT = 64 * MIB
BUDGET = 128 * MIB
MESSAGE_LIMIT = 8 * MIB
ATTEMPTS = 4
# What the settings let the attacks add to the peak RSS, with room for the allocator's own
# bookkeeping and the Python objects of 4 calls.
BOUND = BUDGET + 2 * ATTEMPTS * MESSAGE_LIMIT + 64 * MIB
ABSOLUTE = 2 << 30


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ADPULSE_MAX_DECOMPRESSED_BYTES": str(PAYLOAD_LIMIT),
        "ADPULSE_DECOMPRESSION_BUDGET_BYTES": str(BUDGET),
        "ADPULSE_MAX_MESSAGE_BYTES": str(MESSAGE_LIMIT),
    }
    with running_server(tmp_path_factory.mktemp("memory") / "data", env) as process:
        yield process


def _peak_rss(server: ServerProcess) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmHWM")


def _gzip(head: bytes, filler: bytes, size: int) -> bytes:
    """`head` then `size` bytes of `filler` repeated, packed without holding them unpacked."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = filler * (MIB // len(filler))
    body = (packer.compress(chunk) for _ in range(size // MIB))
    return b"".join([packer.compress(head), *body, packer.flush()])


def _concurrently(server: ServerProcess, tenant: str, batch: pb.IngestBatch) -> list[tuple[str, str]]:
    def attempt(_: int) -> tuple[str, str]:
        with AdpulseClient(server.address, tenant=tenant, api_key=server.admin_key) as client:
            try:
                acks = list(client.ingest([batch]))
            except AdpulseError as err:
                return err.code, err.reason
        return "OK", f"{acks[-1].accepted} accepted, {acks[-1].rejected} rejected"

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        return list(pool.map(attempt, range(ATTEMPTS)))


def _csv(data: bytes) -> pb.IngestBatch:
    return pb.IngestBatch(
        batch_id="attack",
        text=pb.TextPayload(format=pb.TEXT_FORMAT_CSV, data=data, compression=pb.COMPRESSION_GZIP),
    )


REFUSED = {("INVALID_ARGUMENT", "UNREADABLE_PAYLOAD"), ("RESOURCE_EXHAUSTED", "DECOMPRESSION_BUSY")}
# An endless record is a row error, the rest of the batch is kept.
ANSWERS = {
    "gzip bombs": {("RESOURCE_EXHAUSTED", "PAYLOAD_TOO_LARGE"), *REFUSED},
    "endless header": REFUSED,
    "endless record": {("OK", "0 accepted, 1 rejected"), *REFUSED},
}
HEADER_LINE = ",".join(HEADER).encode() + b"\n"
ATTACKS: dict[str, Callable[[], bytes]] = {
    # Zeros past the per-payload limit.
    "gzip bombs": lambda: _gzip(b"", b"0", PAYLOAD_LIMIT + 16 * MIB),
    # No newline at all: an endless header.
    "endless header": lambda: _gzip(b"", b"x", PAYLOAD_LIMIT - MIB),
    # A good header, then one record as long as the payload may be.
    "endless record": lambda: _gzip(HEADER_LINE + b"2026-03-01,", b"x", PAYLOAD_LIMIT - MIB),
}


def test_attacks_stay_within_the_memory_bound(small_server: ServerProcess, tenant: str) -> None:
    before = _peak_rss(small_server)
    answers, peaks = {}, []
    for name, build in ATTACKS.items():
        answers[name] = _concurrently(small_server, tenant, _csv(build()))
        peaks.append(f"{name} {_peak_rss(small_server) / MIB:.0f} MiB")
    with grpc.insecure_channel(small_server.address) as channel:
        metadata = (("x-adpulse-tenant", tenant), *small_server.key_metadata)
        trends = apb.GetTrendsRequest(
            start_date="1970-01-01",
            end_date="2149-12-31",
            metrics=[apb.METRIC_COST],
            dimensions=[apb.DIMENSION_AD],
        )
        with pytest.raises(grpc.RpcError) as caught:
            apb_grpc.AnalyticsServiceStub(channel).GetTrends(trends, metadata=metadata, timeout=120)
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
    peak = _peak_rss(small_server)

    print(f"peak RSS {before / MIB:.0f} MiB idle, then {', '.join(peaks)}, {peak / MIB:.0f} MiB after trends")
    print(f"bound: idle + {BOUND / MIB:.0f} MiB")
    for name, got in answers.items():
        assert set(got) <= ANSWERS[name], (name, got)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert peak - before < BOUND and peak < ABSOLUTE
