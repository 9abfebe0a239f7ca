//! The row-by-row part every format shares: each value goes through the same checks, a row with
//! any bad value is rejected as a whole, and every bad value is reported (up to a limit).

use super::builder::FactBuilder;
use super::source::Binding;
use super::validate::{Cell, Draft};
use super::{ParsedBatch, PayloadError, RowError};
use crate::problem::Problem;

#[derive(Debug)]
pub struct RowSink {
    draft: Draft,
    builder: FactBuilder,
    errors: Vec<RowError>,
    max_errors: usize,
    errors_found: u64,
    rows_total: u64,
    rows_rejected: u64,
    line: u64,
    row_failed: bool,
}

impl RowSink {
    pub fn new(max_errors: usize) -> Self {
        RowSink {
            draft: Draft::default(),
            builder: FactBuilder::default(),
            errors: Vec::new(),
            max_errors,
            errors_found: 0,
            rows_total: 0,
            rows_rejected: 0,
            line: 0,
            row_failed: false,
        }
    }

    /// Starts the next row; `line` is where it starts in a text payload, 0 otherwise.
    pub fn begin_row(&mut self, line: u64) {
        self.rows_total += 1;
        self.line = line;
        self.row_failed = false;
        self.draft.reset();
    }

    /// One value of the row, from the input column `name`.
    pub fn cell(&mut self, name: &str, binding: Binding, cell: Cell<'_>) {
        if let Err(problem) = self.draft.set(binding, &cell) {
            self.reject(name, &problem, &cell);
        }
    }

    /// Marks the row bad because of `problem` with the value in `cell` (field "" for the row).
    pub fn reject(&mut self, field: &str, problem: &Problem, cell: &Cell<'_>) {
        self.row_failed = true;
        self.errors_found += 1;
        // Reasons are only written for the errors that are listed.
        if self.errors.len() < self.max_errors {
            self.errors.push(RowError {
                row: self.rows_total,
                line: self.line,
                field: field.to_owned(),
                reason: problem.describe(&cell.render()),
            });
        }
    }

    pub fn end_row(&mut self) {
        if self.row_failed {
            self.rows_rejected += 1;
        } else {
            self.builder.push(&self.draft);
        }
    }

    pub fn rows_total(&self) -> u64 {
        self.rows_total
    }

    pub fn finish(self, ignored_columns: Vec<String>) -> Result<ParsedBatch, PayloadError> {
        let (facts, rows_superseded) = self.builder.finish()?;
        Ok(ParsedBatch {
            facts,
            rows_total: self.rows_total,
            rows_rejected: self.rows_rejected,
            rows_superseded,
            errors_truncated: self.errors_found > self.errors.len() as u64,
            errors: self.errors,
            ignored_columns,
        })
    }
}
