"""Detection quality at the kernel, for calibration: precision and recall per incident kind and
noise regime, and (with `--false-alarms`) the false-alarm rates of the same options on the same
seeds' incident-free data, without a server or a rebuild.

Each seed is an account of the hard generator (`tests/support/addata.py`) with the five incident
kinds in its last 56 days, as in `bench/detection_quality.py`; its sums by campaign go to the
kernel's detection with the options the server passes for each metric (`Sensitivity`'s
`detection_options`, `method=auto`, a 28-day window), over the last 56 days with every earlier
day as history. A reported incident (cost, conversions, CPC, CTR, revenue) is true when a
labelled incident of its campaign overlaps its days; a labelled incident is recalled when its
own metric reports an overlapping incident for its campaign. `--false-alarms` judges every day
of every campaign of the incident-free data (all ten metrics, from each campaign's first day, as
`bench/false_alarms.py` does) and prints false incidents per 100 campaign-months per metric.

`--set` tries options without rebuilding anything: `--set threshold=6,rate_threshold=5.5` is one
setting (repeat `--set` for more, each measured on the same data); `threshold` scales like the
sensitivity's own (CPC at its `BAND_SCALE`), and `cpc:threshold=4` sets one metric's option.

Calibrate on seeds 0-99 (`--first-seed 0 --seeds 100`), never on the held-out seeds (1000+).

Run: `.venv/bin/python bench/detection_kernel.py --first-seed 0 --seeds 100 [--sensitivity medium]
[--set threshold=7] [--false-alarms]`.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa

from adpulse import _kernel
from adpulse.server.domain.analytics import BAND_SCALE, Metric, Sensitivity
from tests.support import addata

END = addata.BENCH_END
WINDOW_DAYS = 56
METRICS = ("cost", "conversions", "cpc", "ctr", "revenue")
ALL_METRICS = ("impressions", "clicks", "cost", "conversions", "revenue", "ctr", "cpc", "cvr", "cpa", "roas")
DAYS_PER_MONTH = 30.44

Options = Callable[[Metric], dict[str, float]]


def setting(sensitivity: Sensitivity, text: str) -> Options:
    """The sensitivity's per-metric options with `text`'s changes (`k=v,metric:k=v`)."""
    changes: list[tuple[str | None, str, float]] = []
    for part in filter(None, text.split(",")):
        key, value = part.split("=")
        metric, _, option = key.rpartition(":")
        changes.append((metric or None, option, float(value)))

    def options(metric: Metric) -> dict[str, float]:
        out = sensitivity.detection_options(metric)
        for only, option, value in changes:
            if only is None and option == "threshold":
                out[option] = value * BAND_SCALE.get(metric, 1.0)
            elif only is None or only == metric.value:
                out[option] = value
        return out

    return options


def incidents_of(
    table: pa.Table, metric: str, start: dt.date, options: Options
) -> list[tuple[str, str, str]]:
    """(campaign, first day, last day) of each incident the kernel reports."""
    _, found = _kernel.detect_anomalies(
        table, ["campaign_id"], metric, start, END, method="auto", **options(Metric(metric))
    )
    return list(
        zip(
            found["campaign_id"].to_pylist(),
            [d.isoformat() for d in found["start"].to_pylist()],
            [d.isoformat() for d in found["end"].to_pylist()],
            strict=True,
        )
    )


class Tally:
    """What one setting scored over the seeds."""

    def __init__(self) -> None:
        self.tp = self.fp = 0
        self.labelled: collections.Counter[tuple[str, str]] = collections.Counter()
        self.recalled: collections.Counter[tuple[str, str]] = collections.Counter()
        self.false_by: collections.Counter[str] = collections.Counter()
        self.quiet_false: collections.Counter[tuple[str, str]] = collections.Counter()

    def score(
        self, table: pa.Table, incidents: list[addata.Incident], regime: dict[str, str], options: Options
    ) -> None:
        start = END - dt.timedelta(days=WINDOW_DAYS - 1)
        found = {m: incidents_of(table, m, start, options) for m in METRICS}
        for metric, reported in found.items():
            for campaign, first, last in reported:
                hit = any(
                    i.campaign.campaign_id == campaign
                    and first <= i.end.isoformat()
                    and last >= i.start.isoformat()
                    for i in incidents
                )
                self.tp, self.fp = self.tp + hit, self.fp + (not hit)
                if not hit:
                    self.false_by[metric] += 1
                    self.false_by[regime[campaign]] += 1
        for i in incidents:
            key = (i.kind, i.campaign.regime)
            self.labelled[key] += 1
            self.recalled[key] += any(
                c == i.campaign.campaign_id and f <= i.end.isoformat() and la >= i.start.isoformat()
                for c, f, la in found[addata.PRIMARY_METRIC[i.kind]]
            )

    def count_false_alarms(
        self, table: pa.Table, first: dt.date, regime: dict[str, str], options: Options
    ) -> None:
        for metric in ALL_METRICS:
            for campaign, *_ in incidents_of(table, metric, first, options):
                self.quiet_false[(metric, regime[campaign])] += 1

    def report(self, name: str, months: collections.Counter[str]) -> None:
        n = sum(self.labelled.values())
        precision = self.tp / max(1, self.tp + self.fp)
        recall = sum(self.recalled.values()) / max(1, n)
        f1 = 2 * precision * recall / max(1e-9, precision + recall)

        def by(part: int, names: list[str]) -> str:
            cells = []
            for label in names:
                keys = [k for k in self.labelled if k[part] == label]
                total = sum(self.labelled[k] for k in keys)
                cells.append(f"{label} {sum(self.recalled[k] for k in keys) / max(1, total):.2f}")
            return ", ".join(cells)

        print(f"## {name}")
        print(f"precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f} ({self.tp} true, {self.fp} false)")
        print(f"recall by kind: {by(0, list(addata.INCIDENT_KINDS))}")
        print(f"recall by regime: {by(1, [r[0] for r in addata.REGIMES])}")
        print(f"false incidents by metric and regime: {dict(self.false_by)}")
        if self.quiet_false:
            total = sum(months.values())
            regimes = [r[0] for r in addata.REGIMES]
            rates = {m: 100 * sum(self.quiet_false[(m, r)] for r in regimes) / total for m in ALL_METRICS}
            worst = max(rates, key=rates.__getitem__)
            print(
                "false alarms / 100 c-m: "
                + ", ".join(f"{m} {v:.2f}" for m, v in rates.items())
                + f"; worst {worst} {rates[worst]:.2f}"
            )
            noisy = {m: 100 * self.quiet_false[(m, "noisy")] / months["noisy"] for m in ALL_METRICS}
            print("  noisy campaigns: " + ", ".join(f"{m} {v:.2f}" for m, v in noisy.items()))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    addata.dataset_arguments(parser)
    parser.add_argument("--sensitivity", default="medium", choices=("low", "medium", "high"))
    parser.add_argument("--set", action="append", default=[], help="options of one setting, k=v[,k=v]")
    parser.add_argument("--false-alarms", action="store_true", help="also judge the incident-free data")
    args = parser.parse_args()
    sensitivity = Sensitivity[args.sensitivity.upper()]
    settings = {text or args.sensitivity: setting(sensitivity, text) for text in args.set or [""]}
    tallies = {name: Tally() for name in settings}
    months: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    quiet_seeds = addata.sums_by_seed(args, with_incidents=False) if args.false_alarms else None
    for table, incidents, account in addata.sums_by_seed(args, incident_days=WINDOW_DAYS):
        regime = {c.campaign_id: c.regime for c in account.campaigns}
        for name, options in settings.items():
            tallies[name].score(table, incidents, regime, options)
        if quiet_seeds is not None:
            quiet = next(quiet_seeds)[0]
            for c in account.campaigns:
                months[c.regime] += (c.last - c.first + 1) / DAYS_PER_MONTH
            for name, options in settings.items():
                tallies[name].count_false_alarms(quiet, account.dates[0], regime, options)
    print(
        f"seeds {args.first_seed}-{args.first_seed + args.seeds - 1}, sensitivity {args.sensitivity} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    for name, tally in tallies.items():
        tally.report(name, months)
    return 0


if __name__ == "__main__":
    sys.exit(main())
