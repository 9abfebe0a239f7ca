//! Anomaly detection over daily series: each day of the evaluation range is compared with what
//! its history leads one to expect, within a band that counts both the history's own spread and,
//! for ratios, how much the day's volume alone lets the ratio wander.
//!
//! Methods:
//! - `zscore`: trailing window mean ± z standard deviations (ratios: ratio of the window's sums);
//! - `mad`: trailing window median ± z robust deviations (1.4826 · MAD);
//! - `seasonal`: the median of the same weekday over the last four weeks, corrected by the
//!   median residual of the trailing window (so a trend does not read as an anomaly), ± z
//!   robust deviations of those residuals;
//! - `week_over_week`: the same weekday a week earlier, ± a relative change threshold, never
//!   narrower than an absolute floor;
//! - `auto`: `week_over_week` for a day with under 14 days of history, else `seasonal`.
//!
//! Bands are symmetric on the scale where the metric's noise is: square roots for counts (Poisson),
//! logarithms for spend (multiplicative), the values themselves for revenue and ratios. Every band's
//! scale is at least 8 % of the expected value, and no band is narrower than the minimum change
//! worth reporting. For ratios the band adds the sampling variance of the
//! day (see `Metric::sampling_variance`) to the history's extra day-to-day variance, so a CTR
//! swing on 40 impressions stays inside it. Consecutive anomalous days of a group in the same
//! direction form one incident.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    UInt32Array,
};
use arrow::datatypes::{DataType, Field};

use super::metric::Metric;
use super::series::{batch_of, SeriesSet};
use super::window::SortedWindow;
use super::AnalyticsError;
use crate::parallel::{map_each, ranges};

const SEASONAL_WEEKS: usize = 4;
/// Fewest values a window needs before its spread is trusted.
const MIN_WINDOW_VALUES: usize = 7;
/// Days of history from which `auto` uses the seasonal baseline.
const AUTO_SEASONAL_HISTORY: usize = 14;
/// A band's scale is never under this share of the expected value: day-to-day swings of a few
/// percent are normal in ad data, and a very steady history must not make them anomalies.
const RELATIVE_FLOOR: f64 = 0.08;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Auto,
    ZScore,
    Mad,
    Seasonal,
    WeekOverWeek,
}

pub const METHOD_NAMES: [&str; 5] = ["auto", "zscore", "mad", "seasonal", "week_over_week"];

impl Method {
    pub fn parse(name: &str) -> Result<Method, AnalyticsError> {
        Ok(match name {
            "auto" => Method::Auto,
            "zscore" => Method::ZScore,
            "mad" => Method::Mad,
            "seasonal" => Method::Seasonal,
            "week_over_week" => Method::WeekOverWeek,
            _ => {
                return Err(AnalyticsError(format!(
                    "unknown method '{name}' (expected one of {})",
                    METHOD_NAMES.join(", ")
                )))
            }
        })
    }

    pub fn name(self) -> &'static str {
        METHOD_NAMES[self as usize]
    }
}

#[derive(Debug, Clone)]
pub struct DetectOptions {
    pub metric: Metric,
    pub method: Method,
    /// Band half-width in (robust) standard deviations.
    pub threshold: f64,
    /// Relative change that `week_over_week` flags, e.g. 0.6 for ±60 %.
    pub change_threshold: f64,
    /// Days of the trailing window (zscore, mad, and the seasonal residuals).
    pub window: usize,
    /// Smallest absolute deviation reported; None: the metric's default.
    pub min_change: Option<f64>,
    /// First and last day (date32) judged; earlier rows are history.
    pub start: i32,
    pub end: i32,
    /// Every judged day in the output, not only the anomalous ones.
    pub all_points: bool,
    /// First provisional day per platform; `default_provisional_from` for groups that have no
    /// platform key.
    pub provisional_from: HashMap<String, i32>,
    pub default_provisional_from: i32,
}

