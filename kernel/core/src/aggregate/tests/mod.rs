//! The aggregation end to end: grouping, sums, currencies, first rows, errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, Date32Array, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Float64Type};
use proptest::prelude::*;

use super::*;

mod key_types;

fn table(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

fn ints(values: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// A fact-like batch: campaign, date, currency and the five measures (cost = 10 × clicks).
fn facts(
    campaigns: &[Option<&str>],
    days: &[i32],
    currencies: &[&str],
    clicks: &[i64],
) -> RecordBatch {
    let n = clicks.len();
    let cost: Vec<i64> = clicks.iter().map(|c| c * 10).collect();
    table(vec![
        ("campaign_id", strings(campaigns)),
        ("date", Arc::new(Date32Array::from(days.to_vec()))),
        (
            "currency",
            strings(&currencies.iter().map(|c| Some(*c)).collect::<Vec<_>>()),
        ),
        ("impressions", ints(&vec![100; n])),
        ("clicks", ints(clicks)),
        ("cost_micros", ints(&cost)),
        ("conversions_micros", ints(&vec![1_000_000; n])),
        ("revenue_micros", ints(&cost)),
    ])
}

/// `batch` with column `name` set to `array` (in its place, or appended).
fn with_column(batch: &RecordBatch, name: &str, array: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let mut columns: Vec<(String, ArrayRef)> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .zip(batch.columns().iter().cloned())
        .collect();
    match columns.iter_mut().find(|(n, _)| n == name) {
        Some(column) => column.1 = array,
        None => columns.push((name.to_owned(), array)),
    }
    RecordBatch::try_from_iter(columns).unwrap()
}

/// The result as one batch.
fn run_on(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    keys: &[&str],
    carry: &[&str],
    threads: usize,
) -> Result<RecordBatch, AggregateError> {
    let (schema, out) = aggregate(schema, batches, keys, carry, threads)?;
    Ok(arrow::compute::concat_batches(&schema, &out).unwrap())
}

fn run(
    batches: &[RecordBatch],
    keys: &[&str],
    carry: &[&str],
    threads: usize,
) -> Result<RecordBatch, AggregateError> {
    run_on(&batches[0].schema(), batches, keys, carry, threads)
}

fn column_i64(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

/// Rows of (key text, sums of clicks) sorted by key, for comparisons that ignore group order.
fn by_key(batch: &RecordBatch, key: &str) -> Vec<(Option<String>, Option<i64>)> {
    let keys = arrow::compute::cast(batch.column_by_name(key).unwrap(), &DataType::Utf8).unwrap();
    let mut rows: Vec<_> = keys
        .as_string::<i32>()
        .iter()
        .map(|k| k.map(str::to_owned))
        .zip(column_i64(batch, "clicks"))
        .collect();
    rows.sort();
    rows
}

#[test]
fn sums_by_string_key_across_batches_and_threads() {
    let a = facts(
        &[Some("c1"), Some("c2"), None],
        &[20_000, 20_000, 20_001],
        &["EUR"; 3],
        &[1, 2, 4],
    );
    let b = facts(
        &[Some("c2"), None, Some("c1")],
        &[20_001, 20_001, 20_002],
        &["EUR"; 3],
        &[8, 16, 32],
    );
    for threads in [1, 4] {
        let out = run(&[a.clone(), b.clone()], &["campaign_id"], &[], threads).unwrap();
        assert_eq!(
            by_key(&out, "campaign_id"),
            [
                (None, Some(20)),
                (Some("c1".into()), Some(33)),
                (Some("c2".into()), Some(10))
            ]
        );
        let names: Vec<String> = out
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            [
                "campaign_id",
                "currency",
                "impressions",
                "clicks",
                "cost_micros",
                "conversions_micros",
                "revenue_micros",
                "ctr",
                "cpc",
                "cpm",
                "cvr",
                "cpa",
                "roas",
                "roi"
            ]
        );
    }
}

#[test]
fn two_keys_and_carried_columns_take_the_first_row() {
    let batch = facts(
        &[Some("c1"), Some("c1"), Some("c1")],
        &[20_000, 20_001, 20_000],
        &["EUR"; 3],
        &[1, 2, 4],
    );
    let batch = with_column(
        &batch,
        "name",
        strings(&[Some("first"), Some("other"), Some("later")]),
    );
    let out = run(&[batch], &["campaign_id", "date"], &["name"], 1).unwrap();
    assert_eq!(out.num_rows(), 2);
    let date = out
        .column_by_name("date")
        .unwrap()
        .as_primitive::<arrow::datatypes::Date32Type>();
    let name = out.column_by_name("name").unwrap().as_string::<i32>();
    let clicks = column_i64(&out, "clicks");
    let mut rows: Vec<_> = (0..2)
        .map(|i| (date.value(i), name.value(i), clicks[i]))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [(20_000, "first", Some(5)), (20_001, "other", Some(2))]
    );
}

#[test]
fn mixed_currencies_null_the_money() {
    let batch = facts(
        &[Some("c1"), Some("c1"), Some("c2")],
        &[20_000; 3],
        &["EUR", "USD", "EUR"],
        &[1, 2, 4],
    );
    let out = run(&[batch], &["campaign_id"], &[], 1).unwrap();
    let mut rows: Vec<_> = (0..2)
        .map(|i| {
            let cur = out.column_by_name("currency").unwrap().as_string::<i32>();
            let kpi = |name: &str| {
                out.column_by_name(name)
                    .unwrap()
                    .as_primitive::<Float64Type>()
                    .is_valid(i)
            };
            (
                cur.is_valid(i).then(|| cur.value(i).to_owned()),
                column_i64(&out, "cost_micros")[i],
                column_i64(&out, "revenue_micros")[i],
                kpi("ctr"),
                kpi("cvr"),
                kpi("cpc"),
                kpi("roas"),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            (None, None, None, true, true, false, false),
            (
                Some("EUR".to_owned()),
                Some(40),
                Some(40),
                true,
                true,
                true,
                true
            )
        ]
    );
    let by_currency = run(
        &[facts(
            &[Some("c1"), Some("c1")],
            &[20_000; 2],
            &["EUR", "USD"],
            &[1, 2],
        )],
        &["currency"],
        &[],
        1,
    )
    .unwrap();
    assert_eq!(by_currency.num_rows(), 2);
    assert!(by_currency.columns().iter().all(|c| c.null_count() == 0));
}

#[test]
fn no_keys_gives_one_row_even_for_an_empty_table() {
    let batch = facts(
        &[Some("c1"), Some("c2")],
        &[20_000; 2],
        &["EUR"; 2],
        &[1, 2],
    );
    let out = run(std::slice::from_ref(&batch), &[], &["campaign_id"], 1).unwrap();
    assert_eq!(
        (out.num_rows(), column_i64(&out, "clicks")),
        (1, vec![Some(3)])
    );
    assert_eq!(
        out.column_by_name("campaign_id")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "c1"
    );
    let empty = batch.slice(0, 0);
    let out = run(std::slice::from_ref(&empty), &[], &["campaign_id"], 1).unwrap();
    assert_eq!(out.num_rows(), 1);
    assert_eq!(column_i64(&out, "impressions"), [Some(0)]);
    assert!(out.column_by_name("campaign_id").unwrap().is_null(0));
    assert!(out.column_by_name("ctr").unwrap().is_null(0));
    assert!(out.column_by_name("currency").unwrap().is_null(0));
    assert_eq!(column_i64(&out, "cost_micros"), [Some(0)]);
    let out = run_on(&batch.schema(), &[], &["campaign_id"], &[], 1).unwrap();
    assert_eq!(out.num_rows(), 0);
    assert_eq!(
        run(&[empty], &["campaign_id", "date"], &[], 1)
            .unwrap()
            .num_rows(),
        0
    );
}

#[test]
fn overflow_and_bad_arguments_are_errors() {
    let batch = facts(
        &[Some("c1"), Some("c1")],
        &[20_000; 2],
        &["EUR"; 2],
        &[1, 2],
    );
    let batch = with_column(&batch, "cost_micros", ints(&[i64::MAX, 1]));
    let err = run(std::slice::from_ref(&batch), &["campaign_id"], &[], 1).unwrap_err();
    assert_eq!(err.kind, AggregateErrorKind::Overflow);
    assert_eq!(
        err.message,
        "the sum of cost_micros does not fit in an int64"
    );
    for (keys, carry) in [
        (vec!["nope"], vec![]),
        (vec!["date", "date"], vec![]),
        (vec!["clicks"], vec![]),
        (vec![], vec!["currency"]),
        (vec!["cost_micros"], vec![]),
    ] {
        assert_eq!(
            run(std::slice::from_ref(&batch), &keys, &carry, 1)
                .unwrap_err()
                .kind,
            AggregateErrorKind::Invalid,
            "{keys:?} {carry:?}"
        );
    }
    let floats = table(vec![(
        "impressions",
        Arc::new(Float64Array::from(vec![1.0])) as ArrayRef,
    )]);
    assert_eq!(
        run(&[floats], &[], &[], 1).unwrap_err().kind,
        AggregateErrorKind::Invalid
    );
}

proptest! {
    #[test]
    fn sums_match_a_naive_group_by(
        rows in proptest::collection::vec((0u8..6, 0i32..4, 0u8..2, 0i64..1_000_000), 0..300),
        split in 0usize..300,
        threads in 1usize..4,
    ) {
        let campaigns: Vec<String> = rows.iter().map(|r| format!("c{}", r.0)).collect();
        let campaign_refs: Vec<Option<&str>> = campaigns.iter().map(|c| Some(c.as_str())).collect();
        let days: Vec<i32> = rows.iter().map(|r| 20_000 + r.1).collect();
        let currencies: Vec<&str> = rows.iter().map(|r| ["EUR", "USD"][usize::from(r.2)]).collect();
        let clicks: Vec<i64> = rows.iter().map(|r| r.3).collect();
        let whole = facts(&campaign_refs, &days, &currencies, &clicks);
        let split = split.min(rows.len());
        let batches = [whole.slice(0, split), whole.slice(split, rows.len() - split)];
        let out = run(&batches, &["campaign_id", "date"], &[], threads).unwrap();
        let mut naive: BTreeMap<(String, i32), (i64, bool, u8)> = BTreeMap::new();
        for r in &rows {
            let e = naive.entry((format!("c{}", r.0), 20_000 + r.1)).or_insert((0, false, r.2));
            e.0 += r.3;
            e.1 |= e.2 != r.2;
        }
        let campaign = out.column_by_name("campaign_id").unwrap().as_string::<i32>();
        let date = out.column_by_name("date").unwrap().as_primitive::<arrow::datatypes::Date32Type>();
        let clicks_out = column_i64(&out, "clicks");
        let cost = column_i64(&out, "cost_micros");
        let mut got: BTreeMap<(String, i32), (i64, bool, u8)> = BTreeMap::new();
        for i in 0..out.num_rows() {
            let mixed = cost[i].is_none();
            let currency = out.column_by_name("currency").unwrap().as_string::<i32>();
            let cur = if mixed { 0 } else { u8::from(currency.value(i) == "USD") };
            got.insert((campaign.value(i).to_owned(), date.value(i)), (clicks_out[i].unwrap(), mixed, cur));
        }
        for v in naive.values_mut().filter(|v| v.1) {
            v.2 = 0;
        }
        prop_assert_eq!(got, naive);
    }
}
