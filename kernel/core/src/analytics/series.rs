//! Pre-aggregated sums (one row per group × date × currency, as the store returns them) as
//! series: rows numbered by group, each group's rows listed together, so a worker can lay one
//! group's days out densely in a small buffer, compute, and move on.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::kernels::cast::{cast_with_options, CastOptions};
use arrow::compute::take;
use arrow::datatypes::{DataType, Date32Type, Field, Int64Type};

use super::AnalyticsError;
use crate::aggregate::keys::{encode, Grouping, RowSpace};
use crate::aggregate::MEASURE_COLUMNS;
use crate::parallel::{parts_for, ranges};

const CURRENCY: &str = "currency";

/// The rows of a batch grouped by key columns.
pub struct SeriesSet {
    pub batch: RecordBatch,
    /// Rows of group g: `order[starts[g]..starts[g + 1]]`, in input order.
    pub order: Vec<u32>,
    pub starts: Vec<usize>,
    /// Day number (date32) of every row.
    pub days: Vec<i32>,
    /// The five measures of every row.
    pub measures: [Vec<i64>; 5],
    /// Whether a group's money is in one currency (always true without a currency column).
    pub money_known: Vec<bool>,
    /// The currency of every row, when the batch has a currency column.
    pub currencies: Option<Currencies>,
    keys: Vec<usize>,
    currency: Option<usize>,
}

impl SeriesSet {
    /// Groups `batch` by `keys`; it must have the five measures as integer columns without
    /// nulls, and a date32 `date` column unless dates do not matter. A `currency` column that is not a key is tracked.
    pub fn new(
        batch: RecordBatch,
        keys: &[&str],
        threads: usize,
    ) -> Result<SeriesSet, AnalyticsError> {
        let schema = batch.schema();
        let column = |name: &str| {
            schema
                .index_of(name)
                .map_err(|_| AnalyticsError(format!("the table has no column '{name}'")))
        };
        let days = match schema.index_of("date") {
            Ok(i) => days_of(batch.column(i))?,
            // Comparisons of two periods need no dates: every row is day 0.
            Err(_) => vec![0; batch.num_rows()],
        };
        let measures = MEASURE_COLUMNS
            .iter()
            .map(|m| measure(m, batch.column(column(m)?)))
            .collect::<Result<Vec<_>, _>>()?;
        let measures: [Vec<i64>; 5] = measures.try_into().expect("five measures");
        let key_columns = keys
            .iter()
            .map(|k| column(k))
            .collect::<Result<Vec<_>, _>>()?;
        let n = batch.num_rows();
        let rows = RowSpace::new([n]);
        let parts = ranges(n, parts_for(n, threads));
        let mut codes = key_columns
            .iter()
            .map(|&i| encode(&[batch.column(i).clone()], &rows, &parts))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AnalyticsError(e.message))?;
        let grouping = Grouping::new(&mut codes, &rows, &parts);
        // Group codes may be sparse (radix products): number the ones that occur densely.
        let mut dense = vec![u32::MAX; grouping.cardinality as usize];
        let mut count = 0u32;
        let of_row: Vec<u32> = grouping
            .codes
            .iter()
            .map(|&c| {
                let slot = &mut dense[c as usize];
                if *slot == u32::MAX {
                    *slot = count;
                    count += 1;
                }
                *slot
            })
            .collect();
        let groups = if keys.is_empty() { 1 } else { count as usize };
        let mut starts = vec![0usize; groups + 1];
        for &g in &of_row {
            starts[g as usize + 1] += 1;
        }
        for g in 0..groups {
            starts[g + 1] += starts[g];
        }
        let mut fill = starts.clone();
        let mut order = vec![0u32; n];
        for (row, &g) in of_row.iter().enumerate() {
            order[fill[g as usize]] = row as u32;
            fill[g as usize] += 1;
        }
        let currencies = match schema.index_of(CURRENCY) {
            Ok(i) => {
                let of_row = encode(&[batch.column(i).clone()], &rows, &parts)
                    .map_err(|e| AnalyticsError(e.message))?
                    .codes;
                Some(Currencies::new(batch.column(i), of_row)?)
            }
            Err(_) => None,
        };
        let money_known = match &currencies {
            None => vec![true; groups],
            Some(c) => (0..groups)
                .map(|g| {
                    let rows = &order[starts[g]..starts[g + 1]];
                    rows.iter()
                        .all(|&r| c.of_row[r as usize] == c.of_row[rows[0] as usize])
                })
                .collect(),
        };
        let currency = (!keys.contains(&CURRENCY))
            .then(|| schema.index_of(CURRENCY).ok())
            .flatten();
        Ok(SeriesSet {
            batch,
            order,
            starts,
            days,
            measures,
            money_known,
            currencies,
            keys: key_columns,
            currency,
        })
    }

    pub fn groups(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn rows_of(&self, group: usize) -> &[u32] {
        &self.order[self.starts[group]..self.starts[group + 1]]
    }

    /// The group of every row.
    pub fn group_of_rows(&self) -> Vec<u32> {
        let mut of_row = vec![0u32; self.order.len()];
        for g in 0..self.groups() {
            for &r in self.rows_of(g) {
                of_row[r as usize] = g as u32;
            }
        }
        of_row
    }

    pub fn sums_of_row(&self, row: u32) -> [i64; 5] {
        std::array::from_fn(|k| self.measures[k][row as usize])
    }

    /// The row of each group that names it: its latest-dated row, so carried columns such as
    /// `campaign_name` show the newest value (a group without rows gets row 0). Found once per
    /// group: a table of points names each group once per day.
    fn naming_rows(&self, groups: &[u32]) -> Vec<u32> {
        let mut found = vec![u32::MAX; self.groups()];
        groups
            .iter()
            .map(|&g| {
                let slot = &mut found[g as usize];
                if *slot == u32::MAX {
                    *slot = self
                        .rows_of(g as usize)
                        .iter()
                        .copied()
                        .max_by_key(|&r| (self.days[r as usize], std::cmp::Reverse(r)))
                        .unwrap_or(0);
                }
                *slot
            })
            .collect()
    }

    /// Key, carried and currency columns for the given groups, in that order; the currency is
    /// null for a group whose money spans several.
    pub fn group_columns(
        &self,
        groups: &[u32],
        carry: &[&str],
    ) -> Result<Vec<(Field, ArrayRef)>, AnalyticsError> {
        let schema = self.batch.schema();
        let mut indices: Vec<usize> = self.keys.clone();
        for name in carry {
            indices.push(
                schema
                    .index_of(name)
                    .map_err(|_| AnalyticsError(format!("the table has no column '{name}'")))?,
            );
        }
        let rows = UInt32Array::from(self.naming_rows(groups));
        let mut out = Vec::new();
        let empty = self.batch.num_rows() == 0;
        for i in indices.into_iter().chain(self.currency) {
            let field = schema.field(i).clone().with_nullable(true);
            let values = if empty {
                arrow::array::new_null_array(field.data_type(), groups.len())
            } else {
                take(self.batch.column(i), &rows, None)?
            };
            let values = if Some(i) == self.currency {
                let known = groups
                    .iter()
                    .map(|&g| self.money_known.get(g as usize).copied().unwrap_or(true));
                let mask = arrow::array::BooleanArray::from(known.map(|k| !k).collect::<Vec<_>>());
                arrow::compute::nullif(&values, &mask)?
            } else {
                values
            };
            out.push((field, values));
        }
        Ok(out)
    }
}

