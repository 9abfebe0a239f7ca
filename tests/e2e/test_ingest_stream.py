"""The Ingest stream's contract: payload kinds, replays, reused ids, limits, misuse."""

from __future__ import annotations

import io
import threading

import grpc
import pyarrow as pa
import pyarrow.ipc
import pytest

from adpulse.client import AdpulseClient, AdpulseError, StreamOptions
from adpulse.v1 import fact_row_pb2, ingest_service_pb2
from adpulse.v1 import ingest_service_pb2_grpc as pb_grpc
from tests.support.facts import to_csv
from tests.support.server import ServerProcess

CSV = to_csv([["2026-03-02", "meta", "a1", "c1", "Launch", "s1", "x1", "usd", "10", "1", "1.5", "1", "3"]])


def _text_batch(
    batch_id: str, data: str, fmt: int = ingest_service_pb2.TEXT_FORMAT_CSV
) -> ingest_service_pb2.IngestBatch:
    return ingest_service_pb2.IngestBatch(
        batch_id=batch_id, text=ingest_service_pb2.TextPayload(format=fmt, data=data.encode())
    )


def test_each_payload_kind_lands_normalised(client: AdpulseClient) -> None:
    ndjson = (
        '{"date": "2026-03-03", "platform": "TikTok", "account_id": 7, "campaign_id": "c2",'
        ' "ad_group_id": "g", "ad_id": "a", "currency": "EUR", "impressions": "20", "clicks": 2,'
        ' "cost": 2.25, "conversions": 0,'
        ' "revenue": 0}\n'
    )
    arrow = pa.table(
        {
            "date": ["2026-03-04"],
            "platform": ["google_ads"],
            "account_id": ["a3"],
            "campaign_id": ["c3"],
            "ad_group_id": ["g3"],
            "ad_id": ["x3"],
            "currency": ["EUR"],
            "impressions": pa.array([30], pa.int64()),
            "clicks": pa.array([3], pa.int64()),
            "cost_micros": pa.array([3_250_000], pa.int64()),
            "conversions_micros": pa.array([500_000], pa.int64()),
            "revenue_micros": pa.array([7_000_000], pa.int64()),
        }
    )
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    proto = fact_row_pb2.FactRow(
        date="2026-03-05",
        platform="linkedin_ads",
        account_id="a4",
        campaign_id="c4",
        ad_group_id="g4",
        ad_id="x4",
        currency="EUR",
        impressions=40,
        clicks=4,
        cost_micros=4_000_000,
        conversions=1.5,
        revenue_micros=1_000_000,
    )
    batches = [
        _text_batch("csv-1", CSV),
        _text_batch("ndjson-1", ndjson, ingest_service_pb2.TEXT_FORMAT_NDJSON),
        ingest_service_pb2.IngestBatch(batch_id="arrow-1", arrow_ipc=sink.getvalue()),
        ingest_service_pb2.IngestBatch(batch_id="proto-1", rows=ingest_service_pb2.RowBatch(rows=[proto])),
    ]

    acks = list(client.ingest(batches))

    assert [(a.batch_id, a.accepted, a.rejected) for a in acks] == [
        ("csv-1", 1, 0),
        ("ndjson-1", 1, 0),
        ("arrow-1", 1, 0),
        ("proto-1", 1, 0),
    ]
    rows = {r.dimensions["platform"]: r for r in client.query_metrics(by=["platform"]).rows}
    assert set(rows) == {"meta_ads", "tiktok_ads", "google_ads", "linkedin_ads"}
    assert rows["meta_ads"].currency == "USD"
    assert str(rows["tiktok_ads"].cost) == "2.25"
    assert str(rows["google_ads"].conversions) == "0.5"
    assert rows["linkedin_ads"].conversions == 1.5


def test_replay_is_acknowledged_and_reused_id_is_refused(client: AdpulseClient) -> None:
    first = list(client.ingest([_text_batch("b-1", CSV)]))
    replay = list(client.ingest([_text_batch("b-1", CSV)]))

    assert (first[0].accepted, first[0].replayed) == (1, False)
    assert (replay[0].accepted, replay[0].duplicates, replay[0].replayed) == (0, 1, True)
    with pytest.raises(AdpulseError) as caught:
        list(client.ingest([_text_batch("b-1", CSV.replace("1.5", "2.5"))]))
    assert caught.value.code == "ALREADY_EXISTS"
    assert caught.value.reason == "BATCH_ID_REUSED"
    assert caught.value.metadata == {"batch_id": "b-1"}
    assert str(client.query_metrics().totals.cost) == "1.5"


