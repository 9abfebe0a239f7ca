"""Trends, anomaly detection and change explanation requests, validated."""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.metrics_query import (
    Dimension,
    DimensionFilter,
    FactSelection,
    Granularity,
    clamp_page_size,
    parse_date,
)


class Metric(enum.Enum):
    """A sum or KPI; the value is the kernel's name for it."""

    IMPRESSIONS = "impressions"
    CLICKS = "clicks"
    COST = "cost"
    CONVERSIONS = "conversions"
    REVENUE = "revenue"
    CTR = "ctr"
    CPC = "cpc"
    CPM = "cpm"
    CVR = "cvr"
    CPA = "cpa"
    ROAS = "roas"
    ROI = "roi"

    @property
    def is_money(self) -> bool:
        return self not in {Metric.IMPRESSIONS, Metric.CLICKS, Metric.CONVERSIONS, Metric.CTR, Metric.CVR}

    @property
    def is_additive(self) -> bool:
        return self in {Metric.IMPRESSIONS, Metric.CLICKS, Metric.COST, Metric.CONVERSIONS, Metric.REVENUE}


class AnomalyMethod(enum.Enum):
    """How expected values and bands are found; the value is the kernel's name."""

    AUTO = "auto"
    ZSCORE = "zscore"
    MAD = "mad"
    SEASONAL = "seasonal"
    WEEK_OVER_WEEK = "week_over_week"
    COLD_START = "cold_start"


class Sensitivity(enum.Enum):
    """How readily a deviation is an anomaly: (band in deviations, week-over-week change,
    least cold-start factor, band of a volume's rate, band of a run's combined score).

    The bands are calibrated to a false-alarm budget per metric on incident-free data of the
    hard generator (bench/false_alarms.py, seeds 0-99; reported on others): low at most 0.2
    false incidents per 100 campaign-months, medium 1, high 5. Daily ad data has far heavier
    tails than a normal distribution, so the textbook 3 deviations would alarm every week.
    """

    LOW = (9.5, 1.0, 5.0, 9.0, 9.0)
    MEDIUM = (7.5, 0.6, 4.0, 7.0, 6.0)
    HIGH = (5.5, 0.4, 3.0, 5.0, 5.0)

    @property
    def threshold(self) -> float:
        return self.value[0]

    @property
    def change_threshold(self) -> float:
        return self.value[1]

    @property
    def cold_start_factor(self) -> float:
        return self.value[2]

    def detection_options(self, metric: Metric) -> dict[str, float]:
        """The kernel's detection options for `metric` at this sensitivity."""
        return {
            "threshold": self.threshold * BAND_SCALE.get(metric, 1.0),
            "change_threshold": self.change_threshold,
            "cold_start_factor": self.cold_start_factor,
            "rate_threshold": self.value[3],
            "corroboration": CORROBORATION,
            "run_threshold": self.value[4],
            "run_factor": RUN_FACTOR,
            "relative_floor": RELATIVE_FLOOR,
        }


# A volume flagged by its rate must itself have moved that way by this many deviations: a CPC
# surge lowers ROAS, not revenue, and revenue is not an incident then.
CORROBORATION = 2.0
# Each day of a run moved by at least this factor (up or down): a lasting budget or bid change
# of a fifth to a half leans every day one way until the baseline follows it (half the
# residual window), and is no run of anomalous days; at 1.5 such shifts were most of the runs'
# false alarms, at 1.7 fewer still (bench/detection_kernel.py, seeds 0-99).
RUN_FACTOR = 1.7
# The noise-aware deviation is never under this share of the level.
RELATIVE_FLOOR = 0.08
# Metrics whose day band is narrower than the others' at every sensitivity, each calibrated to
# the same budget: CPC is a price (bids against competitors), without the traffic's fat tails,
# so at 0.65 of the band it still gives a tenth of the false alarms of spend.
BAND_SCALE = {Metric.CPC: 0.65}


def incident_confidence(peak_score: float | None, metric: Metric) -> float:
    """How sure an incident is not noise, 0 to 1, from its peak score (in deviations of its own
    series' noise, so a noisy campaign needs a larger change for the same score).

    On incident-free data the false alarms beyond a score s fall about as s⁻³
    (bench/false_alarms.py: from 5 to 10 deviations, twenty to fifty times fewer), so with
    z the metric's own band at the high sensitivity (the weakest day flag anyone gets), (z / s)³
    are the odds of noise reaching s against a real change, and the confidence is
    s³ / (s³ + z³): 0.5 at the high band, 0.72 at the medium one, 0.84 at the low one, 0.99 at
    4.6 times the high band. It is above 0 for every flagged incident, also for those flagged as
    a run or by their rate, whose peak day may score under the day band.
    """
    if peak_score is None or not math.isfinite(peak_score) or peak_score == 0:
        return 0.0
    weakest = Sensitivity.HIGH.threshold * BAND_SCALE.get(metric, 1.0)
    cube = abs(peak_score) ** 3
    return cube / (cube + weakest**3)


