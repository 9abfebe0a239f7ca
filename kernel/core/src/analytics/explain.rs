//! Why a metric moved between a baseline and a current period: per slice of a dimension, its
//! contribution to the change, which adds up over the slices to the change itself.
//!
//! An additive metric's contribution is the slice's own change. A ratio R = N / D is the
//! D-weighted mean of the slices' ratios, R = Σ wᵢ rᵢ with wᵢ = Dᵢ / D, so its change splits per
//! slice into a *rate* effect (the slice's own ratio moved, at its average weight)
//! ½(w₀ + w₁)(r₁ − r₀), and a *mix* effect (volume moved towards or away from the slice),
//! (w₁ − w₀)(½(r₀ + r₁) − ½(R₀ + R₁)): centred on the average ratio, so that shifting volume to
//! an average slice explains nothing. Over all slices the two add up to R₁ − R₀ exactly (in exact
//! arithmetic; in floats to rounding), because Σ w₁ = Σ w₀ = 1. A slice that appears has no
//! rate of its own to change (r₀ := r₁), one that vanishes neither (r₁ := r₀): all of theirs is
//! mix. A slice with no volume in both periods but a numerator (revenue without cost) moves R
//! through its numerator alone, which counts as rate.
//!
//! Dimensions are ranked as Adtributor does (Bhagwan et al., NSDI 2014): within a dimension the
//! slices most *surprising* (Jensen–Shannon divergence between their baseline and current shares)
//! that each explain over 10 % of the change are taken until they explain 67 % of it; a
//! dimension whose few slices explain the change ranks above one whose do not, and among those
//! the more surprising first (which favours the specific: one broken campaign is a bigger
//! surprise than the small dent it makes in its platform).
//!
//! A dimension's contributors are ranked by how surprising each slice's *own* change is against
//! its own noise, on the noise-aware log scale of detection (`detect::LogScale`): the change of
//! ln(value + half an event) between the periods, in deviations made of both periods' sampling
//! noise (Poisson counts, compound-Poisson money, binomial rates, at least one event) and a
//! period-to-period wobble of 10 %; ties go to the larger contribution. Not its share of the
//! change: when many campaigns wobble, the total moves with their noise, and a small broken
//! campaign's share of it (even its sign) says little (on the hard generator, ranking by surprise
//! only among slices that move a tenth of the change its way found the broken campaign first in
//! 0.61 of incidents, by surprise alone in 0.82). So a small campaign that broke (conversions
//! 14 → 0: 4.7 deviations) leads a large one's ordinary noise (401 → 304: 2.2 deviations),
//! though the noise is the larger number.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::kernels::cast::cast;
use arrow::datatypes::{DataType, Field, Int64Type};

use super::detect::LogScale;
use super::metric::Metric;
use super::series::{batch_of, SeriesSet};
use super::AnalyticsError;

const SLICE_MIN_EXPLAINED: f64 = 0.1;
const DIMENSION_EXPLAINED: f64 = 0.67;
const MAX_EXPLAINING_SLICES: usize = 3;
/// Period-to-period change of a slice that is no news (its day-to-day noise is not known here).
const PERIOD_WOBBLE: f64 = 0.1;
/// The z of the rates' Agresti–Coull adjustment in the sampling noise.
const SAMPLING_Z: f64 = 3.0;

/// The change of the metric over all slices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Exact change in micros, for cost and revenue.
    pub change_micros: Option<i64>,
    pub money_known: bool,
}

impl Totals {
    pub fn change(&self) -> Option<f64> {
        Some(self.current? - self.baseline?)
    }
}

/// One dimension's slices, ranked by the size of their contribution.
pub struct DimensionExplanation {
    pub name: String,
    /// Share of the change that the dimension's few most surprising slices explain.
    pub explanatory_power: Option<f64>,
    pub surprise: f64,
    pub slices: usize,
    pub contributors: RecordBatch,
}

pub struct Explanation {
    pub totals: Totals,
    /// Ranked, best explaining first.
    pub dimensions: Vec<DimensionExplanation>,
}

