"""Plain-Python statements of what the kernel's analytics compute, written from their contracts
(the module docs of kernel/core/src/analytics and adpulse/_kernel.pyi): one value at a time,
Fractions where exactness is the claim. The property tests hold the kernel to them."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Sequence
from fractions import Fraction

MEASURES = ("impressions", "clicks", "cost_micros", "conversions_micros", "revenue_micros")


def value(metric: str, s: Sequence[int]) -> float | None:
    """The metric from five sums, in the formulas of the KPIs (money in units)."""
    imp, clk, cost, conv, rev = s

    def ratio(num: float, den: int) -> float | None:
        return None if den == 0 else num / float(den)

    return {
        "impressions": lambda: float(imp),
        "clicks": lambda: float(clk),
        "cost": lambda: cost / 1e6,
        "conversions": lambda: conv / 1e6,
        "revenue": lambda: rev / 1e6,
        "ctr": lambda: ratio(float(clk), imp),
        "cpc": lambda: ratio(cost / 1e6, clk),
        "cpm": lambda: ratio(cost / 1e3, imp),
        "cvr": lambda: ratio(conv / 1e6, clk),
        "cpa": lambda: ratio(float(cost), conv),
        "roas": lambda: ratio(float(rev), cost),
        "roi": lambda: ratio(float(rev - cost), cost),
    }[metric]()


def exact_parts(metric: str, s: Sequence[int]) -> tuple[Fraction, Fraction]:
    """A ratio metric as numerator / denominator, exactly."""
    imp, clk, cost, conv, rev = (Fraction(v) for v in s)
    return {
        "ctr": (clk, imp),
        "cpc": (cost / 10**6, clk),
        "cpm": (cost / 10**3, imp),
        "cvr": (conv / 10**6, clk),
        "cpa": (cost, conv),
        "roas": (rev, cost),
        "roi": (rev - cost, cost),
    }[metric]


def explain(
    metric: str, slices: dict[str, tuple[list[int], list[int]]]
) -> tuple[Fraction, dict[str, Fraction]]:
    """The change of a ratio metric and each slice's contribution (rate + mix), exactly:
    rate = ½(w₀ + w₁)(r₁ − r₀) (0 for a slice that appears or vanishes, the whole term change
    for one without volume in both periods), mix = the rest of the slice's term change, minus
    (w₁ − w₀)·½(R₀ + R₁)."""
    totals = [[sum(s[p][k] for s in slices.values()) for k in range(5)] for p in (0, 1)]
    parts = [exact_parts(metric, totals[p]) for p in (0, 1)]
    big_r = [parts[p][0] / parts[p][1] for p in (0, 1)]
    contributions = {}
    for name, sums in slices.items():
        own = [exact_parts(metric, sums[p]) for p in (0, 1)]
        weight = [own[p][1] / parts[p][1] for p in (0, 1)]
        term = [own[p][0] / parts[p][1] for p in (0, 1)]
        rates = [own[p][0] / own[p][1] if own[p][1] else None for p in (0, 1)]
        if rates[0] is not None and rates[1] is not None:
            rate = (weight[0] + weight[1]) / 2 * (rates[1] - rates[0])
        elif rates[0] is None and rates[1] is None:
            rate = term[1] - term[0]
        else:
            rate = Fraction(0)
        mix = (term[1] - term[0] - rate) - (weight[1] - weight[0]) * (big_r[0] + big_r[1]) / 2
        contributions[name] = rate + mix
    return big_r[1] - big_r[0], contributions


def dense(days: dict[int, list[int]], first: int, last: int) -> list[list[int]]:
    return [days.get(d, [0] * 5) for d in range(first, last + 1)]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _mad(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    m = statistics.median(values)
    return m, 1.4826 * statistics.median([abs(v - m) for v in values])


def sampling_variance(metric: str, expected: float, s: Sequence[int], z: float) -> float:
    imp, clk, _, conv, _ = s
    units = {"impressions": imp, "clicks": clk, "conversions": conv / 1e6}

    def rate(n: float) -> float:
        if n <= 0:
            return math.inf
        if expected >= 1:
            return expected / n
        n_adj = n + z * z
        p = (expected * n + z * z / 2) / n_adj
        return p * (1 - p) / n_adj

    clicks, conversions = clk + 1.0, conv / 1e6 + 1.0
    e2 = expected * expected
    if metric in units:
        return abs(expected)
    return {
        "cost": lambda: 0.0,
        "revenue": lambda: 0.0,
        "ctr": lambda: rate(float(imp)),
        "cvr": lambda: rate(float(clk)),
        "cpc": lambda: e2 / clicks,
        "cpm": lambda: e2 * (1 / max(float(imp), 1.0) + 1 / clicks),
        "cpa": lambda: e2 * (1 / conversions + 1 / clicks),
        "roas": lambda: e2 * (2 / conversions + 1 / clicks),
        "roi": lambda: (expected + 1) ** 2 * (2 / conversions + 1 / clicks),
    }[metric]()


MIN_CHANGE = {"impressions": 100.0, "clicks": 5.0, "conversions": 2.0, "cost": 5.0, "revenue": 5.0}
ADDITIVE = ("impressions", "clicks", "cost", "conversions", "revenue")
COUNTS = ("impressions", "clicks", "conversions")
RELATIVE_FLOOR = 0.08


Judged = tuple[int, float, float, float, bool, str]


def _expectation(
    x: list[float | None], series: list[list[int]], metric: str, *, used: str, d: int, window: int
) -> tuple[float, float] | None:
    """(expected, spread) of day d by zscore or mad, or None without enough history."""
    lo_day = max(0, d - window)
    ref = [x[j] for j in range(lo_day, d) if x[j] is not None]
    if len(ref) < 7:
        return None
    if used == "mad":
        return _mad(ref)
    spread = statistics.stdev(ref)
    if metric in ADDITIVE:
        return statistics.fmean(ref), spread
    num = den = 0.0
    for j in range(lo_day, d):
        if x[j] is not None:
            n_, d_ = exact_parts(metric, series[j])
            num, den = num + float(n_), den + float(d_)
    return num / den, spread


def _exp(x: float) -> float:
    """exp as IEEE floats have it: past the largest double, infinity (a tiny expected spend
    with a wide spread gets an unbounded upper band), where math.exp raises."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _band(
    metric: str, e: float, spread: float, *, series: list[list[int]], x: list[float | None], d: int,
    window: int, threshold: float,
) -> tuple[float, float] | None:  # fmt: skip
    """(below, above): how far under and over e day d may fall."""
    floor = MIN_CHANGE.get(metric, 0.0)
    if metric in COUNTS:
        # Anscombe: sqrt(x + 3/8) has variance 1/4 under Poisson noise.
        center = math.sqrt(max(e, 0.0) + 0.375)
        sd = max(math.sqrt(max(spread * spread, abs(e))) / (2 * center), 0.5)
        least = max(threshold * RELATIVE_FLOOR * abs(e), floor)
        low = max(center - threshold * sd, 0.0) ** 2 - 0.375
        high = (center + threshold * sd) ** 2 - 0.375
        return max(e - low, least), max(high - e, least)
    if metric == "cost" and e > 0:
        # Spend: symmetric on the log scale.
        sd = max(spread / e, RELATIVE_FLOOR)
        return max(e * (1 - math.exp(-threshold * sd)), floor), max(e * (_exp(threshold * sd) - 1), floor)
    if metric in ADDITIVE:
        var = spread * spread
    else:
        lo_day = max(0, d - window)
        samples = [sampling_variance(metric, x[j], series[j], threshold)
                   for j in range(lo_day, d) if x[j] is not None]  # fmt: skip
        finite = [v for v in samples if math.isfinite(v)]
        mean_sampling = sum(finite) / len(finite) if finite else 0.0
        var = sampling_variance(metric, e, series[d], threshold) + max(spread * spread - mean_sampling, 0.0)
    scale = max(math.sqrt(var), RELATIVE_FLOOR * abs(e))
    if not math.isfinite(scale) or max(threshold * scale, floor) <= 0:
        return None
    hw = max(threshold * scale, floor)
    return hw, hw


