"""The Python SDK and CLI as a new user meets them: Arrow and Parquet input, the ingest report,
clear errors, --version (issue 16, item 6)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adpulse.client import AdpulseClient
from tests.e2e.test_cli import ADPULSE, adpulse
from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def _table(impressions: list[int]) -> pa.Table:
    n = len(impressions)
    return pa.table(
        {
            "date": [f"2026-03-{i + 1:02d}" for i in range(n)],
            "platform": ["google_ads"] * n,
            "account_id": ["a1"] * n,
            "campaign_id": ["c1"] * n,
            "campaign_name": ["Brand"] * n,
            "ad_group_id": ["g1"] * n,
            "ad_id": ["x1"] * n,
            "currency": ["EUR"] * n,
            "impressions": pa.array(impressions, pa.int64()),
            "clicks": pa.array([5] * n, pa.int64()),
            "cost_micros": pa.array([1_500_000] * n, pa.int64()),
            "conversions_micros": pa.array([0] * n, pa.int64()),
            "revenue_micros": pa.array([0] * n, pa.int64()),
        }
    )


def test_ingest_table_takes_pyarrow_and_pycapsule_tables(client: AdpulseClient) -> None:
    # clicks over impressions in row 3 is a warning; negative impressions in row 2 a rejection.
    table = _table([100, -1, 2, 100])

    report = client.ingest_table(table, batch_rows=2)

    assert (report.accepted, report.rejected, report.duplicates) == (3, 1, 0)
    assert [(e.file, e.line, e.field) for e in report.errors] == [("table", 2, "impressions")]
    again = client.ingest_table(table, batch_rows=2)
    assert (again.accepted, again.rejected, again.duplicates) == (0, 1, 3)
    # A polars DataFrame (PyCapsule) encodes strings otherwise: other batches, the same rows.
    polars = client.ingest_table(pl.from_arrow(table), name="frame")
    assert (polars.accepted, polars.rejected) == (3, 1)
    assert [(e.file, e.line) for e in polars.errors] == [("frame", 2)]
    assert client.query_metrics().totals.impressions == 202


def test_ingest_table_refuses_what_is_not_arrow(client: AdpulseClient) -> None:
    with pytest.raises(TypeError, match="neither a pyarrow Table nor an Arrow stream"):
        client.ingest_table([{"date": "2026-03-01"}])


def test_cli_ingests_parquet_and_arrow_files(server: ServerProcess, tenant: str, tmp_path: Path) -> None:
    parquet, ipc = tmp_path / "facts.parquet", tmp_path / "facts.arrow"
    pq.write_table(_table([10, 20, 30]), parquet, row_group_size=2)
    with pa.ipc.new_file(ipc, _table([40]).schema) as writer:
        writer.write_table(_table([40]).set_column(0, "date", pa.array(["2026-04-01"])))

    out = adpulse(server, tenant, "ingest", str(parquet), str(ipc), "--json")

    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"accepted": 4, "rejected": 0, "duplicates": 0, "errors": []}
    text = adpulse(server, tenant, "ingest", str(parquet))
    assert "rows: 0 new, 3 duplicate (stored before), 0 rejected" in text.stdout


def test_cli_errors_say_what_is_wrong(server: ServerProcess, tenant: str, tmp_path: Path) -> None:
    missing = adpulse(server, tenant, "ingest", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"adpulse: No such file or directory: {tmp_path / 'nope.csv'}"

    unknown = adpulse(server, tenant, "kpis", "--by", "campain")
    assert unknown.returncode == 2 and "invalid choice: 'campain'" in unknown.stderr
    assert "campaign" in unknown.stderr

    version = subprocess.run([ADPULSE, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("adpulse 0.")