struct Slice {
    group: u32,
    sums: [[i64; 5]; 2],
    value: [Option<f64>; 2],
    weight: [f64; 2],
    contribution: f64,
    contribution_micros: Option<i64>,
    rate: Option<f64>,
    mix: Option<f64>,
    surprise: f64,
    /// Deviations of the slice's own change (see the module doc).
    own_surprise: f64,
}

/// A dimension to search: its name, its key columns, and the columns its slices carry (e.g. a
/// campaign's name, which a platform's slices must not show).
pub type DimensionSpec = (String, Vec<String>, Vec<String>);

/// `batch` holds sums per slice and period (`period`: 0 baseline, 1 current).
pub fn explain(
    batch: RecordBatch,
    dimensions: &[DimensionSpec],
    metric: Metric,
    limit: usize,
    threads: usize,
) -> Result<Explanation, AnalyticsError> {
    let period = period_of(&batch)?;
    let whole = SeriesSet::new(batch.clone(), &[], threads)?;
    let totals_sums = period_sums(&whole, 0, &period);
    let money_known = whole.money_known.first().copied().unwrap_or(true);
    let totals = Totals {
        baseline: value_if(metric, &totals_sums[0], money_known),
        current: value_if(metric, &totals_sums[1], money_known),
        change_micros: metric
            .measure()
            .filter(|_| metric.is_money() && money_known)
            .map(|k| totals_sums[1][k] - totals_sums[0][k]),
        money_known,
    };
    let mut out = Vec::new();
    for (name, keys, carry) in dimensions {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let carry: Vec<&str> = carry.iter().map(String::as_str).collect();
        let set = SeriesSet::new(batch.clone(), &keys, threads)?;
        let slices = slices(&set, &period, metric, &totals_sums, &totals)?;
        let (explanatory_power, surprise) = explaining_set(&slices, totals.change());
        out.push(DimensionExplanation {
            name: name.clone(),
            explanatory_power,
            surprise,
            slices: slices.len(),
            contributors: contributors_batch(&set, &carry, slices, totals.change(), limit)?,
        });
    }
    out.sort_by(|a, b| {
        let explained = |d: &DimensionExplanation| {
            d.explanatory_power
                .is_some_and(|p| p >= DIMENSION_EXPLAINED)
        };
        explained(b).cmp(&explained(a)).then_with(|| {
            if explained(a) {
                b.surprise.total_cmp(&a.surprise)
            } else {
                let p = |d: &DimensionExplanation| d.explanatory_power.unwrap_or(f64::MIN);
                p(b).total_cmp(&p(a))
                    .then_with(|| b.surprise.total_cmp(&a.surprise))
            }
        })
    });
    Ok(Explanation {
        totals,
        dimensions: out,
    })
}

fn value_if(metric: Metric, sums: &[i64; 5], money_known: bool) -> Option<f64> {
    if metric.is_money() && !money_known {
        None
    } else {
        metric.value(sums)
    }
}

fn period_of(batch: &RecordBatch) -> Result<Vec<u8>, AnalyticsError> {
    let column = batch
        .column_by_name("period")
        .ok_or_else(|| AnalyticsError("the table has no column 'period'".into()))?;
    let ints = cast(column, &DataType::Int64)?;
    let ints = ints.as_primitive::<Int64Type>();
    if ints.null_count() > 0 || ints.values().iter().any(|p| !(0..=1).contains(p)) {
        return Err(AnalyticsError(
            "'period' must be 0 (baseline) or 1 (current)".into(),
        ));
    }
    Ok(ints.values().iter().map(|p| *p as u8).collect())
}

fn period_sums(set: &SeriesSet, group: usize, period: &[u8]) -> [[i64; 5]; 2] {
    let mut sums = [[0i64; 5]; 2];
    for &r in set.rows_of(group) {
        let s = &mut sums[period[r as usize] as usize];
        for (k, v) in set.sums_of_row(r).iter().enumerate() {
            s[k] += v;
        }
    }
    sums
}

/// Jensen–Shannon divergence of a slice's share p (baseline) and q (current), in nats.
fn js(p: f64, q: f64) -> f64 {
    let m = (p + q) / 2.0;
    let term = |x: f64| if x > 0.0 { x * (x / m).ln() } else { 0.0 };
    (term(p) + term(q)) / 2.0
}

