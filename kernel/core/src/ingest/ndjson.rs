//! Newline-delimited JSON: one object a line, keyed by column name. Values are taken from their
//! JSON text, so a number like 0.1 reaches the money parser as the digits written, never as a
//! binary float. A key a line does not have means null for a measure or the campaign name, and
//! a missing value for the other fields.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::rows::RowSink;
use super::source::{Binding, Source, Unit};
use super::validate::Cell;
use super::{PayloadError, BOM};
use crate::problem::Problem;
use crate::schema::FactField;

const FIELDS: usize = FactField::ALL.len();

/// Reads every non-blank line into `sink`; returns the ignored keys.
pub fn read(
    payload: &[u8],
    source: &Source,
    sink: &mut RowSink,
) -> Result<Vec<String>, PayloadError> {
    let payload = payload.strip_prefix(BOM).unwrap_or(payload);
    let mut columns = Columns {
        source,
        known: Vec::new(),
        ignored: Vec::new(),
        seen: [false; FIELDS],
    };
    let mut scratch = String::new();
    let mut line_start = 0;
    let mut line_number = 0u64;
    while line_start < payload.len() {
        let line_end =
            memchr::memchr(b'\n', &payload[line_start..]).map_or(payload.len(), |i| line_start + i);
        let line = &payload[line_start..line_end];
        line_start = line_end + 1;
        line_number += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        sink.begin_row(line_number);
        read_line(line, &mut columns, &mut scratch, sink);
        sink.end_row();
    }
    if sink.rows_total() > 0 {
        source.check_required(|field| columns.seen[field.index()])?;
    }
    Ok(columns.ignored)
}

fn read_line(line: &[u8], columns: &mut Columns<'_>, scratch: &mut String, sink: &mut RowSink) {
    let Ok(text) = std::str::from_utf8(line) else {
        sink.reject("", &Problem::NotUtf8, &Cell::Text(line));
        return;
    };
    let mut values = LineValues {
        by_field: Default::default(),
        repeated: Vec::new(),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de
        .deserialize_map(LineVisitor {
            columns,
            values: &mut values,
        })
        .and_then(|()| de.end());
    if let Err(e) = parsed {
        let problem = Problem::BadRecord(format!("the line is not a JSON object: {e}"));
        sink.reject("", &problem, &Cell::Null);
        return;
    }
    for (key, first) in &values.repeated {
        let problem = Problem::GivenTwice {
            first: first.clone(),
        };
        sink.reject(key, &problem, &Cell::Null);
    }
    for (field, value) in FactField::ALL.into_iter().zip(&values.by_field) {
        match value {
            Some((key, binding, raw)) => sink.cell(key, *binding, cell(raw.get(), scratch)),
            None => {
                let binding = Binding {
                    field,
                    unit: Unit::Natural,
                };
                sink.cell(columns.source.column_name(field), binding, Cell::Missing);
            }
        }
    }
}

/// A JSON value as a cell: strings unescaped, numbers as their text.
fn cell<'a>(raw: &'a str, scratch: &'a mut String) -> Cell<'a> {
    match raw.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<&str>(raw) {
            Ok(text) => Cell::Text(text.as_bytes()),
            // Only a string with escapes cannot be borrowed; it was valid JSON already.
            Err(_) => {
                *scratch = serde_json::from_str::<String>(raw).unwrap_or_default();
                Cell::Text(scratch.as_bytes())
            }
        },
        Some(b'n') => Cell::Null,
        Some(b'-' | b'0'..=b'9') => Cell::Text(raw.as_bytes()),
        _ => Cell::OtherJson(raw.as_bytes()),
    }
}

/// The keys met so far and what they bind to. Lines of one payload nearly always repeat the
/// same keys in the same order, so the lookup tries the key's position in the line first.
struct Columns<'s> {
    source: &'s Source,
    known: Vec<(String, Option<Binding>)>,
    ignored: Vec<String>,
    seen: [bool; FIELDS],
}

impl Columns<'_> {
    fn bind(&mut self, key: &str, position: usize) -> Option<Binding> {
        if let Some((name, binding)) = self.known.get(position) {
            if name == key {
                return *binding;
            }
        }
        if let Some((_, binding)) = self.known.iter().find(|(name, _)| name == key) {
            return *binding;
        }
        let binding = self.source.bind(key);
        match binding {
            Some(b) => self.seen[b.field.index()] = true,
            None if !self.ignored.iter().any(|i| i.eq_ignore_ascii_case(key)) => {
                self.ignored.push(key.to_owned());
            }
            None => {}
        }
        self.known.push((key.to_owned(), binding));
        binding
    }
}

