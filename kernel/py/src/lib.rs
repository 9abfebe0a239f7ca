//! Python binding of the adpulse kernel, the private module `adpulse._kernel` (typed in
//! server/adpulse/_kernel.pyi). Thin on purpose: conversions at the boundary, and every
//! computation with the GIL released.

use std::collections::HashMap;

use adpulse_core::aggregate::{AggregateError, AggregateErrorKind, MEASURE_COLUMNS};
use adpulse_core::analytics::detect::{self, DetectOptions, Method, METHOD_NAMES};
use adpulse_core::analytics::metric::METRIC_NAMES;
use adpulse_core::analytics::trends::{self as trend, Granularity, TrendOptions};
use adpulse_core::analytics::{budget, explain, AnalyticsError, Metric, SeriesSet};
use adpulse_core::ingest::{self, source::SOURCES};
use adpulse_core::kpi::KPI_COLUMNS;
use arrow::array::AsArray;
use arrow::datatypes::{Int64Type, UInt32Type};
use arrow::record_batch::RecordBatch;
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::{PyRecordBatch, PySchema, PyTable};

pyo3::create_exception!(
    adpulse._kernel,
    PayloadError,
    PyValueError,
    "The payload as a whole cannot be read; args == (code, message)."
);

/// Why one row of a payload was rejected.
#[pyclass(frozen, get_all, module = "adpulse._kernel")]
struct RowError {
    row: u64,
    line: u64,
    field: String,
    reason: String,
}

#[pymethods]
impl RowError {
    fn __repr__(&self) -> String {
        format!(
            "RowError(row={}, line={}, field={:?}, reason={:?})",
            self.row, self.line, self.field, self.reason
        )
    }
}

/// Outcome of `parse_batch`.
#[pyclass(frozen, get_all, module = "adpulse._kernel")]
struct ParsedBatch {
    facts: Py<PyAny>,
    rows_total: u64,
    rows_rejected: u64,
    rows_superseded: u64,
    errors: Vec<Py<RowError>>,
    errors_truncated: bool,
    ignored_columns: Vec<String>,
    missing_columns: Vec<String>,
    warnings: Vec<Py<RowError>>,
    warnings_truncated: bool,
    source_version: String,
}

#[pymethods]
impl ParsedBatch {
    fn __repr__(&self) -> String {
        format!(
            "ParsedBatch(rows_total={}, rows_rejected={}, rows_superseded={}, errors={}, errors_truncated={})",
            self.rows_total,
            self.rows_rejected,
            self.rows_superseded,
            self.errors.len(),
            self.errors_truncated
        )
    }
}

/// What `inspect_request` found in a serialized `adpulse.v1.IngestRequest`.
#[pyclass(frozen, get_all, module = "adpulse._kernel")]
struct RequestHeader {
    kind: &'static str,
    batch_id: String,
    fmt: Option<&'static str>,
    compression: &'static str,
    offset: usize,
    length: usize,
}

#[pymethods]
impl RequestHeader {
    fn __repr__(&self) -> String {
        format!(
            "RequestHeader(kind={:?}, batch_id={:?}, fmt={:?}, compression={:?}, offset={}, length={})",
            self.kind, self.batch_id, self.fmt, self.compression, self.offset, self.length
        )
    }
}

#[pyfunction]
fn inspect_request(raw: &[u8]) -> PyResult<RequestHeader> {
    let header = ingest::inspect_request(raw).map_err(payload_error)?;
    Ok(RequestHeader {
        kind: header.kind.name(),
        batch_id: header.batch_id,
        fmt: header.format.map(ingest::PayloadFormat::name),
        compression: header.compression.name(),
        offset: header.offset,
        length: header.length,
    })
}

#[pyfunction]
fn fact_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    PySchema::new(adpulse_core::schema::fact_schema()).into_pyarrow(py)
}

/// A source's options as (name, value) pairs, from any mapping (a dict, a protobuf map).
fn option_pairs(options: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(options) = options else {
        return Ok(Vec::new());
    };
    options
        .call_method0("items")?
        .try_iter()?
        .map(|item| item?.extract::<(String, String)>())
        .collect()
}

fn payload_error(e: ingest::PayloadError) -> PyErr {
    PayloadError::new_err((e.code.as_str(), e.message))
}

fn row_errors(py: Python<'_>, errors: Vec<ingest::RowError>) -> PyResult<Vec<Py<RowError>>> {
    errors
        .into_iter()
        .map(|e| {
            Py::new(
                py,
                RowError {
                    row: e.row,
                    line: e.line,
                    field: e.field,
                    reason: e.reason,
                },
            )
        })
        .collect()
}

/// Sets the process-wide budget of bytes that gzip payloads being read at once may unpack to.
#[pyfunction]
fn set_decompression_budget(budget_bytes: u64) {
    ingest::set_decompression_budget(budget_bytes);
}

#[pyfunction]
fn check_source_options(source: &str, options: &Bound<'_, PyAny>) -> PyResult<()> {
    ingest::check_source_options(source, &option_pairs(Some(options))?).map_err(payload_error)
}

