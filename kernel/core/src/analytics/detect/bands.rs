//! Bands of the classic methods (z-score, MAD, week over week), the band and score types every
//! method shares, and severity.

use super::{Buffers, DetectOptions, Method, RELATIVE_FLOOR};
use crate::analytics::metric::Metric;

/// What a day is judged against: its expected value and how far below and above it a value may
/// fall before it is an anomaly.
#[derive(Debug, Clone, Copy)]
pub(super) struct Band {
    pub expected: f64,
    pub below: f64,
    pub above: f64,
    pub score: Score,
}

/// How a deviation is measured: in units of a scale, on Anscombe's square-root scale (counts,
/// where Poisson noise has variance 1/4 at any level), on the log scale (money), or on the
/// shifted log scale of the noise-aware methods (`ln(x + offset)`, see `noise`), whose
/// deviation may differ below and above the center.
#[derive(Debug, Clone, Copy)]
pub(super) enum Score {
    Linear(f64),
    Root {
        center: f64,
        sd: f64,
    },
    Log {
        center: f64,
        sd: f64,
    },
    Shifted {
        center: f64,
        below: f64,
        above: f64,
        offset: f64,
    },
}

impl Band {
    pub fn score(&self, x: f64) -> f64 {
        match self.score {
            Score::Linear(scale) => (x - self.expected) / scale,
            Score::Root { center, sd } => ((x.max(0.0) + 0.375).sqrt() - center) / sd,
            // A value of 0 is a drop by a factor of a million: far out, but finite.
            Score::Log { center, sd } => (x.max(center.exp() * 1e-6).ln() - center) / sd,
            Score::Shifted {
                center,
                below,
                above,
                offset,
            } => {
                let y = (x + offset).max(f64::MIN_POSITIVE).ln() - center;
                y / if y < 0.0 { below } else { above }
            }
        }
    }
}

/// The band from the trailing window (zscore, mad).
pub(super) fn windowed_baseline(
    b: &mut Buffers,
    d: usize,
    method: Method,
    o: &DetectOptions,
    mean_sampling: Option<f64>,
    floor: f64,
) -> Option<Band> {
    let metric = o.metric;
    let (expected, spread) = match method {
        Method::Mad => b.window.median_mad()?,
        _ => {
            b.plain.clear();
            let from = d.saturating_sub(o.window);
            b.plain.extend((from..d).filter_map(|j| b.x[j]));
            let (mean, std) = crate::analytics::stats::mean_std(&b.plain)?;
            let expected = if metric.is_additive() {
                mean
            } else {
                // Ratios of the window's sums, as every ratio here is a ratio of sums.
                let (num, den) = (from..d)
                    .filter(|&j| b.x[j].is_some())
                    .map(|j| metric.parts(&b.sums[j]))
                    .fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
                num / den
            };
            (expected, std)
        }
    };
    if metric.is_count() {
        return count_band(
            expected,
            (spread * spread).max(expected.abs()),
            o.threshold,
            floor,
        );
    }
    if metric == Metric::Cost && expected > 0.0 {
        return money_band(expected, spread, o.threshold, floor);
    }
    let variance = if metric.is_additive() {
        spread * spread
    } else {
        // The window's spread holds its days' sampling noise; what is left is real day-to-day
        // variation, to which this day's own sampling noise is added.
        let extra = (spread * spread - mean_sampling.unwrap_or(0.0)).max(0.0);
        metric.sampling_variance(expected, &b.sums[d], o.threshold) + extra
    };
    band(expected, variance.sqrt(), o.threshold, floor)
}

/// A band for counts, symmetric on Anscombe's square-root scale: the variance (at least the
/// Poisson variance, the expected value) becomes a deviation there by the delta method. So a
/// count that drops to zero from 16 is flagged (the normal approximation would need a drop
/// below zero), while rises need more room, as Poisson tails do.
fn count_band(expected: f64, variance: f64, z: f64, floor: f64) -> Option<Band> {
    let center = (expected.max(0.0) + 0.375).sqrt();
    let sd = (variance.sqrt() / (2.0 * center)).max(0.5);
    if !sd.is_finite() {
        return None;
    }
    let low = (center - z * sd).max(0.0);
    let lower = low * low - 0.375;
    let upper = (center + z * sd).powi(2) - 0.375;
    let least = (z * RELATIVE_FLOOR * expected.abs()).max(floor);
    Some(Band {
        expected,
        below: (expected - lower).max(least),
        above: (upper - expected).max(least),
        score: Score::Root { center, sd },
    })
}

/// A band for spend, symmetric on the log scale: spend moves by factors (a budget raised by a
/// third, bids up a fifth), so its noise is multiplicative and a rise needs more room than a fall
/// of the same size. Revenue is not: a sum of a few orders of very different values, its low
/// days are far lower than a log-normal's, and it keeps the plain band.
fn money_band(expected: f64, spread: f64, z: f64, floor: f64) -> Option<Band> {
    let sd = (spread / expected).max(RELATIVE_FLOOR);
    if !sd.is_finite() {
        return None;
    }
    Some(Band {
        expected,
        below: (expected * (1.0 - (-z * sd).exp())).max(floor),
        above: (expected * ((z * sd).exp() - 1.0)).max(floor),
        score: Score::Log {
            center: expected.ln(),
            sd,
        },
    })
}

pub(super) fn week_over_week(b: &Buffers, d: usize, o: &DetectOptions, floor: f64) -> Option<Band> {
    let expected = b.x[d.checked_sub(7)?]?;
    let mut half_width = (o.change_threshold * expected.abs()).max(floor);
    if !o.metric.is_additive() {
        let sampling = o
            .metric
            .sampling_variance(expected, &b.sums[d], o.threshold)
            .sqrt();
        half_width = half_width.max(o.threshold * sampling);
    }
    if !half_width.is_finite() || half_width <= 0.0 {
        return None;
    }
    Some(Band {
        expected,
        below: half_width,
        above: half_width,
        score: Score::Linear(half_width / o.threshold),
    })
}

/// The band for a deviation scale: z scales wide, but never under the relative floor or the
/// minimum change. None when the scale is unusable.
fn band(expected: f64, scale: f64, z: f64, floor: f64) -> Option<Band> {
    let scale = scale.max(RELATIVE_FLOOR * expected.abs());
    if !scale.is_finite() {
        return None;
    }
    let half_width = (z * scale).max(floor);
    if half_width <= 0.0 {
        return None;
    }
    let scale = if scale > 0.0 { scale } else { half_width / z };
    Some(Band {
        expected,
        below: half_width,
        above: half_width,
        score: Score::Linear(scale),
    })
}

/// 1 low … 4 critical, by how far the day is from its expectation relative to it: under 20 %,
/// under 50 %, under 90 %, and beyond (a metric that vanished or doubled).
pub(super) fn severity(observed: f64, expected: f64) -> u8 {
    if expected == 0.0 {
        return 4;
    }
    let relative = ((observed - expected) / expected).abs();
    match relative {
        r if r < 0.2 => 1,
        r if r < 0.5 => 2,
        r if r < 0.9 => 3,
        _ => 4,
    }
}