def test_streams_racing_on_one_batch_id_store_it_once(client: AdpulseClient) -> None:
    rows = [
        ["2026-03-01", "google_ads", "a", "c", "", "g", f"ad{i}", "EUR", "10", "1", "0.5", "0", "0"]
        for i in range(500)
    ]
    data = to_csv(rows)
    results: list[object] = []

    def send() -> None:
        try:
            results.extend(client.ingest([_text_batch("race-1", data)]))
        except AdpulseError as err:
            results.append(err)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(isinstance(r, ingest_service_pb2.BatchAck) for r in results)
    assert sum(r.accepted for r in results) == 500  # type: ignore[attr-defined]
    assert client.query_metrics().totals.impressions == 5000


def test_a_message_over_the_limit_is_resource_exhausted_and_the_server_lives(
    server: ServerProcess, tenant: str
) -> None:
    huge = "x" * (65 * 1024 * 1024)
    with AdpulseClient(
        server.address, api_key=server.admin_key, tenant=tenant, max_message_bytes=128 * 1024 * 1024
    ) as big:
        with pytest.raises(AdpulseError) as caught:
            list(big.ingest([_text_batch("huge-1", huge)]))
        assert caught.value.code == "RESOURCE_EXHAUSTED"
        acks = list(big.ingest([_text_batch("small-1", CSV)]))
    assert acks[0].accepted == 1


def _raw_stream(server: ServerProcess, requests: list[ingest_service_pb2.IngestRequest]) -> grpc.RpcError:
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as caught:
        list(
            pb_grpc.IngestServiceStub(channel).Ingest(
                iter(requests), timeout=30, metadata=server.key_metadata
            )
        )
    return caught.value


def test_a_stream_must_open_first_and_only_once(server: ServerProcess) -> None:
    batch = ingest_service_pb2.IngestRequest(batch=_text_batch("b", CSV))
    opening = ingest_service_pb2.IngestRequest(open=ingest_service_pb2.StreamOpen(source="generic"))

    for requests in ([batch], [opening, opening]):
        err = _raw_stream(server, requests)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]


def test_unknown_source_and_bad_batch_ids(client: AdpulseClient) -> None:
    with pytest.raises(AdpulseError) as caught:
        list(client.ingest([_text_batch("b", CSV)], StreamOptions(source="myspace_ads")))
    assert (caught.value.code, caught.value.reason) == ("INVALID_ARGUMENT", "UNKNOWN_SOURCE")

    with pytest.raises(AdpulseError) as caught:
        list(client.ingest([_text_batch("has space", CSV)]))
    assert [v.field for v in caught.value.violations] == ["batch.batch_id"]


def test_an_invalid_tenant_is_refused(server: ServerProcess) -> None:
    with (
        AdpulseClient(server.address, api_key=server.admin_key, tenant="Not A Tenant") as c,
        pytest.raises(AdpulseError) as caught,
    ):
        c.query_metrics()
    assert (caught.value.code, caught.value.reason) == ("INVALID_ARGUMENT", "INVALID_TENANT")


def test_tenants_do_not_see_each_other(server: ServerProcess, client: AdpulseClient) -> None:
    list(client.ingest([_text_batch("mine", CSV)]))
    with AdpulseClient(server.address, api_key=server.admin_key, tenant="someone-else-entirely") as other:
        assert other.query_metrics().totals.impressions == 0
    assert client.query_metrics().totals.impressions == 10


def test_unreadable_payloads_are_invalid_argument_without_internals(client: AdpulseClient) -> None:
    for batch in (
        ingest_service_pb2.IngestBatch(batch_id="arrow-bad", arrow_ipc=b"not arrow at all"),
        _text_batch("nd-bad", "{not json\n", ingest_service_pb2.TEXT_FORMAT_NDJSON),
        ingest_service_pb2.IngestBatch(batch_id="empty"),
    ):
        try:
            acks = list(client.ingest([batch]))
        except AdpulseError as err:
            assert err.code == "INVALID_ARGUMENT"
            for leak in ("Traceback", "SELECT", "/work", ".py", ".rs"):
                assert leak not in err.message
        else:  # a row-level problem: reported in the ack, nothing stored
            assert acks[0].accepted == 0 and acks[0].rejected == 1 and acks[0].errors