class LogScale:
    """The noise-aware methods' scale: ln(x + half an event in the metric's units)."""

    def __init__(self, metric: str, series: Sequence[Sequence[int]]) -> None:
        total = [sum(s[k] for s in series) for k in range(5)]

        def per(money: int, events: float) -> float:
            v = total[money] / 1e6 / events if events else math.nan
            return v if math.isfinite(v) and v > 0 else 1.0

        self.metric = metric
        self.click_money = per(2, float(total[1]))
        self.order_money = per(4, total[3] / 1e6)

    def offset(self, s: Sequence[int]) -> float | None:
        imp, clk, cost, conv, _ = s
        cm, om = self.click_money, self.order_money
        need = {"ctr": imp, "cvr": clk, "cpc": clk, "cpm": imp, "cpa": conv, "roas": cost, "roi": cost}
        if need.get(self.metric, 1) <= 0:
            return None
        return {
            "impressions": lambda: 0.5, "clicks": lambda: 0.5, "conversions": lambda: 0.5,
            "cost": lambda: 0.5 * cm, "revenue": lambda: 0.5 * om,
            "ctr": lambda: 0.5 / imp, "cvr": lambda: 0.5 / clk, "cpc": lambda: 0.5 * cm / clk,
            "cpm": lambda: 500 * cm / imp, "cpa": lambda: 0.5 * cm / (conv / 1e6),
            "roas": lambda: 0.5 * om / (cost / 1e6), "roi": lambda: 1 + 0.5 * om / (cost / 1e6),
        }[self.metric]()  # fmt: skip

    def y(self, x: float | None, s: Sequence[int]) -> float | None:
        off = self.offset(s)
        return None if x is None or off is None else math.log(max(x + off, 2.2250738585072014e-308))

    def variance(self, expected: float, s: Sequence[int], z: float) -> float:
        off = self.offset(s)
        if off is None:
            return math.inf
        # At least one event: ROI's offset holds ROAS's shift of 1.
        level = max(expected, 2 * off - 3 if self.metric == "roi" else 2 * off)
        v = {"cost": lambda: level * self.click_money, "revenue": lambda: 2 * level * self.order_money}.get(
            self.metric, lambda: sampling_variance(self.metric, level, s, z)
        )()
        return v / max(level + off, 2.2250738585072014e-308) ** 2


