//! Anomaly detection over daily series: each day of the evaluation range is compared with what
//! its history leads one to expect, within a band that counts both the history's own spread and,
//! for ratios, how much the day's volume alone lets the ratio wander.
//!
//! Methods:
//! - `zscore`: trailing window mean ± z standard deviations (ratios: ratio of the window's sums);
//! - `mad`: trailing window median ± z robust deviations (1.4826 · MAD);
//! - `seasonal` (noise-aware, see `noise`): on the log scale `ln(x + half an event)`, the median
//!   of the same weekday over the last four weeks, corrected by the median residual of the
//!   trailing window (so a trend does not read as an anomaly), ± z deviations: the residuals'
//!   robust spread (each side's own where wider) beyond their sampling noise plus the day's
//!   own sampling noise;
//! - `cold_start`: on the same scale, the median of the trailing window, and only extreme
//!   changes: beyond z deviations and beyond a factor (`cold_start_factor`);
//! - `week_over_week`: the same weekday a week earlier, ± a relative change threshold, never
//!   narrower than an absolute floor;
//! - `auto`: nothing for a series' first 7 days (no history to judge by), `cold_start` from its
//!   7th to its 28th day, then `seasonal`.
//!
//! The classic methods' bands are symmetric on square roots for counts (Poisson), logarithms
//! for spend, the values themselves for revenue and ratios, with the day's sampling variance
//! added for ratios. Every band's scale is at least 8 % of the expected value, and no band is
//! narrower than the minimum change worth reporting. A series ends with its last day of data:
//! the days after it (a campaign paused or ended) are not judged. Consecutive anomalous days of
//! a group in the same direction form one incident.

mod bands;
mod evidence;
mod noise;
mod output;

use std::collections::HashMap;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::DataType;

use super::metric::Metric;
use super::series::SeriesSet;
use super::window::SortedWindow;
use super::AnalyticsError;
use crate::parallel::{map_each, ranges};
use bands::{severity, week_over_week, windowed_baseline};
pub(crate) use noise::LogScale;

const SEASONAL_WEEKS: usize = 4;
/// Longest run of consecutive days whose scores are combined.
const MAX_RUN: usize = 4;
/// Fewest values a window needs before its spread is trusted.
const MIN_WINDOW_VALUES: usize = 7;
/// Days of history from which `auto` uses the seasonal baseline (its four weeks of same-weekday
/// history are there), and before which it uses `cold_start` (from `MIN_WINDOW_VALUES` days
/// on): with two or three weeks, a weekday's median of two values read ordinary noise as
/// anomalies (most false alarms of young series).
const AUTO_SEASONAL_HISTORY: usize = 7 * SEASONAL_WEEKS;
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
    ColdStart,
}

pub const METHOD_NAMES: [&str; 6] = [
    "auto",
    "zscore",
    "mad",
    "seasonal",
    "week_over_week",
    "cold_start",
];

