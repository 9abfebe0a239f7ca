//! Money decisions: where spend earns least at the margin and where most (reallocation), how a
//! month's spend paces against its budget, and which groups cost more than their parent's
//! own rate (underperformers).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};

use super::metric::{Metric, CLICKS, CONVERSIONS, COST, REVENUE};
use super::series::{batch_of, SeriesSet};
use super::AnalyticsError;

/// Elasticity assumed without the data to measure it: revenue grows with spend, less than
/// proportionally (the usual finding of media-mix models).
const PRIOR_ELASTICITY: f64 = 0.6;
/// A fitted elasticity is trusted in proportion var / (var + this) of the log daily spend:
/// spend that never varied says nothing about the response to a change.
const ELASTICITY_TRUST: f64 = 0.05;
const MIN_FIT_DAYS: usize = 7;

/// One campaign's response to spend: revenue per day r at spend per day c, and elasticity b,
/// so revenue(x) = r · (x / c)^b and the marginal ROAS at x is b · r / c · (x / c)^(b − 1).
#[derive(Debug, Clone, Copy)]
struct Response {
    spend: f64,
    revenue: f64,
    elasticity: f64,
}

impl Response {
    fn marginal(&self) -> f64 {
        self.elasticity * self.revenue / self.spend
    }

    /// Spend at which the marginal ROAS is `lambda`.
    fn spend_at(&self, lambda: f64) -> f64 {
        let m = self.marginal();
        if m <= 0.0 {
            return 0.0;
        }
        self.spend * (lambda / m).powf(1.0 / (self.elasticity - 1.0))
    }

    fn revenue_at(&self, x: f64) -> f64 {
        self.revenue * (x / self.spend).powf(self.elasticity)
    }
}

/// Log-log fit of daily revenue on daily spend, shrunk to the prior by how much spend varied,
/// and kept in [0.1, 0.95]: returns always diminish, so the optimum is a unique interior point.
fn elasticity(days: &[(f64, f64)]) -> f64 {
    let points: Vec<(f64, f64)> = days
        .iter()
        .filter(|(c, r)| *c > 0.0 && *r > 0.0)
        .map(|(c, r)| (c.ln(), r.ln()))
        .collect();
    if points.len() < MIN_FIT_DAYS {
        return PRIOR_ELASTICITY;
    }
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
    let var = points.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>() / n;
    let cov = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / n;
    let trust = var / (var + ELASTICITY_TRUST);
    let fitted = if var > 0.0 {
        cov / var
    } else {
        PRIOR_ELASTICITY
    };
    (trust * fitted + (1.0 - trust) * PRIOR_ELASTICITY).clamp(0.1, 0.95)
}

