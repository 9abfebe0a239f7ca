"""Backfill and the daily scan: pluggable steps that re-derive data over a tenant's days.

A step works on a range of days and is idempotent (running it twice leaves what running it
once did), so a slice can stop after any window and a later one redo the window it was in.
The steps are registered by name in the composition root:

- `campaign_rollup` re-derives the daily rollups (tables campaign_daily, account_daily) from the facts
  and checks that its sums equal the facts' sums over the window.
- `insights` runs anomaly detection and insight generation over the window and stores the
  insights, so a backfill re-judges restated days and the daily scan the restatement window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from adpulse.server.domain.analytics import DateRange, Sensitivity
from adpulse.server.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from adpulse.server.domain.insights import DEFAULT_MAX_SHIFT, MAX_INSIGHTS, InsightsRequest
from adpulse.server.domain.metrics_query import parse_date
from adpulse.server.domain.operations import Progress
from adpulse.server.domain.restatement import DEFAULT_WINDOW_DAYS, RestatementWindows
from adpulse.server.ports import FactStore, Rollups
from adpulse.server.usecases.insights import InsightsUseCase
from adpulse.server.usecases.jobs.runner import JobContext

MAX_BACKFILL_DAYS = 3660
WINDOW_DAYS = 7
# A platform whose newest data is older than this many days before the scan date is stale:
# platforms report a day by the next, so two days of silence means a loader stopped.
STALE_AFTER_DAYS = 2


@dataclass(frozen=True)
class StepOutcome:
    rows: int
    summary: str


class DayRangeStep(Protocol):
    """One step of a backfill or scan."""

    @property
    def name(self) -> str: ...

    def run(self, tenant: str, first: dt.date, last: dt.date) -> StepOutcome:
        """Re-derives the days `first`..`last`; idempotent."""


class CampaignRollupStep:
    name = "campaign_rollup"

    def __init__(self, rollups: Rollups) -> None:
        self._rollups = rollups

    def run(self, tenant: str, first: dt.date, last: dt.date) -> StepOutcome:
        rows = self._rollups.rebuild(tenant, first, last)
        mismatched = self._rollups.mismatches(tenant, first, last)
        if mismatched:
            # Facts that arrived during the rebuild; the next run of the step includes them.
            raise FailedPrecondition(
                f"the campaign rollup of {first}..{last} does not match the facts in "
                f"{', '.join(mismatched)} (rows arrived meanwhile?); run the backfill again",
                "ROLLUP_MISMATCH",
                metadata={"first": first.isoformat(), "last": last.isoformat()},
            )
        return StepOutcome(rows, "sums equal the facts'")


class InsightsStep:
    """Anomaly detection and insight generation over the days; the insights found (incidents
    with their explanation, movers, underperformers, budget moves, pacing) are stored, where
    `ListInsights` finds them."""

    name = "insights"

    def __init__(self, insights: InsightsUseCase) -> None:
        self._insights = insights

    def run(self, tenant: str, first: dt.date, last: dt.date) -> StepOutcome:
        report = self._insights.generate(
            InsightsRequest(
                tenant,
                DateRange(first, last),
                filters=(),
                sensitivity=Sensitivity.MEDIUM,
                max_shift=DEFAULT_MAX_SHIFT,
                include_stories=False,
                max_insights=MAX_INSIGHTS,
            )
        )
        return StepOutcome(len(report.insights), f"{len(report.insights)} insights to look at")


def backfill_params(
    start_date: str, end_date: str, steps: Sequence[str], known: Sequence[str]
) -> dict[str, Any]:
    start, end = parse_date(start_date, "start_date"), parse_date(end_date, "end_date")
    problems = [
        FieldViolation(f, "required, YYYY-MM-DD", "MISSING_DATE")
        for f, d in (("start_date", start), ("end_date", end))
        if d is None
    ]
    if start and end and not 0 <= (end - start).days < MAX_BACKFILL_DAYS:
        problems.append(
            FieldViolation(
                "end_date", f"from start_date, at most {MAX_BACKFILL_DAYS} days on", "INVALID_DATE_RANGE"
            )
        )
    problems += [
        FieldViolation(f"steps[{i}]", f"unknown step; known: {', '.join(known)}", "UNKNOWN_STEP")
        for i, step in enumerate(steps)
        if step not in known
    ]
    if len(set(steps)) != len(steps):
        problems.append(FieldViolation("steps", "each step at most once", "DUPLICATE_STEP"))
    if problems:
        raise InvalidArgument(
            "; ".join(f"{p.field}: {p.description}" for p in problems),
            problems[0].reason,
            violations=problems,
        )
    assert start and end
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "steps": list(steps or known)}


def _windows(first: dt.date, last: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    day = first
    while day <= last:
        end = min(day + dt.timedelta(days=WINDOW_DAYS - 1), last)
        yield day, end
        day = end + dt.timedelta(days=1)


class _StepRunner:
    """Runs steps window by window, checkpointing after each window."""

    def __init__(self, steps: Mapping[str, DayRangeStep]) -> None:
        self._steps = steps

    def run(
        self, ctx: JobContext, names: Sequence[str], first: dt.date, last: dt.date
    ) -> list[dict[str, Any]] | None:
        done: dict[str, Any] = dict(ctx.operation.checkpoint) or {"results": [], "window_start": ""}
        days = (last - first).days + 1
        total = days * len(names)
        for index in range(len(done["results"]), len(names)):
            step = self._steps[names[index]]
            start = dt.date.fromisoformat(done["window_start"]) if done["window_start"] else first
            current = done.get("current") or {"step": step.name, "days": 0, "rows": 0, "summary": ""}
            for window_first, window_last in _windows(start, last):
                outcome = step.run(ctx.operation.tenant, window_first, window_last)
                current["days"] += (window_last - window_first).days + 1
                current["rows"] += outcome.rows
                current["summary"] = outcome.summary
                done["window_start"] = (window_last + dt.timedelta(days=1)).isoformat()
                done["current"] = current
                covered = index * days + current["days"]
                ctx.report(
                    Progress(100.0 * covered / total, covered, total, f"{step.name} to {window_last}"), done
                )
                if ctx.out_of_time() and window_last < last:
                    return None
            done["results"].append(current)
            done["window_start"], done["current"] = "", None
        return list(done["results"])


class BackfillJob:
    def __init__(self, steps: Mapping[str, DayRangeStep]) -> None:
        self._runner = _StepRunner(steps)

    def run(self, ctx: JobContext) -> Mapping[str, Any] | None:
        p = ctx.operation.params
        first, last = dt.date.fromisoformat(p["start_date"]), dt.date.fromisoformat(p["end_date"])
        results = self._runner.run(ctx, p["steps"], first, last)
        if results is None:
            return None
        return {"start_date": p["start_date"], "end_date": p["end_date"], "steps": results}


class Sweep(Protocol):
    """What the daily scan runs after its steps (retention): idempotent; StepResults as JSON."""

    def run(self, tenant: str, scan_date: dt.date) -> list[dict[str, Any]]: ...


class DailyScanJob:
    """Per tenant and day: every step over the restatement window up to the scan date (the
    days platforms may still have restated), then the freshness check and the sweep."""

    def __init__(
        self,
        steps: Mapping[str, DayRangeStep],
        facts: FactStore,
        windows: RestatementWindows,
        sweep: Sweep,
    ) -> None:
        self._steps = steps
        self._runner = _StepRunner(steps)
        self._facts = facts
        self._windows = windows
        self._sweep = sweep

    def window(self, scan_date: dt.date) -> tuple[dt.date, dt.date]:
        longest = max(self._windows.days(p) for p in (*DEFAULT_WINDOW_DAYS, *self._windows.overrides))
        return scan_date - dt.timedelta(days=longest), scan_date

    def run(self, ctx: JobContext) -> Mapping[str, Any] | None:
        scan_date = dt.date.fromisoformat(ctx.operation.params["scan_date"])
        first, last = self.window(scan_date)
        results = self._runner.run(ctx, list(self._steps), first, last)
        if results is None:
            return None
        limit = scan_date - dt.timedelta(days=STALE_AFTER_DAYS)
        stale = sorted(
            p for p, newest, _ in self._facts.platform_freshness(ctx.operation.tenant) if newest < limit
        )
        results.append(
            {
                "step": "freshness",
                "days": 0,
                "rows": 0,
                "summary": f"stale: {', '.join(stale)}" if stale else "every platform has recent data",
            }
        )
        results += self._sweep.run(ctx.operation.tenant, scan_date)
        return {
            "scan_date": scan_date.isoformat(),
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
            "steps": results,
            "stale_platforms": stale,
        }
