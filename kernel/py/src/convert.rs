//! Values across the boundary: dates, Arrow tables, errors.

use adpulse_core::analytics::AnalyticsError;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;

/// Days between 0001-01-01 (Python's ordinal 1) and 1970-01-01 (date32's day 0).
const ORDINAL_OF_EPOCH: i64 = 719_163;

/// A `datetime.date` as a date32 day (abi3 has no PyDate, so through `toordinal()`).
pub(crate) fn day_of(date: &Bound<'_, PyAny>) -> PyResult<i32> {
    let ordinal: i64 = date.call_method0("toordinal")?.extract()?;
    i32::try_from(ordinal - ORDINAL_OF_EPOCH)
        .map_err(|_| PyValueError::new_err("date out of range"))
}

pub(crate) fn date_of(py: Python<'_>, day: i32) -> PyResult<Bound<'_, PyAny>> {
    py.import("datetime")?
        .getattr("date")?
        .call_method1("fromordinal", (i64::from(day) + ORDINAL_OF_EPOCH,))
}

pub(crate) fn analytics_error(e: AnalyticsError) -> PyErr {
    PyValueError::new_err(e.0)
}

/// The table's batches with their schema. Reading the stream may call back into the exporter's
/// Python code, so callers read it before they release the GIL.
pub(crate) fn batches_of(table: AnyRecordBatch) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    let reader = table.into_reader()?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((schema, batches))
}

/// The whole table as one batch (the store's sums are small enough; series need random access).
pub(crate) fn one_batch(table: AnyRecordBatch) -> PyResult<RecordBatch> {
    let (schema, batches) = batches_of(table)?;
    arrow::compute::concat_batches(&schema, &batches)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

pub(crate) fn to_pyarrow(py: Python<'_>, batch: RecordBatch) -> PyResult<Bound<'_, PyAny>> {
    let schema = batch.schema();
    PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
}

pub(crate) fn strs(values: &[String]) -> Vec<&str> {
    values.iter().map(String::as_str).collect()
}
