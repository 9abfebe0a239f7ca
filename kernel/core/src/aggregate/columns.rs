//! Which columns of the table play which part: keys, carried, the tracked currency, measures.

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef};
use arrow::compute::kernels::cast::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, SchemaRef};

use super::{AggregateError, CURRENCY, MEASURE_COLUMNS};

/// Column indices in the table's schema.
pub(super) struct Columns {
    pub keys: Vec<usize>,
    pub carry: Vec<usize>,
    /// Tracked per group unless it is a key (or absent).
    pub currency: Option<usize>,
    /// In the order of `MEASURE_COLUMNS`.
    pub measures: Vec<usize>,
}

impl Columns {
    pub fn resolve(
        schema: &SchemaRef,
        keys: &[&str],
        carry: &[&str],
    ) -> Result<Columns, AggregateError> {
        let index_of = |name: &str| {
            schema
                .index_of(name)
                .map_err(|_| AggregateError::invalid(format!("the table has no column '{name}'")))
        };
        check_names(keys, carry)?;
        let all = |names: &[&str]| {
            names
                .iter()
                .map(|n| index_of(n))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Columns {
            keys: all(keys)?,
            carry: all(carry)?,
            currency: (!keys.contains(&CURRENCY))
                .then(|| schema.index_of(CURRENCY).ok())
                .flatten(),
            measures: all(&MEASURE_COLUMNS)?,
        })
    }
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
pub(super) fn measure_values(name: &str, array: &ArrayRef) -> Result<ArrayRef, AggregateError> {
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
