"""Bad text and wide batches against the real server: rows with NUL or other control
characters are named and absent, the good rows of the same batch are acknowledged and present,
and the stream goes on; a batch spanning many months is stored whole."""

from __future__ import annotations

import datetime as dt

from adpulse.client import AdpulseClient
from adpulse.v1 import ingest_service_pb2
from tests.support.facts import HEADER, to_csv


def _row(ad: str, *, day: str = "2026-03-02", name: str = "Launch", account: str = "a1") -> list[str]:
    return [day, "meta_ads", account, "c1", name, "g1", ad, "USD", "10", "1", "1.5", "0", "0"]


def _batch(
    batch_id: str, text: str, fmt: int = ingest_service_pb2.TEXT_FORMAT_CSV
) -> ingest_service_pb2.IngestBatch:
    return ingest_service_pb2.IngestBatch(
        batch_id=batch_id, text=ingest_service_pb2.TextPayload(format=fmt, data=text.encode())
    )


def _ads(client: AdpulseClient) -> dict[str, int]:
    rows = client.query_metrics(by=["ad"]).rows
    return {r.dimensions["ad"]: r.impressions for r in rows}


def test_control_characters_are_rejected_per_row_and_the_stream_goes_on(client: AdpulseClient) -> None:
    rows = [
        _row("good-1"),
        _row("nul-name", name="Spring\0sale"),
        _row("nul\0id"),
        _row("esc", account="a\x1b[31m"),
        _row("good-2", name="two\nlines"),
    ]
    csv = to_csv([[*r, "x"] for r in rows], header=[*HEADER, "no\0tes"])
    ndjson = (
        '{"date": "2026-03-03", "platform": "meta_ads", "account_id": "a1", "campaign_id": "c1",'
        ' "campaign_name": "bad\\u0000", "ad_group_id": "g1", "ad_id": "nul-json", "currency": "USD",'
        ' "impressions": 1, "clicks": 0, "cost": 0, "conversions": 0, "revenue": 0}\n'
    )

    acks = list(
        client.ingest(
            [
                _batch("with-nul", csv),
                _batch("json-nul", ndjson, ingest_service_pb2.TEXT_FORMAT_NDJSON),
                _batch("after", to_csv([_row("good-3")])),
            ]
        )
    )

    assert [(a.batch_id, a.accepted, a.rejected) for a in acks] == [
        ("with-nul", 2, 3),
        ("json-nul", 0, 1),
        ("after", 1, 0),
    ]
    errors = [(e.line, e.field) for e in acks[0].errors]
    assert errors == [(3, "campaign_name"), (4, "ad_id"), (5, "account_id")]
    for error in (*acks[0].errors, *acks[1].errors):
        assert "control character" in error.reason
        assert "\0" not in error.reason and "\x1b" not in error.reason
    assert list(acks[0].ignored_columns) == ["no\\0tes"]
    assert _ads(client) == {"good-1": 10, "good-2": 10, "good-3": 10}
    # The ledger holds the outcome: a replay answers the same, stored nothing twice.
    replay = list(client.ingest([_batch("with-nul", csv)]))
    assert (replay[0].replayed, replay[0].accepted + replay[0].duplicates, replay[0].rejected) == (True, 2, 3)


def test_a_batch_spanning_many_months_is_stored_whole(client: AdpulseClient) -> None:
    start = dt.date(2010, 1, 1)
    days = [dt.date(start.year + m // 12, m % 12 + 1, 1) for m in range(150)]

    (ack,) = client.ingest(
        [_batch("months", to_csv([_row(f"m{i}", day=d.isoformat()) for i, d in enumerate(days)]))]
    )

    assert (ack.accepted, ack.rejected) == (150, 0)
    assert len(_ads(client)) == 150
