"""`adpulse trends | anomalies | explain | insights | budget | demo-data`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from adpulse.cli import plot
from adpulse.cli.query_cmd import add_by, parse_filters
from adpulse.cli.render import message_json, percent_text, table, to_json
from adpulse.client import AdpulseClient, demo
from adpulse.client.analytics_calls import (
    DIMENSIONS,
    GRANULARITIES,
    INSIGHT_STATUSES,
    METHODS,
    METRICS,
    SENSITIVITIES,
)
from adpulse.v1 import analytics_service_pb2 as pb

_SEVERITY = {1: "low", 2: "medium", 3: "high", 4: "critical"}
_MICROS = Decimal(1_000_000)


def register(commands: Any) -> None:
    """Registers the analytics commands."""
    trends = commands.add_parser("trends", help="metrics as time series per group")
    trends.add_argument(
        "--metric", action="append", required=True, choices=sorted(METRICS), help="repeatable"
    )
    _by(trends)
    trends.add_argument("--granularity", default="day", choices=sorted(GRANULARITIES))
    trends.add_argument(
        "--moving-average", type=int, default=0, metavar="N", help="buckets in a moving average"
    )
    trends.add_argument("--limit", type=int, default=20, help="at most this many series (largest first)")
    trends.add_argument("--plot", type=Path, metavar="PNG", help="also draw the series into this PNG")
    _common(trends)

    anomalies = commands.add_parser("anomalies", help="days outside the range their history predicts")
    anomalies.add_argument("--metric", required=True, choices=sorted(METRICS))
    _by(anomalies)
    anomalies.add_argument("--method", default="auto", choices=sorted(METHODS))
    anomalies.add_argument("--sensitivity", default="medium", choices=sorted(SENSITIVITIES))
    anomalies.add_argument(
        "--window", type=int, default=0, metavar="DAYS", help="trailing window (default 28)"
    )
    anomalies.add_argument(
        "--plot", type=Path, metavar="PNG", help="draw series, bands and anomalies into a PNG"
    )
    _common(anomalies)

    explain = commands.add_parser("explain", help="which slices explain a metric's change")
    explain.add_argument("--metric", required=True, choices=sorted(METRICS))
    _by(explain)
    explain.add_argument("--baseline-from", default="", metavar="DATE", help="default: same weekdays before")
    explain.add_argument("--baseline-to", default="", metavar="DATE")
    explain.add_argument("--top", type=int, default=5, help="contributors per dimension")
    _common(explain)

    insights = commands.add_parser("insights", help="find, rank and store insights (or list/update them)")
    insights.add_argument("--stories", action="store_true", help="each incident's explanation and action")
    insights.add_argument("--sensitivity", default="medium", choices=sorted(SENSITIVITIES))
    insights.add_argument("--max-shift", type=float, help="budget moves: largest share of a campaign's spend")
    insights.add_argument("--stored", action="store_true", help="list stored insights instead of generating")
    insights.add_argument("--status", action="append", default=[], choices=sorted(INSIGHT_STATUSES))
    insights.add_argument(
        "--set-status", nargs=2, metavar=("NAME", "STATUS"), help="e.g. insights/ab12 dismissed"
    )
    insights.add_argument("--feedback", help="with --set-status: a note about the insight")
    _common(insights)

    budget = commands.add_parser("budget", help="set a campaign's monthly budget")
    budget.add_argument("platform")
    budget.add_argument("account_id")
    budget.add_argument("campaign_id")
    budget.add_argument("--month", required=True, help="YYYY-MM")
    budget.add_argument("--amount", required=True, type=Decimal, help="in currency units")
    budget.add_argument("--currency", required=True)
    budget.add_argument("--json", action="store_true", help="print one JSON object")

    sample = commands.add_parser("demo-data", help="load a realistic multi-platform demo account")
    sample.add_argument("--days", type=int, default=120)
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--end", default="", metavar="DATE", help="last day (default yesterday, UTC)")
    sample.add_argument("--json", action="store_true", help="print one JSON object")
    for command in (trends, anomalies, explain, insights, budget, sample):
        command.set_defaults(run=run, needs_client=True)


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--from", dest="start", default="", metavar="DATE", help="first date, YYYY-MM-DD")
    command.add_argument("--to", dest="end", default="", metavar="DATE", help="last date, YYYY-MM-DD")
    command.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="DIM=V1,V2",
        help="keep only these values (repeatable)",
    )
    command.add_argument("--json", action="store_true", help="print one JSON object")


def _by(command: argparse.ArgumentParser) -> None:
    add_by(command, set(DIMENSIONS) - {"date"})


def run(client: AdpulseClient, args: argparse.Namespace) -> int:
    handler = {
        "trends": _trends,
        "anomalies": _anomalies,
        "explain": _explain,
        "insights": _insights,
        "budget": _budget,
        "demo-data": _demo,
    }[args.command]
    try:
        return handler(client, args, parse_filters(getattr(args, "filter", [])))
    except plot.PlotUnavailable as err:
        return _fail(str(err))


def _value(wrapper_owner: Any, field: str) -> float | None:
    return getattr(wrapper_owner, field).value if wrapper_owner.HasField(field) else None


def _group(group: pb.GroupKey) -> str:
    return plot.label(group)


def _trends(client: AdpulseClient, args: argparse.Namespace, filters: dict[str, list[str]]) -> int:
    response = client.get_trends(
        metrics=args.metric,
        by=args.by,
        start=args.start,
        end=args.end,
        granularity=args.granularity,
        filters=filters,
        moving_average=args.moving_average,
        limit=args.limit,
    )
    headers = ["series", "date", *(h for m in args.metric for h in (m, f"{m} vs prev", f"{m} vs yr ago"))]
    rows = []
    for series in response.series:
        for point in series.points:
            cells: list[object] = [_group(series.group), point.date + ("*" if point.partial else "")]
            for v in point.values:
                cells += [_value(v, "value"), _percent(_value(v, "change_vs_previous"))]
                cells.append(_percent(_value(v, "change_vs_year_ago")))
            rows.append(cells)
    return _show(
        args,
        message_json(response),
        lambda png: plot.trends(response, args.metric, png),
        table(headers, rows),
    )


def _show(args: argparse.Namespace, document: dict[str, Any], draw: Callable[[Path], None], text: str) -> int:
    """Draws the plot if asked, then prints the JSON document or the text."""
    if args.plot:
        draw(args.plot)
    if args.json:
        print(to_json(document))
        return 0
    print(text)
    if args.plot:
        print(f"plot written to {args.plot}")
    return 0


def _percent(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:+,.2f}%"


def _anomalies(client: AdpulseClient, args: argparse.Namespace, filters: dict[str, list[str]]) -> int:
    response = client.detect_anomalies(
        metric=args.metric,
        by=args.by,
        start=args.start,
        end=args.end,
        filters=filters,
        method=args.method,
        sensitivity=args.sensitivity,
        window_days=args.window,
        include_series=args.plot is not None,
    )
    document = message_json(response)
    document.pop("series", None)  # asked for the plot, not for the output
    found = len(response.incidents)
    heading = f"{args.metric} from {response.start_date} to {response.end_date}: {found} incident(s)"
    rows = [
        [
            _group(i.group),
            i.start_date,
            i.end_date,
            pb.Direction.Name(i.direction).removeprefix("DIRECTION_").lower(),
            _value(i, "observed"),
            _value(i, "expected"),
            _value(i, "peak_score"),
            _SEVERITY.get(i.severity, ""),
            pb.AnomalyMethod.Name(i.method).removeprefix("ANOMALY_METHOD_").lower(),
            "yes" if i.provisional else "",
        ]
        for i in response.incidents
    ]
    headers = [
        "group",
        "from",
        "to",
        "dir",
        "observed",
        "expected",
        "score",
        "severity",
        "method",
        "provisional",
    ]
    text = f"{heading}\n{table(headers, rows)}"
    return _show(args, document, lambda png: plot.anomalies(response, args.metric, png), text)


def _explain(client: AdpulseClient, args: argparse.Namespace, filters: dict[str, list[str]]) -> int:
    if not (args.start and args.end):
        raise SystemExit("adpulse: explain needs --from and --to (the current period)")
    response = client.explain_change(
        metric=args.metric,
        start=args.start,
        end=args.end,
        baseline_start=args.baseline_from,
        baseline_end=args.baseline_to,
        by=args.by,
        filters=filters,
        max_contributors=args.top,
    )
    if args.json:
        print(to_json(message_json(response)))
        return 0
    change = _value(response, "change")
    relative = _percent(_value(response, "relative_change")) or ""
    print(
        f"{args.metric}: {_num(_value(response, 'baseline'))} ({response.baseline_start_date} to "
        f"{response.baseline_end_date}) -> {_num(_value(response, 'current'))} "
        f"({response.current_start_date} to {response.current_end_date}), change {_num(change)} {relative}"
    )
    for dim in response.dimensions:
        name = pb.Dimension.Name(dim.dimension).removeprefix("DIMENSION_").lower()
        power = _value(dim, "explanatory_power")
        print(f"\nby {name} (explains {percent_text(power)} of it)" if power is not None else f"\nby {name}")
        rows = [
            [
                _group(c.group),
                _value(c, "baseline"),
                _value(c, "current"),
                _value(c, "contribution"),
                _percent(_value(c, "share_of_change")),
                _value(c, "rate_effect"),
                _value(c, "mix_effect"),
                pb.SliceStatus.Name(c.status).removeprefix("SLICE_STATUS_").lower(),
            ]
            for c in dim.contributors
        ]
        print(table(["slice", "baseline", "current", "contribution", "share", "rate", "mix", "status"], rows))
    return 0


def _num(value: float | None) -> str:
    return "undefined" if value is None else f"{value:,.4g}"


def _insights(client: AdpulseClient, args: argparse.Namespace, filters: dict[str, list[str]]) -> int:
    if args.set_status:
        name, status = args.set_status
        if status not in INSIGHT_STATUSES:
            raise SystemExit(f"adpulse: status must be one of {sorted(INSIGHT_STATUSES)}")
        updated = client.update_insight(name, status=status, feedback=args.feedback)
        print(to_json(message_json(updated)) if args.json else f"{updated.name}: {status}")
        return 0
    if args.stored:
        found = client.list_insights(statuses=args.status)
        stories: list[pb.Story] = []
    else:
        response = client.generate_insights(
            start=args.start,
            end=args.end,
            filters=filters,
            sensitivity=args.sensitivity,
            max_shift=args.max_shift,
            stories=args.stories,
        )
        found, stories = list(response.insights), list(response.stories)
    if args.json:
        print(
            to_json(
                {"insights": [message_json(i) for i in found], "stories": [message_json(s) for s in stories]}
            )
        )
        return 0
    rows = [
        [
            i + 1,
            _SEVERITY.get(insight.severity, ""),
            pb.InsightType.Name(insight.type).removeprefix("INSIGHT_TYPE_").lower(),
            insight.title,
            Decimal(insight.impact_micros.value) / _MICROS if insight.HasField("impact_micros") else None,
            insight.currency,
            insight.name,
        ]
        for i, insight in enumerate(found)
    ]
    print(table(["#", "severity", "type", "title", "impact", "cur", "name"], rows))
    for insight in found[:5]:
        print(f"\n{insight.title}\n  {insight.body}\n  -> {insight.recommended_action}")
    for story in stories:
        lead = story.incident
        print(f"\nstory {story.insight}: {_group(lead.group)} {lead.start_date}..{lead.end_date}")
        for dim in story.explanation.dimensions[:1]:
            for c in dim.contributors[:3]:
                share = _percent(_value(c, "share_of_change"))
                print(f"  {_group(c.group)}: {_num(_value(c, 'contribution'))} ({share or 'n/a'})")
        print(f"  -> {story.recommended_action}")
    return 0


def _budget(client: AdpulseClient, args: argparse.Namespace, filters: dict[str, list[str]]) -> int:
    budget = client.set_budget(
        platform=args.platform,
        account_id=args.account_id,
        campaign_id=args.campaign_id,
        month=args.month,
        amount_micros=int(args.amount * _MICROS),
        currency=args.currency,
    )
    print(to_json(message_json(budget)) if args.json else f"budget set: {budget.campaign_id} {budget.month}")
    return 0


def _demo(client: AdpulseClient, args: argparse.Namespace, filters: dict[str, list[str]]) -> int:
    end = (
        dt.date.fromisoformat(args.end) if args.end else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    )
    text, incidents = demo.dataset(args.seed, end=end, days=args.days)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.csv"
        path.write_text(text)
        report = client.ingest_files([path])
    # A budget for two campaigns this month, one generous and one tight, so pacing has a story.
    month = end.replace(day=1)
    spent = _month_spend(text, month, end)
    for (platform, account, campaign), cost in sorted(spent.items())[:2]:
        days = (end - month).days + 1
        scale = Decimal("0.7") if campaign.endswith("1") else Decimal("1.6")
        monthly = cost / days * 30 * scale
        client.set_budget(
            platform=platform,
            account_id=account,
            campaign_id=campaign,
            month=month.strftime("%Y-%m"),
            amount_micros=int(monthly * _MICROS),
            currency="USD",
        )
    summary = {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "incidents": [
            {
                "kind": i.kind,
                "campaign": i.campaign.campaign_id,
                "start": i.start.isoformat(),
                "end": i.end.isoformat(),
            }
            for i in incidents
        ],
    }
    if args.json:
        print(to_json(summary))
    else:
        print(f"demo account loaded: {report.accepted:,} rows ({report.duplicates:,} already there)")
        print("injected incidents (try `adpulse insights --stories`):")
        for i in incidents:
            print(f"  {i.kind:<15} {i.campaign.name} ({i.campaign.platform}) {i.start} to {i.end}")
    return 0


def _month_spend(text: str, month: dt.date, end: dt.date) -> dict[tuple[str, str, str], Decimal]:
    spent: dict[tuple[str, str, str], Decimal] = {}
    for line in text.splitlines()[1:]:
        cells = line.split(",")
        if month.isoformat() <= cells[0] <= end.isoformat():
            key = (cells[1], cells[2], cells[3])
            spent[key] = spent.get(key, Decimal(0)) + Decimal(cells[10])
    return spent


def _fail(message: str) -> int:
    print(f"adpulse: {message}", file=sys.stderr)
    return 1


__all__: Sequence[str] = ("register", "run")
