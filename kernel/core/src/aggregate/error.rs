//! What can go wrong in an aggregation: bad arguments, or a sum beyond int64.

use std::fmt;

use arrow::error::ArrowError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateErrorKind {
    /// The arguments or the table do not fit the call.
    Invalid,
    /// A sum does not fit in an int64.
    Overflow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateError {
    pub kind: AggregateErrorKind,
    pub message: String,
}

impl AggregateError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        AggregateError {
            kind: AggregateErrorKind::Invalid,
            message: message.into(),
        }
    }

    pub(super) fn overflow(message: String) -> Self {
        AggregateError {
            kind: AggregateErrorKind::Overflow,
            message,
        }
    }
}

impl From<ArrowError> for AggregateError {
    fn from(e: ArrowError) -> Self {
        AggregateError::invalid(e.to_string())
    }
}

impl fmt::Display for AggregateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AggregateError {}