# Explanations search these when the request names none: the hierarchy above the ad.
DEFAULT_EXPLAIN_DIMENSIONS = (Dimension.PLATFORM, Dimension.ACCOUNT, Dimension.CAMPAIGN, Dimension.AD_GROUP)
DEFAULT_TREND_DAYS = 90
DEFAULT_DETECT_DAYS = 28
DEFAULT_WINDOW_DAYS = 28
MAX_MOVING_AVERAGE = 366
MAX_CONTRIBUTORS = 100


@dataclass(frozen=True)
class DateRange:
    """Dates as requested; None where the request leaves it to the data."""

    start: dt.date | None
    end: dt.date | None

    def resolve(self, latest: dt.date, default_days: int) -> tuple[dt.date, dt.date]:
        """The range with defaults filled: the end is the latest data date, the start
        `default_days` back from the end."""
        end = self.end or latest
        start = self.start or end - dt.timedelta(days=default_days - 1)
        return start, end


@dataclass(frozen=True)
class TrendsQuery:
    tenant: str
    dates: DateRange
    metrics: tuple[Metric, ...]
    dimensions: tuple[Dimension, ...]
    granularity: Granularity
    filters: tuple[DimensionFilter, ...]
    moving_average: int
    offset: int
    page_size: int

    @property
    def key_columns(self) -> tuple[str, ...]:
        return _key_columns(self.dimensions)


@dataclass(frozen=True)
class AnomalyQuery:
    tenant: str
    dates: DateRange
    metric: Metric
    dimensions: tuple[Dimension, ...]
    filters: tuple[DimensionFilter, ...]
    method: AnomalyMethod
    sensitivity: Sensitivity
    window_days: int
    min_change: float | None
    include_series: bool

    @property
    def key_columns(self) -> tuple[str, ...]:
        return _key_columns(self.dimensions)


@dataclass(frozen=True)
class ExplainQuery:
    tenant: str
    metric: Metric
    baseline: tuple[dt.date, dt.date]
    current: tuple[dt.date, dt.date]
    dimensions: tuple[Dimension, ...]
    filters: tuple[DimensionFilter, ...]
    max_contributors: int

    def selection(self, period: tuple[dt.date, dt.date]) -> FactSelection:
        return FactSelection(self.tenant, period[0], period[1], self.filters)


