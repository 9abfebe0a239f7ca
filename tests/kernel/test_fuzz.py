"""Arbitrary and mutated bytes through parse_batch and inspect_request: the answer is a
ParsedBatch or a PayloadError, never another exception, a panic or a hang."""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpulse import _kernel

FIXTURES = Path(__file__).parent.parent / "fixtures"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["csv", "ndjson", "arrow_ipc", "proto_rows"]
SOURCES: list[tuple[str, dict[str, str]]] = [
    ("generic", {}),
    ("google_ads", {}),
    ("meta_ads", {"action_types": "purchase,lead"}),
    ("tiktok_ads", {}),
    ("linkedin_ads", {"currency": "EUR", "campaign_groups": "601=a"}),
]
SEEDS = sorted(p for p in FIXTURES.glob("*_ads/*") if p.is_file())


def parse(payload: bytes, fmt: str, source: int, compression: str) -> None:
    name, options = SOURCES[source]
    try:
        parsed = _kernel.parse_batch(
            payload,
            fmt,  # type: ignore[arg-type]
            name,
            max_errors=10,
            options=options,
            compression=compression,  # type: ignore[arg-type]
            max_decompressed_bytes=1 << 20,
            max_line_bytes=2048,
        )
    except _kernel.PayloadError as e:
        assert e.args[0] and e.args[1]
        return
    accepted = parsed.facts.num_rows
    assert accepted + parsed.rows_rejected + parsed.rows_superseded == parsed.rows_total
    assert parsed.facts.schema == _kernel.fact_schema()
    assert len(parsed.errors) <= 10 and len(parsed.warnings) <= 10


@SETTINGS
@given(
    payload=st.binary(max_size=4096),
    fmt=st.sampled_from(FORMATS),
    source=st.integers(0, len(SOURCES) - 1),
    compression=st.sampled_from(["none", "gzip"]),
)
def test_arbitrary_bytes(payload: bytes, fmt: str, source: int, compression: str) -> None:
    parse(payload, fmt, source, compression)
    try:
        header = _kernel.inspect_request(payload)
    except _kernel.PayloadError:
        return
    assert 0 <= header.offset <= header.offset + header.length <= len(payload)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str, str]:
    path = draw(st.sampled_from(SEEDS))
    data = bytearray(path.read_bytes())
    gz = path.suffix == ".gz"
    if gz and draw(st.booleans()):
        # Damage the text inside the gzip as well as the gzip itself.
        data = bytearray(gzip.decompress(bytes(data)))
        gz = False
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate", "duplicate"]))
        if op == "set" and data:
            data[at] = draw(st.sampled_from([0, 0x22, 0x2C, 0x0A, 0x7B, 0x5B, 0x5C, 0x80, 0xFF, 0x39]))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
    fmt = "csv" if ".csv" in path.name else "ndjson"
    return bytes(data), fmt, "gzip" if gz else "none"


@SETTINGS
@given(case=mutated(), source=st.integers(0, len(SOURCES) - 1), other_format=st.booleans())
def test_mutated_fixtures(case: tuple[bytes, str, str], source: int, other_format: bool) -> None:
    payload, fmt, compression = case
    parse(payload, "ndjson" if other_format and fmt == "csv" else fmt, source, compression)
