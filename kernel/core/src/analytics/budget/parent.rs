use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field};

use crate::analytics::metric::{Metric, CLICKS, CONVERSIONS, COST, REVENUE};
use crate::analytics::series::{batch_of, SeriesSet};
use crate::analytics::AnalyticsError;

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
