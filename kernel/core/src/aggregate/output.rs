//! The result table: keys, carried columns and the currency taken by row, then the sums and
//! the KPIs.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, Int64Array, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::{interleave, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::accumulate::Groups;
use super::columns::Columns;
use super::keys::{Grouping, KeyCodes, RowSpace, NO_ROW};
use super::{MEASURE_COLUMNS, MONEY_MEASURES};
use crate::kpi::{kpi_columns, KPI_COLUMNS};

/// What every batch of the result is built from.
pub(super) struct Output<'a> {
    pub schema: SchemaRef,
    rows: &'a RowSpace,
    grouping: &'a Grouping,
    /// The values of each key column by code.
    key_values: Vec<ArrayRef>,
    /// The values of the tracked currency by code.
    currency_values: Option<ArrayRef>,
    /// Each carried column, one array per input batch.
    carried: Vec<Vec<ArrayRef>>,
}

/// A column of the table, one array per batch.
pub(super) fn column_of(batches: &[RecordBatch], i: usize) -> Vec<ArrayRef> {
    batches.iter().map(|b| b.column(i).clone()).collect()
}

impl<'a> Output<'a> {
    pub fn new(
        schema: &SchemaRef,
        batches: &[RecordBatch],
        columns: &Columns,
        rows: &'a RowSpace,
        grouping: &'a Grouping,
        key_codes: &[KeyCodes],
        currency: Option<&KeyCodes>,
    ) -> Result<Self, ArrowError> {
        let mut fields: Vec<Field> = Vec::new();
        for &i in &columns.keys {
            fields.push(schema.field(i).clone());
        }
        for &i in columns.carry.iter().chain(&columns.currency) {
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

        // Keys (and the currency) come from each column's few distinct values, taken by code.
        let distinct = |i: usize, codes: &KeyCodes| {
            distinct_values(
                &column_of(batches, i),
                schema.field(i).data_type(),
                rows,
                codes,
            )
        };
        let key_values = columns
            .keys
            .iter()
            .zip(key_codes)
            .map(|(&i, codes)| distinct(i, codes))
            .collect::<Result<Vec<_>, _>>()?;
        let currency_values = columns
            .currency
            .zip(currency)
            .map(|(i, codes)| distinct(i, codes))
            .transpose()?;
        Ok(Output {
            schema: Arc::new(Schema::new(fields)),
            rows,
            grouping,
            key_values,
            currency_values,
            carried: columns
                .carry
                .iter()
                .map(|&i| column_of(batches, i))
                .collect(),
        })
    }

    /// The result rows of `groups`.
    pub fn batch(&self, groups: Groups) -> Result<RecordBatch, ArrowError> {
        let n = groups.sums[0].len();
        let keys = self.key_values.len();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (values, codes) in self
            .key_values
            .iter()
            .zip(self.grouping.key_codes(&groups.codes, keys))
        {
            columns.push(take(values, &UInt32Array::from(codes), None)?);
        }
        for (arrays, field) in self
            .carried
            .iter()
            .zip(self.schema.fields().iter().skip(keys))
        {
            // No groups: there may be no batches to take from either (an empty input).
            columns.push(if n > 0 && groups.first_rows.len() == n {
                first_values(arrays, self.rows, &groups.first_rows)?
            } else {
                new_null_array(field.data_type(), n)
            });
        }
        let money_known: Option<Vec<bool>> = self
            .currency_values
            .as_ref()
            .map(|_| groups.currencies.iter().map(Option::is_some).collect());
        if let Some(values) = &self.currency_values {
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
        RecordBatch::try_new(self.schema.clone(), columns)
    }
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
