//! Reading payloads: the request header, one batch parsed into facts and row errors, the
//! server-wide decompression budget.

use adpulse_core::ingest;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_arrow::{PyRecordBatch, PySchema};

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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PayloadError", m.py().get_type::<PayloadError>())?;
    m.add_class::<RowError>()?;
    m.add_class::<ParsedBatch>()?;
    m.add_class::<RequestHeader>()?;
    m.add_function(wrap_pyfunction!(inspect_request, m)?)?;
    m.add_function(wrap_pyfunction!(fact_schema, m)?)?;
    m.add_function(wrap_pyfunction!(check_source_options, m)?)?;
    m.add_function(wrap_pyfunction!(parse_batch, m)?)?;
    m.add_function(wrap_pyfunction!(set_decompression_budget, m)?)?;
    Ok(())
}
