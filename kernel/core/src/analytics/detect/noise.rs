//! The noise-aware scale of `seasonal` and `cold_start`: a day's value is judged as
//! `y = ln(x + offset)`, where day-to-day ad noise is multiplicative (a campaign wobbles by a
//! share of its level, 3 % for a steady brand campaign, 40 % for a small prospecting one), and
//! the band's deviation is the observed spread of `y` (robust: the MAD of residuals, or the
//! spread of that side's residuals where it is wider) with the day's own sampling noise added,
//! so each series is judged against its own dispersion, each side by its own.
//!
//! The offset is half of one event in the metric's units (half a click, half a conversion,
//! half a click's worth of spend, half an order's worth of revenue), so a zero stays finite and
//! a count expected at 1 that shows 0 is a small step (ln 1.5 − ln 0.5), while a count expected
//! at 40 that shows 0 is a cliff: the same discreteness the square-root scale gives Poisson
//! counts, without assuming Poisson noise.
//!
//! Sampling noise on this scale is, by the delta method, the metric's sampling variance over
//! `(x + offset)²`: for counts the Poisson variance, for spend and revenue a compound Poisson
//! (clicks times cost per click, orders times order values, whose spread is about their mean),
//! for ratios the binomial / delta-method variances of `Metric::sampling_variance`. What the
//! history's spread holds beyond its days' sampling noise is over-dispersion, and is added to
//! today's sampling noise; the tails beyond a normal's are left to the thresholds, which are
//! calibrated on heavy-tailed data (see `bench/false_alarms.py`). The deviation is never under
//! `relative_floor` (a share of the level).

use super::bands::{Band, Score};
use super::{Buffers, DetectOptions, MIN_WINDOW_VALUES};
use crate::analytics::metric::{Metric, CLICKS, CONVERSIONS, COST, IMPRESSIONS, REVENUE};

/// What one group's values are moved by before their logarithm is taken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogScale {
    metric: Metric,
    /// Spend per click and revenue per conversion over the group's days, in money units (1 when
    /// the group has no clicks or conversions).
    click_money: f64,
    order_money: f64,
}

impl LogScale {
    pub fn of(metric: Metric, sums: &[[i64; 5]]) -> LogScale {
        let mut total = [0i128; 5];
        for s in sums {
            for (t, v) in total.iter_mut().zip(s) {
                *t += i128::from(*v);
            }
        }
        let per = |money: usize, events: f64| {
            let v = total[money] as f64 / 1e6 / events;
            if v.is_finite() && v > 0.0 {
                v
            } else {
                1.0
            }
        };
        LogScale {
            metric,
            click_money: per(COST, total[CLICKS] as f64),
            order_money: per(REVENUE, total[CONVERSIONS] as f64 / 1e6),
        }
    }

    /// What is added to the day's value before its logarithm; None when the day's ratio has no
    /// denominator.
    pub fn offset(&self, s: &[i64; 5]) -> Option<f64> {
        let units = |k: usize| {
            let v = s[k] as f64 / if k >= COST { 1e6 } else { 1.0 };
            (v > 0.0).then_some(v)
        };
        Some(match self.metric {
            Metric::Impressions | Metric::Clicks | Metric::Conversions => 0.5,
            Metric::Cost => 0.5 * self.click_money,
            Metric::Revenue => 0.5 * self.order_money,
            Metric::Ctr => 0.5 / units(IMPRESSIONS)?,
            Metric::Cvr => 0.5 / units(CLICKS)?,
            Metric::Cpc => 0.5 * self.click_money / units(CLICKS)?,
            Metric::Cpm => 500.0 * self.click_money / units(IMPRESSIONS)?,
            Metric::Cpa => 0.5 * self.click_money / units(CONVERSIONS)?,
            Metric::Roas => 0.5 * self.order_money / units(COST)?,
            // ROI is ROAS − 1: the same scale, moved by one.
            Metric::Roi => 1.0 + 0.5 * self.order_money / units(COST)?,
            Metric::Aov => 0.5 * self.order_money / units(CONVERSIONS)?,
        })
    }

    /// The day's value on the log scale.
    pub fn y(&self, x: Option<f64>, s: &[i64; 5]) -> Option<f64> {
        Some((x? + self.offset(s)?).max(f64::MIN_POSITIVE).ln())
    }