struct LineValues<'de> {
    by_field: [Option<(Cow<'de, str>, Binding, &'de RawValue)>; FIELDS],
    /// (key, the key that gave the same field before it)
    repeated: Vec<(Cow<'de, str>, String)>,
}

struct LineVisitor<'a, 's, 'de> {
    columns: &'a mut Columns<'s>,
    values: &'a mut LineValues<'de>,
}

impl<'de> Visitor<'de> for LineVisitor<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut position = 0;
        while let Some(Key(key)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            if let Some(binding) = self.columns.bind(&key, position) {
                match &self.values.by_field[binding.field.index()] {
                    Some((first, ..)) => self.values.repeated.push((key, first.to_string())),
                    None => {
                        self.values.by_field[binding.field.index()] = Some((key, binding, value))
                    }
                }
            }
            position += 1;
        }
        Ok(())
    }
}

/// An object key, borrowed from the line unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    use crate::ingest::test_support::error_places as errors;
    use crate::ingest::{parse_batch, ParsedBatch, PayloadErrorCode};

    const ROW: &str = r#"{"date":"2026-11-01","platform":"google","account_id":"acc","campaign_id":"c1","ad_group_id":"g1","ad_id":"a1","currency":"EUR","impressions":100,"clicks":"5","cost":0.1,"conversions":1.5e0,"revenue":null}"#;

    fn parse(payload: &str) -> ParsedBatch {
        parse_batch(payload.as_bytes(), "ndjson", "generic", 100).unwrap()
    }

    #[test]
    fn numbers_are_read_from_their_text() {
        let batch = parse(&format!("{ROW}\n"));
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        let micros = |i: usize| batch.facts.column(i).as_primitive::<Int64Type>().value(0);
        assert_eq!(
            (micros(8), micros(9), micros(10), micros(11), micros(12)),
            (100, 5, 100_000, 1_500_000, 0)
        );
        assert_eq!(batch.facts.column(4).as_string::<i32>().value(0), "");
    }

    #[test]
    fn escaped_strings_and_keys_and_unknown_keys() {
        let row = ROW.replace(
            r#""campaign_id":"c1""#,
            r#""campaign\u005fid":"c\u00e91","Extra":{"a":[1]},"extra":2"#,
        );
        let batch = parse(&row);
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(batch.facts.column(3).as_string::<i32>().value(0), "cé1");
        assert_eq!(batch.ignored_columns, ["Extra"]);
    }

    #[test]
    fn blank_lines_are_lines_not_rows_and_bad_lines_are_row_errors() {
        let bad_date = ROW.replace("2026-11-01", "2026-02-30");
        let no_ad = ROW.replace(r#""ad_id":"a1","#, "");
        let twice = ROW.replace(r#""revenue":null"#, r#""revenue":1,"Revenue_Micros":5"#);
        let wrong_type = ROW.replace(r#""clicks":"5""#, r#""clicks":true"#);
        let payload = format!(
            "\n{ROW}\r\n  \n[1,2]\n{bad_date}\n{{\"date\":\n{no_ad}\n~\n{twice}\n{wrong_type}"
        );
        let mut bytes = payload.into_bytes();
        let tilde = bytes.iter().position(|b| *b == b'~').unwrap();
        bytes[tilde] = 0xFF;
        let batch = parse_batch(&bytes, "ndjson", "generic", 100).unwrap();
        assert_eq!(batch.rows_total, 8);
        assert_eq!(batch.facts.num_rows(), 1);
        assert_eq!(
            errors(&batch),
            [
                (2, 4, ""),
                (3, 5, "date"),
                (4, 6, ""),
                (5, 7, "ad_id"),
                (6, 8, ""),
                (7, 9, "Revenue_Micros"),
                (8, 10, "clicks")
            ]
        );
        assert_eq!(batch.errors[3].reason, "is missing");
        assert_eq!(
            batch.errors[5].reason,
            "gives the same field as 'revenue' already did"
        );
        assert_eq!(batch.errors[6].reason, "'true' is not a whole number");
    }

    #[test]
    fn a_column_no_line_has_is_missing() {
        let payload = ROW.replace(r#""cost":0.1,"#, "");
        let err = parse_batch(payload.as_bytes(), "ndjson", "generic", 10).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::MissingColumns);
        assert_eq!(err.message, "missing columns: cost");
        let other = ROW.replace(r#""cost":0.1,"#, r#""cost_micros":7,"#);
        let batch = parse(&format!("{payload}\n{other}"));
        assert_eq!(batch.facts.num_rows(), 1);
        let empty = parse("\n\n");
        assert_eq!((empty.rows_total, empty.facts.num_rows()), (0, 0));
    }
}
