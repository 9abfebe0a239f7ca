"""Token buckets per tenant (calls and ingested rows) on a server with tiny rates: a tenant
over its bucket gets RESOURCE_EXHAUSTED with RetryInfo and QuotaFailure, another tenant is
served as before, and a batch over the rows rate stores nothing. Past the per-tenant caps,
the server-wide gate on running calls hands freed slots tenant by tenant."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from adpulse.client import AdpulseClient, AdpulseError
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as ipb
from tests.observe.support import scrape, value
from tests.support.facts import to_csv
from tests.support.server import ServerProcess, running_server

CALLS_BURST = 5


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ADPULSE_TENANT_REQUESTS_PER_SECOND": "1",
        "ADPULSE_TENANT_REQUEST_BURST": str(CALLS_BURST),
        "ADPULSE_TENANT_ROWS_PER_SECOND": "1",
        "ADPULSE_TENANT_ROW_BURST": "10",
        # One tenant may do more: its calls and rows a second (bursts twice that).
        "ADPULSE_TENANT_RATE_OVERRIDES": "generous=1000:1000",
    }
    with running_server(tmp_path_factory.mktemp("strict") / "data", env) as server:
        yield server


def _refusal(error: grpc.RpcError) -> tuple[str, float, str]:
    """(reason, retry delay, quota subject) of a RESOURCE_EXHAUSTED answer."""
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info, retry, quota = (
        error_details_pb2.ErrorInfo(),
        error_details_pb2.RetryInfo(),
        error_details_pb2.QuotaFailure(),
    )
    for detail in status.details:
        for message in (info, retry, quota):
            if detail.Is(message.DESCRIPTOR):
                detail.Unpack(message)
    return info.reason, retry.retry_delay.ToTimedelta().total_seconds(), quota.violations[0].subject


def _queries(server: ServerProcess, tenant: str, n: int) -> list[grpc.RpcError | None]:
    with grpc.insecure_channel(server.address) as channel:
        stub = apb_grpc.AnalyticsServiceStub(channel)
        answers: list[grpc.RpcError | None] = []
        for _ in range(n):
            try:
                stub.QueryMetrics(
                    apb.QueryMetricsRequest(),
                    metadata=(("x-adpulse-tenant", tenant), *server.key_metadata),
                    timeout=30,
                )
                answers.append(None)
            except grpc.RpcError as err:
                answers.append(err)
        return answers


def test_a_tenant_over_its_call_rate_is_refused_and_others_are_not(strict_server: ServerProcess) -> None:
    noisy, quiet = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"

    answers = _queries(strict_server, noisy, 3 * CALLS_BURST)

    refused = [a for a in answers if a is not None]
    # The burst passes; beyond it at most a call or two refilled while the calls ran.
    assert len(refused) >= 2 * CALLS_BURST - 2
    reason, delay, subject = _refusal(refused[0])
    assert (reason, subject) == ("RATE_LIMITED", "requests_per_tenant")
    assert 0 < delay <= 1
    assert _queries(strict_server, quiet, CALLS_BURST) == [None] * CALLS_BURST
    assert _queries(strict_server, "generous", 3 * CALLS_BURST) == [None] * 3 * CALLS_BURST


def test_a_batch_over_the_rows_rate_stores_nothing(strict_server: ServerProcess) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    rows = [
        ["2026-03-02", "meta_ads", "a1", "c1", "n", "g1", f"ad{i}", "USD", "10", "1", "1", "0", "0"]
        for i in range(10)
    ]

    def batch(batch_id: str, ads: list[list[str]]) -> ipb.IngestBatch:
        return ipb.IngestBatch(
            batch_id=batch_id, text=ipb.TextPayload(format=ipb.TEXT_FORMAT_CSV, data=to_csv(ads).encode())
        )

    with AdpulseClient(strict_server.address, tenant=tenant, api_key=strict_server.admin_key) as client:
        (first,) = client.ingest([batch("first", rows)])
        assert first.accepted == 10
        more = [[*r[:6], f"more{i}", *r[7:]] for i, r in enumerate(rows)]
        with pytest.raises(AdpulseError) as caught:
            list(client.ingest([batch("second", more)]))
        assert (caught.value.code, caught.value.reason) == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
        assert "over its ingest rate" in caught.value.message
        stored = client.query_metrics(by=["ad"]).rows
    assert sorted(r.dimensions["ad"] for r in stored) == sorted(f"ad{i}" for i in range(10))


SLOTS = 2
QUERY_DELAY_MS = 4000
# A queued call must outwait one query (4 s, plus whatever a loaded machine adds to a fresh
# server's first queries: up to 3 s here) but not two, which the fourth and fifth noisy calls
# would need.
QUEUE_SECONDS = 7


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ADPULSE_TENANT_MAX_CONCURRENT_CALLS": str(SLOTS),
        # Each query holds its slot for a while, and none is answered from the cache.
        "ADPULSE_FAULTS": f"fact_query_delay_ms@{QUERY_DELAY_MS}",
        "ADPULSE_QUERY_CACHE_BYTES": "0",
    }
    with running_server(tmp_path_factory.mktemp("slow") / "data", env) as server:
        yield server


def _query_on(server: ServerProcess, channel: grpc.Channel) -> Callable[[str], grpc.Future]:
    stub = apb_grpc.AnalyticsServiceStub(channel)

    def query(tenant: str) -> grpc.Future:
        return stub.QueryMetrics.future(
            apb.QueryMetricsRequest(),
            metadata=(("x-adpulse-tenant", tenant), *server.key_metadata),
            timeout=60,
        )

    return query


def test_a_tenant_holding_its_slots_is_refused_while_another_is_served(slow_server: ServerProcess) -> None:
    noisy, quiet = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    with grpc.insecure_channel(slow_server.address) as channel:
        query = _query_on(slow_server, channel)

        # Each admitted call holds its slot for seconds, far longer than the calls take to arrive.
        noisy_calls = [query(noisy) for _ in range(2 * SLOTS)]
        quiet_call = query(quiet)
        answers = [f.exception() for f in noisy_calls]
        refused = [a for a in answers if a is not None]
        assert len(refused) == SLOTS
        reason, delay, subject = _refusal(refused[0])  # type: ignore[arg-type]
        assert (reason, subject) == ("TOO_MANY_CALLS", "concurrent_calls_per_tenant")
        assert 0 < delay <= 1
        assert "at most 2" in refused[0].details()  # type: ignore[attr-defined]
        assert quiet_call.exception() is None
        assert query(noisy).exception() is None


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ADPULSE_MAX_RUNNING_CALLS": str(SLOTS),
        "ADPULSE_CALL_QUEUE_SECONDS": str(QUEUE_SECONDS),
        # Far above what a tenant sends here, so only the server-wide gate holds calls back.
        "ADPULSE_TENANT_MAX_CONCURRENT_CALLS": "8",
        "ADPULSE_FAULTS": f"fact_query_delay_ms@{QUERY_DELAY_MS}",
        "ADPULSE_QUERY_CACHE_BYTES": "0",
    }
    with running_server(tmp_path_factory.mktemp("busy") / "data", env) as server:
        yield server


def test_a_full_server_hands_a_freed_slot_to_the_quiet_tenant_and_refuses_what_waited_too_long(
    busy_server: ServerProcess,
) -> None:
    """Both slots are taken by the noisy tenant's calls for 4 s; three more of its calls queue,
    then the quiet tenant's one. When the two slots free, one goes to the quiet tenant (it has
    none running) although it queued last; the queue's first-come order would have given both
    to the noisy tenant and left the quiet call waiting out its 7 s. Two noisy calls still
    waiting when their 7 s run out are refused SERVER_BUSY, while health answers throughout."""
    noisy, quiet = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    with grpc.insecure_channel(busy_server.address) as channel:
        query = _query_on(busy_server, channel)
        noisy_calls = [query(noisy) for _ in range(SLOTS + 3)]
        time.sleep(0.5)  # the quiet call queues behind all of them
        quiet_call = query(quiet)
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        # The operator sees the gate full: both slots held, the other four calls waiting (the
        # quiet one may still be on its way in).
        for _ in range(20):
            samples = scrape(busy_server.metrics_url)
            if value(samples, "adpulse_unary_calls", state="waiting") == 4:
                break
            time.sleep(0.05)
        assert value(samples, "adpulse_unary_calls", state="running") == SLOTS
        assert value(samples, "adpulse_unary_calls", state="waiting") == 4
        assert quiet_call.exception() is None
        refused = [e for e in (f.exception() for f in noisy_calls) if e is not None]
    assert len(refused) == 2
    reason, delay, subject = _refusal(refused[0])  # type: ignore[arg-type]
    assert (reason, subject) == ("SERVER_BUSY", "running_calls")
    assert delay == 1
    assert "2 calls were running" in refused[0].details()  # type: ignore[attr-defined]