/// Row currencies as small codes, so sums can check cheaply that they add one currency only.
pub struct Currencies {
    pub of_row: Vec<u32>,
    /// The currency of each code.
    names: Vec<String>,
}

impl Currencies {
    fn new(column: &ArrayRef, of_row: Vec<u32>) -> Result<Currencies, AnalyticsError> {
        let text = arrow::compute::cast(column, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let mut names =
            vec![String::new(); of_row.iter().map(|&c| c as usize + 1).max().unwrap_or(0)];
        for (row, &code) in of_row.iter().enumerate() {
            let name = &mut names[code as usize];
            if name.is_empty() && text.is_valid(row) {
                *name = text.value(row).to_owned();
            }
        }
        Ok(Currencies { of_row, names })
    }

    pub fn name(&self, code: u32) -> &str {
        &self.names[code as usize]
    }
}

/// The currency of a sum of rows: none yet (no rows), one, or several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SumCurrency {
    Empty,
    One(u32),
    Mixed,
}

impl SumCurrency {
    pub fn and(self, other: SumCurrency) -> SumCurrency {
        match (self, other) {
            (SumCurrency::Empty, c) | (c, SumCurrency::Empty) => c,
            (SumCurrency::One(a), SumCurrency::One(b)) if a == b => self,
            _ => SumCurrency::Mixed,
        }
    }

    /// Whether money summed in this currency state is one amount.
    pub fn is_known(self) -> bool {
        self != SumCurrency::Mixed
    }
}

impl From<arrow::error::ArrowError> for AnalyticsError {
    fn from(e: arrow::error::ArrowError) -> Self {
        AnalyticsError(e.to_string())
    }
}

fn days_of(date: &ArrayRef) -> Result<Vec<i32>, AnalyticsError> {
    if date.null_count() > 0 {
        return Err(AnalyticsError("'date' has nulls".into()));
    }
    match date.data_type() {
        DataType::Date32 => Ok(date.as_primitive::<Date32Type>().values().to_vec()),
        other => Err(AnalyticsError(format!(
            "'date' must be a date32 column, not {other}"
        ))),
    }
}

fn measure(name: &str, array: &ArrayRef) -> Result<Vec<i64>, AnalyticsError> {
    if !array.data_type().is_integer() || array.null_count() > 0 {
        return Err(AnalyticsError(format!(
            "measure '{name}' must be an integer column without nulls"
        )));
    }
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let cast = cast_with_options(array, &DataType::Int64, &options)
        .map_err(|_| AnalyticsError(format!("a value of '{name}' does not fit in an int64")))?;
    Ok(cast.as_primitive::<Int64Type>().values().to_vec())
}

/// A record batch from named columns.
pub fn batch_of(columns: Vec<(Field, ArrayRef)>) -> Result<RecordBatch, AnalyticsError> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let schema = Arc::new(arrow::datatypes::Schema::new(fields));
    Ok(RecordBatch::try_new_with_options(
        schema,
        arrays,
        &arrow::array::RecordBatchOptions::new().with_row_count(None),
    )?)
}
