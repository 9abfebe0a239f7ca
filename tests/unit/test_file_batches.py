"""Cutting files into batches never splits a row, and line numbers map back to the file."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from adpulse.files import batches

FIELD = st.text(alphabet=st.sampled_from('ab,"\n x'), max_size=6)
ROWS = st.lists(st.lists(FIELD, min_size=2, max_size=2), min_size=1, max_size=40)


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["k", "v"], *rows])
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(rows=ROWS, batch_bytes=st.integers(1, 64), compressed=st.booleans())
def test_csv_batches_hold_whole_rows_and_know_their_lines(
    tmp_path_factory: object, rows: list[list[str]], batch_bytes: int, compressed: bool
) -> None:
    text = _csv(rows)
    path = Path(tmp_path_factory.mktemp("f")) / ("x.csv.gz" if compressed else "x.csv")  # type: ignore[attr-defined]
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())

    got = list(batches(path, "generic", batch_bytes))

    parsed = [row for b in got for row in list(csv.reader(io.StringIO(b.data.decode())))[1:]]
    assert parsed == rows
    assert all(b.data.startswith(b"k,v\n") for b in got)
    lines = text.split("\n")
    for b in got:
        # The payload's line 2 (its first row) is the file line the batch says it starts at.
        assert lines[b.file_line(2) - 1] == b.data.decode().split("\n")[1]
    assert len({b.batch_id for b in got}) == len({b.data for b in got})


def test_ndjson_batches_count_lines_from_one(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3}\n')

    got = list(batches(path, "generic", batch_bytes=10))

    assert [b.first_line for b in got] == [1, 3, 4]
    assert got[1].file_line(1) == 3


def test_resuming_skips_up_to_the_last_committed_batch(tmp_path: Path) -> None:
    from adpulse.client.ingest_calls import StreamOptions, _batches_up_to

    path = tmp_path / "x.csv"
    path.write_text(_csv([[str(i), "v"] for i in range(50)]))
    ids = [b.batch_id for b in batches(path, "generic", 40, StreamOptions().reading())]

    assert len(ids) > 3
    assert _batches_up_to([path], StreamOptions(), 40, ids[2]) == 3
    assert _batches_up_to([path], StreamOptions(), 40, "") == 0
    assert _batches_up_to([path], StreamOptions(), 40, "some-other-file-batch") == 0


def test_the_same_rows_read_another_way_are_another_batch(tmp_path: Path) -> None:
    from adpulse.client.ingest_calls import StreamOptions

    path = tmp_path / "x.csv"
    path.write_text(_csv([["1", "v"]]))
    strict = StreamOptions(reject_clicks_over_impressions=True)
    with_options = StreamOptions(source_options={"action_types": "lead"})

    ids = {
        next(batches(path, "generic", 40, o.reading())).batch_id
        for o in (StreamOptions(), strict, with_options)
    }

    assert len(ids) == 3
