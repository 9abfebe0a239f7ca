//! Ingest: one payload of rows (CSV, NDJSON, Arrow IPC or a protobuf RowBatch) in, validated
//! and normalised fact rows out, with a precise account of every row that was refused.

mod arrow_columns;
mod arrow_in;
mod builder;
mod csv;
mod dedup;
mod envelope;
mod gzip;
mod native;
mod ndjson;
mod proto_rows;
mod rows;
pub mod source;
mod validate;
mod wire;

pub use envelope::{inspect_request, RequestHeader, RequestKind};
pub use gzip::{in_use as decompressed_in_use, set_budget as set_decompression_budget};

use std::fmt;

use arrow::record_batch::RecordBatch;

use rows::RowSink;

/// Why a payload as a whole cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadErrorCode {
    UnknownSource,
    UnknownFormat,
    MissingColumns,
    DuplicateColumns,
    UnsupportedColumnType,
    UnreadablePayload,
    UnknownOption,
    InvalidOption,
    PayloadTooLarge,
    /// The process-wide budget of unpacked bytes is spent for now; retrying later may pass.
    DecompressionBusy,
}

impl PayloadErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadErrorCode::UnknownSource => "UNKNOWN_SOURCE",
            PayloadErrorCode::UnknownFormat => "UNKNOWN_FORMAT",
            PayloadErrorCode::MissingColumns => "MISSING_COLUMNS",
            PayloadErrorCode::DuplicateColumns => "DUPLICATE_COLUMNS",
            PayloadErrorCode::UnsupportedColumnType => "UNSUPPORTED_COLUMN_TYPE",
            PayloadErrorCode::UnreadablePayload => "UNREADABLE_PAYLOAD",
            PayloadErrorCode::UnknownOption => "UNKNOWN_OPTION",
            PayloadErrorCode::InvalidOption => "INVALID_OPTION",
            PayloadErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            PayloadErrorCode::DecompressionBusy => "DECOMPRESSION_BUSY",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    pub code: PayloadErrorCode,
    pub message: String,
}

impl PayloadError {
    fn new(code: PayloadErrorCode, message: impl Into<String>) -> Self {
        PayloadError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn unknown_source(message: String) -> Self {
        Self::new(PayloadErrorCode::UnknownSource, message)
    }

    pub(crate) fn missing_columns(message: String) -> Self {
        Self::new(PayloadErrorCode::MissingColumns, message)
    }

    pub(crate) fn duplicate_columns(message: String) -> Self {
        Self::new(PayloadErrorCode::DuplicateColumns, message)
    }

    pub(crate) fn unsupported_column_type(message: String) -> Self {
        Self::new(PayloadErrorCode::UnsupportedColumnType, message)
    }

    pub(crate) fn unreadable(message: impl Into<String>) -> Self {
        Self::new(PayloadErrorCode::UnreadablePayload, message)
    }

    pub(crate) fn unknown_option(message: String) -> Self {
        Self::new(PayloadErrorCode::UnknownOption, message)
    }

    pub(crate) fn invalid_option(message: String) -> Self {
        Self::new(PayloadErrorCode::InvalidOption, message)
    }

    /// A slice of the request that is not inside it.
    pub fn out_of_range(offset: usize, length: Option<usize>, size: usize) -> Self {
        let length = length.map_or("the rest".to_owned(), |l| l.to_string());
        Self::unreadable(format!(
            "the payload slice at {offset} of length {length} is outside the {size} bytes given"
        ))
    }

    pub(crate) fn too_large(message: String) -> Self {
        Self::new(PayloadErrorCode::PayloadTooLarge, message)
    }

    pub(crate) fn busy(message: String) -> Self {
        Self::new(PayloadErrorCode::DecompressionBusy, message)
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for PayloadError {}

/// Why one row was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based record number in the payload.
    pub row: u64,
    /// 1-based line where the record starts in a text payload (header = 1); 0 otherwise.
    pub line: u64,
    /// The input's own name of the column at fault; "" for the whole record.
    pub field: String,
    pub reason: String,
}

#[derive(Debug)]
pub struct ParsedBatch {
    pub facts: RecordBatch,
    pub rows_total: u64,
    pub rows_rejected: u64,
    pub rows_superseded: u64,
    pub errors: Vec<RowError>,
    pub errors_truncated: bool,
    pub ignored_columns: Vec<String>,
    pub missing_columns: Vec<String>,
    pub warnings: Vec<RowError>,
    pub warnings_truncated: bool,
    pub source_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    Csv,
    Ndjson,
    ArrowIpc,
    ProtoRows,
}

impl PayloadFormat {
    pub const ALL: [PayloadFormat; 4] = [
        PayloadFormat::Csv,
        PayloadFormat::Ndjson,
        PayloadFormat::ArrowIpc,
        PayloadFormat::ProtoRows,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PayloadFormat::Csv => "csv",
            PayloadFormat::Ndjson => "ndjson",
            PayloadFormat::ArrowIpc => "arrow_ipc",
            PayloadFormat::ProtoRows => "proto_rows",
        }
    }

    pub fn named(name: &str) -> Result<Self, PayloadError> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                PayloadError::new(
                    PayloadErrorCode::UnknownFormat,
                    format!(
                        "unknown payload format '{name}' (known: {})",
                        known.join(", ")
                    ),
                )
            })
    }
}

