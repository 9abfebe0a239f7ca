//! The row-by-row part every format shares: each value goes through the same checks, what the
//! export leaves out is filled as the source says, a row with any bad value is rejected as a
//! whole, and every bad value is reported (up to a limit).

use arrow::record_batch::RecordBatch;

use super::builder::FactBuilder;
use super::source::{Binding, DatePart, Fill, Mapping};
use super::validate::{Cell, Draft, HIERARCHY};
use super::{ClicksPolicy, Drift, ParsedBatch, PayloadError, RowError};
use crate::date;
use crate::problem::{printable, Problem};
use crate::schema::FactField;

/// Row errors or warnings: the first `max` listed, all counted.
#[derive(Debug)]
struct Report {
    listed: Vec<RowError>,
    found: u64,
    max: usize,
}

impl Report {
    fn new(max: usize) -> Self {
        Report {
            listed: Vec::new(),
            found: 0,
            max,
        }
    }

    fn add(&mut self, row: u64, line: u64, field: &str, problem: &Problem, cell: &Cell<'_>) {
        self.found += 1;
        // Reasons are only written for what is listed.
        if self.listed.len() < self.max {
            self.listed.push(RowError {
                row,
                line,
                field: field.to_owned(),
                reason: problem.describe(&cell.render()),
            });
        }
    }

    fn truncated(&self) -> bool {
        self.found > self.listed.len() as u64
    }
}

#[derive(Debug)]
pub struct RowSink<'m> {
    mapping: &'m Mapping,
    clicks_policy: ClicksPolicy,
    draft: Draft,
    builder: FactBuilder,
    errors: Report,
    warnings: Report,
    rows_total: u64,
    rows_rejected: u64,
    line: u64,
    row_failed: bool,
    /// The record as a whole is unusable: nothing of it is checked further.
    record_failed: bool,
    /// The input's name of the clicks column, for the clicks-over-impressions check.
    clicks_name: String,
}

impl<'m> RowSink<'m> {
    pub fn new(mapping: &'m Mapping, max_errors: usize, clicks_policy: ClicksPolicy) -> Self {
        RowSink {
            mapping,
            clicks_policy,
            draft: Draft::default(),
            builder: FactBuilder::default(),
            errors: Report::new(max_errors),
            warnings: Report::new(max_errors),
            rows_total: 0,
            rows_rejected: 0,
            line: 0,
            row_failed: false,
            record_failed: false,
            clicks_name: mapping.column_name(FactField::Clicks).to_owned(),
        }
    }

