"""False alarms of anomaly detection on incident-free data, per sensitivity, metric and noise
regime: the budget each sensitivity promises (README, "Anomaly detection").

Each seed is an account of the hard generator (`tests/support/addata.py`: 24 campaigns over four
platforms, 120 days, multiplicative heavy-tailed noise of 3-40 % per campaign, negative-binomial
counts, fractional conversions, launches, stops, budget caps, holidays, lasting level shifts)
with no incident in it. Its daily sums by campaign go to the kernel's detection as the server
sends them (`method=auto`, the options of `Sensitivity`, a 28-day window), judging every day
of every campaign from its first day of data on, so the cold start is judged too. Every incident
reported is false. The rate is false incidents per 100 campaign-months per metric, where a
campaign-month is 30.44 judged (live) days of one campaign.

Thresholds were calibrated on seeds 0-99 (`--first-seed 0 --seeds 100`); report on others
(default: 1000-1049). `--thresholds 5,6,7` prints the rates those thresholds would give instead,
for calibration, and `--set k=v,...` those of medium's options so changed (as in
`bench/detection_kernel.py`).

Run: `.venv/bin/python bench/false_alarms.py [--seeds 50] [--first-seed 1000]`.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adpulse import _kernel
from adpulse.server.domain.analytics import Metric, Sensitivity
from bench import detection_kernel
from tests.support import addata

END = addata.BENCH_END
METRICS = ("impressions", "clicks", "cost", "conversions", "revenue", "ctr", "cpc", "cvr", "cpa", "roas")
DAYS_PER_MONTH = 30.44
BUDGET = {"low": 0.2, "medium": 1.0, "high": 5.0}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    addata.dataset_arguments(parser)
    parser.add_argument("--thresholds", default="", help="comma-separated thresholds to scan instead")
    parser.add_argument(
        "--set", action="append", default=[], help="medium's options changed, k=v[,k=v] (one setting each)"
    )
    return parser.parse_args()


def _scaled(z: float) -> Callable[[Metric], dict[str, float]]:
    """Medium's options with its bands (the day's, the rate's, the run's) scaled to z."""
    factor = z / Sensitivity.MEDIUM.threshold
    bands = {"threshold", "rate_threshold", "run_threshold"}

    def options(metric: Metric) -> dict[str, float]:
        medium = Sensitivity.MEDIUM.detection_options(metric)
        return {k: v * factor if k in bands else v for k, v in medium.items()}

    return options


def main() -> int:
    args = parse_args()
    settings: list[tuple[str, Callable[[Metric], dict[str, float]]]] = [
        (s.name.lower(), s.detection_options) for s in Sensitivity
    ]
    if args.thresholds:
        settings = [(f"z={z}", _scaled(float(z))) for z in args.thresholds.split(",")]
    if args.set:
        settings = [(text, detection_kernel.setting(Sensitivity.MEDIUM, text)) for text in args.set]
    false: collections.Counter[tuple[str, str, str]] = collections.Counter()
    months: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    for table, _, account in addata.sums_by_seed(args, with_incidents=False):
        regime = {c.campaign_id: c.regime for c in account.campaigns}
        for c in account.campaigns:
            months[c.regime] += (c.last - c.first + 1) / DAYS_PER_MONTH
        for name, options in settings:
            for metric in METRICS:
                _, incidents = _kernel.detect_anomalies(
                    table, ["campaign_id"], metric, account.dates[0], END, method="auto",
                    **options(Metric(metric)),
                )  # fmt: skip
                for campaign in incidents["campaign_id"].to_pylist():
                    false[(name, metric, regime[campaign])] += 1
    elapsed = time.perf_counter() - started
    total_months = sum(months.values())
    print(
        f"seeds {args.first_seed}-{args.first_seed + args.seeds - 1}, {args.campaigns} campaigns x "
        f"{args.days} days, {total_months:.0f} campaign-months ({elapsed:.0f} s)"
    )
    print("false incidents per 100 campaign-months, per metric")
    regimes = [r[0] for r in addata.REGIMES]
    print("| sensitivity | metric | " + " | ".join(f"{r} ({months[r]:.0f} c-m)" for r in regimes)
          + " | all | budget |")  # fmt: skip
    print("|---|---|" + "---:|" * (len(regimes) + 2))
    for name, *_ in settings:
        for metric in METRICS:
            per = [100 * false[(name, metric, r)] / months[r] for r in regimes]
            overall = 100 * sum(false[(name, metric, r)] for r in regimes) / total_months
            budget = BUDGET.get(name)
            mark = "" if budget is None else f"{budget:g}" + (" ✗" if overall > budget else "")
            print(
                f"| {name} | {metric} | "
                + " | ".join(f"{p:.2f}" for p in per)
                + f" | {overall:.2f} | {mark} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
