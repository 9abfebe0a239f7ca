use super::*;
use crate::date::parse_date;

fn day(t: &str) -> i32 {
    parse_date(t.as_bytes()).unwrap()
}

/// One platform, rows (date, currency, cost in micros) with 10 clicks each.
fn sums(rows: &[(&str, &str, i64)]) -> SeriesSet {
    let batch = RecordBatch::try_from_iter(vec![
        (
            "platform",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|_| "meta_ads"),
            )) as ArrayRef,
        ),
        (
            "date",
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| day(r.0)))),
        ),
        (
            "currency",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        ),
        (
            "impressions",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|_| 100))),
        ),
        (
            "clicks",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|_| 10))),
        ),
        (
            "cost_micros",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ),
        (
            "conversions_micros",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|_| 0))),
        ),
        (
            "revenue_micros",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|_| 0))),
        ),
    ])
    .unwrap();
    SeriesSet::new(batch, &["platform"], 1).unwrap()
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .iter()
        .collect()
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let column = batch.column_by_name(name).unwrap();
    let column = column.as_any().downcast_ref::<StringArray>().unwrap();
    column.iter().map(|s| s.map(str::to_owned)).collect()
}

#[test]
fn money_is_summed_per_bucket_whatever_currencies_the_history_holds() {
    // A year before, the series was in EUR; this month, USD except one EUR row on day 3.
    let set = sums(&[
        ("2025-11-05", "EUR", 9_000_000),
        ("2026-11-02", "USD", 1_000_000),
        ("2026-11-03", "USD", 2_000_000),
        ("2026-11-03", "EUR", 5_000_000),
        ("2026-11-04", "USD", 4_000_000),
    ]);
    let options = TrendOptions {
        metrics: vec![Metric::Cost, Metric::Ctr],
        granularity: Granularity::Day,
        start: day("2026-11-02"),
        end: day("2026-11-04"),
        moving_average: 2,
    };
    let t = trends(&set, &[], &options).unwrap();
    assert_eq!(floats(&t.points, "cost"), [Some(1.0), None, Some(4.0)]);
    assert_eq!(
        strings(&t.points, MONEY_CURRENCY),
        [Some("USD".to_owned()), None, Some("USD".to_owned())]
    );
    // Comparisons that reach into the mixed day have no money; ratios do not care.
    assert_eq!(
        floats(&t.points, "cost_moving_average"),
        [Some(0.5), None, None]
    );
    assert_eq!(floats(&t.points, "cost_previous"), [Some(0.0), None, None]);
    assert_eq!(floats(&t.points, "ctr"), [Some(0.1), Some(0.1), Some(0.1)]);
    // 364 days before the first day the series did not exist; before the last it was in
    // EUR: no like-for-like comparison.
    assert_eq!(floats(&t.points, "cost_year_ago"), [None, None, None]);
    assert_eq!(floats(&t.points, "ctr_year_ago"), [None, None, Some(0.1)]);
    assert_eq!(floats(&t.summaries, "cost"), [None]);
    assert_eq!(strings(&t.summaries, MONEY_CURRENCY), [None]);

    let one_day = TrendOptions {
        start: day("2026-11-04"),
        end: day("2026-11-04"),
        ..options
    };
    let t = trends(&set, &[], &one_day).unwrap();
    assert_eq!(floats(&t.summaries, "cost"), [Some(4.0)]);
    assert_eq!(floats(&t.summaries, "cost_previous"), [None]);
    assert_eq!(
        strings(&t.summaries, MONEY_CURRENCY),
        [Some("USD".to_owned())]
    );
}

#[test]
fn buckets_start_on_mondays_and_first_days() {
    let g = Granularity::Week;
    let b = g.bucket(day("2026-11-22")); // a Sunday
    assert_eq!(g.start_of(b), day("2026-11-16"));
    assert_eq!(g.bucket(day("2026-11-16")), b);
    assert_eq!(g.bucket(day("2026-11-23")), b + 1);
    let m = Granularity::Month;
    let b = m.bucket(day("2024-02-29"));
    assert_eq!(m.start_of(b), day("2024-02-01"));
    assert_eq!(m.start_of(b + 11), day("2025-01-01"));
    assert_eq!(m.start_of(b - 2), day("2023-12-01"));
}
