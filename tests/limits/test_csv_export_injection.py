"""CSV exports follow OWASP's CSV injection rule: a text cell a spreadsheet would run as a
formula (starting with =, +, -, @, tab or carriage return) is written behind a single quote;
numbers, negative ones included, are written as they are."""

from __future__ import annotations

import csv
import io

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import operation_pb2 as opb
from tests.support.facts import to_csv

HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"]


def test_formula_cells_are_quoted_in_csv_exports(client: AdpulseClient) -> None:
    rows = [
        [
            "2026-03-02",
            "meta_ads",
            "a1",
            campaign,
            f"name {campaign}",
            "g1",
            "x1",
            "USD",
            "10",
            "1",
            "9",
            "0",
            "1",
        ]
        for campaign in [*HOSTILE, "plain"]
    ]
    rows.append(
        [
            "2026-03-02",
            "meta_ads",
            "a1",
            "named",
            "=cmd|' /C calc'!A0",
            "g1",
            "x1",
            "USD",
            "1",
            "0",
            "0",
            "0",
            "0",
        ]
    )
    (ack,) = client.ingest(
        [
            ipb.IngestBatch(
                batch_id="b", text=ipb.TextPayload(format=ipb.TEXT_FORMAT_CSV, data=to_csv(rows).encode())
            )
        ]
    )
    assert ack.accepted == len(rows)

    request = apb.ExportMetricsRequest(dimensions=[apb.DIMENSION_CAMPAIGN], format=opb.EXPORT_FORMAT_CSV)
    done = client.wait_operation(client.export_metrics(request).name)
    assert done.state == "succeeded", done
    exported = list(csv.DictReader(io.StringIO(b"".join(client.download_export(done.name)).decode())))

    campaigns = {r["campaign_id"] for r in exported}
    assert campaigns == {"'" + c for c in HOSTILE} | {"plain", "named"}
    names = {r["campaign_id"]: r.get("campaign_name") for r in exported}
    if names["named"] is not None:
        assert names["named"] == "'=cmd|' /C calc'!A0"
    # A negative ROI (revenue below cost) is a number, and stays one.
    roi = [float(r["roi"]) for r in exported if r["campaign_id"] == "plain"]
    assert roi == [-8 / 9]
