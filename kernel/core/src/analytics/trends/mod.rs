//! Metrics as time series per group: date buckets from the first to the last requested, gaps
//! filled (sums 0, ratios undefined), ratios from the bucket's summed components, an optional
//! trailing moving average, and each bucket compared with the previous one and with the same
//! bucket a year earlier (364 days for days and weeks, so weekdays line up; 12 months for
//! months). A comparison exists only where the series already had data: before its first row
//! the series did not exist, after it a bucket without rows is a true zero. Money is summed
//! per bucket: a bucket (or a comparison) whose rows are in several currencies has no money
//! values, the others name their currency, however many currencies the series holds elsewhere.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    UInt32Array,
};
use arrow::compute::{lexsort_to_indices, take, SortColumn, SortOptions};
use arrow::datatypes::{DataType, Field};

use super::metric::Metric;
use super::series::{batch_of, SeriesSet, SumCurrency};
use super::AnalyticsError;

mod granularity;

pub use granularity::Granularity;

#[derive(Debug, Clone)]
pub struct TrendOptions {
    pub metrics: Vec<Metric>,
    pub granularity: Granularity,
    /// First and last day (date32) of the range; the buckets are those holding them and all
    /// between. Rows before the range are the history that comparisons read.
    pub start: i32,
    pub end: i32,
    /// Buckets in the trailing moving average (including the bucket itself); 0 for none.
    pub moving_average: usize,
}

pub struct Trends {
    /// One row per series and bucket, series by rank then buckets in order.
    pub points: RecordBatch,
    /// One row per series, in rank order: the range's totals and their comparisons.
    pub summaries: RecordBatch,
}

/// The column naming the currency of a point's (or a summary's) money: null when its rows mix
/// currencies (its money is then undefined) or it has no rows.
pub const MONEY_CURRENCY: &str = "money_currency";

/// The rows the fetch must reach back to (first day) for these options.
pub fn history_start(o: &TrendOptions) -> i32 {
    let g = o.granularity;
    let (first, last) = (g.bucket(o.start), g.bucket(o.end));
    let back = (last - first + 1)
        .max(g.year())
        .max(o.moving_average as i32 - 1);
    g.start_of(first - back)
}

/// A metric over the range: total, total micros, previous-period total, year-ago total.
type Summary = (Option<f64>, Option<i64>, Option<f64>, Option<f64>);

struct SeriesValues {
    group: u32,
    /// Per bucket of the range, per metric: value, micros, MA, previous, year-ago.
    points: Vec<[Option<f64>; 4]>,
    micros: Vec<Option<i64>>,
    /// Per bucket of the range, the currency of its money.
    currencies: Vec<SumCurrency>,
    summary: Vec<Summary>,
    /// The currency of the range's money.
    currency: SumCurrency,
}