/// One judged day.
#[derive(Debug, Clone, Copy)]
struct Judged {
    day: i32,
    observed: Option<f64>,
    expected: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    score: Option<f64>,
    anomaly: bool,
    method: Option<Method>,
    severity: u8,
    /// Numerator and denominator of the day (ratios), or the value and 1 (additive), and the
    /// expected numerator for incidents.
    num: f64,
    den: f64,
    expected_num: f64,
    /// The day's five sums, for the money an incident puts at stake.
    sums: [i64; 5],
}

/// What the worker of one range of groups reuses from group to group.
#[derive(Default)]
struct Buffers {
    sums: Vec<[i64; 5]>,
    x: Vec<Option<f64>>,
    seasonal: Vec<Option<f64>>,
    window: SortedWindow,
    plain: Vec<f64>,
}

pub struct Detection {
    pub points: RecordBatch,
    pub incidents: RecordBatch,
}

pub fn detect(
    set: &SeriesSet,
    carry: &[&str],
    options: &DetectOptions,
    threads: usize,
) -> Result<Detection, AnalyticsError> {
    if options.window < MIN_WINDOW_VALUES {
        return Err(AnalyticsError(format!(
            "window must be at least {MIN_WINDOW_VALUES} days"
        )));
    }
    if !(options.threshold > 0.0 && options.change_threshold > 0.0) {
        return Err(AnalyticsError("thresholds must be positive".into()));
    }
    let platforms = platform_of_groups(set)?;
    let groups = set.groups();
    let parts = ranges(groups, threads.clamp(1, groups.max(1)));
    let judged: Vec<Vec<(u32, Judged)>> = map_each(parts, |range| {
        let mut buffers = Buffers::default();
        let mut out = Vec::new();
        for g in range {
            for j in judge_group(set, g, options, &mut buffers) {
                if options.all_points || j.anomaly {
                    out.push((g as u32, j));
                }
            }
        }
        out
    });
    let judged: Vec<(u32, Judged)> = judged.into_iter().flatten().collect();
    let provisional: Vec<bool> = judged
        .iter()
        .map(|(g, j)| {
            let from = platforms[*g as usize]
                .as_ref()
                .and_then(|p| options.provisional_from.get(p))
                .copied()
                .unwrap_or(options.default_provisional_from);
            j.day >= from
        })
        .collect();
    let incidents = incidents(&judged);
    Ok(Detection {
        incidents: incidents_batch(set, carry, &judged, &provisional, &incidents)?,
        points: points_batch(set, carry, &judged, &provisional)?,
    })
}

/// The platform of each group when `platform` is one of its keys.
fn platform_of_groups(set: &SeriesSet) -> Result<Vec<Option<String>>, AnalyticsError> {
    let groups: Vec<u32> = (0..set.groups() as u32).collect();
    let columns = set.group_columns(&groups, &[])?;
    let platform = columns
        .iter()
        .find(|(f, _)| f.name() == "platform")
        .map(|(_, a)| arrow::compute::cast(a, &DataType::Utf8))
        .transpose()?;
    Ok(match platform {
        Some(array) => {
            let strings = array
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("cast to utf8");
            strings.iter().map(|s| s.map(str::to_owned)).collect()
        }
        None => vec![None; groups.len()],
    })
}

