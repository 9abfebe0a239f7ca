"""Stream policies and limits: clicks over impressions, schema drift, gzip bombs, line length."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError, StreamOptions
from adpulse.v1 import ingest_service_pb2 as pb
from tests.support.facts import HEADER, to_csv
from tests.support.server import SESSION_DECOMPRESSED_LIMIT

ROW = ["2026-03-01", "google_ads", "a1", "c1", "", "g1", "ad1", "EUR", "10", "25", "1.00", "0", "0"]


def _file(tmp_path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path = tmp_path / "x.csv"
    path.write_text(to_csv(rows, header=header))
    return path


def test_clicks_over_impressions_warn_by_default_and_reject_on_request(
    client: AdpulseClient, tmp_path: Path
) -> None:
    path = _file(tmp_path, [ROW])

    warned = client.ingest_files([path])
    rejected = client.ingest_files(
        [path], StreamOptions(reject_clicks_over_impressions=True, stream_id="strict")
    )

    assert (warned.accepted, [(w.line, w.field) for w in warned.warnings]) == (1, [(2, "clicks")])
    # Same file, other policy: other content for the server, so it is judged anew.
    assert (rejected.accepted, [(e.line, e.field) for e in rejected.errors]) == (0, [(2, "clicks")])


def test_drift_is_reported_or_fails_the_batch(client: AdpulseClient, tmp_path: Path) -> None:
    path = _file(tmp_path, [[*ROW[:8], "100", "5", "1.00", "0", "0", "x"]], header=[*HEADER, "utm_source"])

    with pytest.raises(AdpulseError) as caught:
        client.ingest_files([path], StreamOptions(fail_on_drift=True))
    assert (caught.value.code, caught.value.reason) == ("FAILED_PRECONDITION", "SCHEMA_DRIFT")
    assert caught.value.metadata["ignored_columns"] == "utm_source"
    assert client.query_metrics().totals.impressions == 0

    report = client.ingest_files([path])
    assert report.accepted == 1 and report.ignored_columns == {"utm_source"}


def _gzip_bomb(size: int) -> bytes:
    """`size` bytes of zeros, gzip-compressed about a thousandfold, built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"0" * (1 << 20)
    return b"".join([*(packer.compress(zeros) for _ in range(size >> 20)), packer.flush()])


def test_a_gzip_bomb_is_refused_not_unpacked(client: AdpulseClient) -> None:
    bomb = _gzip_bomb(SESSION_DECOMPRESSED_LIMIT + (64 << 20))
    batch = pb.IngestBatch(
        batch_id="bomb",
        text=pb.TextPayload(format=pb.TEXT_FORMAT_CSV, data=bomb, compression=pb.COMPRESSION_GZIP),
    )

    with pytest.raises(AdpulseError) as caught:
        list(client.ingest([batch]))

    assert (caught.value.code, caught.value.reason) == ("RESOURCE_EXHAUSTED", "PAYLOAD_TOO_LARGE")


def test_gzip_batches_on_the_wire_store_the_same_rows(client: AdpulseClient, tmp_path: Path) -> None:
    path = _file(tmp_path, [[*ROW[:8], "100", "5", "1.00", "0", "0"]])

    report = client.ingest_files([path], compress=True)

    assert report.accepted == 1 and report.bytes_sent < path.stat().st_size + 40
    assert client.query_metrics().totals.impressions == 100


def test_an_overlong_line_is_a_row_error_and_the_rest_is_kept(client: AdpulseClient, tmp_path: Path) -> None:
    long_name = "n" * (2 * 1024 * 1024)
    path = _file(
        tmp_path,
        [
            [*ROW[:4], long_name, *ROW[5:8], "100", "5", "1", "0", "0"],
            [*ROW[:6], "ad2", *ROW[7:8], "100", "5", "1", "0", "0"],
        ],
    )

    report = client.ingest_files([path])

    assert report.accepted == 1
    assert [e.line for e in report.errors] == [2]
