"""PNG charts of trends and anomalies. matplotlib is optional: the client does not need it, and
the commands say how to get it when it is missing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adpulse.v1 import analytics_service_pb2 as pb

MAX_SERIES = 8


class PlotUnavailable(Exception):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable(
            "--plot needs matplotlib, which the client does not install by itself: pip install matplotlib"
        ) from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def _dates(values: Sequence[str]) -> list[dt.date]:
    return [dt.date.fromisoformat(v) for v in values]


def label(group: pb.GroupKey) -> str:
    parts = [group.campaign_name or group.campaign_id, group.ad_group_id, group.ad_id]
    text = " / ".join(p for p in parts if p) or group.account_id or group.platform or "all"
    return f"{group.platform}: {text}" if group.platform and text != group.platform else text


def trends(response: pb.GetTrendsResponse, metric_names: Sequence[str], path: Path) -> None:
    """One panel per metric; a line per series (the largest first), dashed moving averages."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(metric_names), 1, figsize=(11, 3.2 * len(metric_names)), squeeze=False)
    for m, (name, ax) in enumerate(zip(metric_names, axes[:, 0], strict=True)):
        for series in response.series[:MAX_SERIES]:
            dates = _dates([p.date for p in series.points])
            values = [
                p.values[m].value.value if p.values[m].HasField("value") else None for p in series.points
            ]
            (line,) = ax.plot(
                dates, values, marker="o", markersize=2.5, linewidth=1.4, label=label(series.group)
            )
            if any(p.values[m].HasField("moving_average") for p in series.points):
                averages = [
                    p.values[m].moving_average.value if p.values[m].HasField("moving_average") else None
                    for p in series.points
                ]
                ax.plot(dates, averages, linestyle="--", linewidth=1.0, color=line.get_color(), alpha=0.8)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 0].legend(handles, labels, fontsize=8, loc="upper left", ncol=2)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def anomalies(response: pb.DetectAnomaliesResponse, metric_name: str, path: Path) -> None:
    """One panel per series with an anomaly (up to eight): the values, the expected line, the band
    shaded, anomalies as red points (hollow when provisional)."""
    plt = _pyplot()
    flagged = [s for s in response.series if any(p.anomaly for p in s.points)][:MAX_SERIES]
    shown = flagged or list(response.series[:1])
    if not shown:
        raise PlotUnavailable("nothing to plot: no series in the range")
    fig, axes = plt.subplots(len(shown), 1, figsize=(11, 3.0 * len(shown)), squeeze=False)
    for series, ax in zip(shown, axes[:, 0], strict=True):
        points = list(series.points)
        dates = _dates([p.date for p in points])

        def values(field: str, points: list[Any] = points) -> list[float | None]:
            return [getattr(p, field).value if p.HasField(field) else None for p in points]

        lower, upper = values("lower_bound"), values("upper_bound")
        band = [
            i
            for i, (lo, hi) in enumerate(zip(lower, upper, strict=True))
            if lo is not None and hi is not None
        ]
        ax.fill_between(
            [dates[i] for i in band],
            [lower[i] for i in band],
            [upper[i] for i in band],
            color="tab:blue",
            alpha=0.15,
            label="expected range",
        )
        ax.plot(dates, values("expected"), color="tab:blue", linestyle="--", linewidth=1.0, label="expected")
        ax.plot(
            dates,
            values("observed"),
            color="black",
            linewidth=1.3,
            marker="o",
            markersize=2.5,
            label="observed",
        )
        for provisional, face in ((False, "tab:red"), (True, "none")):
            hits = [p for p in points if p.anomaly and p.provisional == provisional]
            if hits:
                ax.scatter(
                    _dates([p.date for p in hits]),
                    [p.observed.value for p in hits],
                    s=60,
                    facecolors=face,
                    edgecolors="tab:red",
                    zorder=3,
                    label="anomaly (provisional)" if provisional else "anomaly",
                )
        ax.set_title(f"{metric_name} — {label(series.group)}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