fn judge_group(set: &SeriesSet, group: usize, o: &DetectOptions, b: &mut Buffers) -> Vec<Judged> {
    let metric = o.metric;
    if metric.is_money() && !set.money_known[group] {
        return Vec::new();
    }
    let rows = set.rows_of(group);
    // History starts with the group's first day of data: before it, the series did not exist.
    let Some(first) = rows
        .iter()
        .map(|&r| set.days[r as usize])
        .filter(|d| *d <= o.end)
        .min()
    else {
        return Vec::new();
    };
    if first > o.end {
        return Vec::new();
    }
    let n = (o.end - first + 1) as usize;
    b.sums.clear();
    b.sums.resize(n, [0; 5]);
    for &r in rows {
        let day = set.days[r as usize];
        if day <= o.end {
            let slot = &mut b.sums[(day - first) as usize];
            for (k, s) in slot.iter_mut().enumerate() {
                *s += set.measures[k][r as usize];
            }
        }
    }
    b.x.clear();
    b.x.extend(b.sums.iter().map(|s| metric.value(s)));
    let uses_seasonal = matches!(o.method, Method::Auto | Method::Seasonal);
    if uses_seasonal {
        b.seasonal.clear();
        for d in 0..n {
            b.plain.clear();
            b.plain.extend(
                (1..=SEASONAL_WEEKS)
                    .take_while(|k| k * 7 <= d)
                    .filter_map(|k| b.x[d - k * 7]),
            );
            b.seasonal.push(super::stats::median(&mut b.plain));
        }
    }
    // The window series: residuals from the seasonal baseline, or the values themselves.
    let windowed = |b: &Buffers, d: usize| -> Option<f64> {
        if uses_seasonal {
            Some(b.x[d]? - b.seasonal[d]?)
        } else {
            b.x[d]
        }
    };
    let floor = o.min_change.unwrap_or_else(|| metric.default_min_change());
    let eval_from = (o.start.max(first) - first) as usize;
    b.window.clear();
    let mut sampling_sum = 0.0;
    let mut sampling_n = 0usize;
    let sampling_of = |b: &Buffers, d: usize| -> Option<f64> {
        let x = b.x[d]?;
        let v = metric.sampling_variance(x, &b.sums[d], o.threshold);
        v.is_finite().then_some(v)
    };
    for d in eval_from.saturating_sub(o.window)..eval_from {
        if let Some(v) = windowed(b, d) {
            b.window.insert(v);
        }
        if let Some(v) = sampling_of(b, d) {
            sampling_sum += v;
            sampling_n += 1;
        }
    }
    let mut out = Vec::with_capacity(if o.all_points { n - eval_from } else { 0 });
    for d in eval_from..n {
        let (num, den) = metric.parts(&b.sums[d]);
        let observed = b.x[d];
        let mut judged = Judged {
            day: first + d as i32,
            observed,
            expected: None,
            lower: None,
            upper: None,
            score: None,
            anomaly: false,
            method: None,
            severity: 0,
            num,
            den,
            expected_num: 0.0,
            sums: b.sums[d],
        };
        if let Some(x) = observed {
            let method = match o.method {
                Method::Auto if d >= AUTO_SEASONAL_HISTORY => Method::Seasonal,
                Method::Auto => Method::WeekOverWeek,
                m => m,
            };
            let mean_sampling = (sampling_n > 0).then(|| sampling_sum / sampling_n as f64);
            let baseline = match method {
                Method::WeekOverWeek => week_over_week(b, d, o, floor),
                _ => windowed_baseline(b, d, method, o, mean_sampling, floor),
            };
            if let Some(band) = baseline {
                let expected = band.expected;
                let lower = expected - band.below;
                judged.expected = Some(expected);
                judged.lower = Some(if metric == Metric::Roi {
                    lower
                } else {
                    lower.max(0.0)
                });
                judged.upper = Some(expected + band.above);
                judged.score = Some(band.score(x));
                judged.anomaly = x < expected - band.below || x > expected + band.above;
                judged.method = Some(method);
                judged.severity = severity(x, expected);
                judged.expected_num = expected * den;
            }
        }
        out.push(judged);
        // Slide the window: day d joins, day d - window leaves.
        if let Some(v) = windowed(b, d) {
            b.window.insert(v);
        }
        if let Some(v) = sampling_of(b, d) {
            sampling_sum += v;
            sampling_n += 1;
        }
        if d >= o.window {
            let leaving = d - o.window;
            if let Some(v) = windowed(b, leaving) {
                b.window.remove(v);
            }
            if let Some(v) = sampling_of(b, leaving) {
                sampling_sum -= v;
                sampling_n -= 1;
            }
        }
    }
    out
}

/// What a day is judged against: its expected value and how far below and above it a value may
/// fall before it is an anomaly.
#[derive(Debug, Clone, Copy)]
struct Band {
    expected: f64,
    below: f64,
    above: f64,
    score: Score,
}

/// How a deviation is measured: in units of a scale, on Anscombe's square-root scale (counts,
/// where Poisson noise has variance 1/4 at any level), or on the log scale (money).
#[derive(Debug, Clone, Copy)]
enum Score {
    Linear(f64),
    Root { center: f64, sd: f64 },
    Log { center: f64, sd: f64 },
}