/// A UTF-8 byte order mark, which spreadsheet exports put before the first line.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a payload's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
    }

    pub fn named(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Compression::None),
            "gzip" => Some(Compression::Gzip),
            _ => None,
        }
    }
}

/// What a row with more clicks than impressions is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClicksPolicy {
    Warn,
    Reject,
}

impl ClicksPolicy {
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "warn" => Some(ClicksPolicy::Warn),
            "reject" => Some(ClicksPolicy::Reject),
            _ => None,
        }
    }
}

/// How one payload is read, beyond its format and source.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Errors (and, apart, warnings) listed at most; the rest are counted.
    pub max_errors: usize,
    pub compression: Compression,
    pub clicks_over_impressions: ClicksPolicy,
    /// Refuse a compressed payload that unpacks to more than this.
    pub max_decompressed_bytes: u64,
    /// A longer CSV record or NDJSON line is a row error.
    pub max_line_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_errors: 1000,
            compression: Compression::None,
            clicks_over_impressions: ClicksPolicy::Warn,
            max_decompressed_bytes: 256 << 20,
            max_line_bytes: 1 << 20,
        }
    }
}

/// Checks that `source` exists and takes `options` (once, when a stream opens).
pub fn check_source_options<K: AsRef<str>, V: AsRef<str>>(
    source: &str,
    options: &[(K, V)],
) -> Result<(), PayloadError> {
    source::Mapping::new(source::source_named(source)?, options).map(drop)
}

/// Decodes, validates and normalises one payload of `source` rows written as `format`.
pub fn parse_batch<K: AsRef<str>, V: AsRef<str>>(
    payload: &[u8],
    format: &str,
    source: &str,
    options: &[(K, V)],
    settings: &Settings,
) -> Result<ParsedBatch, PayloadError> {
    let format = PayloadFormat::named(format)?;
    let mapping = source::Mapping::new(source::source_named(source)?, options)?;
    // The message is already in memory, but counting it keeps many large ones from being parsed
    // at once on top of what they unpack to.
    let buffers = match format {
        PayloadFormat::Csv => csv::buffer_bound(settings.max_line_bytes),
        _ => 0,
    };
    let _held = gzip::hold((payload.len() as u64).saturating_add(buffers))?;
    let unpacked;
    let payload = match settings.compression {
        Compression::None => payload,
        Compression::Gzip => {
            unpacked = gzip::gunzip(payload, settings.max_decompressed_bytes)?;
            &unpacked[..]
        }
    };
    let mut sink = RowSink::new(
        &mapping,
        settings.max_errors,
        settings.clicks_over_impressions,
    );
    let drift = match format {
        PayloadFormat::Csv => csv::read(payload, settings.max_line_bytes, &mut sink)?,
        PayloadFormat::Ndjson => ndjson::read(payload, settings.max_line_bytes, &mut sink)?,
        PayloadFormat::ArrowIpc => arrow_in::read(payload, &mut sink)?,
        PayloadFormat::ProtoRows => proto_rows::read(payload, &mut sink)?,
    };
    sink.finish(drift)
}

/// Columns of a payload its source does not read, and optional ones it lacks.
#[derive(Debug, Default)]
pub struct Drift {
    pub ignored: Vec<String>,
    pub missing: Vec<String>,
}

#[cfg(test)]
mod tests;

/// Helpers the format tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{ParsedBatch, PayloadError, Settings};

    /// `parse_batch` with default settings but `max_errors`, and no options.
    pub fn parse_batch(
        payload: &[u8],
        format: &str,
        source: &str,
        max_errors: usize,
    ) -> Result<ParsedBatch, PayloadError> {
        let settings = Settings {
            max_errors,
            ..Settings::default()
        };
        super::parse_batch::<&str, &str>(payload, format, source, &[], &settings)
    }

    /// (row, line, field) of every listed error.
    pub fn error_places(batch: &ParsedBatch) -> Vec<(u64, u64, &str)> {
        batch
            .errors
            .iter()
            .map(|e| (e.row, e.line, e.field.as_str()))
            .collect()
    }
}