/// Spend per campaign moved, within each currency, from low to high marginal ROAS until the
/// margins meet or a campaign reaches ±`max_shift` of its spend; the total spend is unchanged
/// to the micro. One row per campaign that spent on at least `min_days` days of the period.
pub fn reallocate(
    set: &SeriesSet,
    carry: &[&str],
    max_shift: f64,
    min_days: usize,
) -> Result<RecordBatch, AnalyticsError> {
    if !(0.0..=1.0).contains(&max_shift) {
        return Err(AnalyticsError("max_shift must be within 0 and 1".into()));
    }
    let (first, last) = set
        .days
        .iter()
        .fold((i32::MAX, i32::MIN), |a, d| (a.0.min(*d), a.1.max(*d)));
    let period_days = if first <= last {
        (last - first + 1) as f64
    } else {
        1.0
    };
    let all: Vec<u32> = (0..set.groups() as u32).collect();
    let currencies = currency_names(set, &all)?;
    let mut eligible: Vec<(u32, Response)> = Vec::new();
    for g in 0..set.groups() {
        if !set.money_known[g] {
            continue;
        }
        let mut daily: HashMap<i32, (f64, f64)> = HashMap::new();
        for &r in set.rows_of(g) {
            let s = set.sums_of_row(r);
            let e = daily.entry(set.days[r as usize]).or_default();
            e.0 += s[COST] as f64 / 1e6;
            e.1 += s[REVENUE] as f64 / 1e6;
        }
        let days: Vec<(f64, f64)> = daily.into_values().collect();
        let active = days.iter().filter(|(c, _)| *c > 0.0).count();
        let (cost, revenue) = days.iter().fold((0.0, 0.0), |a, d| (a.0 + d.0, a.1 + d.1));
        if active >= min_days && cost > 0.0 {
            eligible.push((
                g as u32,
                Response {
                    spend: cost / period_days,
                    revenue: revenue / period_days,
                    elasticity: elasticity(&days),
                },
            ));
        }
    }
    let mut partitions: HashMap<Option<String>, Vec<usize>> = HashMap::new();
    for (i, (g, _)) in eligible.iter().enumerate() {
        partitions
            .entry(currencies[*g as usize].clone())
            .or_default()
            .push(i);
    }
    let mut shift_micros = vec![0i64; eligible.len()];
    let mut new_spend: Vec<f64> = eligible.iter().map(|(_, r)| r.spend).collect();
    for members in partitions.values() {
        let responses: Vec<Response> = members.iter().map(|&i| eligible[i].1).collect();
        let target = water_fill(&responses, max_shift);
        let mut micros: Vec<i64> = responses
            .iter()
            .zip(&target)
            .map(|(r, x)| ((x - r.spend) * 1e6).round() as i64)
            .collect();
        // Rounding must not create or destroy money: the largest mover absorbs the remainder.
        let remainder: i64 = micros.iter().sum();
        if let Some(big) = (0..micros.len()).max_by_key(|&i| micros[i].abs()) {
            micros[big] -= remainder;
        }
        for (k, &i) in members.iter().enumerate() {
            shift_micros[i] = micros[k];
            new_spend[i] = eligible[i].1.spend + micros[k] as f64 / 1e6;
        }
    }
    let groups: Vec<u32> = eligible.iter().map(|(g, _)| *g).collect();
    let mut columns = set.group_columns(&groups, carry)?;
    let micros = |name: &str, f: &dyn Fn(usize) -> i64| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Int64, false),
            Arc::new(Int64Array::from_iter_values((0..eligible.len()).map(f))),
        )
    };
    let float = |name: &str, f: &dyn Fn(usize) -> f64| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, false),
            Arc::new(Float64Array::from_iter_values((0..eligible.len()).map(f))),
        )
    };
    let r = |i: usize| eligible[i].1;
    columns.push(micros("spend_per_day_micros", &|i| {
        (r(i).spend * 1e6).round() as i64
    }));
    columns.push(micros("revenue_per_day_micros", &|i| {
        (r(i).revenue * 1e6).round() as i64
    }));
    columns.push(float("roas", &|i| r(i).revenue / r(i).spend));
    columns.push(float("elasticity", &|i| r(i).elasticity));
    columns.push(float("marginal_roas", &|i| r(i).marginal()));
    columns.push(float("marginal_roas_after", &|i| {
        r(i).marginal() * (new_spend[i] / r(i).spend).powf(r(i).elasticity - 1.0)
    }));
    columns.push(micros("shift_per_day_micros", &|i| shift_micros[i]));
    columns.push(micros("revenue_change_per_day_micros", &|i| {
        ((r(i).revenue_at(new_spend[i]) - r(i).revenue) * 1e6).round() as i64
    }));
    batch_of(columns)
}