impl Band {
    fn score(&self, x: f64) -> f64 {
        match self.score {
            Score::Linear(scale) => (x - self.expected) / scale,
            Score::Root { center, sd } => ((x.max(0.0) + 0.375).sqrt() - center) / sd,
            // A value of 0 is a drop by a factor of a million: far out, but finite.
            Score::Log { center, sd } => (x.max(center.exp() * 1e-6).ln() - center) / sd,
        }
    }
}

/// The band from the trailing window (zscore, mad, seasonal residuals).
fn windowed_baseline(
    b: &mut Buffers,
    d: usize,
    method: Method,
    o: &DetectOptions,
    mean_sampling: Option<f64>,
    floor: f64,
) -> Option<Band> {
    if b.window.len() < MIN_WINDOW_VALUES {
        return None;
    }
    let metric = o.metric;
    let (expected, spread) = match method {
        Method::Seasonal => {
            let (median_residual, spread) = b.window.median_mad()?;
            (b.seasonal[d]? + median_residual, spread)
        }
        Method::Mad => b.window.median_mad()?,
        _ => {
            b.plain.clear();
            let from = d.saturating_sub(o.window);
            b.plain.extend((from..d).filter_map(|j| b.x[j]));
            let (mean, std) = super::stats::mean_std(&b.plain)?;
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

fn week_over_week(b: &Buffers, d: usize, o: &DetectOptions, floor: f64) -> Option<Band> {
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
fn severity(observed: f64, expected: f64) -> u8 {
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

/// A run of consecutive anomalous days of one group in one direction.
struct Incident {
    group: u32,
    first: usize,
    last: usize,
}

fn incidents(judged: &[(u32, Judged)]) -> Vec<Incident> {
    let mut out: Vec<Incident> = Vec::new();
    let mut open: Option<Incident> = None;
    for (i, (g, j)) in judged.iter().enumerate() {
        if !j.anomaly {
            continue;
        }
        let up = j.observed > j.expected;
        if let Some(inc) = &mut open {
            let (pg, pj) = &judged[inc.last];
            let p_up = pj.observed > pj.expected;
            if *pg == *g && pj.day + 1 == j.day && p_up == up {
                inc.last = i;
                continue;
            }
        }
        out.extend(open.take());
        open = Some(Incident {
            group: *g,
            first: i,
            last: i,
        });
    }
    out.extend(open);
    out
}

fn direction(j: &Judged) -> Option<&'static str> {
    j.anomaly.then(|| {
        if j.observed > j.expected {
            "up"
        } else {
            "down"
        }
    })
}

fn points_batch(
    set: &SeriesSet,
    carry: &[&str],
    judged: &[(u32, Judged)],
    provisional: &[bool],
) -> Result<RecordBatch, AnalyticsError> {
    let groups: Vec<u32> = judged.iter().map(|(g, _)| *g).collect();
    let mut columns = set.group_columns(&groups, carry)?;
    let f64s = |name: &str, f: &dyn Fn(&Judged) -> Option<f64>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(judged.iter().map(|(_, j)| f(j)).collect::<Float64Array>()),
        )
    };
    columns.push((
        Field::new("date", DataType::Date32, false),
        Arc::new(Date32Array::from_iter_values(
            judged.iter().map(|(_, j)| j.day),
        )),
    ));
    columns.push(f64s("observed", &|j| j.observed));
    columns.push(f64s("expected", &|j| j.expected));
    columns.push(f64s("lower", &|j| j.lower));
    columns.push(f64s("upper", &|j| j.upper));
    columns.push(f64s("score", &|j| j.score));
    columns.push((
        Field::new("anomaly", DataType::Boolean, false),
        Arc::new(BooleanArray::from_iter(
            judged.iter().map(|(_, j)| Some(j.anomaly)),
        )),
    ));
    columns.push((
        Field::new("direction", DataType::Utf8, true),
        Arc::new(StringArray::from_iter(
            judged.iter().map(|(_, j)| direction(j)),
        )),
    ));
    columns.push((
        Field::new("severity", DataType::UInt32, true),
        Arc::new(UInt32Array::from_iter(
            judged
                .iter()
                .map(|(_, j)| j.anomaly.then_some(u32::from(j.severity))),
        )),
    ));
    columns.push((
        Field::new("method", DataType::Utf8, true),
        Arc::new(StringArray::from_iter(
            judged.iter().map(|(_, j)| j.method.map(Method::name)),
        )),
    ));
    columns.push((
        Field::new("provisional", DataType::Boolean, false),
        Arc::new(BooleanArray::from_iter(
            provisional.iter().map(|p| Some(*p)),
        )),
    ));
    batch_of(columns)
}

fn incidents_batch(
    set: &SeriesSet,
    carry: &[&str],
    judged: &[(u32, Judged)],
    provisional: &[bool],
    incidents: &[Incident],
) -> Result<RecordBatch, AnalyticsError> {
    let groups: Vec<u32> = incidents.iter().map(|i| i.group).collect();
    let mut columns = set.group_columns(&groups, carry)?;
    let n = incidents.len();
    let (mut start, mut end, mut days) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut observed, mut expected, mut peak) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut severity, mut dir, mut method, mut provisional_any) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut sums: [Vec<i64>; 5] = std::array::from_fn(|_| Vec::with_capacity(n));
    for inc in incidents {
        // With every point kept, the incident's days are the anomalous entries of its span.
        let members: Vec<usize> = (inc.first..=inc.last)
            .filter(|&i| judged[i].1.anomaly)
            .collect();
        let day = |i: usize| &judged[i].1;
        start.push(day(members[0]).day);
        end.push(day(inc.last).day);
        days.push(members.len() as i64);
        // Ratios over the incident are ratios of its sums; the expected ratio weighs each day's
        // expectation by that day's volume.
        let (num, den, exp_num) = members.iter().fold((0.0, 0.0, 0.0), |a, &i| {
            (
                a.0 + day(i).num,
                a.1 + day(i).den,
                a.2 + day(i).expected_num,
            )
        });
        observed.push((den != 0.0).then(|| num / den));
        expected.push((den != 0.0).then(|| exp_num / den));
        let top = *members
            .iter()
            .max_by(|&&a, &&b| {
                let s = |i: usize| day(i).score.unwrap_or(0.0).abs();
                s(a).total_cmp(&s(b))
            })
            .expect("an incident has a day");
        peak.push(day(top).score);
        severity.push(members.iter().map(|&i| u32::from(day(i).severity)).max());
        dir.push(direction(day(top)));
        method.push(day(top).method.map(Method::name));
        provisional_any.push(members.iter().any(|&i| provisional[i]));
        for (k, column) in sums.iter_mut().enumerate() {
            column.push(members.iter().map(|&i| day(i).sums[k]).sum());
        }
    }
    let date = |name: &str, v: Vec<i32>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Date32, false),
            Arc::new(Date32Array::from(v)),
        )
    };
    let float = |name: &str, v: Vec<Option<f64>>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(Float64Array::from(v)),
        )
    };
    columns.push(date("start", start));
    columns.push(date("end", end));
    columns.push((
        Field::new("days", DataType::Int64, false),
        Arc::new(Int64Array::from(days)),
    ));
    columns.push(float("observed", observed));
    columns.push(float("expected", expected));
    columns.push(float("peak_score", peak));
    columns.push((
        Field::new("severity", DataType::UInt32, true),
        Arc::new(UInt32Array::from(severity)),
    ));
    columns.push((
        Field::new("direction", DataType::Utf8, true),
        Arc::new(StringArray::from(dir)),
    ));
    columns.push((
        Field::new("method", DataType::Utf8, true),
        Arc::new(StringArray::from(method)),
    ));
    columns.push((
        Field::new("provisional", DataType::Boolean, false),
        Arc::new(BooleanArray::from(provisional_any)),
    ));
    // The incident days' sums, so the money at stake can be priced without another query.
    for (name, column) in crate::aggregate::MEASURE_COLUMNS.iter().zip(sums) {
        columns.push((
            Field::new(*name, DataType::Int64, false),
            Arc::new(Int64Array::from(column)),
        ));
    }
    batch_of(columns)
}