#[pyfunction]
#[pyo3(signature = (
    payload, fmt, source = "generic", max_errors = 1000, *, offset = 0, length = None,
    options = None, compression = "none", clicks_over_impressions = "warn",
    max_decompressed_bytes = 256 << 20, max_line_bytes = 1 << 20,
))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, one per setting.
fn parse_batch(
    py: Python<'_>,
    payload: &[u8],
    fmt: &str,
    source: &str,
    max_errors: usize,
    offset: usize,
    length: Option<usize>,
    options: Option<&Bound<'_, PyAny>>,
    compression: &str,
    clicks_over_impressions: &str,
    max_decompressed_bytes: u64,
    max_line_bytes: usize,
) -> PyResult<ParsedBatch> {
    let end = match length {
        Some(length) => offset.checked_add(length),
        None => Some(payload.len()),
    };
    let Some(payload) = end.and_then(|end| payload.get(offset..end)) else {
        return Err(payload_error(ingest::PayloadError::out_of_range(
            offset,
            length,
            payload.len(),
        )));
    };
    let settings = ingest::Settings {
        max_errors,
        compression: ingest::Compression::named(compression).ok_or_else(|| {
            PyValueError::new_err(format!("compression must be none or gzip, not {compression:?}"))
        })?,
        clicks_over_impressions: ingest::ClicksPolicy::named(clicks_over_impressions).ok_or_else(
            || {
                PyValueError::new_err(format!(
                    "clicks_over_impressions must be warn or reject, not {clicks_over_impressions:?}"
                ))
            },
        )?,
        max_decompressed_bytes,
        max_line_bytes,
    };
    let options = option_pairs(options)?;
    let parsed = py
        .detach(|| ingest::parse_batch(payload, fmt, source, &options, &settings))
        .map_err(payload_error)?;
    Ok(ParsedBatch {
        facts: PyRecordBatch::new(parsed.facts).into_pyarrow(py)?.unbind(),
        rows_total: parsed.rows_total,
        rows_rejected: parsed.rows_rejected,
        rows_superseded: parsed.rows_superseded,
        errors: row_errors(py, parsed.errors)?,
        errors_truncated: parsed.errors_truncated,
        ignored_columns: parsed.ignored_columns,
        missing_columns: parsed.missing_columns,
        warnings: row_errors(py, parsed.warnings)?,
        warnings_truncated: parsed.warnings_truncated,
        source_version: parsed.source_version,
    })
}

#[pyfunction]
#[pyo3(signature = (table, keys, carry = Vec::new()))]
fn aggregate(
    py: Python<'_>,
    table: AnyRecordBatch,
    keys: Vec<String>,
    carry: Vec<String>,
) -> PyResult<Bound<'_, PyAny>> {
    // Reading the stream may call back into the exporter's Python code: keep the GIL for it.
    let reader = table.into_reader()?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let carry: Vec<&str> = carry.iter().map(String::as_str).collect();
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

/// Days between 0001-01-01 (Python's ordinal 1) and 1970-01-01 (date32's day 0).
const ORDINAL_OF_EPOCH: i64 = 719_163;

/// A `datetime.date` as a date32 day (abi3 has no PyDate, so through `toordinal()`).
fn day_of(date: &Bound<'_, PyAny>) -> PyResult<i32> {
    let ordinal: i64 = date.call_method0("toordinal")?.extract()?;
    i32::try_from(ordinal - ORDINAL_OF_EPOCH)
        .map_err(|_| PyValueError::new_err("date out of range"))
}

fn date_of(py: Python<'_>, day: i32) -> PyResult<Bound<'_, PyAny>> {
    py.import("datetime")?
        .getattr("date")?
        .call_method1("fromordinal", (i64::from(day) + ORDINAL_OF_EPOCH,))
}

fn analytics_error(e: AnalyticsError) -> PyErr {
    PyValueError::new_err(e.0)
}

/// The whole table as one batch (the store's sums are small enough; series need random access).
fn one_batch(table: AnyRecordBatch) -> PyResult<RecordBatch> {
    // Reading the stream may call back into the exporter's Python code: keep the GIL for it.
    let reader = table.into_reader()?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    arrow::compute::concat_batches(&schema, &batches)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

fn to_pyarrow(py: Python<'_>, batch: RecordBatch) -> PyResult<Bound<'_, PyAny>> {
    let schema = batch.schema();
    PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
}

fn strs(values: &[String]) -> Vec<&str> {
    values.iter().map(String::as_str).collect()
}

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
    m.add("PayloadError", py.get_type::<PayloadError>())?;
    m.add_class::<RowError>()?;
    m.add_class::<ParsedBatch>()?;
    m.add_class::<RequestHeader>()?;
    m.add_function(wrap_pyfunction!(inspect_request, m)?)?;
    m.add_function(wrap_pyfunction!(fact_schema, m)?)?;
    m.add_function(wrap_pyfunction!(check_source_options, m)?)?;
    m.add_function(wrap_pyfunction!(parse_batch, m)?)?;
    m.add_function(wrap_pyfunction!(set_decompression_budget, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate, m)?)?;
    m.add_function(wrap_pyfunction!(random_update_floor, m)?)?;
    m.add_class::<Explanation>()?;
    m.add_class::<DimensionExplanation>()?;
    m.add_function(wrap_pyfunction!(trends_history_start, m)?)?;
    m.add_function(wrap_pyfunction!(trends, m)?)?;
    m.add_function(wrap_pyfunction!(detect_anomalies, m)?)?;
    m.add_function(wrap_pyfunction!(explain_change, m)?)?;
    m.add_function(wrap_pyfunction!(reallocate_budget, m)?)?;
    m.add_function(wrap_pyfunction!(budget_pacing, m)?)?;
    m.add_function(wrap_pyfunction!(compare_to_parent, m)?)?;
    m.add_function(wrap_pyfunction!(debug_panic, m)?)?;
    Ok(())
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
