use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field};

use super::strings;
use crate::analytics::metric::{COST, REVENUE};
use crate::analytics::series::{batch_of, SeriesSet};
use crate::analytics::AnalyticsError;

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