impl Method {
    pub fn parse(name: &str) -> Result<Method, AnalyticsError> {
        Ok(match name {
            "auto" => Method::Auto,
            "zscore" => Method::ZScore,
            "mad" => Method::Mad,
            "seasonal" => Method::Seasonal,
            "week_over_week" => Method::WeekOverWeek,
            "cold_start" => Method::ColdStart,
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

    /// Judges on the noise-aware log scale with a seasonal baseline (rates and runs apply).
    fn is_noise_aware(self) -> bool {
        matches!(self, Method::Auto | Method::Seasonal)
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
    /// Least factor (up or down) that `cold_start` flags, e.g. 4 for ×4 or ÷4.
    pub cold_start_factor: f64,
    /// `seasonal` (and `auto`): the band for a volume metric's rate (CVR for conversions,
    /// order value for revenue), in its own deviations; 0 judges the metric alone. A day whose
    /// rate leaves this band is anomalous when the metric itself moved the same way by at least
    /// `corroboration` deviations (and `min_change`).
    pub rate_threshold: f64,
    pub corroboration: f64,
    /// `seasonal` (and `auto`): the combined score (Stouffer: the sum of the days' scores over
    /// the square root of their number) beyond which 2 to `MAX_RUN` consecutive days that all
    /// lean the same way are anomalous together; 0 judges days alone.
    pub run_threshold: f64,
    /// The least factor (up or down) each day of a run moved by: a lasting budget or bid change
    /// of a fifth or a half leans every day one way until the baseline follows it, and a run
    /// is an excursion beyond that, not a new level.
    pub run_factor: f64,
    /// The noise-aware methods' deviation is never under this, on the log scale (a share of
    /// the expected value): a very steady history must not make ordinary wobbles anomalies.
    pub relative_floor: f64,
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
pub(super) struct Judged {
    day: i32,
    observed: Option<f64>,
    expected: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    score: Option<f64>,
    /// The strongest evidence the day is anomalous, signed: its score, its rate's score, or the
    /// combined score of a run it is part of (what incidents are ranked and trusted by).
    evidence: Option<f64>,
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
    /// The values on the noise-aware log scale (seasonal, cold start).
    y: Vec<Option<f64>>,
    /// The seasonal baseline, on the scale the method judges.
    seasonal: Vec<Option<f64>>,
    window: SortedWindow,
    plain: Vec<f64>,
    scratch: Vec<f64>,
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
    if !(options.cold_start_factor > 1.0 && options.cold_start_factor.is_finite()) {
        return Err(AnalyticsError(
            "cold_start_factor must be a number above 1".into(),
        ));
    }
    if !(options.run_factor >= 1.0 && options.run_factor.is_finite()) {
        return Err(AnalyticsError(
            "run_factor must be a number of at least 1".into(),
        ));
    }
    if ![
        options.rate_threshold,
        options.corroboration,
        options.run_threshold,
        options.relative_floor,
    ]
    .iter()
    .all(|v| *v >= 0.0 && v.is_finite())
    {
        return Err(AnalyticsError(
            "rate_threshold, corroboration, run_threshold and relative_floor must be numbers of at least 0"
                .into(),
        ));
    }
    // The rate is judged like the metric, by its own band and without the metric's floor.
    let rate_options = options
        .metric
        .volume_rate()
        .filter(|_| options.rate_threshold > 0.0 && options.method.is_noise_aware())
        .map(|rate| DetectOptions {
            metric: rate,
            threshold: options.rate_threshold,
            min_change: None,
            provisional_from: HashMap::new(),
            ..options.clone()
        });
    let platforms = platform_of_groups(set)?;
    let groups = set.groups();
    let parts = ranges(groups, threads.clamp(1, groups.max(1)));
    let judged: Vec<Vec<(u32, Judged)>> = map_each(parts, |range| {
        let mut buffers = Buffers::default();
        let mut out = Vec::new();
        for g in range {
            for j in judge_group(set, g, options, rate_options.as_ref(), &mut buffers) {
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
    let incidents = output::incidents(&judged);
    Ok(Detection {
        incidents: output::incidents_batch(set, carry, &judged, &provisional, &incidents)?,
        points: output::points_batch(set, carry, &judged, &provisional)?,
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

/// Every judged day of a group: by the metric's own band, then by its rate's band and as runs
/// of days (the noise-aware methods).
fn judge_group(
    set: &SeriesSet,
    group: usize,
    o: &DetectOptions,
    rate: Option<&DetectOptions>,
    b: &mut Buffers,
) -> Vec<Judged> {
    let mut days = judge_metric(set, group, o, b);
    let floor = o
        .min_change
        .unwrap_or_else(|| o.metric.default_min_change());
    if let Some(rate) = rate {
        let rates = judge_metric(set, group, rate, b);
        evidence::corroborate(&mut days, &rates, o.corroboration, floor);
    }
    if o.run_threshold > 0.0 && o.method.is_noise_aware() {
        let run = evidence::RunRule {
            threshold: o.run_threshold,
            longest: MAX_RUN,
            floor,
            factor: o.run_factor,
        };
        evidence::runs(&mut days, &run);
    }
    days
}

fn judge_metric(set: &SeriesSet, group: usize, o: &DetectOptions, b: &mut Buffers) -> Vec<Judged> {
    let metric = o.metric;
    if metric.is_money() && !set.money_known[group] {
        return Vec::new();
    }
    let rows = set.rows_of(group);
    // History starts with the group's first day of data (before it, the series did not exist)
    // and the series ends with its last.
    let days = rows
        .iter()
        .map(|&r| set.days[r as usize])
        .filter(|d| *d <= o.end);
    let (Some(first), Some(last)) = (days.clone().min(), days.max()) else {
        return Vec::new();
    };
    let n = (last - first + 1) as usize;
    b.sums.clear();
    b.sums.resize(n, [0; 5]);
    for &r in rows {
        let day = set.days[r as usize];
        if day <= last {
            let slot = &mut b.sums[(day - first) as usize];
            for (k, s) in slot.iter_mut().enumerate() {
                *s += set.measures[k][r as usize];
            }
        }
    }
    b.x.clear();
    b.x.extend(b.sums.iter().map(|s| metric.value(s)));
    // The noise-aware methods judge on the log scale, the classic ones on the values.
    let scale = matches!(
        o.method,
        Method::Auto | Method::Seasonal | Method::ColdStart
    )
    .then(|| LogScale::of(metric, &b.sums));
    b.y.clear();
    if let Some(scale) = &scale {
        b.y.extend(b.x.iter().zip(&b.sums).map(|(x, s)| scale.y(*x, s)));
    }
    let uses_seasonal = matches!(o.method, Method::Auto | Method::Seasonal);
    if uses_seasonal {
        b.seasonal.clear();
        for d in 0..n {
            b.plain.clear();
            b.plain.extend(
                (1..=SEASONAL_WEEKS)
                    .take_while(|k| k * 7 <= d)
                    .filter_map(|k| b.y[d - k * 7]),
            );
            b.seasonal.push(super::stats::median(&mut b.plain));
        }
    }
    // The window series: residuals from the seasonal baseline, or the values themselves.
    let windowed = |b: &Buffers, d: usize| -> Option<f64> {
        if uses_seasonal {
            Some(b.y[d]? - b.seasonal[d]?)
        } else {
            b.x[d]
        }
    };
    // Sampling variance of a window day: on the log scale at the day's seasonal expectation,
    // else at its value.
    let sampling_of = |b: &Buffers, d: usize| -> Option<f64> {
        let v = match &scale {
            Some(scale) if uses_seasonal => {
                let expected = scale.value(b.seasonal[d]?, &b.sums[d])?;
                scale.variance(expected, &b.sums[d], o.threshold)
            }
            Some(_) => return None,
            None => metric.sampling_variance(b.x[d]?, &b.sums[d], o.threshold),
        };
        v.is_finite().then_some(v)
    };
    let floor = o.min_change.unwrap_or_else(|| metric.default_min_change());
    let eval_from = (o.start.max(first) - first) as usize;
    b.window.clear();
    let mut sampling_sum = 0.0;
    let mut sampling_n = 0usize;
    for d in eval_from.saturating_sub(o.window)..eval_from.min(n) {
        if let Some(v) = windowed(b, d) {
            b.window.insert(v);
        }
        if let Some(v) = sampling_of(b, d) {
            sampling_sum += v;
            sampling_n += 1;
        }
    }
    let mut out = Vec::with_capacity(if o.all_points {
        n.saturating_sub(eval_from)
    } else {
        0
    });
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
            evidence: None,
            anomaly: false,
            method: None,
            severity: 0,
            num,
            den,
            expected_num: 0.0,
            sums: b.sums[d],
        };
        let method = match o.method {
            Method::Auto if d >= AUTO_SEASONAL_HISTORY => Some(Method::Seasonal),
            Method::Auto | Method::ColdStart if d >= MIN_WINDOW_VALUES => Some(Method::ColdStart),
            Method::Auto | Method::ColdStart => None,
            m => Some(m),
        };
        if let (Some(x), Some(method)) = (observed, method) {
            let mean_sampling = (sampling_n > 0).then(|| sampling_sum / sampling_n as f64);
            let baseline = match (method, &scale) {
                (Method::WeekOverWeek, _) => week_over_week(b, d, o, floor),
                (Method::ColdStart, Some(scale)) => noise::cold_start(b, scale, d, o, floor),
                // The windowed methods trust a window's spread from a week of values on.
                _ if b.window.len() < MIN_WINDOW_VALUES => None,
                (Method::Seasonal, Some(scale)) => {
                    noise::seasonal(b, scale, d, o, mean_sampling, floor)
                }
                _ => windowed_baseline(b, d, method, o, mean_sampling, floor),
            };
            if let Some(band) = baseline {
                let keep_sign = metric == Metric::Roi;
                let clamp = |v: f64| if keep_sign { v } else { v.max(0.0) };
                let expected = clamp(band.expected);
                judged.expected = Some(expected);
                judged.lower = Some(clamp(band.expected - band.below));
                judged.upper = Some(band.expected + band.above);
                judged.score = Some(band.score(x));
                judged.evidence = judged.score;
                judged.anomaly = x < band.expected - band.below || x > band.expected + band.above;
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