/// The spends, within ±`max_shift` of each campaign's own and with the same total, that
/// maximise the revenue of concave responses: every campaign spends where its marginal ROAS
/// equals a common λ unless a bound stops it, and λ is found by bisection on the total.
fn water_fill(responses: &[Response], max_shift: f64) -> Vec<f64> {
    let total: f64 = responses.iter().map(|r| r.spend).sum();
    let at = |lambda: f64| -> Vec<f64> {
        responses
            .iter()
            .map(|r| {
                r.spend_at(lambda)
                    .clamp(r.spend * (1.0 - max_shift), r.spend * (1.0 + max_shift))
            })
            .collect()
    };
    let margins: Vec<f64> = responses.iter().map(Response::marginal).collect();
    let positive = margins.iter().copied().filter(|m| *m > 0.0);
    let (Some(low), Some(high)) = (
        positive.clone().min_by(f64::total_cmp),
        positive.max_by(f64::total_cmp),
    ) else {
        return responses.iter().map(|r| r.spend).collect();
    };
    // Bisection in log space: at λ = low/10 everyone is at the top bound, at high·10 at the
    // bottom, so the total is crossed in between.
    let (mut lo, mut hi) = ((low / 10.0).ln(), (high * 10.0).ln());
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if at(mid.exp()).iter().sum::<f64>() > total {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    at(((lo + hi) / 2.0).exp())
}

fn currency_names(set: &SeriesSet, groups: &[u32]) -> Result<Vec<Option<String>>, AnalyticsError> {
    let columns = set.group_columns(groups, &[])?;
    Ok(match columns.iter().find(|(f, _)| f.name() == "currency") {
        Some((_, array)) => strings(array)?,
        None => vec![None; groups.len()],
    })
}

fn strings(array: &ArrayRef) -> Result<Vec<Option<String>>, AnalyticsError> {
    let utf8 = cast(array, &DataType::Utf8)?;
    let s = utf8
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to utf8");
    Ok(s.iter().map(|v| v.map(str::to_owned)).collect())
}

/// Each group's key values joined into one string, to match groups across two tables.
fn joined_keys(columns: &[ArrayRef], rows: usize) -> Result<Vec<String>, AnalyticsError> {
    let texts = columns.iter().map(strings).collect::<Result<Vec<_>, _>>()?;
    Ok((0..rows)
        .map(|i| {
            texts
                .iter()
                .map(|t| t[i].clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\u{0}")
        })
        .collect())
}

/// How spend paces against monthly budgets. `spend` has the daily sums of the month so far,
/// grouped by `keys`; `budgets` has the same key columns and `budget_micros`. One row per
/// budget, in the budgets' order: spent so far, the run rate of the last seven days, the
/// projection to the month's end, and the status: `over` (already spent more than the
/// budget), `at_risk` (projected over 110 %), `under` (projected under 90 %) or `on_track`.
pub fn pacing(
    spend: &SeriesSet,
    keys: &[&str],
    budgets: &RecordBatch,
    month_end: i32,
    as_of: i32,
    month_start: i32,
) -> Result<RecordBatch, AnalyticsError> {
    let groups: Vec<u32> = (0..spend.groups() as u32).collect();
    let group_keys: Vec<ArrayRef> = spend
        .group_columns(&groups, &[])?
        .into_iter()
        .filter(|(f, _)| keys.contains(&f.name().as_str()))
        .map(|(_, a)| a)
        .collect();
    let by_key: HashMap<String, usize> = joined_keys(&group_keys, groups.len())?
        .into_iter()
        .enumerate()
        .map(|(g, k)| (k, g))
        .collect();
    let budget_keys = keys
        .iter()
        .map(|k| {
            budgets
                .column_by_name(k)
                .cloned()
                .ok_or_else(|| AnalyticsError(format!("budgets have no column '{k}'")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let amounts = cast(
        budgets
            .column_by_name("budget_micros")
            .ok_or_else(|| AnalyticsError("budgets have no column 'budget_micros'".into()))?,
        &DataType::Int64,
    )?;
    let amounts = amounts
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("cast to int64");
    let elapsed = (as_of - month_start + 1).max(0);
    let days_in_month = month_end - month_start + 1;
    let recent_from = as_of - elapsed.min(7) + 1;
    let mut spent = Vec::new();
    let mut rate = Vec::new();
    let mut projected = Vec::new();
    let mut status = Vec::new();
    for (i, key) in joined_keys(&budget_keys, budgets.num_rows())?
        .iter()
        .enumerate()
    {
        let (mut total, mut recent) = (0i64, 0i64);
        if let Some(&g) = by_key.get(key) {
            for &r in spend.rows_of(g) {
                let day = spend.days[r as usize];
                if (month_start..=as_of).contains(&day) {
                    let cost = spend.measures[COST][r as usize];
                    total += cost;
                    if day >= recent_from {
                        recent += cost;
                    }
                }
            }
        }
        let per_day = if elapsed > 0 {
            recent as f64 / f64::from(as_of - recent_from + 1)
        } else {
            0.0
        };
        let projection = total + (per_day * f64::from(days_in_month - elapsed)).round() as i64;
        let budget = amounts.value(i);
        spent.push(total);
        rate.push(per_day.round() as i64);
        projected.push(projection);
        status.push(if total > budget {
            "over"
        } else if projection as f64 > 1.1 * budget as f64 {
            "at_risk"
        } else if (projection as f64) < 0.9 * budget as f64 {
            "under"
        } else {
            "on_track"
        });
    }
    let mut columns: Vec<(Field, ArrayRef)> = keys
        .iter()
        .zip(budget_keys)
        .map(|(k, a)| (Field::new(*k, a.data_type().clone(), true), a))
        .collect();
    let int = |name: &str, v: Vec<i64>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Int64, false),
            Arc::new(Int64Array::from(v)),
        )
    };
    columns.push(int("budget_micros", amounts.values().to_vec()));
    columns.push(int("spent_micros", spent));
    columns.push(int("run_rate_per_day_micros", rate));
    columns.push(int("projected_micros", projected));
    columns.push((
        Field::new("days_elapsed", DataType::UInt32, false),
        Arc::new(UInt32Array::from(vec![elapsed as u32; budgets.num_rows()])),
    ));
    columns.push((
        Field::new("days_in_month", DataType::UInt32, false),
        Arc::new(UInt32Array::from(vec![
            days_in_month as u32;
            budgets.num_rows()
        ])),
    ));
    columns.push((
        Field::new("status", DataType::Utf8, false),
        Arc::new(StringArray::from(status)),
    ));
    batch_of(columns)
}

/// Each child group's `metric` (CPA or ROAS) against its parent's, judged with the child's
/// volume: `score` is the difference in standard deviations of the child's sampling noise
/// (plus 5 % of the parent's value, for real differences between campaigns that no one would
/// act on), and `excess_micros` the money at stake: cost beyond what the parent's CPA would
/// have paid for the child's conversions, or revenue short of what the parent's ROAS would
/// have made of the child's cost (negative when the child does better).
pub fn compare_to_parent(
    children: &SeriesSet,
    parents: &SeriesSet,
    carry: &[&str],
    metric: Metric,
) -> Result<RecordBatch, AnalyticsError> {
    if !matches!(metric, Metric::Cpa | Metric::Roas) {
        return Err(AnalyticsError(
            "compare_to_parent judges cpa or roas".into(),
        ));
    }
    let parent_of_row = parents.group_of_rows();
    let parent_sums: Vec<[i64; 5]> = (0..parents.groups())
        .map(|g| sum_rows(parents, g))
        .collect();
    let n = children.groups();
    let (mut value, mut parent_value, mut score, mut excess, mut share) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for g in 0..n {
        let s = sum_rows(children, g);
        let rows = children.rows_of(g);
        let parent = rows.first().map(|&r| parent_of_row[r as usize] as usize);
        let p = parent.map(|p| parent_sums[p]).unwrap_or([0; 5]);
        let known = children.money_known[g] && parent.is_some_and(|p| parents.money_known[p]);
        let v = known.then(|| metric.value(&s)).flatten();
        let pv = known.then(|| metric.value(&p)).flatten();
        value.push(v);
        parent_value.push(pv);
        score.push(match (v, pv) {
            (Some(v), Some(pv)) => {
                let variance = metric.sampling_variance(pv, &s, 3.0) + (0.05 * pv).powi(2);
                (variance > 0.0 && variance.is_finite()).then(|| (v - pv) / variance.sqrt())
            }
            _ => None,
        });
        excess.push(pv.filter(|_| known).map(|pv| match metric {
            Metric::Cpa => s[COST] - (s[CONVERSIONS] as f64 * pv).round() as i64,
            _ => (s[COST] as f64 * pv).round() as i64 - s[REVENUE],
        }));
        share.push((p[COST] > 0).then(|| s[COST] as f64 / p[COST] as f64));
    }
    let groups: Vec<u32> = (0..n as u32).collect();
    let mut columns = children.group_columns(&groups, carry)?;
    let float = |name: &str, v: Vec<Option<f64>>| -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(Float64Array::from(v)),
        )
    };
    let sums: Vec<[i64; 5]> = (0..n).map(|g| sum_rows(children, g)).collect();
    for (k, name) in [
        (COST, "cost_micros"),
        (CONVERSIONS, "conversions_micros"),
        (REVENUE, "revenue_micros"),
        (CLICKS, "clicks"),
    ] {
        columns.push((
            Field::new(name, DataType::Int64, false),
            Arc::new(Int64Array::from_iter_values(sums.iter().map(|s| s[k]))),
        ));
    }
    columns.push(float("value", value));
    columns.push(float("parent_value", parent_value));
    columns.push(float("score", score));
    columns.push((
        Field::new("excess_micros", DataType::Int64, true),
        Arc::new(Int64Array::from(excess)),
    ));
    columns.push(float("share_of_parent_cost", share));
    batch_of(columns)
}

fn sum_rows(set: &SeriesSet, group: usize) -> [i64; 5] {
    let mut total = [0i64; 5];
    for &r in set.rows_of(group) {
        for (t, v) in total.iter_mut().zip(set.sums_of_row(r)) {
            *t += v;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_filling_keeps_the_total_and_favours_the_better_margin() {
        let responses = [
            Response {
                spend: 100.0,
                revenue: 100.0,
                elasticity: 0.5,
            },
            Response {
                spend: 100.0,
                revenue: 400.0,
                elasticity: 0.5,
            },
        ];
        let x = water_fill(&responses, 0.2);
        assert!(
            (x[0] - 80.0).abs() < 1e-9 && (x[1] - 120.0).abs() < 1e-9,
            "{x:?}"
        );
        let equal = water_fill(&[responses[0], responses[0]], 0.2);
        assert!((equal[0] - 100.0).abs() < 1e-9);
        // Unbounded, the margins meet: b r / c (x / c)^(b - 1) equal for both.
        let x = water_fill(&responses, 1.0);
        let m: Vec<f64> = responses
            .iter()
            .zip(&x)
            .map(|(r, x)| r.marginal() * (x / r.spend).powf(r.elasticity - 1.0))
            .collect();
        assert!((m[0] - m[1]).abs() < 1e-6 && (x[0] + x[1] - 200.0).abs() < 1e-6);
    }

    #[test]
    fn elasticity_falls_back_to_the_prior_without_variation() {
        assert_eq!(elasticity(&[(10.0, 30.0); 20]), PRIOR_ELASTICITY);
        let varied: Vec<(f64, f64)> = (1..30)
            .map(|i| (f64::from(i), 3.0 * f64::from(i).powf(0.8)))
            .collect();
        assert!((elasticity(&varied) - 0.8).abs() < 0.05);
    }
}
