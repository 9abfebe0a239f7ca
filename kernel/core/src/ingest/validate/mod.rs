//! One value of one row, whatever format it came in, checked and normalised into the row
//! being assembled. Every format feeds the same checks, so a value means the same in all.

use std::fmt::Write as _;

use arrow::datatypes::i256;

use super::native;
use super::source::{Binding, OptionKey, Options, Read};
use crate::currency::Currency;
use crate::date;
use crate::money::{self, Bound, COUNT, MICROS};
use crate::platform::Platform;
use crate::problem::Problem;
use crate::schema::FactField;

const MAX_ID_BYTES: usize = 256;
const MAX_NAME_BYTES: usize = 1024;

/// A value as the input holds it.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    /// Text as written (CSV field, JSON string or number, protobuf string, Arrow utf8).
    Text(&'a [u8]),
    Int(i128),
    F64(f64),
    F32(f32),
    Decimal {
        unscaled: i256,
        scale: i8,
    },
    /// Days since the epoch (Arrow date32/date64).
    Day(i64),
    /// A JSON value that is neither a string, a number nor null.
    OtherJson(&'a [u8]),
}

impl Cell<'_> {
    /// The value as a reason quotes it.
    pub fn render(&self) -> String {
        match *self {
            Cell::Null => String::new(),
            Cell::Text(bytes) | Cell::OtherJson(bytes) => {
                String::from_utf8_lossy(bytes).into_owned()
            }
            Cell::Int(v) => v.to_string(),
            Cell::F64(v) => v.to_string(),
            Cell::F32(v) => v.to_string(),
            Cell::Decimal { unscaled, scale } => render_decimal(unscaled, scale),
            Cell::Day(day) => date::format_day(day),
        }
    }
}

fn render_decimal(unscaled: i256, scale: i8) -> String {
    let text = unscaled.to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(digits) => ("-", digits),
        None => ("", text.as_str()),
    };
    match usize::try_from(scale) {
        Ok(0) => format!("{sign}{digits}"),
        Ok(scale) => {
            let padded = format!("{digits:0>width$}", width = scale + 1);
            let (int, frac) = padded.split_at(padded.len() - scale);
            format!("{sign}{int}.{frac}")
        }
        Err(_) => format!("{sign}{digits}e{}", -i32::from(scale)),
    }
}

/// Where a field's value goes in a `Draft`.
enum Slot {
    Date,
    Platform,
    Currency,
    /// Index in `Draft::text`.
    Text(usize),
    /// Index in `Draft::measures`.
    Measure(usize),
}

fn slot(field: FactField) -> Slot {
    match field {
        FactField::Date => Slot::Date,
        FactField::Platform => Slot::Platform,
        FactField::Currency => Slot::Currency,
        FactField::AccountId => Slot::Text(0),
        FactField::CampaignId => Slot::Text(1),
        FactField::CampaignName => Slot::Text(NAME_SLOT),
        FactField::AdGroupId => Slot::Text(3),
        FactField::AdId => Slot::Text(4),
        FactField::Impressions => Slot::Measure(0),
        FactField::Clicks => Slot::Measure(1),
        FactField::Cost => Slot::Measure(2),
        FactField::Conversions => Slot::Measure(3),
        FactField::Revenue => Slot::Measure(4),
    }
}

const NAME_SLOT: usize = 2;

/// The ids of the campaign → ad group → ad hierarchy, from the top.
pub const HIERARCHY: [FactField; 3] =
    [FactField::CampaignId, FactField::AdGroupId, FactField::AdId];

/// The row being assembled. Its buffers are reused row after row, so decoding allocates only
/// when a value is longer than any before it.
#[derive(Debug, Default)]
pub struct Draft {
    pub date: i32,
    pub platform: Platform,
    pub currency: Currency,
    /// account_id, campaign_id, campaign_name, ad_group_id, ad_id (trimmed).
    pub text: [String; 5],
    /// impressions, clicks, then cost, conversions, revenue in micros.
    pub measures: [i64; 5],
    /// Bit `slot` (see `Binding::slot`) is set when the row gave that slot a value.
    given: u32,
    /// year, month, day when the date comes in parts.
    pub date_parts: [i64; 3],
    /// Rendering of integer cells that feed text fields.
    scratch: String,
}

