"""Limits (gzip bombs, overlong records, payload slices) and inspect_request against real
protobuf serialization."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpulse import _kernel
from adpulse.v1 import fact_row_pb2, ingest_service_pb2

FIXTURES = Path(__file__).parent.parent / "fixtures"
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER = (
    "date,platform,account_id,campaign_id,ad_group_id,ad_id,currency,"
    "impressions,clicks,cost,conversions,revenue\n"
)
ROW = "2026-03-01,google,acc,c1,g1,{ad},EUR,10,1,1.5,0,0\n"


def test_a_real_gzip_bomb_is_refused_without_being_unpacked() -> None:
    bomb = (FIXTURES / "bombs" / "zeros_1025mib.gz").read_bytes()
    assert len(bomb) < 2 << 20  # 1025 MiB of zeros in about 1 MiB
    start = time.perf_counter()
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.parse_batch(bomb, "csv", compression="gzip", max_decompressed_bytes=64 << 20)
    took = time.perf_counter() - start
    assert caught.value.args == ("PAYLOAD_TOO_LARGE", "the payload unpacks to more than 67108864 bytes")
    # Unpacking the whole GiB takes seconds; stopping at 64 MiB a small fraction of that.
    assert took < 1.5, took


def test_gzip_within_the_limit_and_damaged_gzip() -> None:
    payload = (HEADER + ROW.format(ad="a1")).encode()
    packed = gzip.compress(payload)
    assert _kernel.parse_batch(packed, "csv", compression="gzip").facts.num_rows == 1
    assert (
        _kernel.parse_batch(packed, "csv", compression="gzip", max_decompressed_bytes=len(payload)).rows_total
        == 1
    )
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.parse_batch(packed, "csv", compression="gzip", max_decompressed_bytes=len(payload) - 1)
    assert caught.value.args[0] == "PAYLOAD_TOO_LARGE"
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.parse_batch(packed[:-4], "csv", compression="gzip")
    assert caught.value.args[0] == "UNREADABLE_PAYLOAD"
    with pytest.raises(ValueError, match="compression"):
        _kernel.parse_batch(packed, "csv", compression="zstd")  # type: ignore[arg-type]


def test_an_overlong_record_is_a_row_error_and_the_rest_is_read() -> None:
    payload = HEADER + ROW.format(ad="a1") + ROW.format(ad="x" * 5000) + ROW.format(ad="a3")
    parsed = _kernel.parse_batch(payload.encode(), "csv", max_line_bytes=1000)
    assert [(e.row, e.line, e.field) for e in parsed.errors] == [(2, 3, "")]
    assert parsed.errors[0].reason.startswith("the record is longer than 1000 bytes")
    assert parsed.facts.column("ad_id").to_pylist() == ["a1", "a3"]


def test_a_slice_is_parsed_in_place_and_a_bad_slice_is_refused() -> None:
    csv = (HEADER + ROW.format(ad="a1")).encode()
    raw = b"junk" + csv + b"more junk"
    parsed = _kernel.parse_batch(raw, "csv", offset=4, length=len(csv))
    assert parsed.facts.column("ad_id").to_pylist() == ["a1"]
    assert _kernel.parse_batch(b"xx" + csv, "csv", offset=2).rows_total == 1
    for offset, length in [(len(raw) + 1, None), (4, len(raw)), (len(raw), 1)]:
        with pytest.raises(_kernel.PayloadError) as caught:
            _kernel.parse_batch(raw, "csv", offset=offset, length=length)
        assert caught.value.args[0] == "UNREADABLE_PAYLOAD"


TEXT_FORMATS = {
    ingest_service_pb2.TEXT_FORMAT_CSV: "csv",
    ingest_service_pb2.TEXT_FORMAT_NDJSON: "ndjson",
    ingest_service_pb2.TEXT_FORMAT_UNSPECIFIED: None,
}
COMPRESSIONS = {
    ingest_service_pb2.COMPRESSION_UNSPECIFIED: "none",
    ingest_service_pb2.COMPRESSION_NONE: "none",
    ingest_service_pb2.COMPRESSION_GZIP: "gzip",
}
FACT_ROWS = st.lists(
    st.builds(
        fact_row_pb2.FactRow,
        date=st.text(max_size=12),
        ad_id=st.text(max_size=5),
        impressions=st.integers(-(2**63), 2**63 - 1),
        conversions=st.floats(),
    ),
    max_size=5,
)


@SETTINGS
@given(
    batch_id=st.text(max_size=140),
    kind=st.sampled_from(["rows", "arrow_ipc", "text", "none"]),
    data=st.binary(max_size=300),
    rows=FACT_ROWS,
    text_format=st.sampled_from(sorted(TEXT_FORMATS)),
    compression=st.sampled_from(sorted(COMPRESSIONS)),
)
def test_inspect_request_finds_what_protobuf_serialized(  # noqa: PLR0917 - drawn by hypothesis
    batch_id: str,
    kind: str,
    data: bytes,
    rows: list[fact_row_pb2.FactRow],
    text_format: int,
    compression: int,
) -> None:
    batch = ingest_service_pb2.IngestBatch(batch_id=batch_id)
    expected: bytes = b""
    fmt: str | None = None
    if kind == "rows":
        batch.rows.rows.extend(rows)
        expected, fmt = batch.rows.SerializeToString(), "proto_rows"
    elif kind == "arrow_ipc":
        batch.arrow_ipc = data
        expected, fmt = data, "arrow_ipc"
    elif kind == "text":
        batch.text.data, batch.text.format, batch.text.compression = data, text_format, compression  # type: ignore[assignment]
        expected, fmt = data, TEXT_FORMATS[text_format]
    raw = ingest_service_pb2.IngestRequest(batch=batch).SerializeToString()
    header = _kernel.inspect_request(raw)
    assert (header.kind, header.batch_id, header.fmt) == ("batch", batch_id, fmt)
    assert header.compression == (COMPRESSIONS[compression] if kind == "text" else "none")
    assert raw[header.offset : header.offset + header.length] == expected


def test_inspect_request_of_open_and_empty_requests() -> None:
    opened = ingest_service_pb2.IngestRequest(open=ingest_service_pb2.StreamOpen(source="meta_ads"))
    assert _kernel.inspect_request(opened.SerializeToString()).kind == "open"
    assert _kernel.inspect_request(b"").kind == "empty"
    assert 'kind="empty"' in repr(_kernel.inspect_request(b""))
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.inspect_request(b"\x12\x05\x0a")
    assert caught.value.args[0] == "UNREADABLE_PAYLOAD"


def test_a_request_is_parsed_from_its_own_bytes() -> None:
    csv = (HEADER + ROW.format(ad="a1") + ROW.format(ad="a2")).encode()
    text = ingest_service_pb2.TextPayload(
        format=ingest_service_pb2.TEXT_FORMAT_CSV,
        data=gzip.compress(csv),
        compression=ingest_service_pb2.COMPRESSION_GZIP,
    )
    raw = ingest_service_pb2.IngestRequest(
        batch=ingest_service_pb2.IngestBatch(batch_id="f:1", text=text)
    ).SerializeToString()
    header = _kernel.inspect_request(raw)
    assert header.fmt is not None
    parsed = _kernel.parse_batch(
        raw, header.fmt, offset=header.offset, length=header.length, compression=header.compression
    )
    assert parsed.facts.column("ad_id").to_pylist() == ["a1", "a2"]
    rows = ingest_service_pb2.RowBatch(
        rows=[fact_row_pb2.FactRow(date="2026-03-01", platform="meta", account_id="a", campaign_id="c",
                                   ad_group_id="g", ad_id="x", currency="USD", impressions=5)]
    )  # fmt: skip
    raw = ingest_service_pb2.IngestRequest(
        batch=ingest_service_pb2.IngestBatch(batch_id="p", rows=rows)
    ).SerializeToString()
    header = _kernel.inspect_request(raw)
    assert header.fmt == "proto_rows"
    parsed = _kernel.parse_batch(raw, header.fmt, offset=header.offset, length=header.length)
    assert parsed.facts.column("platform").to_pylist() == ["meta_ads"]