pub fn trends(set: &SeriesSet, carry: &[&str], o: &TrendOptions) -> Result<Trends, AnalyticsError> {
    if o.metrics.is_empty() {
        return Err(AnalyticsError("at least one metric".into()));
    }
    if o.start > o.end {
        return Err(AnalyticsError("start is after end".into()));
    }
    let g = o.granularity;
    let (first_b, last_b) = (g.bucket(o.start), g.bucket(o.end));
    let buckets = (last_b - first_b + 1) as usize;
    let series: Vec<SeriesValues> = (0..set.groups())
        .filter_map(|group| series_values(set, group, o, first_b, last_b))
        .collect();
    // Rank: the first metric's total, largest first, undefined last; ties by the group's keys.
    let groups: Vec<u32> = series.iter().map(|s| s.group).collect();
    let columns = set.group_columns(&groups, carry)?;
    let first_totals: ArrayRef = Arc::new(Float64Array::from_iter(
        series.iter().map(|s| s.summary[0].0),
    ));
    let mut sort = vec![SortColumn {
        values: first_totals,
        options: Some(SortOptions {
            descending: true,
            nulls_first: false,
        }),
    }];
    sort.extend(columns.iter().map(|(_, a)| SortColumn {
        values: a.clone(),
        options: Some(SortOptions::default()),
    }));
    let order: Vec<usize> = if series.is_empty() {
        Vec::new()
    } else {
        lexsort_to_indices(&sort, None)?
            .values()
            .iter()
            .map(|i| *i as usize)
            .collect()
    };

    let point_rows: Vec<(usize, usize)> = order
        .iter()
        .flat_map(|&s| (0..buckets).map(move |b| (s, b)))
        .collect();
    let take_rows = |rows: &[u32]| -> Result<Vec<(Field, ArrayRef)>, AnalyticsError> {
        let idx = UInt32Array::from(rows.to_vec());
        columns
            .iter()
            .map(|(f, a)| Ok((f.clone(), take(a, &idx, None)?)))
            .collect()
    };
    let rank_of_series = {
        let mut rank = vec![0u32; series.len()];
        for (r, &s) in order.iter().enumerate() {
            rank[s] = r as u32;
        }
        rank
    };

    let mut points = vec![(
        Field::new("series", DataType::UInt32, false),
        Arc::new(UInt32Array::from_iter_values(
            point_rows.iter().map(|(s, _)| rank_of_series[*s]),
        )) as ArrayRef,
    )];
    points.extend(take_rows(
        &point_rows
            .iter()
            .map(|(s, _)| *s as u32)
            .collect::<Vec<_>>(),
    )?);
    points.push((
        Field::new("date", DataType::Date32, false),
        Arc::new(Date32Array::from_iter_values(
            point_rows
                .iter()
                .map(|(_, b)| g.start_of(first_b + *b as i32)),
        )),
    ));
    points.push((
        Field::new("partial", DataType::Boolean, false),
        Arc::new(BooleanArray::from_iter(point_rows.iter().map(|(_, b)| {
            let b = first_b + *b as i32;
            Some(g.start_of(b + 1) - 1 > o.end || g.start_of(b) < o.start)
        }))),
    ));
    let currency_name = |c: SumCurrency| match (c, &set.currencies) {
        (SumCurrency::One(code), Some(names)) => Some(names.name(code).to_owned()),
        _ => None,
    };
    points.push((
        Field::new(MONEY_CURRENCY, DataType::Utf8, true),
        Arc::new(StringArray::from_iter(
            point_rows
                .iter()
                .map(|(s, b)| currency_name(series[*s].currencies[*b])),
        )),
    ));
    let m_count = o.metrics.len();
    for (m, metric) in o.metrics.iter().enumerate() {
        let name = metric.name();
        let at = |s: usize, b: usize| &series[s].points[b * m_count + m];
        let float = |suffix: &str, f: &dyn Fn(usize, usize) -> Option<f64>| -> (Field, ArrayRef) {
            (
                Field::new(format!("{name}{suffix}"), DataType::Float64, true),
                Arc::new(
                    point_rows
                        .iter()
                        .map(|(s, b)| f(*s, *b))
                        .collect::<Float64Array>(),
                ),
            )
        };
        points.push(float("", &|s, b| at(s, b)[0]));
        if metric.is_money() && metric.is_additive() {
            points.push((
                Field::new(format!("{name}_micros"), DataType::Int64, true),
                Arc::new(Int64Array::from_iter(
                    point_rows
                        .iter()
                        .map(|(s, b)| series[*s].micros[*b * m_count + m]),
                )),
            ));
        }
        points.push(float("_moving_average", &|s, b| at(s, b)[1]));
        points.push(float("_previous", &|s, b| at(s, b)[2]));
        points.push(float("_vs_previous", &|s, b| {
            relative(at(s, b)[0], at(s, b)[2])
        }));
        points.push(float("_year_ago", &|s, b| at(s, b)[3]));
        points.push(float("_vs_year_ago", &|s, b| {
            relative(at(s, b)[0], at(s, b)[3])
        }));
    }

    let mut summaries = vec![(
        Field::new("series", DataType::UInt32, false),
        Arc::new(UInt32Array::from_iter_values(0..order.len() as u32)) as ArrayRef,
    )];
    summaries.extend(take_rows(
        &order.iter().map(|s| *s as u32).collect::<Vec<_>>(),
    )?);
    summaries.push((
        Field::new(MONEY_CURRENCY, DataType::Utf8, true),
        Arc::new(StringArray::from_iter(
            order.iter().map(|s| currency_name(series[*s].currency)),
        )),
    ));
    for (m, metric) in o.metrics.iter().enumerate() {
        let name = metric.name();
        let sum = |s: usize| &series[s].summary[m];
        let float = |suffix: &str, f: &dyn Fn(usize) -> Option<f64>| -> (Field, ArrayRef) {
            (
                Field::new(format!("{name}{suffix}"), DataType::Float64, true),
                Arc::new(order.iter().map(|s| f(*s)).collect::<Float64Array>()),
            )
        };
        summaries.push(float("", &|s| sum(s).0));
        if metric.is_money() && metric.is_additive() {
            summaries.push((
                Field::new(format!("{name}_micros"), DataType::Int64, true),
                Arc::new(Int64Array::from_iter(order.iter().map(|s| sum(*s).1))),
            ));
        }
        summaries.push(float("_previous", &|s| sum(s).2));
        summaries.push(float("_vs_previous", &|s| relative(sum(s).0, sum(s).2)));
        summaries.push(float("_year_ago", &|s| sum(s).3));
        summaries.push(float("_vs_year_ago", &|s| relative(sum(s).0, sum(s).3)));
    }
    Ok(Trends {
        points: batch_of(points)?,
        summaries: batch_of(summaries)?,
    })
}

