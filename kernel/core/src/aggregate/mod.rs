//! Group-by sums of the fact measures with currency tracking, then the KPIs.
//!
//! Key columns become dense codes (see `keys`), the codes of all keys one group code per row,
//! and the measures are summed into flat per-group slots (see `accumulate`). Output keys and
//! carried columns are taken from each group's first row (see `output`).

mod accumulate;
mod columns;
mod error;
pub(crate) mod keys;
mod output;
#[cfg(test)]
mod tests;

use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::{Int64Type, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::parallel::{map_each, parts_for, ranges};
use accumulate::{sum_groups, Groups, Inputs};
use columns::{measure_values, Columns};
pub use error::{AggregateError, AggregateErrorKind};
use keys::{encode, Grouping, RowSpace};
use output::{column_of, Output};

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
    let columns = Columns::resolve(schema, keys, carry)?;
    let rows = RowSpace::new(batches.iter().map(RecordBatch::num_rows));
    if rows.len() >= u32::MAX as usize {
        return Err(AggregateError::invalid(
            "the table has more than 4294967294 rows",
        ));
    }
    let parts = ranges(rows.len(), parts_for(rows.len(), threads));
    let measures = batches
        .iter()
        .map(|b| {
            MEASURE_COLUMNS
                .iter()
                .zip(&columns.measures)
                .map(|(name, &i)| measure_values(name, b.column(i)))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<Vec<ArrayRef>>, _>>()?;
    let mut key_codes = columns
        .keys
        .iter()
        .map(|&i| encode(&column_of(batches, i), &rows, &parts))
        .collect::<Result<Vec<_>, _>>()?;
    let grouping = Grouping::new(&mut key_codes, &rows, &parts);
    let currency = columns
        .currency
        .map(|i| encode(&column_of(batches, i), &rows, &parts))
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
    let output = Output::new(
        schema,
        batches,
        &columns,
        &rows,
        &grouping,
        &key_codes,
        currency.as_ref(),
    )?;
    let batches = map_each(shares, |groups| output.batch(groups))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok((output.schema.clone(), batches))
}
