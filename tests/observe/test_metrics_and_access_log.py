"""The metrics endpoint and the access log of the session's server, after real calls: counts
move by exactly the calls made, every line of a call carries its request id, and neither the
log nor the metrics carry row contents, SQL or tenant ids."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import ingest_service_pb2_grpc as ipb_grpc
from tests.observe.support import access_lines, json_lines, moved, scrape
from tests.support.facts import to_csv
from tests.support.server import ServerProcess, running_server

QUERY = {"grpc_type": "unary", "grpc_service": "adpulse.v1.AnalyticsService", "grpc_method": "QueryMetrics"}
INGEST = {"grpc_type": "bidi_stream", "grpc_service": "adpulse.v1.IngestService", "grpc_method": "Ingest"}
SECRET_NAME = "Campaign-Name-That-Must-Not-Be-Logged"


def _rows(n: int, tenant_tag: str, date: str = "2026-03-01") -> str:
    return to_csv(
        [
            date, "google_ads", "a1", f"c{i}", SECRET_NAME, "g1", f"ad-{tenant_tag}-{i}",
            "EUR", "100", "5", "7.77", "1", "20",
        ]
        for i in range(n)
    )  # fmt: skip


def _ingest(
    channel: grpc.Channel, server: ServerProcess, tenant: str, batches: list[str]
) -> list[ipb.IngestResponse]:
    requests = [ipb.IngestRequest(open=ipb.StreamOpen(source="generic"))] + [
        ipb.IngestRequest(
            batch=ipb.IngestBatch(
                batch_id=f"b{i}", text=ipb.TextPayload(format=ipb.TEXT_FORMAT_CSV, data=body.encode())
            )
        )
        for i, body in enumerate(batches)
    ]
    stub = ipb_grpc.IngestServiceStub(channel)
    metadata = (("x-adpulse-tenant", tenant), *server.key_metadata)
    return list(stub.Ingest(iter(requests), metadata=metadata, timeout=60))


def _wait_for_access_lines(server: ServerProcess, count: int, **match: str) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while len(found := access_lines(server.log, **match)) < count and time.monotonic() < deadline:
        time.sleep(0.05)  # the server writes the line after the client has its answer
    return list(found)  # type: ignore[arg-type]


def test_counts_move_by_exactly_the_calls_made(
    server: ServerProcess, client: AdpulseClient, tenant: str
) -> None:
    before = scrape(server.metrics_url)
    with grpc.insecure_channel(server.address) as channel:
        acks = _ingest(channel, server, tenant, [_rows(3, tenant), _rows(1, tenant, date="2026-02-30")])
        assert [a.WhichOneof("response") for a in acks] == ["opened", "ack", "ack"]
        stub = apb_grpc.AnalyticsServiceStub(channel)
        for _ in range(3):
            stub.QueryMetrics(
                apb.QueryMetricsRequest(),
                metadata=(("x-adpulse-tenant", tenant), *server.key_metadata),
                timeout=30,
            )
        for _ in range(2):
            with pytest.raises(grpc.RpcError):
                stub.QueryMetrics(
                    apb.QueryMetricsRequest(start_date="2026-13-01"), metadata=server.key_metadata, timeout=30
                )
    _wait_for_access_lines(server, 1, tenant=tenant, method="/adpulse.v1.IngestService/Ingest")
    after = scrape(server.metrics_url)

    assert moved(before, after, "grpc_server_started_total", **QUERY) == 5
    assert moved(before, after, "grpc_server_handled_total", **QUERY, grpc_code="OK") == 3
    assert moved(before, after, "grpc_server_handled_total", **QUERY, grpc_code="InvalidArgument") == 2
    assert moved(before, after, "grpc_server_handling_seconds_count", **QUERY) == 5
    assert moved(before, after, "grpc_server_msg_received_total", **QUERY) == 5
    assert moved(before, after, "grpc_server_msg_sent_total", **QUERY) == 3
    assert moved(before, after, "grpc_server_started_total", **INGEST) == 1
    assert moved(before, after, "grpc_server_handled_total", **INGEST, grpc_code="OK") == 1
    assert moved(before, after, "grpc_server_msg_received_total", **INGEST) == 3  # open + 2 batches
    assert moved(before, after, "grpc_server_msg_sent_total", **INGEST) == 3  # opened + 2 acks
    # The second batch's one row has no real date.
    assert moved(before, after, "adpulse_ingest_rows_total", source="generic", outcome="accepted") == 3
    assert moved(before, after, "adpulse_ingest_rows_total", source="generic", outcome="rejected") == 1
    assert moved(before, after, "adpulse_ingest_batches_total", source="generic", outcome="committed") == 2
    assert moved(before, after, "adpulse_ingest_batch_commit_seconds_count", source="generic") == 2
    assert (
        moved(before, after, "adpulse_postgres_query_seconds_count", operation="PostgresBatchLedger.find")
        == 2
    )
    assert moved(before, after, "adpulse_kernel_call_seconds_count", function="kernel.parse_batch") == 2
    assert (
        moved(before, after, "adpulse_clickhouse_query_seconds_count", operation="ClickHouseFactStore.insert")
        == 2
    )
    assert (
        moved(
            before,
            after,
            "adpulse_clickhouse_query_seconds_count",
            operation="ClickHouseFactStore.grouped_sums",
        )
        >= 1
    )
    # The same query three times over unchanged data: computed once, then served from the cache.
    cache = {"cache": "query_results"}
    assert moved(before, after, "adpulse_cache_requests_total", **cache, result="miss") == 1
    assert moved(before, after, "adpulse_cache_requests_total", **cache, result="hit") == 2
    assert any(name == "adpulse_build_info" for name, _ in after)
    # Tenant labels are off by default: no tenant id is a label value.
    assert not any(tenant in dict(labels).values() for _, labels in after)


def test_one_access_line_per_call_and_the_request_id_everywhere(server: ServerProcess, tenant: str) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    with grpc.insecure_channel(server.address) as channel:
        stub = apb_grpc.AnalyticsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.QueryMetrics(
                apb.QueryMetricsRequest(start_date="2026-13-01"),
                metadata=(("x-request-id", request_id), ("x-adpulse-tenant", tenant), *server.key_metadata),
                timeout=30,
            )
        assert ("x-request-id", request_id) in caught.value.initial_metadata()  # type: ignore[attr-defined]
        status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
        assert status is not None
        infos = [d for d in status.details if d.Is(error_details_pb2.RequestInfo.DESCRIPTOR)]
        assert len(infos) == 1
        info = error_details_pb2.RequestInfo()
        infos[0].Unpack(info)
        assert info.request_id == request_id

        # A call without an id gets one made up, answered the same way.
        call = stub.QueryMetrics.with_call(
            apb.QueryMetricsRequest(),
            metadata=(("x-adpulse-tenant", tenant), *server.key_metadata),
            timeout=30,
        )[1]
        made_up = dict(call.initial_metadata())["x-request-id"]
        assert len(made_up) == 32 and made_up != request_id
        _ingest(channel, server, tenant, [_rows(2, tenant)])

    [line] = _wait_for_access_lines(server, 1, request_id=request_id)
    assert line["method"] == "/adpulse.v1.AnalyticsService/QueryMetrics"
    assert (line["code"], line["tenant"], line["level"]) == ("INVALID_ARGUMENT", tenant, "info")
    assert line["peer"].startswith("ipv4:127.0.0.1:")  # type: ignore[union-attr]
    assert line["bytes_in"] > 0 and line["bytes_out"] == 0  # type: ignore[operator]
    assert isinstance(line["duration_ms"], float)
    assert line["key_id"] == server.admin_key.split("_")[1]  # who called, never the key itself
    assert server.admin_key not in server.log
    [ok] = _wait_for_access_lines(server, 1, request_id=made_up)
    assert ok["code"] == "OK" and ok["bytes_out"] > 0  # type: ignore[operator]
    [ingest] = _wait_for_access_lines(server, 1, tenant=tenant, method="/adpulse.v1.IngestService/Ingest")
    assert (ingest["rows_accepted"], ingest["rows_rejected"], ingest["messages_in"]) == (2, 0, 2)

    # Every line the server wrote while the call ran carries its request id; none carries rows or SQL.
    lines = json_lines(server.log)
    assert all(entry.get("request_id") for entry in lines if entry.get("tenant") == tenant)
    assert SECRET_NAME not in server.log
    assert not any("SELECT" in entry["message"] or "INSERT" in entry["message"] for entry in lines)


def test_tenant_labels_only_when_switched_on(tmp_path: object) -> None:
    env = {"ADPULSE_METRICS_TENANT_LABELS": "1"}
    with running_server(tmp_path / "data", env) as server:  # type: ignore[operator]
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        with grpc.insecure_channel(server.address) as channel:
            _ingest(channel, server, tenant, [_rows(4, tenant)])
        samples = scrape(server.metrics_url)
        labels = {"source": "generic", "outcome": "accepted", "tenant": tenant}
        assert samples[("adpulse_ingest_rows_total", frozenset(labels.items()))] == 4
        handled = {**INGEST, "grpc_code": "OK", "tenant": tenant}
        assert samples[("grpc_server_handled_total", frozenset(handled.items()))] == 1