def _log_band(
    scale: LogScale, s: Sequence[int], center: float, *, half: tuple[float, float], floor: float
) -> tuple[float, float, float] | None:
    """(expected, below, above) of a band half[0] below and half[1] above center, log scale."""
    off = scale.offset(s)
    if off is None:
        return None
    e = math.exp(center) - off
    lower, upper = _exp(center - half[0]) - off, _exp(center + half[1]) - off
    if not (math.isfinite(upper) and all(math.isfinite(h) and h > 0 for h in half)):
        return None
    return e, max(e - lower, floor), max(upper - e, floor)


def _side_spreads(values: list[float], m: float) -> tuple[float, float]:
    """Each side's spread: the median distance from m of the lower and of the upper half."""
    ordered, half = sorted(values), len(values) // 2

    def spread(part: list[float]) -> float:
        mid = _median([abs(v - m) for v in part])
        return 0.0 if mid is None else 1.4826 * mid

    return spread(ordered[:half]), spread(ordered[len(ordered) - half :])


def _noise_aware(
    scale: LogScale, y: list[float | None], seasonal: list[float | None], series: list[list[int]], *,
    used: str, d: int, window: int, threshold: float, cold_factor: float,
) -> tuple[float, float, float] | None:  # fmt: skip
    lo_day, s, floor = max(0, d - window), series[d], MIN_CHANGE.get(scale.metric, 0.0)
    if used == "cold_start":
        values = [v for v in y[lo_day:d] if v is not None]
        if len(values) < 7:
            return None
        center, spread = _mad(values)  # type: ignore[misc]
        extras = (spread * spread, spread * spread)
    else:
        days = [j for j in range(lo_day, d) if y[j] is not None and seasonal[j] is not None]
        if len(days) < 7 or seasonal[d] is None:
            return None
        residuals = [y[j] - seasonal[j] for j in days]  # type: ignore[operator]
        m, spread = _mad(residuals)  # type: ignore[misc]
        center = seasonal[d] + m  # type: ignore[operator]
        samples = []
        for j in range(lo_day, d):
            off = scale.offset(series[j])
            if seasonal[j] is not None and off is not None:
                samples.append(scale.variance(math.exp(seasonal[j]) - off, series[j], threshold))  # type: ignore[arg-type]
        finite = [v for v in samples if math.isfinite(v)]
        mean_sampling = sum(finite) / len(finite) if finite else 0.0
        sides = _side_spreads(residuals, m)
        extras = (max(max(spread, sides[0]) ** 2 - mean_sampling, 0.0),
                  max(max(spread, sides[1]) ** 2 - mean_sampling, 0.0))  # fmt: skip
    off = scale.offset(s)
    if off is None:
        return None
    own = scale.variance(math.exp(center) - off, s, threshold)
    sds = [math.sqrt(extra + own) for extra in extras]
    if not all(math.isfinite(sd) for sd in sds):
        return None
    below, above = (max(sd, RELATIVE_FLOOR) for sd in sds)
    if used == "seasonal":
        return _log_band(scale, s, center, half=(threshold * below, threshold * above), floor=floor)
    half = max(threshold * below, math.log(cold_factor))
    return _log_band(scale, s, center, half=(half, half), floor=floor)


