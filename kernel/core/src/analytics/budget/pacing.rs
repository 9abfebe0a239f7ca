use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};

use super::joined_keys;
use crate::analytics::metric::COST;
use crate::analytics::series::{batch_of, SeriesSet};
use crate::analytics::AnalyticsError;

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
