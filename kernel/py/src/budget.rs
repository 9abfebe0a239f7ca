//! Money decisions: reallocation, pacing against budgets, children against their parent.

use adpulse_core::analytics::{budget, Metric, SeriesSet};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use crate::convert::{analytics_error, day_of, one_batch, strs, to_pyarrow};

#[pyfunction]
#[pyo3(signature = (table, keys, *, max_shift = 0.2, min_days = 14, carry = Vec::new()))]
fn reallocate_budget<'py>(
    py: Python<'py>,
    table: AnyRecordBatch,
    keys: Vec<String>,
    max_shift: f64,
    min_days: usize,
    carry: Vec<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let batch = one_batch(table)?;
    let threads = adpulse_core::worker_threads();
    let out = py
        .detach(|| {
            let set = SeriesSet::new(batch, &strs(&keys), threads)?;
            budget::reallocate(&set, &strs(&carry), max_shift, min_days)
        })
        .map_err(analytics_error)?;
    to_pyarrow(py, out)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn budget_pacing<'py>(
    py: Python<'py>,
    spend: AnyRecordBatch,
    keys: Vec<String>,
    budgets: AnyRecordBatch,
    month_start: &Bound<'py, PyAny>,
    month_end: &Bound<'py, PyAny>,
    as_of: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let (spend, budgets) = (one_batch(spend)?, one_batch(budgets)?);
    let (start, end, as_of) = (day_of(month_start)?, day_of(month_end)?, day_of(as_of)?);
    let threads = adpulse_core::worker_threads();
    let out = py
        .detach(|| {
            let keys = strs(&keys);
            let set = SeriesSet::new(spend, &keys, threads)?;
            budget::pacing(&set, &keys, &budgets, end, as_of, start)
        })
        .map_err(analytics_error)?;
    to_pyarrow(py, out)
}

#[pyfunction]
#[pyo3(signature = (table, keys, parent_keys, metric, *, carry = Vec::new()))]
fn compare_to_parent<'py>(
    py: Python<'py>,
    table: AnyRecordBatch,
    keys: Vec<String>,
    parent_keys: Vec<String>,
    metric: &str,
    carry: Vec<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let batch = one_batch(table)?;
    let metric = Metric::parse(metric).map_err(analytics_error)?;
    let threads = adpulse_core::worker_threads();
    let out = py
        .detach(|| {
            let children = SeriesSet::new(batch.clone(), &strs(&keys), threads)?;
            let parents = SeriesSet::new(batch, &strs(&parent_keys), threads)?;
            budget::compare_to_parent(&children, &parents, &strs(&carry), metric)
        })
        .map_err(analytics_error)?;
    to_pyarrow(py, out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(reallocate_budget, m)?)?;
    m.add_function(wrap_pyfunction!(budget_pacing, m)?)?;
    m.add_function(wrap_pyfunction!(compare_to_parent, m)?)?;
    Ok(())
}
