//! KPIs as ratios of sums, in the exact float formulas every client can reproduce. A zero
//! denominator gives null, never 0, infinity or NaN; so does money summed over currencies.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::buffer::{BooleanBuffer, NullBuffer};

pub const KPI_COLUMNS: [&str; 7] = ["ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi"];

/// The KPI columns, in `KPI_COLUMNS` order, of groups with these sums (impressions, clicks,
/// cost, conversions, revenue; money in micros). `money_known` is false for a group whose
/// money is in several currencies (None: every group's is known).
pub fn kpi_columns(sums: &[Vec<i64>; 5], money_known: Option<&[bool]>) -> Vec<ArrayRef> {
    let [impressions, clicks, cost, conversions, revenue] = sums;
    let f = |column: &[i64], i: usize| column[i] as f64;
    vec![
        ratio(impressions, None, |i| f(clicks, i)),
        ratio(clicks, money_known, |i| f(cost, i) / 1e6),
        ratio(impressions, money_known, |i| f(cost, i) / 1e3),
        ratio(clicks, None, |i| f(conversions, i) / 1e6),
        ratio(conversions, money_known, |i| f(cost, i)),
        ratio(cost, money_known, |i| f(revenue, i)),
        ratio(cost, money_known, |i| profit(revenue[i], cost[i])),
    ]
}

/// `numerator(i) / denominator[i]` for every group, null where the denominator is 0 or the
/// money is unknown.
fn ratio(
    denominator: &[i64],
    money_known: Option<&[bool]>,
    numerator: impl Fn(usize) -> f64,
) -> ArrayRef {
    let n = denominator.len();
    let values: Vec<f64> = (0..n)
        .map(|i| numerator(i) / denominator[i] as f64)
        .collect();
    let valid = match money_known {
        None => BooleanBuffer::collect_bool(n, |i| denominator[i] != 0),
        Some(known) => BooleanBuffer::collect_bool(n, |i| denominator[i] != 0 && known[i]),
    };
    Arc::new(Float64Array::new(
        values.into(),
        Some(NullBuffer::new(valid)),
    ))
}

/// The ROI numerator, exact in integers before it becomes a float (through i128 only when the
/// difference leaves the i64 range: converting an i128 is slow).
fn profit(revenue: i64, cost: i64) -> f64 {
    match revenue.checked_sub(cost) {
        Some(difference) => difference as f64,
        None => (i128::from(revenue) - i128::from(cost)) as f64,
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Float64Type;

    use super::*;

    fn kpis(groups: &[[i64; 5]], money_known: Option<&[bool]>) -> Vec<Vec<Option<f64>>> {
        let sums: [Vec<i64>; 5] = std::array::from_fn(|k| groups.iter().map(|g| g[k]).collect());
        kpi_columns(&sums, money_known)
            .iter()
            .map(|c| c.as_primitive::<Float64Type>().iter().collect())
            .collect()
    }

    #[test]
    fn formulas() {
        let columns = kpis(&[[1000, 50, 25_000_000, 5_000_000, 100_000_000]], None);
        let values: Vec<Option<f64>> = columns.iter().map(|c| c[0]).collect();
        assert_eq!(
            values,
            [
                Some(0.05),
                Some(0.5),
                Some(25.0),
                Some(0.1),
                Some(5.0),
                Some(4.0),
                Some(3.0)
            ]
        );
    }

    #[test]
    fn zero_denominators_give_null() {
        let columns = kpis(&[[0, 0, 0, 0, 0], [10, 0, 5, 0, 7]], None);
        assert!(columns.iter().all(|c| c[0].is_none()));
        let second: Vec<bool> = columns.iter().map(|c| c[1].is_some()).collect();
        assert_eq!(second, [true, false, true, false, false, true, true]);
        assert_eq!(columns[0][1], Some(0.0));
    }

    #[test]
    fn unknown_money_gives_null_money_kpis_only() {
        let columns = kpis(
            &[[1000, 50, 25, 5, 100], [1000, 50, 25, 5, 100]],
            Some(&[false, true]),
        );
        let first: Vec<bool> = columns.iter().map(|c| c[0].is_some()).collect();
        assert_eq!(first, [true, false, false, true, false, false, false]);
        assert!(columns.iter().all(|c| c[1].is_some()));
    }

    #[test]
    fn roi_numerator_is_exact_at_the_extremes() {
        let roi = &kpis(
            &[
                [1, 1, 1, 1, i64::MAX],
                [1, 1, i64::MAX, 1, 0],
                [1, 1, 7, 1, -i64::MAX],
            ],
            None,
        )[6];
        assert_eq!(roi[0], Some((i128::from(i64::MAX) - 1) as f64));
        assert_eq!(roi[1], Some(-1.0));
        assert_eq!(roi[2], Some((-i128::from(i64::MAX) - 7) as f64 / 7.0));
    }
}