def _used(method: str, d: int) -> str | None:
    if method == "auto":
        return "seasonal" if d >= 28 else "cold_start" if d >= 7 else None
    if method == "cold_start" and d < 7:
        return None
    return method


def detect(
    series: list[list[int]],
    metric: str,
    method: str,
    evaluate_from: int,
    *,
    threshold: float,
    change_threshold: float,
    window: int,
    cold_factor: float = 4.0,
) -> list[Judged | None]:
    """For each index from `evaluate_from` to the series' last day with data: (index, expected,
    lower, upper, anomaly, method), or None when the day has no value or too little history.
    Index 0 is the series' first day; a day with data is one whose sums are not all zero."""
    last = max(d for d, s in enumerate(series) if d == 0 or any(s))
    series = series[: last + 1]
    x = [value(metric, s) for s in series]
    noise_aware = method in {"auto", "seasonal", "cold_start"}
    scale = LogScale(metric, series)
    y = [scale.y(v, s) for v, s in zip(x, series, strict=True)] if noise_aware else x
    seasonal = [_median([y[d - 7 * k] for k in range(1, 5) if d - 7 * k >= 0 and y[d - 7 * k] is not None])
                for d in range(len(x))]  # fmt: skip
    out: list[Judged | None] = []
    for d in range(evaluate_from, len(x)):
        observed = x[d]
        used = _used(method, d)
        band: tuple[float, float] | None = None
        if observed is None or used is None:
            pass
        elif used == "week_over_week":
            e = x[d - 7] if d >= 7 else None
            if e is not None:
                hw = max(change_threshold * abs(e), MIN_CHANGE.get(metric, 0.0))
                if metric not in ADDITIVE:
                    hw = max(hw, threshold * math.sqrt(sampling_variance(metric, e, series[d], threshold)))
                band = (hw, hw) if math.isfinite(hw) and hw > 0 else None
        elif noise_aware:
            found3 = _noise_aware(scale, y, seasonal, series, used=used, d=d, window=window,
                                  threshold=threshold, cold_factor=cold_factor)  # fmt: skip
            if found3 is not None:
                e, below_, above_ = found3
                band = (below_, above_)
        else:
            found = _expectation(x, series, metric, used=used, d=d, window=window)
            if found is not None:
                e, spread = found
                band = _band(metric, e, spread, series=series, x=x, d=d, window=window, threshold=threshold)
        if band is None or observed is None:
            out.append(None)
            continue
        below, above = band
        lower = e - below if metric == "roi" else max(e - below, 0.0)
        shown = e if metric == "roi" else max(e, 0.0)
        out.append((d, shown, lower, e + above, not e - below <= observed <= e + above, used or ""))
    return out


def bucket_start(day: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day
