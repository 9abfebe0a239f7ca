"""Detection quality, through the real service: precision, recall and F1 of DetectAnomalies on
labelled incidents, top-1 accuracy of ExplainChange, and the recall of GenerateInsights' stories.

Each seed is an account of its own (a tenant) from the hard generator (`tests/support/addata.py`:
24 campaigns on four platforms, multiplicative heavy-tailed noise of 3-40 % per campaign,
negative-binomial counts, fractional conversions, tiny and big campaigns, launches, stops, budget
caps, holidays, lasting level shifts), with one incident of each kind injected into the last 56
days on five different campaigns of any size and noise, each in a slot of its own with a clean
week before it (so "which campaign broke" has one answer): a spend spike (traffic and cost
x2.5-4), a conversion-tracking break (conversions and revenue 0), a CPC surge (cost x1.8-2.6 at
the same clicks), a CTR collapse (clicks x0.2-0.4) and a revenue spike (x3-5), each lasting 1-4
days. The data goes in through the normal ingest API; the script then asks the server, as a user
would:

- DetectAnomalies by campaign over the last 56 days, for cost, conversions, CPC, CTR and revenue.
  A reported incident is a true positive when a labelled incident of its campaign overlaps its
  days (a spend spike moving revenue too is not a false alarm), else a false positive.
  A labelled incident is recalled when the detection of its own metric (cost, conversions, cpc,
  ctr, revenue respectively) reports an overlapping incident for its campaign.
- ExplainChange of that metric over the incident's days against the same weekdays before, by
  campaign: top-1 is right when the first contributor is the broken campaign.
- GenerateInsights with stories over the 56 days: a labelled incident is recalled when a story
  on the first page (the default 20) is about its campaign and overlaps its days. Merge quality:
  how many stories tell one labelled incident (1 when its metrics were merged into one
  incident), and how often the first one's lead (root) metric is the incident's own metric.

Results are split by incident kind and by the broken campaign's noise regime (steady < 8 %,
moderate 8-20 %, noisy > 20 % day-to-day).

Run: `.venv/bin/python bench/detection_quality.py [--seeds 20] [--sensitivity medium]`.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as pb
from tests.support import addata
from tests.support.server import running_server

END = dt.date(2026, 11, 15)
WINDOW_DAYS = 56
METRICS = ("cost", "conversions", "cpc", "ctr", "revenue")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    addata.dataset_arguments(parser)
    parser.add_argument("--sensitivity", default="medium", choices=("low", "medium", "high"))
    return parser.parse_args()


def overlaps(a: tuple[str, str], b: tuple[dt.date, dt.date]) -> bool:
    return a[0] <= b[1].isoformat() and a[1] >= b[0].isoformat()


def main() -> int:  # noqa: PLR0915 - one counter per reported figure
    args = parse_args()
    tp = fp = 0
    labelled: collections.Counter[tuple[str, str]] = collections.Counter()
    recalled: collections.Counter[tuple[str, str]] = collections.Counter()
    top1: collections.Counter[tuple[str, str]] = collections.Counter()
    in_stories: collections.Counter[tuple[str, str]] = collections.Counter()
    false_by_metric: collections.Counter[str] = collections.Counter()
    false_by_regime: collections.Counter[str] = collections.Counter()
    stories_per_problem: list[int] = []
    root_right = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            text, incidents, account = addata.dataset(
                seed, end=END, days=args.days, campaign_count=args.campaigns, incident_days=WINDOW_DAYS
            )
            regime = {c.campaign_id: c.regime for c in account.campaigns}
            with AdpulseClient(
                server.address, tenant=f"quality-{seed}", api_key=server.admin_key, timeout=300
            ) as client:
                path = Path(tmp) / f"seed-{seed}.csv"
                path.write_text(text)
                client.ingest_files([path])
                start = (END - dt.timedelta(days=WINDOW_DAYS - 1)).isoformat()
                found = {
                    metric: client.detect_anomalies(
                        metric=metric,
                        by=["campaign"],
                        start=start,
                        end=END.isoformat(),
                        sensitivity=args.sensitivity,
                    ).incidents
                    for metric in METRICS
                }
                for metric, reported in found.items():
                    for inc in reported:
                        days = (inc.start_date, inc.end_date)
                        hit = any(
                            i.campaign.campaign_id == inc.group.campaign_id
                            and overlaps(days, (i.start, i.end))
                            for i in incidents
                        )
                        tp, fp = tp + hit, fp + (not hit)
                        false_by_metric[metric] += not hit
                        false_by_regime[regime[inc.group.campaign_id]] += not hit
                stories = client.generate_insights(
                    start=start, end=END.isoformat(), sensitivity=args.sensitivity, stories=True
                ).stories
                for i in incidents:
                    metric = addata.PRIMARY_METRIC[i.kind]
                    key = (i.kind, i.campaign.regime)
                    labelled[key] += 1
                    recalled[key] += any(
                        inc.group.campaign_id == i.campaign.campaign_id
                        and overlaps((inc.start_date, inc.end_date), (i.start, i.end))
                        for inc in found[metric]
                    )
                    told = [
                        st
                        for st in stories
                        if st.incident.group.campaign_id == i.campaign.campaign_id
                        and overlaps((st.incident.start_date, st.incident.end_date), (i.start, i.end))
                    ]
                    in_stories[key] += bool(told)
                    if told:
                        stories_per_problem.append(len(told))
                        root_right += pb.Metric.Name(told[0].incident.metric) == f"METRIC_{metric.upper()}"
                    explained = client.explain_change(
                        metric=metric, start=i.start.isoformat(), end=i.end.isoformat(), by=["campaign"]
                    )
                    contributors = explained.dimensions[0].contributors if explained.dimensions else []
                    top1[key] += (
                        bool(contributors) and contributors[0].group.campaign_id == i.campaign.campaign_id
                    )
    n = sum(labelled.values())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = sum(recalled.values()) / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    elapsed = time.perf_counter() - started
    print(
        f"{args.seeds} seeds (from {args.first_seed}), {n} incidents, {args.campaigns} campaigns, "
        f"{args.days} days, sensitivity {args.sensitivity} ({elapsed:.0f} s)"
    )
    print(f"reported incidents: {tp + fp} ({tp} true, {fp} false)")
    print(f"false alarms by metric: {dict(false_by_metric)}; by regime: {dict(false_by_regime)}")

    def rows(title: str, part: int, names: list[str]) -> None:
        print(f"| {title} | labelled | detected | explain top-1 | in stories |")
        print("|---|---:|---:|---:|---:|")
        for name in names:
            keys = [k for k in labelled if k[part] == name]
            total = sum(labelled[k] for k in keys)
            if total:
                cells = [sum(c[k] for k in keys) / total for c in (recalled, top1, in_stories)]
                print(f"| {name} | {total} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")

    rows("incident (metric)", 0, list(addata.INCIDENT_KINDS))
    rows("noise regime", 1, [r[0] for r in addata.REGIMES])
    told = len(stories_per_problem)
    print(
        f"merge: {sum(stories_per_problem) / max(1, told):.2f} stories per incident told "
        f"({sum(n > 1 for n in stories_per_problem)} told more than once); "
        f"root metric right {root_right / max(1, told):.2f}"
    )
    print(
        f"precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  "
        f"explain top-1 {sum(top1.values()) / n:.3f}  story recall {sum(in_stories.values()) / n:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