    pub fn mapping(&self) -> &'m Mapping {
        self.mapping
    }

    /// Starts the next row; `line` is where it starts in a text payload, 0 otherwise.
    pub fn begin_row(&mut self, line: u64) {
        self.rows_total += 1;
        self.line = line;
        self.row_failed = false;
        self.record_failed = false;
        self.draft.reset();
    }

    /// One value of the row, from the input column `name`.
    pub fn cell(&mut self, name: &str, binding: Binding, cell: Cell<'_>) {
        if binding.field == FactField::Clicks && self.clicks_name != name {
            name.clone_into(&mut self.clicks_name);
        }
        if let Err(problem) = self.draft.set(binding, &cell, &self.mapping.options) {
            self.reject(name, &problem, &cell);
        }
    }

    /// Marks the row bad because of `problem` with the value in `cell` (field "" for the row).
    pub fn reject(&mut self, field: &str, problem: &Problem, cell: &Cell<'_>) {
        self.row_failed = true;
        self.errors
            .add(self.rows_total, self.line, field, problem, cell);
    }

    /// Refuses the whole record (field ""), e.g. a line that is not JSON.
    pub fn reject_record(&mut self, problem: &Problem) {
        self.record_failed = true;
        self.reject("", problem, &Cell::Null);
    }

    pub fn end_row(&mut self) {
        if !self.record_failed {
            self.complete_date();
            self.complete_hierarchy();
            self.complete_fields();
        }
        if !self.row_failed {
            self.check_clicks();
        }
        if self.row_failed {
            self.rows_rejected += 1;
        } else {
            self.builder.push(&self.draft);
        }
    }

    /// A date given in parts becomes one; a row without any is refused.
    fn complete_date(&mut self) {
        let m = self.mapping;
        if self.draft.given(FactField::Date.index()) {
            return;
        }
        let given = DatePart::ALL.map(|p| self.draft.given(p.slot()));
        let parts = m.date_parts();
        let (Some(parts), true) = (parts, given.iter().any(|g| *g)) else {
            self.reject(
                m.column_name(FactField::Date),
                &Problem::Missing,
                &Cell::Null,
            );
            return;
        };
        if let Some(i) = given.iter().position(|g| !*g) {
            self.reject(parts[i], &Problem::Missing, &Cell::Null);
            return;
        }
        let [year, month, day] = self.draft.date_parts;
        match date::from_parts(year, month, day) {
            Ok(d) => self.draft.date = d,
            Err(problem) => {
                let text = format!("{year:04}-{month:02}-{day:02}");
                let name = m.date_parts_name();
                self.reject(name, &problem, &Cell::Text(text.as_bytes()));
            }
        }
    }

    /// Levels of the campaign → ad group → ad hierarchy the row lacks take the id of the
    /// nearest level it has, the parent first.
    fn complete_hierarchy(&mut self) {
        let m = self.mapping;
        let given = HIERARCHY.map(|f| self.draft.given(f.index()));
        let fill = HIERARCHY.map(|f| matches!(m.fills[f.index()], Fill::Hierarchy));
        if !(0..3).any(|i| !given[i] && fill[i]) {
            return;
        }
        if !given.iter().any(|g| *g) {
            let name = m
                .pivots_name()
                .unwrap_or(m.column_name(FactField::CampaignId));
            self.reject(name, &Problem::Missing, &Cell::Null);
            return;
        }
        for level in 0..3 {
            if given[level] || !fill[level] {
                continue;
            }
            // Parents from the nearest up, then children from the nearest down.
            let nearest = (0..level)
                .rev()
                .chain(level + 1..3)
                .find(|&l| given[l])
                .map(|l| HIERARCHY[l]);
            if let Some(from) = nearest {
                self.draft.copy_text(from, HIERARCHY[level]);
            }
        }
    }

    /// Fields the row has no value for, other than the date, the hierarchy and the optional
    /// ones (measures and the campaign name, which stay 0 and "").
    fn complete_fields(&mut self) {
        let m = self.mapping;
        for field in [
            FactField::Platform,
            FactField::AccountId,
            FactField::CampaignId,
            FactField::AdGroupId,
            FactField::AdId,
            FactField::Currency,
        ] {
            if self.draft.given(field.index()) {
                continue;
            }
            match &m.fills[field.index()] {
                Fill::Refuse => self.reject(m.column_name(field), &Problem::Missing, &Cell::Null),
                Fill::Platform(p) => self.draft.platform = *p,
                Fill::Currency(c) => self.draft.currency = *c,
                Fill::Text(text) => text.clone_into(self.draft.text_mut(field)),
                // A row refused already (its pivots unreadable) has no group to look up.
                Fill::GroupAccount if !self.row_failed => self.group_account(field),
                Fill::GroupAccount => {}
                Fill::Empty | Fill::Hierarchy => {}
            }
        }
    }

    fn group_account(&mut self, field: FactField) {
        let m = self.mapping;
        let options = &m.options;
        let group = self.draft.given(FactField::CampaignId.index()).then(|| {
            options
                .campaign_groups
                .get(self.draft.text(FactField::CampaignId))
        });
        match group.flatten().or(options.account_id.as_ref()) {
            Some(account) => account.clone_into(self.draft.text_mut(field)),
            None => {
                let group = self.draft.text(FactField::CampaignId).to_owned();
                let name = m.pivots_name().unwrap_or(field.name());
                self.reject(name, &Problem::NoAccount, &Cell::Text(group.as_bytes()));
            }
        }
    }

    fn check_clicks(&mut self) {
        let [impressions, clicks, ..] = self.draft.measures;
        if clicks <= impressions {
            return;
        }
        let problem = Problem::ClicksOverImpressions { impressions };
        let rendered = clicks.to_string();
        let cell = Cell::Text(rendered.as_bytes());
        match self.clicks_policy {
            ClicksPolicy::Reject => {
                self.row_failed = true;
                self.errors.add(
                    self.rows_total,
                    self.line,
                    &self.clicks_name,
                    &problem,
                    &cell,
                );
            }
            ClicksPolicy::Warn => {
                self.warnings.add(
                    self.rows_total,
                    self.line,
                    &self.clicks_name,
                    &problem,
                    &cell,
                );
            }
        }
    }

    /// Rows that were all valid as they came, already in the fact schema.
    pub fn accept_facts(&mut self, facts: RecordBatch) -> Result<(), PayloadError> {
        self.rows_total += facts.num_rows() as u64;
        self.builder.push_batch(facts)
    }

    pub fn rows_total(&self) -> u64 {
        self.rows_total
    }

    pub fn finish(self, drift: Drift) -> Result<ParsedBatch, PayloadError> {
        let (facts, rows_superseded) = self.builder.finish()?;
        Ok(ParsedBatch {
            facts,
            rows_total: self.rows_total,
            rows_rejected: self.rows_rejected,
            rows_superseded,
            errors_truncated: self.errors.truncated(),
            errors: self.errors.listed,
            warnings_truncated: self.warnings.truncated(),
            warnings: self.warnings.listed,
            // Column names come from the input: reported, and stored in the ledger, escaped.
            ignored_columns: drift
                .ignored
                .iter()
                .map(|c| printable(c).into_owned())
                .collect(),
            missing_columns: drift.missing,
            source_version: self.mapping.source.version_name(),
        })
    }
}