def _key_columns(dimensions: tuple[Dimension, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(col for dim in dimensions for col in dim.key_columns))


def invalid(field: str, message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(message, reason=reason, violations=[FieldViolation(field, message, reason)])


def check_dates(start: str, end: str, start_field: str, end_field: str) -> DateRange:
    first, last = parse_date(start, start_field), parse_date(end, end_field)
    if first and last and first > last:
        raise invalid(start_field, f"must not be after {end_field}", "INVALID_DATE_RANGE")
    return DateRange(first, last)


def check_series_dimensions(dimensions: tuple[Dimension, ...]) -> tuple[Dimension, ...]:
    """Dimensions that split series: each once, and not the date (the series' own axis)."""
    for i, dim in enumerate(dimensions):
        if dim is Dimension.DATE:
            raise invalid(f"dimensions[{i}]", "dates are the series' axis, not a split", "INVALID_DIMENSION")
        if dim in dimensions[:i]:
            raise invalid(f"dimensions[{i}]", "each dimension at most once", "DUPLICATE_DIMENSION")
    return dimensions


def too_many_series(cap: int) -> InvalidArgument:
    return _too_many(cap, "series", "TOO_MANY_SERIES")


def too_many_groups(cap: int) -> InvalidArgument:
    """QueryMetrics' refusal: a date split counts its buckets, so a coarser one narrows too."""
    return _too_many(cap, "groups", "TOO_MANY_GROUPS", ", a coarser granularity")


def _too_many(cap: int, what: str, reason: str, also: str = "") -> InvalidArgument:
    return invalid(
        "dimensions",
        f"split the selection into more than {cap} {what}, at most {cap} are allowed: narrow it "
        f"with filters (a platform, account or campaign), a shorter date range{also} or fewer dimensions",
        reason,
    )


def check_filters(filters: tuple[DimensionFilter, ...]) -> tuple[DimensionFilter, ...]:
    for i, f in enumerate(filters):
        if f.dimension is Dimension.DATE:
            raise invalid(f"filters[{i}].dimension", "use the date range instead", "INVALID_FILTER")
        if not f.values:
            raise invalid(f"filters[{i}].values", "at least one value", "INVALID_FILTER")
    return filters


def build_trends_query(
    *,
    tenant: str,
    start_date: str,
    end_date: str,
    metrics: tuple[Metric, ...],
    dimensions: tuple[Dimension, ...],
    granularity: Granularity,
    filters: tuple[DimensionFilter, ...],
    moving_average: int,
    page_size: int,
    offset: int,
) -> TrendsQuery:
    if not metrics:
        raise invalid("metrics", "at least one metric", "MISSING_METRIC")
    for i, m in enumerate(metrics):
        if m in metrics[:i]:
            raise invalid(f"metrics[{i}]", "each metric at most once", "DUPLICATE_METRIC")
    if not 0 <= moving_average <= MAX_MOVING_AVERAGE:
        raise invalid(
            "moving_average", f"must be 0 to {MAX_MOVING_AVERAGE} buckets", "INVALID_MOVING_AVERAGE"
        )
    return TrendsQuery(
        tenant=tenant,
        dates=check_dates(start_date, end_date, "start_date", "end_date"),
        metrics=metrics,
        dimensions=check_series_dimensions(dimensions),
        granularity=granularity,
        filters=check_filters(filters),
        moving_average=moving_average,
        offset=offset,
        page_size=clamp_page_size(page_size),
    )


def build_anomaly_query(
    *,
    tenant: str,
    start_date: str,
    end_date: str,
    metric: Metric,
    dimensions: tuple[Dimension, ...],
    filters: tuple[DimensionFilter, ...],
    method: AnomalyMethod,
    sensitivity: Sensitivity,
    window_days: int,
    min_change: float | None,
    include_series: bool,
) -> AnomalyQuery:
    window = window_days or DEFAULT_WINDOW_DAYS
    if not 7 <= window <= 90:
        raise invalid("window_days", "must be 7 to 90 days (or 0 for 28)", "INVALID_WINDOW")
    if min_change is not None and not min_change >= 0:
        raise invalid("min_change", "must not be negative", "INVALID_MIN_CHANGE")
    return AnomalyQuery(
        tenant=tenant,
        dates=check_dates(start_date, end_date, "start_date", "end_date"),
        metric=metric,
        dimensions=check_series_dimensions(dimensions),
        filters=check_filters(filters),
        method=method,
        sensitivity=sensitivity,
        window_days=window,
        min_change=min_change,
        include_series=include_series,
    )


def default_baseline(current: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    """The current period moved back by its length rounded up to whole weeks: the baseline
    never overlaps it and has the same weekdays (a Monday-heavy metric compares fairly)."""
    days = (current[1] - current[0]).days + 1
    back = dt.timedelta(days=-(-days // 7) * 7)
    return current[0] - back, current[1] - back


def build_explain_query(
    *,
    tenant: str,
    metric: Metric,
    baseline_start: str,
    baseline_end: str,
    current_start: str,
    current_end: str,
    dimensions: tuple[Dimension, ...],
    filters: tuple[DimensionFilter, ...],
    max_contributors: int,
) -> ExplainQuery:
    current = check_dates(current_start, current_end, "current_start_date", "current_end_date")
    if current.start is None or current.end is None:
        field = "current_start_date" if current.start is None else "current_end_date"
        raise invalid(field, "the current period needs both dates", "MISSING_DATE")
    baseline = check_dates(baseline_start, baseline_end, "baseline_start_date", "baseline_end_date")
    if (baseline.start is None) != (baseline.end is None):
        field = "baseline_start_date" if baseline.start is None else "baseline_end_date"
        raise invalid(field, "give both baseline dates or neither", "MISSING_DATE")
    if not 0 <= max_contributors <= MAX_CONTRIBUTORS:
        raise invalid("max_contributors", f"must be 0 to {MAX_CONTRIBUTORS}", "INVALID_MAX_CONTRIBUTORS")
    dims = check_series_dimensions(dimensions) or DEFAULT_EXPLAIN_DIMENSIONS
    periods = (current.start, current.end)
    return ExplainQuery(
        tenant=tenant,
        metric=metric,
        baseline=(baseline.start, baseline.end)  # type: ignore[arg-type]
        if baseline.start
        else default_baseline(periods),
        current=periods,
        dimensions=dims,
        filters=check_filters(filters),
        max_contributors=max_contributors or 10,
    )
