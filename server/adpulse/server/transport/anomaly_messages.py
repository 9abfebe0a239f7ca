"""DetectAnomalies' answer built column by column from the kernel's tables.

A detection by campaign over a year answers some 10^5 anomalies and incidents (or 10^6 series
points); `json_format.ParseDict` of one `evidence` document per row costs ~250 µs, this ~10 µs.
The messages are the same as parsing `evidence.anomaly_json` / `incident_json` / `point_json`
(tests/transport/test_anomaly_messages.py holds them equal), which stay the one shape stored
insights keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from adpulse.server.domain import evidence
from adpulse.server.domain.analytics import AnomalyMethod, Metric
from adpulse.v1 import analytics_service_pb2 as pb

_DIRECTIONS = {"up": pb.DIRECTION_UP, "down": pb.DIRECTION_DOWN}
_SEVERITIES = {level: pb.Severity.Value(name) for level, name in evidence.SEVERITY_NAMES.items()}
_METHODS = {m.value: pb.AnomalyMethod.Value(f"ANOMALY_METHOD_{m.name}") for m in AnomalyMethod}
_GROUP_FIELDS = (*evidence.GROUP_FIELDS, "currency")
# A judged day's DoubleValue fields and the kernel's columns of them.
_BAND = {
    "observed": "observed",
    "expected": "expected",
    "lower_bound": "lower",
    "upper_bound": "upper",
    "score": "score",
}


def _column(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows


def _dates(table: pa.Table, name: str) -> list[str]:
    return table.column(name).cast(pa.string()).to_pylist()  # type: ignore[no-any-return]


def _groups(table: pa.Table) -> list[pb.GroupKey]:
    """The group of every row; rows of one group share one message (the kernel lists a group's
    rows together, and a field repeats its message by copying it)."""
    columns = [(field, _column(table, field)) for field in _GROUP_FIELDS]
    made: dict[tuple[Any, ...], pb.GroupKey] = {}
    out = []
    for i in range(table.num_rows):
        key = tuple(values[i] for _, values in columns)
        group = made.get(key)
        if group is None:
            group = made[key] = pb.GroupKey(**{f: v for (f, _), v in zip(columns, key, strict=True) if v})
        out.append(group)
    return out


def _wrapped(table: pa.Table, fields: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Per row, the DoubleValue fields (message field → column) that are not null."""
    columns = [(field, _column(table, column)) for field, column in fields.items()]
    for i in range(table.num_rows):
        yield {field: {"value": values[i]} for field, values in columns if values[i] is not None}


def _judgement(table: pa.Table) -> Iterator[tuple[Any, Any, Any, bool]]:
    """Per row: direction, severity, method and provisional as the enums' numbers."""
    for direction, severity, method, provisional in zip(
        _column(table, "direction"),
        _column(table, "severity"),
        _column(table, "method"),
        _column(table, "provisional"),
        strict=True,
    ):
        yield (
            _DIRECTIONS.get(direction or "", pb.DIRECTION_UNSPECIFIED),
            _SEVERITIES.get(severity or 0, pb.SEVERITY_UNSPECIFIED),
            _METHODS[method] if method else pb.ANOMALY_METHOD_UNSPECIFIED,
            bool(provisional),
        )


def anomalies(table: pa.Table) -> list[pb.Anomaly]:
    values = _wrapped(table, _BAND)
    return [
        pb.Anomaly(date=date, group=group, direction=d, severity=s, method=m, provisional=p, **wrapped)
        for date, group, (d, s, m, p), wrapped in zip(
            _dates(table, "date"), _groups(table), _judgement(table), values, strict=True
        )
    ]


def incidents(table: pa.Table, metric: Metric) -> list[pb.AnomalyIncident]:
    values = _wrapped(table, {f: f for f in ("observed", "expected", "peak_score", "confidence")})
    metric_number = pb.Metric.Value(evidence.metric_name(metric))
    return [
        pb.AnomalyIncident(
            group=group,
            start_date=first,
            end_date=last,
            days=days,
            direction=d,
            severity=s,
            method=m,
            provisional=p,
            metric=metric_number,
            **wrapped,
        )
        for group, first, last, days, (d, s, m, p), wrapped in zip(
            _groups(table),
            _dates(table, "start"),
            _dates(table, "end"),
            _column(table, "days"),
            _judgement(table),
            values,
            strict=True,
        )
    ]


def series(points: pa.Table) -> list[pb.AnomalySeries]:
    """Every judged day, one series per group in the order groups first appear."""
    values = _wrapped(points, _BAND)
    out: dict[int, pb.AnomalySeries] = {}
    for date, group, anomaly, provisional, wrapped in zip(
        _dates(points, "date"),
        _groups(points),
        _column(points, "anomaly"),
        _column(points, "provisional"),
        values,
        strict=True,
    ):
        found = out.get(id(group))
        if found is None:
            found = out[id(group)] = pb.AnomalySeries(group=group)
        found.points.add(date=date, anomaly=bool(anomaly), provisional=bool(provisional), **wrapped)
    return list(out.values())