impl Draft {
    /// Forgets the previous row's optional values (anything else is set again or filled).
    pub fn reset(&mut self) {
        self.measures = [0; 5];
        self.text[NAME_SLOT].clear();
        self.given = 0;
    }

    pub fn given(&self, slot: usize) -> bool {
        self.given & (1 << slot) != 0
    }

    fn mark(&mut self, slot: usize) {
        self.given |= 1 << slot;
    }

    /// The text slot of an id or name field.
    pub fn text_mut(&mut self, field: FactField) -> &mut String {
        match slot(field) {
            Slot::Text(i) => &mut self.text[i],
            _ => unreachable!("{} is not a text field", field.name()),
        }
    }

    pub fn text(&self, field: FactField) -> &str {
        match slot(field) {
            Slot::Text(i) => &self.text[i],
            _ => unreachable!("{} is not a text field", field.name()),
        }
    }

    /// Gives the text field `to` the value of `from`.
    pub fn copy_text(&mut self, from: FactField, to: FactField) {
        let (Slot::Text(f), Slot::Text(t)) = (slot(from), slot(to)) else {
            unreachable!("ids are text fields");
        };
        if let Ok([from, to]) = self.text.get_disjoint_mut([f, t]) {
            to.clone_from(from);
        }
    }

    pub fn set(
        &mut self,
        binding: Binding,
        cell: &Cell<'_>,
        options: &Options,
    ) -> Result<(), Problem> {
        // A bad value is still a value given: the row is refused for it, not for lacking it.
        self.mark(binding.slot());
        let field = binding.field;
        match binding.read {
            Read::DatePart(part) => {
                self.date_parts[part as usize] = date_part(cell)?;
            }
            Read::Actions(key) => {
                let types = match key {
                    OptionKey::ValueActionTypes => &options.value_action_types,
                    _ => &options.action_types,
                };
                self.measures[measure_index(field)] = match *cell {
                    Cell::Null => 0,
                    Cell::Text(json) | Cell::OtherJson(json) => native::action_sum(json, types)?,
                    _ => return Err(Problem::WrongType { expected: "a list" }),
                };
            }
            Read::Pivots => {
                // Levels the URNs do not name are filled from the ones they do; after a bad
                // list, none is filled (the row is refused for the list).
                self.given &= !(1 << binding.slot());
                let outcome = self.set_pivots(cell);
                if outcome.is_err() {
                    for level in HIERARCHY {
                        self.mark(level.index());
                    }
                }
                outcome?;
            }
            Read::Natural | Read::Micros | Read::DateTime => self.set_field(binding, cell)?,
        }
        Ok(())
    }

    fn set_pivots(&mut self, cell: &Cell<'_>) -> Result<(), Problem> {
        let (Cell::Text(text) | Cell::OtherJson(text)) = *cell else {
            return Err(Problem::WrongType { expected: "a list" });
        };
        let mut bad = None;
        native::pivots(text, |field, id| {
            if bad.is_some() {
                return;
            }
            match checked_text(field, id.as_bytes()) {
                Ok(id) => {
                    let slot = self.text_mut(field);
                    slot.clear();
                    slot.push_str(id);
                    self.mark(field.index());
                }
                Err(problem) => bad = Some(problem),
            }
        })?;
        bad.map_or(Ok(()), Err)
    }