fn slices(
    set: &SeriesSet,
    period: &[u8],
    metric: Metric,
    totals: &[[i64; 5]; 2],
    t: &Totals,
) -> Result<Vec<Slice>, AnalyticsError> {
    let (share_num, share_den) = metric.share_measures();
    let share = |sums: &[i64; 5], total: &[i64; 5], k: usize| {
        if total[k] == 0 {
            0.0
        } else {
            sums[k] as f64 / total[k] as f64
        }
    };
    let defined = t.baseline.is_some() && t.current.is_some();
    let totals_parts = [metric.parts(&totals[0]), metric.parts(&totals[1])];
    let scale = LogScale::of(metric, totals);
    let mut out = Vec::with_capacity(set.groups());
    for g in 0..set.groups() {
        let sums = period_sums(set, g, period);
        let money_known = set.money_known[g];
        let mut surprise = js(
            share(&sums[0], &totals[0], share_num),
            share(&sums[1], &totals[1], share_num),
        );
        if let Some(k) = share_den {
            surprise += js(
                share(&sums[0], &totals[0], k),
                share(&sums[1], &totals[1], k),
            );
        }
        let value = [0, 1].map(|p| value_if(metric, &sums[p], money_known));
        let mut slice = Slice {
            group: g as u32,
            sums,
            value,
            weight: [0.0; 2],
            contribution: f64::NAN,
            contribution_micros: None,
            rate: None,
            mix: None,
            surprise,
            own_surprise: own_surprise(&scale, value, &sums),
        };
        if defined {
            if let Some(k) = metric.measure() {
                slice.contribution =
                    metric.value(&sums[1]).unwrap_or(0.0) - metric.value(&sums[0]).unwrap_or(0.0);
                slice.contribution_micros = metric.is_money().then(|| sums[1][k] - sums[0][k]);
                slice.weight = [0, 1].map(|p| share(&sums[p], &totals[p], k));
            } else {
                ratio_effects(&mut slice, metric, totals_parts, t);
            }
        }
        out.push(slice);
    }
    Ok(out)
}

/// A slice's own change in deviations of its sampling noise and a 10 % period-to-period wobble;
/// 0 when the metric is undefined in a period (all of such a slice's change is mix).
fn own_surprise(scale: &LogScale, value: [Option<f64>; 2], sums: &[[i64; 5]; 2]) -> f64 {
    let y = [0, 1].map(|p| scale.y(value[p], &sums[p]));
    let (Some(before), Some(after)) = (y[0], y[1]) else {
        return 0.0;
    };
    let variance: f64 = (0..2)
        .map(|p| value[p].map_or(0.0, |x| scale.variance(x, &sums[p], SAMPLING_Z)))
        .sum();
    let sd = (variance + PERIOD_WOBBLE * PERIOD_WOBBLE).sqrt();
    if sd.is_finite() {
        (after - before).abs() / sd
    } else {
        0.0
    }
}

/// The rate and mix effects of one slice of a ratio metric (see the module doc).
fn ratio_effects(slice: &mut Slice, metric: Metric, totals: [(f64, f64); 2], t: &Totals) {
    let parts = [metric.parts(&slice.sums[0]), metric.parts(&slice.sums[1])];
    let weight = [0, 1].map(|p| parts[p].1 / totals[p].1);
    let term = [0, 1].map(|p| parts[p].0 / totals[p].1);
    let own = [0, 1].map(|p| (parts[p].1 != 0.0).then(|| parts[p].0 / parts[p].1));
    let total_change = term[1] - term[0];
    let rate = match own {
        [Some(r0), Some(r1)] => (weight[0] + weight[1]) / 2.0 * (r1 - r0),
        [None, None] => total_change,
        // A slice that appears or vanishes has no rate of its own that changed.
        _ => 0.0,
    };
    let average = (t.baseline.unwrap_or(0.0) + t.current.unwrap_or(0.0)) / 2.0;
    let mix = (total_change - rate) - (weight[1] - weight[0]) * average;
    slice.weight = weight;
    slice.rate = Some(rate);
    slice.mix = Some(mix);
    slice.contribution = rate + mix;
}