    /// Sampling variance on the log scale of a day with these sums whose value is expected at
    /// `expected`.
    pub fn variance(&self, expected: f64, s: &[i64; 5], z: f64) -> f64 {
        let Some(offset) = self.offset(s) else {
            return f64::INFINITY;
        };
        // A day is judged as if at least one event were expected: a median of 0 (a tiny
        // campaign's usual day without an order) does not make one order impossible.
        let one_event = if self.metric == Metric::Roi {
            2.0 * offset - 3.0
        } else {
            2.0 * offset
        };
        let level = expected.max(one_event);
        let v = match self.metric {
            Metric::Cost => level * self.click_money,
            Metric::Revenue => 2.0 * level * self.order_money,
            m => m.sampling_variance(level, s, z),
        };
        v / (level + offset).max(f64::MIN_POSITIVE).powi(2)
    }

    /// The value whose log-scale value is `y` on a day with these sums.
    pub fn value(&self, y: f64, s: &[i64; 5]) -> Option<f64> {
        Some(y.exp() - self.offset(s)?)
    }
}

/// The deviations below and above a center, or the half-widths of a band.
#[derive(Debug, Clone, Copy)]
struct Sides {
    below: f64,
    above: f64,
}

impl Sides {
    fn both(v: f64) -> Sides {
        Sides { below: v, above: v }
    }
}

/// A band on the log scale around `center`, `half` wide on each side, with deviations of `sd`;
/// never narrower than `floor` in the metric's units.
fn log_band(
    scale: &LogScale,
    s: &[i64; 5],
    center: f64,
    sd: Sides,
    half: Sides,
    floor: f64,
) -> Option<Band> {
    let offset = scale.offset(s)?;
    let expected = center.exp() - offset;
    let lower = (center - half.below).exp() - offset;
    let upper = (center + half.above).exp() - offset;
    let usable = |v: f64| v.is_finite() && v > 0.0;
    if !(upper.is_finite() && usable(sd.below) && usable(sd.above)) {
        return None;
    }
    Some(Band {
        expected,
        below: (expected - lower).max(floor),
        above: (upper - expected).max(floor),
        score: Score::Shifted {
            center,
            below: sd.below,
            above: sd.above,
            offset,
        },
    })
}

/// The deviation of a day expected at `center` (log scale): `extra` (the history's variance
/// beyond its sampling noise) plus the day's own sampling variance, never under the relative
/// floor.
fn deviation(
    scale: &LogScale,
    s: &[i64; 5],
    center: f64,
    extra: f64,
    o: &DetectOptions,
) -> Option<f64> {
    let expected = scale.value(center, s)?;
    let sd = (extra + scale.variance(expected, s, o.threshold)).sqrt();
    sd.is_finite().then(|| sd.max(o.relative_floor))
}

/// `seasonal`: the median of the same weekday over the last four weeks, moved by the median
/// residual of the trailing window, ± z deviations. Each side's deviation is the larger of the
/// MAD and that side's own spread of residuals: a budget-capped campaign rarely rises but dips
/// as much as any, and its dips are judged by its dips.
pub(super) fn seasonal(
    b: &Buffers,
    scale: &LogScale,
    d: usize,
    o: &DetectOptions,
    mean_sampling: Option<f64>,
    floor: f64,
) -> Option<Band> {
    let (median_residual, spread) = b.window.median_mad()?;
    let (below, above) = b.window.side_spreads(median_residual);
    let center = b.seasonal[d]? + median_residual;
    let side = |own: f64| {
        let extra = (spread.max(own).powi(2) - mean_sampling.unwrap_or(0.0)).max(0.0);
        deviation(scale, &b.sums[d], center, extra, o)
    };
    let sd = Sides {
        below: side(below)?,
        above: side(above)?,
    };
    let half = Sides {
        below: o.threshold * sd.below,
        above: o.threshold * sd.above,
    };
    log_band(scale, &b.sums[d], center, sd, half, floor)
}

/// `cold_start`: too little history for a weekly shape, so the median of the trailing window's
/// values, and only extreme changes count: beyond z deviations *and* at least the cold-start
/// factor away (×/÷ 4 at medium), and never under the absolute floor.
pub(super) fn cold_start(
    b: &mut Buffers,
    scale: &LogScale,
    d: usize,
    o: &DetectOptions,
    floor: f64,
) -> Option<Band> {
    b.plain.clear();
    b.plain
        .extend((d.saturating_sub(o.window)..d).filter_map(|j| b.y[j]));
    if b.plain.len() < MIN_WINDOW_VALUES {
        return None;
    }
    let (center, spread) = crate::analytics::stats::median_mad(&b.plain, &mut b.scratch)?;
    let sd = deviation(scale, &b.sums[d], center, spread * spread, o)?;
    let half = (o.threshold * sd).max(o.cold_start_factor.ln());
    log_band(
        scale,
        &b.sums[d],
        center,
        Sides::both(sd),
        Sides::both(half),
        floor,
    )
}
