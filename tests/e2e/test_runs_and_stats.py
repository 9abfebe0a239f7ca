"""Every stream is an ingestion run; runs, per-source stats and platform freshness read back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError, StreamOptions
from adpulse.v1 import ingestion_run_pb2 as rpb
from tests.support.facts import HEADER, to_csv

TODAY = dt.date.today()


def _row(day: dt.date, platform: str, ad: str, **changes: str) -> list[str]:
    row = dict(
        zip(
            HEADER,
            [day.isoformat(), platform, "a1", "c1", "Camp", "g1", ad, "EUR", "100", "5", "2.50", "1", "9.00"],
            strict=True,
        )
    )
    row.update(changes)
    return list(row.values())


def test_a_stream_is_a_run_with_its_counts_drift_and_dates(client: AdpulseClient, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    rows = [
        [*_row(dt.date(2026, 3, 1), "google_ads", "ad1"), "x"],
        [*_row(dt.date(2026, 3, 9), "meta_ads", "ad2"), "y"],
        [*_row(dt.date(2026, 3, 5), "meta_ads", "ad3", clicks="lots"), "z"],
    ]
    path.write_text(to_csv(rows, header=[*HEADER, "utm_campaign"]))

    report = client.ingest_files([path])
    run = client.run(report.run_id)

    assert run.state == rpb.RUN_STATE_SUCCEEDED
    assert (run.batches, run.rows_accepted, run.rows_rejected, run.rows_duplicate) == (1, 2, 1, 0)
    assert run.bytes == path.stat().st_size
    assert list(run.ignored_columns) == ["utm_campaign"]
    assert (run.oldest_data_date, run.newest_data_date) == ("2026-03-01", "2026-03-09")
    assert list(run.platforms) == ["google_ads", "meta_ads"]
    assert run.source == "generic" and run.HasField("end_time")


def test_a_failed_stream_is_a_failed_run_with_the_error(client: AdpulseClient, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(to_csv([_row(dt.date(2026, 3, 1), "google_ads", "ad1")]))
    bad.write_text(to_csv([_row(dt.date(2026, 3, 1), "google_ads", "ad1", clicks="x")]))
    client.ingest_files([good])

    with pytest.raises(AdpulseError):
        client.ingest_files([bad], StreamOptions(all_or_nothing=True))

    failed, succeeded = client.runs(limit=2).runs
    assert failed.state == rpb.RUN_STATE_FAILED and "all-or-nothing" in failed.error
    assert succeeded.state == rpb.RUN_STATE_SUCCEEDED and succeeded.error == ""


def test_runs_list_newest_first_by_source_in_pages(client: AdpulseClient, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(to_csv([_row(dt.date(2026, 3, 1), "google_ads", "ad1")]))
    ids = [client.ingest_files([path]).run_id for _ in range(5)]

    first = client.runs(limit=2)
    second = client.runs(limit=2, page_token=first.next_page_token)
    third = client.runs(limit=2, page_token=second.next_page_token)

    assert [r.run_id for r in [*first.runs, *second.runs, *third.runs]] == ids[::-1]
    assert third.next_page_token == ""
    assert client.runs(source="meta_ads").runs == []
    with pytest.raises(AdpulseError) as caught:
        client.runs(source="generic", page_token=first.next_page_token)
    assert caught.value.code == "INVALID_ARGUMENT"


def test_stats_say_health_per_source_and_what_is_provisional(client: AdpulseClient, tmp_path: Path) -> None:
    recent = TODAY - dt.timedelta(days=2)
    path = tmp_path / "x.csv"
    path.write_text(
        to_csv(
            [
                _row(recent, "google_ads", "ad1"),
                _row(TODAY - dt.timedelta(days=40), "google_ads", "ad2"),
                _row(recent, "tiktok_ads", "ad3"),
            ]
        )
    )
    client.ingest_files([path])
    with pytest.raises(AdpulseError):
        client.ingest_files([_broken(tmp_path)])

    stats = client.ingestion_stats()

    (generic,) = stats.sources
    assert (generic.source, generic.runs, generic.failed_runs) == ("generic", 2, 1)
    assert generic.failure_rate.value == 0.5
    assert generic.rows_accepted == 3
    assert generic.newest_data_date == recent.isoformat()
    platforms = {p.platform: p for p in stats.platforms}
    assert platforms["google_ads"].rows == 2
    assert platforms["google_ads"].restatement_days == 14
    assert platforms["google_ads"].provisional_from == (TODAY - dt.timedelta(days=14)).isoformat()
    assert platforms["tiktok_ads"].provisional_from == (TODAY - dt.timedelta(days=3)).isoformat()


def _broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.csv"
    path.write_text("date,platform\n2026-03-01,google_ads\n")  # missing columns: the run fails
    return path


def test_an_unknown_run_is_not_found(client: AdpulseClient) -> None:
    with pytest.raises(AdpulseError) as caught:
        client.run("run-nope")
    assert (caught.value.code, caught.value.reason) == ("NOT_FOUND", "RUN_NOT_FOUND")
