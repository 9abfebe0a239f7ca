"""Ingesting CSV files through the real server: bad rows named, good rows kept, exactly once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError, StreamOptions
from tests.support.facts import HEADER, expected_groups, latest_by_key, random_facts, restated, to_csv

GOOD = [
    "2026-03-01",
    "google_ads",
    "a1",
    "c1",
    "Spring",
    "g1",
    "ad1",
    "EUR",
    "1000",
    "50",
    "12.34",
    "2.5",
    "99.99",
]


def _row(**changes: str) -> list[str]:
    row = dict(zip(HEADER, GOOD, strict=True))
    row.update(changes)
    return list(row.values())


def test_bad_rows_are_named_by_line_and_field_and_good_rows_kept(
    client: AdpulseClient, workdir: Path
) -> None:
    rows = [
        _row(ad_id="ad1"),  # line 2
        _row(ad_id="ad2", date="2026-02-30"),  # line 3: impossible date
        _row(ad_id="ad3", clicks="-5"),  # line 4: negative count
        _row(ad_id="ad4", cost="-1.00"),  # line 5: negative cost
        _row(ad_id="ad5", impressions="lots"),  # line 6: not a number
        _row(ad_id="ad6", campaign_id=""),  # line 7: empty key field
        _row(ad_id="ad7", cost="0.10"),  # line 8
        _row(ad_id="ad8", date="2026-13-01", revenue="x"),  # line 9: two bad fields
    ]
    path = workdir / "export.csv"
    path.write_text(to_csv(rows))

    report = client.ingest_files([path])

    assert (report.accepted, report.rejected, report.duplicates) == (2, 6, 0)
    named = {(e.line, e.field) for e in report.errors}
    assert named == {
        (3, "date"),
        (4, "clicks"),
        (5, "cost"),
        (6, "impressions"),
        (7, "campaign_id"),
        (9, "date"),
        (9, "revenue"),
    }
    assert all(e.reason for e in report.errors)
    result = client.query_metrics(by=["ad"])
    assert {r.dimensions["ad"] for r in result.rows} == {"ad1", "ad7"}
    assert result.totals.cost == Decimal("12.44")
    assert result.totals.impressions == 2000


def test_reingesting_the_same_file_changes_nothing(client: AdpulseClient, workdir: Path) -> None:
    facts = random_facts(seed=1)
    path = workdir / "facts.csv"
    path.write_text(to_csv(f.csv_values() for f in facts))

    first = client.ingest_files([path], batch_bytes=16 * 1024)
    before = client.query_metrics(by=["campaign"])
    second = client.ingest_files([path], batch_bytes=16 * 1024)
    after = client.query_metrics(by=["campaign"])

    assert first.accepted == len(facts) and first.rejected == 0
    assert (second.accepted, second.rejected, second.duplicates) == (0, 0, len(facts))
    assert after == before


def test_restated_rows_replace_the_old_values(client: AdpulseClient, workdir: Path) -> None:
    facts = random_facts(seed=2, n_campaigns=4, days=5)
    original = workdir / "original.csv"
    original.write_text(to_csv(f.csv_values() for f in facts))
    client.ingest_files([original])

    # The platform restates the last two days: more conversions arrived late.
    late = [
        restated(f, conversions=f.conversions + 3, revenue=f.revenue + Decimal("10.50"))
        for f in facts
        if f.date >= dt.date(2026, 3, 4)
    ]
    restatement = workdir / "restatement.csv"
    restatement.write_text(to_csv(f.csv_values() for f in late))
    report = client.ingest_files([restatement])

    assert report.accepted == len(late)
    stored = latest_by_key([*facts, *late])
    expected = expected_groups(stored, lambda f: (f.date,))
    result = client.query_metrics(by=["date"])
    assert len(result.rows) == len(expected)
    for row in result.rows:
        want = expected[(dt.date.fromisoformat(row.dimensions["date"]),)]
        assert row.conversions == want.conversions
        assert row.revenue == want.revenue or want.revenue is None


def test_later_row_of_the_same_key_in_one_file_wins(client: AdpulseClient, workdir: Path) -> None:
    path = workdir / "dupes.csv"
    path.write_text(to_csv([_row(cost="1.00"), _row(cost="2.00")]))

    report = client.ingest_files([path])

    assert (report.accepted, report.duplicates) == (1, 1)
    assert client.query_metrics().totals.cost == Decimal("2.00")


def test_all_or_nothing_stores_nothing_of_a_bad_batch(client: AdpulseClient, workdir: Path) -> None:
    path = workdir / "strict.csv"
    path.write_text(to_csv([_row(), _row(ad_id="ad2", clicks="many")]))

    with pytest.raises(AdpulseError) as caught:
        client.ingest_files([path], StreamOptions(all_or_nothing=True))

    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.reason == "INVALID_ROWS"
    assert [v.field for v in caught.value.violations] == ["rows[2].clicks"]
    assert "line 3" in caught.value.violations[0].description
    assert client.query_metrics().totals.impressions == 0


def test_missing_columns_are_refused_by_name(client: AdpulseClient, workdir: Path) -> None:
    path = workdir / "narrow.csv"
    path.write_text("date,platform,account_id\n2026-03-01,google_ads,a1\n")

    with pytest.raises(AdpulseError) as caught:
        client.ingest_files([path])

    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.reason == "MISSING_COLUMNS"
    assert "campaign_id" in caught.value.message and "cost" in caught.value.message


def test_unknown_columns_are_reported_not_silently_read(client: AdpulseClient, workdir: Path) -> None:
    path = workdir / "extra.csv"
    path.write_text(to_csv([[*_row(), "x"]], header=[*HEADER, "utm_source"]))

    report = client.ingest_files([path])

    assert report.accepted == 1
    assert report.ignored_columns == {"utm_source"}


def test_quoted_fields_and_gzip(client: AdpulseClient, workdir: Path) -> None:
    import gzip

    rows = [_row(campaign_name='Spring, "big" sale\nsecond line'), _row(ad_id="ad2", cost="oops")]
    path = workdir / "quoted.csv.gz"
    path.write_bytes(gzip.compress(to_csv(rows).encode()))

    report = client.ingest_files([path])

    assert report.accepted == 1
    # The first record spans lines 2-3, so the bad row starts on line 4.
    assert [(e.line, e.field) for e in report.errors] == [(4, "cost")]
    row = client.query_metrics(by=["campaign"]).rows[0]
    assert row.dimensions["campaign_name"] == 'Spring, "big" sale\nsecond line'
