//! Python binding of the adpulse kernel, the private module `adpulse._kernel` (typed in
//! server/adpulse/_kernel.pyi). Thin on purpose: conversions at the boundary, and every
//! computation with the GIL released.

mod aggregate;
mod budget;
mod convert;
mod ingest;
mod trends;

use std::collections::HashMap;

use adpulse_core::analytics::detect::{self, DetectOptions, Method, METHOD_NAMES};
use adpulse_core::analytics::metric::METRIC_NAMES;
use adpulse_core::analytics::{explain, Metric, SeriesSet};
use adpulse_core::ingest::source::SOURCES;
use adpulse_core::kpi::KPI_COLUMNS;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_arrow::input::AnyRecordBatch;

use crate::convert::{analytics_error, day_of, one_batch, strs, to_pyarrow};

#[pyfunction]
#[pyo3(signature = (
    table, keys, metric, start, end, *, method = "auto", threshold = 4.0, change_threshold = 0.6,
    cold_start_factor = 4.0, window = 28, min_change = None, all_points = false, provisional_from = HashMap::new(),
    default_provisional_from = None, carry = Vec::new(), rate_threshold = 0.0, corroboration = 2.0,
    run_threshold = 0.0, relative_floor = 0.08, run_factor = 1.0
))]
#[allow(clippy::too_many_arguments)]
fn detect_anomalies<'py>(
    py: Python<'py>,
    table: AnyRecordBatch,
    keys: Vec<String>,
    metric: &str,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    method: &str,
    threshold: f64,
    change_threshold: f64,
    cold_start_factor: f64,
    window: usize,
    min_change: Option<f64>,
    all_points: bool,
    provisional_from: HashMap<String, Bound<'py, PyAny>>,
    default_provisional_from: Option<Bound<'py, PyAny>>,
    carry: Vec<String>,
    rate_threshold: f64,
    corroboration: f64,
    run_threshold: f64,
    relative_floor: f64,
    run_factor: f64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let batch = one_batch(table)?;
    let end = day_of(end)?;
    let options = DetectOptions {
        metric: Metric::parse(metric).map_err(analytics_error)?,
        method: Method::parse(method).map_err(analytics_error)?,
        threshold,
        change_threshold,
        cold_start_factor,
        rate_threshold,
        corroboration,
        run_threshold,
        run_factor,
        relative_floor,
        window,
        min_change,
        start: day_of(start)?,
        end,
        all_points,
        provisional_from: provisional_from
            .iter()
            .map(|(p, d)| Ok((p.clone(), day_of(d)?)))
            .collect::<PyResult<_>>()?,
        default_provisional_from: default_provisional_from
            .map(|d| day_of(&d))
            .transpose()?
            .unwrap_or(end + 1),
    };
    let threads = adpulse_core::worker_threads();
    let out = py
        .detach(|| {
            let set = SeriesSet::new(batch, &strs(&keys), threads)?;
            detect::detect(&set, &strs(&carry), &options, threads)
        })
        .map_err(analytics_error)?;
    Ok((to_pyarrow(py, out.points)?, to_pyarrow(py, out.incidents)?))
}

/// One dimension's ranked contributors (see `explain_change`).
#[pyclass(frozen, get_all, module = "adpulse._kernel")]
struct DimensionExplanation {
    name: String,
    explanatory_power: Option<f64>,
    surprise: f64,
    slices: usize,
    contributors: Py<PyAny>,
}

/// Outcome of `explain_change`.
#[pyclass(frozen, get_all, module = "adpulse._kernel")]
struct Explanation {
    baseline: Option<f64>,
    current: Option<f64>,
    change: Option<f64>,
    change_micros: Option<i64>,
    money_known: bool,
    dimensions: Vec<Py<DimensionExplanation>>,
}

#[pyfunction]
#[pyo3(signature = (table, dimensions, metric, *, limit = 10))]
fn explain_change(
    py: Python<'_>,
    table: AnyRecordBatch,
    dimensions: Vec<explain::DimensionSpec>,
    metric: &str,
    limit: usize,
) -> PyResult<Explanation> {
    let batch = one_batch(table)?;
    let metric = Metric::parse(metric).map_err(analytics_error)?;
    let threads = adpulse_core::worker_threads();
    let out = py
        .detach(|| explain::explain(batch, &dimensions, metric, limit, threads))
        .map_err(analytics_error)?;
    let dimensions = out
        .dimensions
        .into_iter()
        .map(|d| {
            Py::new(
                py,
                DimensionExplanation {
                    name: d.name,
                    explanatory_power: d.explanatory_power,
                    surprise: d.surprise,
                    slices: d.slices,
                    contributors: to_pyarrow(py, d.contributors)?.unbind(),
                },
            )
        })
        .collect::<PyResult<_>>()?;
    Ok(Explanation {
        baseline: out.totals.baseline,
        current: out.totals.current,
        change: out.totals.change(),
        change_micros: out.totals.change_micros,
        money_known: out.totals.money_known,
        dimensions,
    })
}

/// Panics inside the kernel, so tests can prove a panic reaches Python as PanicException.
#[pyfunction]
fn debug_panic(message: &str) {
    panic!("{message}");
}

#[pymodule]
fn _kernel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SOURCES", PyTuple::new(py, SOURCES.iter().map(|s| s.name))?)?;
    m.add("KPI_COLUMNS", PyTuple::new(py, KPI_COLUMNS)?)?;
    m.add("METRICS", PyTuple::new(py, METRIC_NAMES)?)?;
    m.add("ANOMALY_METHODS", PyTuple::new(py, METHOD_NAMES)?)?;
    ingest::register(m)?;
    aggregate::register(m)?;
    trends::register(m)?;
    budget::register(m)?;
    m.add_class::<Explanation>()?;
    m.add_class::<DimensionExplanation>()?;
    m.add_function(wrap_pyfunction!(detect_anomalies, m)?)?;
    m.add_function(wrap_pyfunction!(explain_change, m)?)?;
    m.add_function(wrap_pyfunction!(debug_panic, m)?)?;
    Ok(())
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
