//! Group-by sums of the fact measures with currency tracking, then the KPIs.
//!
//! Key columns become dense codes (see `keys`), the codes of all keys one group code per row,
//! and the measures are summed into flat per-group slots (see `accumulate`). Output keys and
//! carried columns are taken from each group's first row.

mod accumulate;
pub(crate) mod keys;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, Int64Array, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::kernels::cast::{cast_with_options, CastOptions};
use arrow::compute::{interleave, take};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::kpi::{kpi_columns, KPI_COLUMNS};
use crate::parallel::{map_each, parts_for, ranges};
use accumulate::{sum_groups, Groups, Inputs};
use keys::{encode, Grouping, KeyCodes, RowSpace, NO_ROW};

/// The summed measures, in output order.
pub const MEASURE_COLUMNS: [&str; 5] = [
    "impressions",
    "clicks",
    "cost_micros",
    "conversions_micros",
    "revenue_micros",
];

/// Measures (by index in `MEASURE_COLUMNS`) that are money, and so unknown for mixed currencies.
const MONEY_MEASURES: [usize; 2] = [2, 4];

const CURRENCY: &str = "currency";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateErrorKind {
    /// The arguments or the table do not fit the call.
    Invalid,
    /// A sum does not fit in an int64.
    Overflow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateError {
    pub kind: AggregateErrorKind,
    pub message: String,
}

impl AggregateError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        AggregateError {
            kind: AggregateErrorKind::Invalid,
            message: message.into(),
        }
    }

    fn overflow(message: String) -> Self {
        AggregateError {
            kind: AggregateErrorKind::Overflow,
            message,
        }
    }
}

impl From<ArrowError> for AggregateError {
    fn from(e: ArrowError) -> Self {
        AggregateError::invalid(e.to_string())
    }
}

impl fmt::Display for AggregateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AggregateError {}

