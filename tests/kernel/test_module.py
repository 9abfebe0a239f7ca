"""The module's surface: constants, errors, panics, the GIL."""

from __future__ import annotations

import threading
import time

import pytest

from adpulse import _kernel

HEADER = (
    "date,platform,account_id,campaign_id,ad_group_id,ad_id,currency,"
    "impressions,clicks,cost,conversions,revenue\n"
)


def test_constants() -> None:
    assert _kernel.SOURCES == ("generic", "google_ads", "meta_ads", "tiktok_ads", "linkedin_ads")
    assert _kernel.KPI_COLUMNS == ("ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi")
    schema = _kernel.fact_schema()
    assert schema.names[:2] == ["date", "platform"] and schema.names[-1] == "revenue_micros"
    assert not any(field.nullable for field in schema)


@pytest.mark.parametrize(
    ("payload", "fmt", "source", "code"),
    [
        (b"", "xml", "generic", "UNKNOWN_FORMAT"),
        (b"", "csv", "yahoo_ads", "UNKNOWN_SOURCE"),
        (b"date,platform\n", "csv", "generic", "MISSING_COLUMNS"),
        (
            HEADER.replace("revenue", "revenue,conversion_value").encode(),
            "csv",
            "generic",
            "DUPLICATE_COLUMNS",
        ),
        (b"\xff\xfe,x\n", "csv", "generic", "UNREADABLE_PAYLOAD"),
        (b"not arrow", "arrow_ipc", "generic", "UNREADABLE_PAYLOAD"),
        (b"\x0a\xff", "proto_rows", "generic", "UNREADABLE_PAYLOAD"),
    ],
)
def test_payload_errors_carry_a_code_and_a_message(payload: bytes, fmt: str, source: str, code: str) -> None:
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.parse_batch(payload, fmt, source)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert caught.value.args[0] == code
    assert isinstance(caught.value.args[1], str) and caught.value.args[1]


def test_missing_columns_are_all_named() -> None:
    with pytest.raises(_kernel.PayloadError) as caught:
        _kernel.parse_batch(HEADER.replace(",ad_id", "").replace(",cost", "").encode(), "csv")
    assert caught.value.args == ("MISSING_COLUMNS", "missing columns: ad_id, cost")


def test_errors_past_max_errors_are_counted_not_listed() -> None:
    bad = "2026-11-01,google,a,c,g,ad,EUR,x,y,1,0,0\n"
    payload = (HEADER + bad * 4).encode()
    parsed = _kernel.parse_batch(payload, "csv", max_errors=3)
    assert (parsed.rows_rejected, len(parsed.errors), parsed.errors_truncated) == (4, 3, True)
    first = parsed.errors[0]
    assert (first.row, first.line, first.field, first.reason) == (
        1,
        2,
        "impressions",
        "'x' is not a whole number written as plain digits",
    )
    assert "impressions" in repr(first)
    assert not _kernel.parse_batch(payload, "csv", max_errors=8).errors_truncated


def test_a_panic_is_a_base_exception_not_an_exception() -> None:
    with pytest.raises(BaseException) as caught:
        _kernel.debug_panic("boom")
    assert type(caught.value).__name__ == "PanicException"
    assert not isinstance(caught.value, Exception)
    assert "boom" in str(caught.value)


def test_parsing_releases_the_gil() -> None:
    row = "2026-11-01,google,acc,c{i},g,a,EUR,100,5,1.25,0.5,3\n"
    payload = (HEADER + "".join(row.format(i=i) for i in range(300_000))).encode()
    took: list[float] = []

    def parse() -> None:
        start = time.perf_counter()
        _kernel.parse_batch(payload, "csv")
        took.append(time.perf_counter() - start)

    worker = threading.Thread(target=parse)
    worker.start()
    gaps, last = [], time.perf_counter()
    while worker.is_alive():
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    worker.join()
    # Had the call held the GIL, this loop would have stalled for the whole call.
    assert max(gaps) < took[0] / 2, (max(gaps), took[0])
