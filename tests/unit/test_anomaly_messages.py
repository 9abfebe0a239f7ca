"""DetectAnomalies' column-built messages equal the `evidence` documents parsed one by one."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import json_format

from adpulse import _kernel
from adpulse.server.domain import evidence
from adpulse.server.domain.analytics import Metric
from adpulse.server.transport import anomaly_messages
from adpulse.v1 import analytics_service_pb2 as pb

FIRST = dt.date(2025, 1, 1)
DAYS = 90
MEASURES = ("impressions", "clicks", "cost_micros", "conversions_micros", "revenue_micros")


def _sums() -> pa.Table:
    """Three campaigns (one in two currencies, one starting late) with spikes and drops."""
    rng = random.Random(7)
    columns = ("platform", "account_id", "campaign_id", "campaign_name", "date", "currency")
    rows: dict[str, list[object]] = {c: [] for c in (*columns, *MEASURES)}
    for c in range(3):
        for d in range(20 * (c == 2), DAYS):
            level = 1_000 * (5 if d in (50, 51, 70) else 0.2 if d == 80 else 1)
            for currency in ("USD", "EUR") if c == 1 and d % 9 == 0 else ("USD",):
                name = f"Campaign {c}" if c else ""
                keys = ("meta_ads", "acct-1", f"cmp-{c}", name, FIRST + dt.timedelta(d), currency)
                clicks = int(level * rng.uniform(0.8, 1.2))
                sums = (clicks * 20, clicks, clicks * 1_000_000, clicks * 30_000, clicks * 2_000_000)
                for col, value in zip(rows, (*keys, *sums), strict=True):
                    rows[col].append(value)
    table = pa.table(rows)
    return table.set_column(4, "date", pc.cast(table["date"], pa.date32()))


def test_messages_equal_the_parsed_evidence_documents() -> None:
    keys = ["platform", "account_id", "campaign_id"]
    points, incidents = _kernel.detect_anomalies(
        _sums(),
        keys,
        "cost",
        FIRST + dt.timedelta(30),
        FIRST + dt.timedelta(DAYS - 1),
        all_points=True,
        carry=["campaign_name"],
        default_provisional_from=FIRST + dt.timedelta(85),
    )
    incidents = incidents.append_column("confidence", pa.array([0.5] * incidents.num_rows, pa.float64()))
    anomalies = points.filter(points["anomaly"])
    assert anomalies.num_rows and incidents.num_rows and points.num_rows > anomalies.num_rows

    assert anomaly_messages.anomalies(anomalies) == [
        json_format.ParseDict(evidence.anomaly_json(r), pb.Anomaly()) for r in anomalies.to_pylist()
    ]
    assert anomaly_messages.incidents(incidents, Metric.COST) == [
        json_format.ParseDict(evidence.incident_json(r, Metric.COST), pb.AnomalyIncident())
        for r in incidents.to_pylist()
    ]
    series: dict[tuple[object, ...], pb.AnomalySeries] = {}
    for row in points.to_pylist():
        group = evidence.group_json(row)
        found = series.setdefault(tuple(sorted(group.items())), pb.AnomalySeries(group=pb.GroupKey(**group)))
        found.points.append(json_format.ParseDict(evidence.point_json(row), pb.SeriesPoint()))
    assert anomaly_messages.series(points) == list(series.values())