/// Explanatory power and surprise of a dimension's explaining slices (the most surprising ones
/// that each explain a tenth of the change, until two thirds are explained).
fn explaining_set(slices: &[Slice], change: Option<f64>) -> (Option<f64>, f64) {
    let mut by_surprise: Vec<&Slice> = slices.iter().collect();
    by_surprise.sort_by(|a, b| b.surprise.total_cmp(&a.surprise));
    let change = match change {
        Some(c) if c != 0.0 => c,
        _ => {
            let surprise = by_surprise
                .iter()
                .take(MAX_EXPLAINING_SLICES)
                .map(|s| s.surprise)
                .sum();
            return (None, surprise);
        }
    };
    let (mut power, mut surprise, mut taken) = (0.0, 0.0, 0);
    for s in by_surprise {
        let explained = s.contribution / change;
        if explained.is_nan() || explained < SLICE_MIN_EXPLAINED {
            continue;
        }
        power += explained;
        surprise += s.surprise;
        taken += 1;
        if power >= DIMENSION_EXPLAINED || taken == MAX_EXPLAINING_SLICES {
            break;
        }
    }
    (Some(power), surprise)
}

fn contributors_batch(
    set: &SeriesSet,
    carry: &[&str],
    mut slices: Vec<Slice>,
    change: Option<f64>,
    limit: usize,
) -> Result<RecordBatch, AnalyticsError> {
    slices.sort_by(|a, b| {
        let size = |s: &Slice| {
            if s.contribution.is_nan() {
                -1.0
            } else {
                s.contribution.abs()
            }
        };
        b.own_surprise
            .total_cmp(&a.own_surprise)
            .then_with(|| size(b).total_cmp(&size(a)))
            .then_with(|| b.surprise.total_cmp(&a.surprise))
    });
    slices.truncate(limit);
    let groups: Vec<u32> = slices.iter().map(|s| s.group).collect();
    let mut columns = set.group_columns(&groups, carry)?;
    let float = |name: &str, f: &dyn Fn(&Slice) -> Option<f64>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(slices.iter().map(f).collect::<Float64Array>()),
        )
    };
    let defined = |v: f64| (!v.is_nan()).then_some(v);
    columns.push(float("baseline", &|s| s.value[0]));
    columns.push(float("current", &|s| s.value[1]));
    columns.push(float("baseline_weight", &|s| Some(s.weight[0])));
    columns.push(float("current_weight", &|s| Some(s.weight[1])));
    columns.push(float("contribution", &|s| defined(s.contribution)));
    columns.push((
        Field::new("contribution_micros", DataType::Int64, true),
        Arc::new(Int64Array::from_iter(
            slices.iter().map(|s| s.contribution_micros),
        )),
    ));
    columns.push(float("share", &|s| {
        change
            .filter(|c| *c != 0.0)
            .and_then(|c| defined(s.contribution / c))
    }));
    columns.push(float("rate_effect", &|s| s.rate));
    columns.push(float("mix_effect", &|s| s.mix));
    columns.push(float("surprise", &|s| Some(s.surprise)));
    columns.push((
        Field::new("status", DataType::Utf8, false),
        Arc::new(StringArray::from_iter_values(slices.iter().map(|s| {
            if s.sums[0] == [0; 5] {
                "new"
            } else if s.sums[1] == [0; 5] {
                "gone"
            } else {
                "continuing"
            }
        }))),
    ));
    batch_of(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::stats::exact_sum;
    use arrow::array::Int8Array;
    use proptest::prelude::*;

    fn table(rows: &[(&str, u8, [i64; 5])]) -> RecordBatch {
        let col = |k: usize| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2[k])))
        };
        RecordBatch::try_from_iter(vec![
            (
                "campaign_id",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            ),
            (
                "period",
                Arc::new(Int8Array::from_iter_values(rows.iter().map(|r| r.1 as i8))),
            ),
            ("impressions", col(0)),
            ("clicks", col(1)),
            ("cost_micros", col(2)),
            ("conversions_micros", col(3)),
            ("revenue_micros", col(4)),
        ])
        .unwrap()
    }

    fn run(rows: &[(&str, u8, [i64; 5])], metric: Metric) -> Explanation {
        let dims = vec![(
            "campaign".to_owned(),
            vec!["campaign_id".to_owned()],
            Vec::new(),
        )];
        explain(table(rows), &dims, metric, usize::MAX, 2).unwrap()
    }

    /// The slices' names (the first column), in the contributors' order.
    fn names(batch: &RecordBatch) -> Vec<&str> {
        batch
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(Option::unwrap)
            .collect()
    }

    fn column(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .collect()
    }

    #[test]
    fn a_small_slice_that_broke_leads_a_large_ones_bigger_noise() {
        // a's conversions stop; b's drift down by more in absolute terms, c's drift up.
        const C: i64 = 1_000_000; // conversions are micros
        let rows = [
            ("a", 0, [0, 0, 0, 14 * C, 0]),
            ("b", 0, [0, 0, 0, 401 * C, 0]),
            ("c", 0, [0, 0, 0, 300 * C, 0]),
            ("a", 1, [0, 0, 0, 0, 0]),
            ("b", 1, [0, 0, 0, 304 * C, 0]),
            ("c", 1, [0, 0, 0, 330 * C, 0]),
        ];
        let e = run(&rows, Metric::Conversions);
        assert_eq!(names(&e.dimensions[0].contributors), ["a", "b", "c"]);
    }

    #[test]
    fn a_rate_change_is_rate_and_a_volume_shift_is_mix() {
        // b's CTR halves; a's volume doubles at the same CTR.
        let rows = [
            ("a", 0, [1000, 10, 0, 0, 0]),
            ("b", 0, [1000, 50, 0, 0, 0]),
            ("a", 1, [2000, 20, 0, 0, 0]),
            ("b", 1, [1000, 25, 0, 0, 0]),
        ];
        let e = run(&rows, Metric::Ctr);
        let d = &e.dimensions[0].contributors;
        let names = names(d);
        let (rate, mix) = (column(d, "rate_effect"), column(d, "mix_effect"));
        let a = names.iter().position(|n| *n == "a").unwrap();
        let b = 1 - a;
        assert_eq!(rate[a], Some(0.0));
        assert!(rate[b].unwrap() < 0.0);
        assert!(mix[a].unwrap() < 0.0, "volume moved to the low-CTR slice");
        let sum = exact_sum(column(d, "contribution").into_iter().map(Option::unwrap));
        assert!((sum - e.totals.change().unwrap()).abs() < 1e-15);
    }

    proptest! {
        #[test]
        fn contributions_add_up_to_the_change(
            rows in prop::collection::vec((0u8..6, 0u8..2, [0i64..1000, 0i64..100, 0i64..10_000_000, 0i64..20_000_000, 0i64..90_000_000]), 1..30),
            metric in 0usize..12,
        ) {
            let names = ["a", "b", "c", "d", "e", "f"];
            let rows: Vec<(&str, u8, [i64; 5])> = rows.iter().map(|(n, p, s)| (names[*n as usize], *p, *s)).collect();
            let metric = Metric::parse(crate::analytics::metric::METRIC_NAMES[metric]).unwrap();
            let e = run(&rows, metric);
            if let Some(change) = e.totals.change() {
                let d = &e.dimensions[0].contributors;
                let c = column(d, "contribution");
                let sum = exact_sum(c.iter().map(|v| v.unwrap()));
                let scale = c.iter().map(|v| v.unwrap().abs()).sum::<f64>().max(change.abs());
                prop_assert!((sum - change).abs() <= 1e-12 * scale.max(1e-300), "{sum} vs {change}");
                if !metric.is_additive() {
                    for ((r, m), c) in column(d, "rate_effect").iter().zip(column(d, "mix_effect")).zip(&c) {
                        prop_assert!((r.unwrap() + m.unwrap() - c.unwrap()).abs() <= 1e-12 * scale);
                    }
                }
            }
        }
    }
}
