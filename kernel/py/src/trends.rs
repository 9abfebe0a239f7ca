//! Metrics as time series per group, and how far back their comparisons read.

use adpulse_core::analytics::trends::{self as trend, Granularity, TrendOptions};
use adpulse_core::analytics::{Metric, SeriesSet};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;

use crate::convert::{analytics_error, date_of, day_of, one_batch, strs, to_pyarrow};

#[pyfunction]
#[pyo3(signature = (granularity, start, end, moving_average = 0))]
fn trends_history_start<'py>(
    py: Python<'py>,
    granularity: &str,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    moving_average: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let options = TrendOptions {
        metrics: Vec::new(),
        granularity: Granularity::parse(granularity).map_err(analytics_error)?,
        start: day_of(start)?,
        end: day_of(end)?,
        moving_average,
    };
    date_of(py, trend::history_start(&options))
}

#[pyfunction]
#[pyo3(signature = (table, keys, metrics, granularity, start, end, *, moving_average = 0, carry = Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn trends<'py>(
    py: Python<'py>,
    table: AnyRecordBatch,
    keys: Vec<String>,
    metrics: Vec<String>,
    granularity: &str,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    moving_average: usize,
    carry: Vec<String>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let batch = one_batch(table)?;
    let options = TrendOptions {
        metrics: metrics
            .iter()
            .map(|m| Metric::parse(m))
            .collect::<Result<_, _>>()
            .map_err(analytics_error)?,
        granularity: Granularity::parse(granularity).map_err(analytics_error)?,
        start: day_of(start)?,
        end: day_of(end)?,
        moving_average,
    };
    let threads = adpulse_core::worker_threads();
    let out = py
        .detach(|| {
            let set = SeriesSet::new(batch, &strs(&keys), threads)?;
            trend::trends(&set, &strs(&carry), &options)
        })
        .map_err(analytics_error)?;
    Ok((to_pyarrow(py, out.points)?, to_pyarrow(py, out.summaries)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(trends_history_start, m)?)?;
    m.add_function(wrap_pyfunction!(trends, m)?)?;
    Ok(())
}