/// Relative change from `before` to `now`; undefined when `before` is 0 or either is.
fn relative(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    let (now, before) = (now?, before?);
    (before != 0.0).then(|| (now - before) / before.abs())
}

fn series_values(
    set: &SeriesSet,
    group: usize,
    o: &TrendOptions,
    first_b: i32,
    last_b: i32,
) -> Option<SeriesValues> {
    let g = o.granularity;
    let rows: Vec<(i32, u32)> = set
        .rows_of(group)
        .iter()
        .map(|&r| (g.bucket(set.days[r as usize]), r))
        .filter(|(b, _)| *b <= last_b)
        .collect();
    let first_present = rows.iter().map(|(b, _)| *b).min()?;
    let lo = first_present.min(first_b);
    let mut sums = vec![[0i64; 5]; (last_b - lo + 1) as usize];
    let mut currencies = vec![SumCurrency::Empty; sums.len()];
    for &(b, r) in &rows {
        let slot = &mut sums[(b - lo) as usize];
        for (s, v) in slot.iter_mut().zip(set.sums_of_row(r)) {
            *s += v;
        }
        if let Some(c) = &set.currencies {
            let cur = &mut currencies[(b - lo) as usize];
            *cur = cur.and(SumCurrency::One(c.of_row[r as usize]));
        }
    }
    // Money is a value only where every row summed is in one currency, so each bucket's money
    // stands however many currencies the look-back holds.
    let value = |metric: Metric, s: &[i64; 5], cur: SumCurrency| {
        if metric.is_money() && !cur.is_known() {
            None
        } else {
            metric.value(s)
        }
    };
    let micros = |metric: Metric, s: &[i64; 5], cur: SumCurrency| {
        metric
            .measure()
            .filter(|_| metric.is_money() && cur.is_known())
            .map(|k| s[k])
    };
    let covered = |b: i32| b >= first_present;
    let sum_buckets = |from: i32, to: i32| -> ([i64; 5], SumCurrency) {
        let mut total = [0i64; 5];
        let mut cur = SumCurrency::Empty;
        let (from, to) = ((from.max(lo) - lo) as usize, (to - lo) as usize);
        for (s, c) in sums[from..=to].iter().zip(&currencies[from..=to]) {
            for (t, v) in total.iter_mut().zip(s) {
                *t += v;
            }
            cur = cur.and(*c);
        }
        (total, cur)
    };
    // A comparison of money in the currency of `here`, or None when the series did not exist at
    // `from` or the span's money is in another currency.
    let compare = |metric: Metric, here: SumCurrency, from: i32, to: i32| {
        let (s, cur) = covered(from).then(|| sum_buckets(from, to))?;
        value(metric, &s, cur.and(here))
    };
    let m_count = o.metrics.len();
    let buckets = (last_b - first_b + 1) as usize;
    let mut points = Vec::with_capacity(buckets * m_count);
    let mut micros_of = Vec::with_capacity(buckets * m_count);
    let mut bucket_currency = Vec::with_capacity(buckets);
    for b in first_b..=last_b {
        let (here, cur) = (&sums[(b - lo) as usize], currencies[(b - lo) as usize]);
        bucket_currency.push(cur);
        for &metric in &o.metrics {
            let ma = (o.moving_average > 0)
                .then(|| compare(metric, cur, b - o.moving_average as i32 + 1, b))
                .flatten()
                .map(|v| {
                    if metric.is_additive() {
                        v / o.moving_average as f64
                    } else {
                        v
                    }
                });
            points.push([
                value(metric, here, cur),
                ma,
                compare(metric, cur, b - 1, b - 1),
                compare(metric, cur, b - g.year(), b - g.year()),
            ]);
            micros_of.push(micros(metric, here, cur));
        }
    }
    let length = last_b - first_b + 1;
    let (range, range_currency) = sum_buckets(first_b, last_b);
    let summary = o
        .metrics
        .iter()
        .map(|&metric| {
            (
                value(metric, &range, range_currency),
                micros(metric, &range, range_currency),
                compare(metric, range_currency, first_b - length, first_b - 1),
                compare(
                    metric,
                    range_currency,
                    first_b - g.year(),
                    last_b - g.year(),
                ),
            )
        })
        .collect();
    Some(SeriesValues {
        group: group as u32,
        points,
        micros: micros_of,
        currencies: bucket_currency,
        summary,
        currency: range_currency,
    })
}

#[cfg(test)]
mod tests;
