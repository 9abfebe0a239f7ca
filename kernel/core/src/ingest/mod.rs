//! Ingest: one payload of rows (CSV, NDJSON, Arrow IPC or a protobuf RowBatch) in, validated
//! and normalised fact rows out, with a precise account of every row that was refused.

mod arrow_in;
mod builder;
mod csv;
mod ndjson;
mod proto_rows;
mod rows;
pub mod source;
mod validate;

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

/// Decodes, validates and normalises one payload of `source` rows written as `format`.
pub fn parse_batch(
    payload: &[u8],
    format: &str,
    source: &str,
    max_errors: usize,
) -> Result<ParsedBatch, PayloadError> {
    let format = PayloadFormat::named(format)?;
    let source = source::source_named(source)?;
    let mut sink = RowSink::new(max_errors);
    let ignored = match format {
        PayloadFormat::Csv => csv::read(payload, source, &mut sink)?,
        PayloadFormat::Ndjson => ndjson::read(payload, source, &mut sink)?,
        PayloadFormat::ArrowIpc => arrow_in::read(payload, source, &mut sink)?,
        PayloadFormat::ProtoRows => proto_rows::read(payload, &mut sink)?,
    };
    sink.finish(ignored)
}

/// Helpers the format tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use super::ParsedBatch;

    /// (row, line, field) of every listed error.
    pub fn error_places(batch: &ParsedBatch) -> Vec<(u64, u64, &str)> {
        batch
            .errors
            .iter()
            .map(|e| (e.row, e.line, e.field.as_str()))
            .collect()
    }
}