    fn set_field(&mut self, binding: Binding, cell: &Cell<'_>) -> Result<(), Problem> {
        let field = binding.field;
        let slot = slot(field);
        if let Slot::Measure(i) = slot {
            self.measures[i] = measure(field, binding.read, cell)?;
            return Ok(());
        }
        let text = match *cell {
            Cell::Null => &b""[..],
            Cell::Text(bytes) => bytes,
            Cell::Int(v) => {
                self.scratch.clear();
                let _ = write!(self.scratch, "{v}");
                self.scratch.as_bytes()
            }
            Cell::Day(day) if field == FactField::Date => {
                self.date = date::check_day(day)?;
                return Ok(());
            }
            _ => return Err(Problem::WrongType { expected: "text" }),
        };
        match slot {
            Slot::Date if binding.read == Read::DateTime => {
                self.date = native::timestamp_day(text)?
            }
            Slot::Date => self.date = date::parse_date(text)?,
            Slot::Platform => {
                self.platform = Platform::parse(text).ok_or(Problem::UnknownPlatform {
                    accepted: crate::platform::accepted_names(),
                })?
            }
            Slot::Currency => self.currency = Currency::parse(text)?,
            Slot::Text(i) => {
                let value = checked_text(field, text)?;
                self.text[i].clear();
                self.text[i].push_str(value);
            }
            Slot::Measure(_) => unreachable!("measures are set above"),
        }
        Ok(())
    }
}

fn measure_index(field: FactField) -> usize {
    match slot(field) {
        Slot::Measure(i) => i,
        _ => unreachable!("{} is not a measure", field.name()),
    }
}

/// A year, month or day number.
fn date_part(cell: &Cell<'_>) -> Result<i64, Problem> {
    const PART: Bound = Bound {
        max: 9999,
        text: "9999",
    };
    match *cell {
        Cell::Text(text) => money::whole_from_text(text, PART),
        Cell::Int(v) => money::whole_from_int(v, PART),
        _ => Err(Problem::WrongType {
            expected: "a whole number",
        }),
    }
}

/// Ids: trimmed, non-empty, bounded, no control characters. Names: trimmed, bounded, no
/// control characters but tab and line breaks (a quoted CSV name may span lines). A NUL would
/// be stored by ClickHouse and refused by Postgres, so it never gets past the row's check.
fn checked_text(field: FactField, bytes: &[u8]) -> Result<&str, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|_| Problem::NotUtf8)?;
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let is_name = field == FactField::CampaignName;
    let max = if is_name {
        MAX_NAME_BYTES
    } else {
        MAX_ID_BYTES
    };
    if text.len() > max {
        return Err(Problem::TooLong { max });
    }
    if !is_name && text.is_empty() {
        return Err(Problem::Empty);
    }
    let allowed = |c: char| is_name && matches!(c, '\t' | '\n' | '\r');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(Problem::ControlCharacter);
    }
    Ok(text)
}

fn measure(field: FactField, read: Read, cell: &Cell<'_>) -> Result<i64, Problem> {
    let is_count = matches!(field, FactField::Impressions | FactField::Clicks);
    match (*cell, read) {
        (Cell::Null, _) => Ok(0),
        (Cell::Text(text), _) if is_count => money::whole_from_text(text, COUNT),
        (Cell::Text(text), Read::Micros) => money::whole_from_text(text, MICROS),
        (Cell::Text(text), Read::Natural) => money::micros_from_text(text),
        (Cell::Int(v), _) if is_count => money::whole_from_int(v, COUNT),
        (Cell::Int(v), Read::Micros) => money::whole_from_int(v, MICROS),
        (Cell::Int(v), Read::Natural) => money::micros_from_units(v),
        (Cell::F64(v), Read::Natural) if !is_count => money::micros_from_f64(v),
        (Cell::F32(v), Read::Natural) if !is_count => money::micros_from_f32(v),
        (Cell::Decimal { unscaled, .. }, Read::Natural) if !is_count && unscaled.is_negative() => {
            Err(Problem::Negative)
        }
        (Cell::Decimal { unscaled, scale }, Read::Natural) if !is_count => {
            money::micros_from_scaled(unscaled.to_string().as_bytes(), scale)
        }
        _ if is_count || read == Read::Micros => Err(Problem::WrongType {
            expected: "a whole number",
        }),
        _ => Err(Problem::WrongType {
            expected: "a number",
        }),
    }
}

#[cfg(test)]
mod tests;