/// Groups `batches` (all of `schema`) by `keys`, sums the measures, appends the KPIs; see
/// `adpulse._kernel.aggregate` for the contract. Uses up to `threads` threads; the result comes
/// as one batch per thread's share of the groups.
pub fn aggregate(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    keys: &[&str],
    carry: &[&str],
    threads: usize,
) -> Result<(SchemaRef, Vec<RecordBatch>), AggregateError> {
    let index_of = |name: &str| {
        schema
            .index_of(name)
            .map_err(|_| AggregateError::invalid(format!("the table has no column '{name}'")))
    };
    check_names(keys, carry)?;
    let key_columns = keys
        .iter()
        .map(|k| index_of(k))
        .collect::<Result<Vec<_>, _>>()?;
    let carry_columns = carry
        .iter()
        .map(|c| index_of(c))
        .collect::<Result<Vec<_>, _>>()?;
    let currency_column = (!keys.contains(&CURRENCY))
        .then(|| schema.index_of(CURRENCY).ok())
        .flatten();
    let measure_columns = MEASURE_COLUMNS
        .iter()
        .map(|m| index_of(m))
        .collect::<Result<Vec<_>, _>>()?;

    let rows = RowSpace::new(batches.iter().map(RecordBatch::num_rows));
    if rows.len() >= u32::MAX as usize {
        return Err(AggregateError::invalid(
            "the table has more than 4294967294 rows",
        ));
    }
    let parts = ranges(rows.len(), parts_for(rows.len(), threads));
    let column =
        |i: usize| -> Vec<ArrayRef> { batches.iter().map(|b| b.column(i).clone()).collect() };
    let measures = batches
        .iter()
        .map(|b| {
            MEASURE_COLUMNS
                .iter()
                .zip(&measure_columns)
                .map(|(name, &i)| measure_values(name, b.column(i)))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<Vec<ArrayRef>>, _>>()?;
    let mut key_codes = key_columns
        .iter()
        .map(|&i| encode(&column(i), &rows, &parts))
        .collect::<Result<Vec<_>, _>>()?;
    let grouping = Grouping::new(&mut key_codes, &rows, &parts);
    let currency = currency_column
        .map(|i| encode(&column(i), &rows, &parts))
        .transpose()?;
    let inputs = Inputs {
        rows: &rows,
        groups: &grouping.codes,
        slots: grouping.cardinality as usize,
        measures: measures
            .iter()
            .map(|m| std::array::from_fn(|k| m[k].as_primitive::<Int64Type>().values().as_ref()))
            .collect(),
        currency: currency.as_ref().map(|c| c.codes.as_slice()),
        threads: parts.len(),
    };
    let mut shares = sum_groups(&inputs).map_err(|i| {
        AggregateError::overflow(format!(
            "the sum of {} does not fit in an int64",
            MEASURE_COLUMNS[i]
        ))
    })?;
    if keys.is_empty() && shares.iter().all(|g| g.codes.is_empty()) {
        // Without keys the whole table is one group, even when it has no row.
        let mut empty = Groups::default();
        empty.sums.iter_mut().for_each(|s| s.push(0));
        // Its currency is that of no row: null, and its (zero) money is known.
        empty
            .currencies
            .extend(currency.as_ref().map(|c| Some((c.cardinality - 1) as u32)));
        shares = vec![empty];
    }

    let mut fields: Vec<Field> = Vec::new();
    for &i in &key_columns {
        fields.push(schema.field(i).clone());
    }
    for &i in carry_columns.iter().chain(&currency_column) {
        fields.push(schema.field(i).clone().with_nullable(true));
    }
    for (k, name) in MEASURE_COLUMNS.iter().enumerate() {
        fields.push(Field::new(
            *name,
            DataType::Int64,
            MONEY_MEASURES.contains(&k),
        ));
    }
    fields.extend(
        KPI_COLUMNS
            .iter()
            .map(|name| Field::new(*name, DataType::Float64, true)),
    );
    let out_schema = Arc::new(Schema::new(fields));

    // Keys (and the currency) come from each column's few distinct values, taken by code.
    let distinct = |i: usize, codes: &KeyCodes| {
        distinct_values(&column(i), schema.field(i).data_type(), &rows, codes)
    };
    let key_values = key_columns
        .iter()
        .zip(&key_codes)
        .map(|(&i, codes)| distinct(i, codes))
        .collect::<Result<Vec<_>, _>>()?;
    let currency_values = currency_column
        .zip(currency.as_ref())
        .map(|(i, codes)| distinct(i, codes))
        .transpose()?;
    let carried: Vec<Vec<ArrayRef>> = carry_columns.iter().map(|&i| column(i)).collect();
    let build = |groups: Groups| -> Result<RecordBatch, ArrowError> {
        let n = groups.sums[0].len();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (values, codes) in key_values
            .iter()
            .zip(grouping.key_codes(&groups.codes, keys.len()))
        {
            columns.push(take(values, &UInt32Array::from(codes), None)?);
        }
        for (arrays, field) in carried
            .iter()
            .zip(out_schema.fields().iter().skip(keys.len()))
        {
            // No groups: there may be no batches to take from either (an empty input).
            columns.push(if n > 0 && groups.first_rows.len() == n {
                first_values(arrays, &rows, &groups.first_rows)?
            } else {
                new_null_array(field.data_type(), n)
            });
        }
        let money_known: Option<Vec<bool>> = currency_values
            .as_ref()
            .map(|_| groups.currencies.iter().map(Option::is_some).collect());
        if let Some(values) = &currency_values {
            columns.push(take(
                values,
                &groups.currencies.iter().copied().collect::<UInt32Array>(),
                None,
            )?);
        }
        let kpis = kpi_columns(&groups.sums, money_known.as_deref());
        let money_nulls = money_known.map(NullBuffer::from);
        for (k, sums) in groups.sums.into_iter().enumerate() {
            let nulls = if MONEY_MEASURES.contains(&k) {
                money_nulls.clone()
            } else {
                None
            };
            columns.push(Arc::new(Int64Array::new(sums.into(), nulls)));
        }
        columns.extend(kpis);
        RecordBatch::try_new(out_schema.clone(), columns)
    };
    let batches = map_each(shares, build)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok((out_schema, batches))
}

/// The values of a coded column for each of its codes (null for the null code).
fn distinct_values(
    arrays: &[ArrayRef],
    data_type: &DataType,
    rows: &RowSpace,
    column: &KeyCodes,
) -> Result<ArrayRef, ArrowError> {
    if rows.len() == 0 {
        return Ok(new_null_array(data_type, column.first_rows.len()));
    }
    // A code that never occurs is never taken: any row stands in for it.
    let first_rows: Vec<u32> = column
        .first_rows
        .iter()
        .map(|r| if *r == NO_ROW { 0 } else { *r })
        .collect();
    first_values(arrays, rows, &first_rows)
}

/// Names must be distinct, and measures are summed, never grouped by or carried.
fn check_names(keys: &[&str], carry: &[&str]) -> Result<(), AggregateError> {
    let mut seen = HashSet::new();
    for name in keys.iter().chain(carry) {
        if !seen.insert(*name) {
            return Err(AggregateError::invalid(format!(
                "column '{name}' is named twice in keys and carry"
            )));
        }
        if MEASURE_COLUMNS.contains(name) {
            return Err(AggregateError::invalid(format!(
                "'{name}' is a measure: it is summed, not a key or carried"
            )));
        }
    }
    if carry.contains(&CURRENCY) {
        return Err(AggregateError::invalid(
            "'currency' is tracked per group (null when mixed); make it a key or leave it out of carry",
        ));
    }
    Ok(())
}

/// A measure column as int64 values without nulls.
fn measure_values(name: &str, array: &ArrayRef) -> Result<ArrayRef, AggregateError> {
    if !array.data_type().is_integer() {
        return Err(AggregateError::invalid(format!(
            "measure '{name}' must be an integer column, not {}",
            array.data_type()
        )));
    }
    if array.null_count() > 0 {
        return Err(AggregateError::invalid(format!(
            "measure '{name}' has nulls"
        )));
    }
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(array, &DataType::Int64, &options).map_err(|_| {
        AggregateError::overflow(format!("a value of '{name}' does not fit in an int64"))
    })
}

/// The value of each of `rows_wanted` (global row numbers) of a column given per batch.
fn first_values(
    arrays: &[ArrayRef],
    rows: &RowSpace,
    rows_wanted: &[u32],
) -> Result<ArrayRef, ArrowError> {
    if let [array] = arrays {
        return take(array, &UInt32Array::from(rows_wanted.to_vec()), None);
    }
    let refs: Vec<&dyn Array> = arrays.iter().map(AsRef::as_ref).collect();
    let indices: Vec<(usize, usize)> = rows_wanted
        .iter()
        .map(|r| rows.locate(*r as usize))
        .collect();
    interleave(&refs, &indices)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{
        Date32Array, DictionaryArray, Float64Array, Int32Array, StringArray, StringViewArray,
    };
    use arrow::datatypes::{Float64Type, Int32Type};
    use proptest::prelude::*;

    use super::*;

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
        let keys =
            arrow::compute::cast(batch.column_by_name(key).unwrap(), &DataType::Utf8).unwrap();
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
    fn dictionary_view_and_integer_keys() {
        let base = facts(
            &[Some("a"), Some("b"), Some("a"), None],
            &[20_000; 4],
            &["EUR"; 4],
            &[1, 2, 4, 8],
        );
        let dictionary: DictionaryArray<Int32Type> = vec![Some("a"), Some("b"), Some("a"), None]
            .into_iter()
            .collect();
        let view: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("a"),
            Some("b"),
            Some("a"),
            None,
        ]));
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(i64::MIN),
            Some(i64::MAX),
            Some(i64::MIN),
            None,
        ]));
        let narrow: ArrayRef = Arc::new(Int32Array::from(vec![Some(7), Some(9), Some(7), None]));
        for key in [Arc::new(dictionary) as ArrayRef, view, wide, narrow] {
            let batch = with_column(&base, "campaign_id", key);
            let out = run(&[batch.clone(), batch], &["campaign_id"], &[], 2).unwrap();
            let mut clicks: Vec<Option<i64>> = column_i64(&out, "clicks");
            clicks.sort();
            assert_eq!(
                clicks,
                [Some(4), Some(10), Some(16)],
                "{:?}",
                out.column(0).data_type()
            );
            assert_eq!(out.column(0).null_count(), 1);
        }
    }

    #[test]
    fn dictionaries_that_differ_between_batches_agree_on_values() {
        let base = facts(&[Some("a"), Some("b")], &[20_000; 2], &["EUR"; 2], &[1, 2]);
        let one: DictionaryArray<Int32Type> = vec!["a", "b"].into_iter().collect();
        let two: DictionaryArray<Int32Type> = vec!["b", "a"].into_iter().collect();
        let batches: Vec<RecordBatch> = [one, two]
            .into_iter()
            .map(|d| with_column(&base, "campaign_id", Arc::new(d)))
            .collect();
        let out = run(&batches, &["campaign_id"], &[], 1).unwrap();
        assert_eq!(
            by_key(&out, "campaign_id"),
            [(Some("a".into()), Some(3)), (Some("b".into()), Some(3))]
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

    #[test]
    fn many_keys_with_a_large_product_are_grouped_by_hashing_pairs() {
        let n = 3000;
        let a: Vec<i64> = (0..n).map(|i| i * 1_000_003).collect();
        let b: Vec<i64> = (0..n).map(|i| (i * 7919 % n) * 999_983).collect();
        let zeros = vec![0i64; n as usize];
        let batch = table(vec![
            ("a", ints(&a)),
            ("b", ints(&b)),
            ("impressions", ints(&vec![1; n as usize])),
            ("clicks", ints(&zeros)),
            ("cost_micros", ints(&zeros)),
            ("conversions_micros", ints(&zeros)),
            ("revenue_micros", ints(&zeros)),
        ]);
        let doubled = [batch.clone(), batch];
        let out = run(&doubled, &["a", "b"], &[], 2).unwrap();
        assert_eq!(out.num_rows(), n as usize);
        assert!(column_i64(&out, "impressions")
            .iter()
            .all(|v| *v == Some(2)));
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
}
