"""parse_batch against the plain-Python reference: random good and bad rows in every format."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpulse import _kernel
from adpulse.v1 import fact_row_pb2, ingest_service_pb2
from tests.kernel import reference as ref

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Row = dict[str, str | None]


def spaced(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(["", " ", "\t"]), text, st.sampled_from(["", " "])).map("".join)


def any_case(words: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(words).flatmap(
        lambda w: st.lists(st.booleans(), min_size=len(w), max_size=len(w)).map(
            lambda upper: "".join(c.upper() if u else c for c, u in zip(w, upper, strict=True))
        )
    )


def decimal_text(value: Decimal, style: int) -> str:
    if style == 0:
        return format(value, "f")
    if style == 1:
        return format(value, "e")
    return str(value.normalize()) if value else "0"


MONEY = st.builds(
    decimal_text,
    st.integers(0, 9).flatmap(lambda places: st.decimals(min_value=0, max_value=10**9, places=places)),
    st.integers(0, 2),
)
VALID: dict[str, st.SearchStrategy[str]] = {
    "date": spaced(st.dates(ref.FIRST_DATE, ref.LAST_DATE).map(lambda d: d.isoformat())),
    "platform": spaced(any_case(sorted(ref.PLATFORMS))),
    "account_id": st.sampled_from(["acc-1", " acc-2 "]),
    "campaign_id": st.sampled_from(["c1", "c2", "123", "kampagne-ü"]),
    "ad_group_id": st.sampled_from(["g1", "g2"]),
    "ad_id": st.one_of(
        st.sampled_from(["a1", "a2"]), st.text("abc,\"' é中", min_size=1, max_size=8).filter(str.strip)
    ),
    "campaign_name": st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]) | st.sampled_from(',"\n\r'), max_size=12
    ),
    "currency": spaced(any_case(sorted(ref.CURRENCIES))),
    "impressions": st.one_of(st.just(""), st.integers(0, ref.MAX_COUNT).map(str)),
    "clicks": st.one_of(st.just(""), st.integers(0, 1000).map(str), st.just(" 007 ")),
    "cost": st.one_of(st.just(""), MONEY),
    "conversions": st.one_of(MONEY, st.sampled_from(["0.0000005", "0.0000015", "1.25e-6", ".5", "5."])),
    "revenue": MONEY,
}
INVALID: dict[str, list[str]] = {
    "date": ["2026-02-30", "1999-12-31", "2100-01-01", "26-01-01", "2026/01/01", ""],
    "platform": ["yahoo", "", "google ads"],
    "account_id": ["", "  ", "a\x01b", "x" * 257],
    "campaign_id": ["", "c\x7f"],
    "ad_group_id": [""],
    "ad_id": ["", "é" * 129],
    "campaign_name": ["n" * 1025],
    "currency": sorted(ref.NOT_CURRENCIES),
    "impressions": ["1.5", "-3", "1,234", "abc", str(ref.MAX_COUNT + 1), "1e3"],
    "clicks": ["-1", "x"],
    "cost": ["-1", "abc", "1,5", "1e10", "1000000000.0000001", "NaN", "inf"],
    "conversions": ["-0.5", "1.2.3"],
    "revenue": ["--1", "1e"],
}


def cell(column: str) -> st.SearchStrategy[str]:
    """Mostly good values, a bad one one time in twelve."""
    return st.integers(0, 11).flatmap(lambda i: st.sampled_from(INVALID[column]) if i == 0 else VALID[column])


ROWS = st.lists(st.fixed_dictionaries({c: cell(c) for c in ref.COLUMNS}), min_size=0, max_size=25)


def expected(rows: list[Row]) -> ref.Outcome:
    return ref.outcome(ref.text_fact(r) for r in rows)


def check(parsed: _kernel.ParsedBatch, want: ref.Outcome) -> None:
    assert parsed.rows_total == want.rows_total
    assert parsed.rows_rejected == want.rows_rejected
    assert parsed.rows_superseded == want.rows_superseded
    assert {(e.row, e.field) for e in parsed.errors} == want.errors
    assert not parsed.errors_truncated
    assert all(e.reason for e in parsed.errors)
    assert parsed.facts.schema == _kernel.fact_schema()
    assert parsed.facts.to_pylist() == want.facts


def csv_payload(rows: list[Row]) -> tuple[bytes, list[int]]:
    """The CSV text and the line each record starts on."""
    out = io.StringIO()
    # CRLF line ends make the writer quote any field with a CR, which a reader would otherwise
    # take for the end of the record.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ref.COLUMNS)
    lines, line = [], 2
    for row in rows:
        start = out.tell()
        writer.writerow([row[c] for c in ref.COLUMNS])
        lines.append(line)
        line += out.getvalue()[start:].count("\n")
    return out.getvalue().encode(), lines


@SETTINGS
@given(ROWS)
def test_csv_matches_the_reference(rows: list[Row]) -> None:
    payload, lines = csv_payload(rows)
    parsed = _kernel.parse_batch(payload, "csv")
    check(parsed, expected(rows))
    assert all(e.line == lines[e.row - 1] for e in parsed.errors)


JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def json_value(column: str, text: str, as_number: bool) -> str:
    """A value as a JSON string, or as the JSON number it spells when asked and possible."""
    numeric = column in ref.COUNTS or column in ref.MONEY
    if as_number and numeric and JSON_NUMBER.fullmatch(text):
        return text
    return json.dumps(text)


@SETTINGS
@given(
    ROWS,
    st.data(),
)
def test_ndjson_matches_the_reference(rows: list[Row], data: st.DataObject) -> None:
    optional = ["campaign_name", *ref.COUNTS, *ref.MONEY]
    lines: list[str] = []
    starts: list[int] = []
    kept_rows: list[Row] = []
    for row in rows:
        lines.extend([""] * data.draw(st.integers(0, 2), "blank lines"))
        dropped = set(data.draw(st.lists(st.sampled_from(optional), max_size=2), "dropped keys"))
        as_number = data.draw(st.booleans(), "numbers as numbers")
        kept = {c: v for c, v in row.items() if c not in dropped}
        pairs = [f"{json.dumps(c)}:{json_value(c, v or '', as_number)}" for c, v in kept.items()]
        lines.append("{" + ",".join(pairs) + "}")
        starts.append(len(lines))
        kept_rows.append(kept)
    payload = "\n".join(lines).encode()
    want = expected(kept_rows)
    if rows and not all(any(c in r for r in kept_rows) for c in ref.COLUMNS if c != "campaign_name"):
        with pytest.raises(_kernel.PayloadError) as caught:
            _kernel.parse_batch(payload, "ndjson")
        assert caught.value.args[0] == "MISSING_COLUMNS"
        return
    parsed = _kernel.parse_batch(payload, "ndjson")
    check(parsed, want)
    assert all(e.line == starts[e.row - 1] for e in parsed.errors)


def ipc(table: pa.Table, max_chunksize: int | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=max_chunksize):
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


@SETTINGS
@given(ROWS, st.integers(1, 10))
def test_arrow_text_columns_match_the_reference(rows: list[Row], chunk: int) -> None:
    table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in ref.COLUMNS})
    parsed = _kernel.parse_batch(ipc(table, chunk), "arrow_ipc")
    check(parsed, expected(rows))
    assert all(e.line == 0 for e in parsed.errors)


GOOD_ROWS = st.lists(st.fixed_dictionaries({c: VALID[c] for c in ref.COLUMNS}), min_size=1, max_size=20)


@SETTINGS
@given(
    GOOD_ROWS, st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=20, max_size=20)
)
def test_arrow_typed_columns_match_the_reference(rows: list[Row], floats: list[float]) -> None:
    """Dates as date32, counts as int64, cost as float64, revenue as decimal128."""
    floats = [abs(f) if i % 3 else f for i, f in enumerate(floats)][: len(rows)]
    revenue = [Decimal(r["revenue"] or "0").quantize(Decimal("0.000000001")) for r in rows]
    table = pa.table(
        {
            **{c: pa.array([r[c] for r in rows], pa.string()) for c in ref.COLUMNS},
            "date": pa.array([ref.date_value(r["date"] or "") for r in rows], pa.date32()),
            "impressions": pa.array([int(r["impressions"] or 0) for r in rows], pa.int64()),
            "cost": pa.array(floats, pa.float64()),
            "revenue": pa.array(revenue, pa.decimal128(20, 9)),
        }
    )
    checked = []
    for row, cost in zip(rows, floats, strict=True):
        values, bad = ref.text_fact(row)
        try:
            values["cost"] = ref.money_float_value(cost)
        except ref.Invalid:
            bad.append("cost")
        checked.append((values, bad))
    check(_kernel.parse_batch(ipc(table), "arrow_ipc"), ref.outcome(checked))


PROTO_TEXT = {c: cell(c) for c in ref.COLUMNS if c not in ref.COUNTS and c not in ref.MONEY}


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                **PROTO_TEXT,
                "impressions": st.integers(-2, ref.MAX_COUNT + 2),
                "clicks": st.integers(0, 100),
                "cost_micros": st.one_of(st.integers(0, 10**9), st.integers(-(2**63), 2**63 - 1)),
                "conversions": st.one_of(st.floats(0, 1e9), st.floats(allow_nan=True, allow_infinity=True)),
                "revenue_micros": st.integers(-5, ref.MAX_MICROS + 5),
            }
        ),
        max_size=20,
    )
)
def test_proto_rows_match_the_reference(rows: list[dict[str, object]]) -> None:
    batch = ingest_service_pb2.RowBatch(rows=[fact_row_pb2.FactRow(**r) for r in rows])  # type: ignore[arg-type]

    def count(v: int) -> int:
        return ref.bounded(v, ref.MAX_COUNT)

    def micros(v: int) -> int:
        return ref.bounded(v, ref.MAX_MICROS)

    # (proto field, generic column, how the value is read)
    typed = [
        ("impressions", "impressions", count),
        ("clicks", "clicks", count),
        ("cost_micros", "cost", micros),
        ("conversions", "conversions", ref.money_float_value),
        ("revenue_micros", "revenue", micros),
    ]
    checked = []
    for row in rows:
        values, bad = ref.text_fact({c: row[c] for c in PROTO_TEXT})  # type: ignore[misc]
        for field, column, read in typed:
            try:
                values[column] = read(row[field])  # type: ignore[operator]
            except ref.Invalid:
                bad.append(field)
        checked.append((values, bad))
    check(_kernel.parse_batch(batch.SerializeToString(), "proto_rows"), ref.outcome(checked))
