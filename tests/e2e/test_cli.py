"""The `adpulse` command line against the real server, in both output modes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.facts import to_csv
from tests.support.server import ServerProcess

ADPULSE = str(Path(sys.executable).parent / "adpulse")
ROWS = [
    [
        "2026-03-01",
        "google_ads",
        "a1",
        "c1",
        "Brand",
        "g1",
        "ad1",
        "EUR",
        "1000",
        "50",
        "25.00",
        "5",
        "125.50",
    ],
    ["2026-03-02", "google_ads", "a1", "c1", "Brand", "g1", "ad1", "EUR", "1000", "30", "15.00", "0", "0"],
    ["2026-03-01", "meta_ads", "a2", "c2", "Retarget", "s1", "ad2", "EUR", "500", "0", "10.00", "0", "0"],
    ["2026-03-31", "meta_ads", "a2", "c2", "Retarget", "s1", "ad2", "EUR", "nope", "1", "1.00", "0", "0"],
]


def adpulse(server: ServerProcess, tenant: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ADPULSE, "--target", server.address, "--api-key", server.admin_key, "--tenant", tenant, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ingest_and_kpis_json(server: ServerProcess, tenant: str, tmp_path: Path) -> None:
    path = tmp_path / "campaign_export.csv"
    path.write_text(to_csv(ROWS))

    out = adpulse(server, tenant, "ingest", str(path), "--source", "generic", "--json")

    assert out.returncode == 2, out.stderr  # finished, with rejected rows
    assert json.loads(out.stdout) == {
        "accepted": 3,
        "rejected": 1,
        "duplicates": 0,
        "errors": [
            {"line": 5, "field": "impressions", "reason": json.loads(out.stdout)["errors"][0]["reason"]}
        ],
    }

    out = adpulse(
        server, tenant, "kpis", "--by", "platform", "--from", "2026-03-01", "--to", "2026-03-31", "--json"
    )

    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    google, meta = sorted(body["rows"], key=lambda r: r["platform"])
    assert google == {
        "platform": "google_ads",
        "currency": "EUR",
        "impressions": 2000,
        "clicks": 80,
        "cost": "40.00",
        "conversions": 5.0,
        "revenue": "125.50",
        "ctr": 0.04,
        "cpc": 0.5,
        "cpm": 20.0,
        "cvr": 0.0625,
        "cpa": 8.0,
        "roas": 3.1375,
        "roi": 2.1375,
    }
    assert meta["clicks"] == 0 and meta["ctr"] == 0.0
    assert meta["cpc"] is None and meta["cvr"] is None and meta["cpa"] is None
    assert body["totals"]["cost"] == "50.00" and body["totals"]["impressions"] == 2500


def test_readable_tables_and_clean_errors(server: ServerProcess, tenant: str, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(to_csv(ROWS[:3]))
    assert adpulse(server, tenant, "ingest", str(path)).returncode == 0

    out = adpulse(server, tenant, "kpis", "--by", "campaign", "date", "--granularity", "month")
    assert out.returncode == 0, out.stderr
    header, _rule, *rows = out.stdout.splitlines()
    assert header.split()[:6] == ["platform", "account", "campaign", "campaign_name", "date", "currency"]
    assert len(rows) == 3 and rows[-1].startswith("total")

    bad = adpulse(server, tenant, "kpis", "--from", "2026-02-30")
    assert bad.returncode == 1
    assert "INVALID_ARGUMENT" in bad.stderr and "start_date" in bad.stderr
    assert "Traceback" not in bad.stderr

    missing = adpulse(server, tenant, "ingest", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def test_analytics_commands_print_tables_json_and_plots(
    server: ServerProcess, tenant: str, tmp_path: Path
) -> None:
    out = adpulse(server, tenant, "demo-data", "--days", "70", "--json")
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert loaded["accepted"] > 0 and len(loaded["incidents"]) == 5

    png = tmp_path / "trends.png"
    out = adpulse(server, tenant, "trends", "--metric", "cost", "--metric", "ctr", "--by", "platform",
                  "--granularity", "week", "--plot", str(png))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "meta_ads" in out.stdout and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    out = adpulse(server, tenant, "anomalies", "--metric", "conversions", "--by", "campaign", "--json")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["metric"] == "METRIC_CONVERSIONS" and "incidents" in found
    png = tmp_path / "anomalies.png"
    out = adpulse(server, tenant, "anomalies", "--metric", "cost", "--by", "platform", "--plot", str(png))
    assert out.returncode == 0 and png.stat().st_size > 10_000, out.stderr

    broken = next(i for i in loaded["incidents"] if i["kind"] == "cpc_surge")
    period = ["--from", broken["start"], "--to", broken["end"]]
    out = adpulse(server, tenant, "explain", "--metric", "cpc", *period, "--by", "campaign")
    assert out.returncode == 0, out.stderr
    assert "by campaign" in out.stdout and "rate" in out.stdout

    out = adpulse(server, tenant, "insights", "--stories")
    assert out.returncode == 0, out.stderr
    assert "severity" in out.stdout and "->" in out.stdout
    out = adpulse(server, tenant, "insights", "--stored", "--json")
    names = [i["name"] for i in json.loads(out.stdout)["insights"]]
    out = adpulse(server, tenant, "insights", "--set-status", names[0], "dismissed")
    assert out.returncode == 0 and "dismissed" in out.stdout, out.stderr
    out = adpulse(server, tenant, "insights", "--stored", "--status", "dismissed", "--json")
    assert [i["name"] for i in json.loads(out.stdout)["insights"]] == [names[0]]


def test_a_bad_analytics_request_exits_1_naming_the_field(server: ServerProcess, tenant: str) -> None:
    out = adpulse(server, tenant, "anomalies", "--metric", "clicks", "--window", "3")
    assert out.returncode == 1
    assert "INVALID_ARGUMENT" in out.stderr and "window_days" in out.stderr
