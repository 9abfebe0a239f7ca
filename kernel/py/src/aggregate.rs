//! Grouped sums of facts, and the random-update floor they are measured against.

use adpulse_core::aggregate::{AggregateError, AggregateErrorKind, MEASURE_COLUMNS};
use arrow::array::AsArray;
use arrow::datatypes::{Int64Type, UInt32Type};
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;

use crate::convert::{batches_of, one_batch, strs};

#[pyfunction]
#[pyo3(signature = (table, keys, carry = Vec::new()))]
fn aggregate(
    py: Python<'_>,
    table: AnyRecordBatch,
    keys: Vec<String>,
    carry: Vec<String>,
) -> PyResult<Bound<'_, PyAny>> {
    let (schema, batches) = batches_of(table)?;
    let (keys, carry) = (strs(&keys), strs(&carry));
    let threads = adpulse_core::worker_threads();
    let (schema, out) = py
        .detach(|| adpulse_core::aggregate::aggregate(&schema, &batches, &keys, &carry, threads))
        .map_err(aggregate_error)?;
    PyTable::try_new(out, schema)?.into_pyarrow(py)
}

/// For `bench/kernel_kpis.py` only: the random-update floor of `aggregate` (see
/// `adpulse_core::aggregate::random_update_floor`) over a table of a uint32 `slot` column and
/// the five int64 measures; returns the loop's seconds and the five totals.
#[doc(hidden)]
#[pyfunction]
#[pyo3(name = "_random_update_floor")]
fn random_update_floor(
    py: Python<'_>,
    table: AnyRecordBatch,
    slots: usize,
) -> PyResult<(f64, [i64; 5])> {
    let batch = one_batch(table)?;
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| PyValueError::new_err(format!("the table has no column '{name}'")))
    };
    let groups = column("slot")?
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(|| PyValueError::new_err("'slot' must be a uint32 column"))?;
    let measures = MEASURE_COLUMNS
        .iter()
        .map(|name| {
            column(name)?
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| PyValueError::new_err(format!("'{name}' must be an int64 column")))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let measures: [&[i64]; 5] = std::array::from_fn(|k| measures[k].values().as_ref());
    let (elapsed, totals) = py
        .detach(|| adpulse_core::aggregate::random_update_floor(groups.values(), measures, slots))
        .map_err(PyValueError::new_err)?;
    Ok((elapsed.as_secs_f64(), totals))
}

fn aggregate_error(e: AggregateError) -> PyErr {
    match e.kind {
        AggregateErrorKind::Invalid => PyValueError::new_err(e.message),
        AggregateErrorKind::Overflow => PyOverflowError::new_err(e.message),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(aggregate, m)?)?;
    m.add_function(wrap_pyfunction!(random_update_floor, m)?)?;
    Ok(())
}
