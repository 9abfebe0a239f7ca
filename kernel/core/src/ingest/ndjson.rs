//! Newline-delimited JSON: one object a line, keyed by column name. Nested objects are read as
//! dotted names (`{"metrics":{"clicks":1}}` is `metrics.clicks`), as platform APIs nest them.
//! Values are taken from their JSON text, so a number like 0.1 reaches the money parser as the
//! digits written, never as a binary float. A key a line does not have is a value the row does
//! not give: the source says what that becomes.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::rows::RowSink;
use super::source::{Binding, Mapping, Match, SLOTS};
use super::validate::Cell;
use super::{Drift, PayloadError, BOM};
use crate::problem::Problem;

/// Objects nested deeper than this are values, not more columns: flattening re-reads each
/// level, and real exports nest two or three deep.
const MAX_DEPTH: usize = 8;

/// Reads every non-blank line into `sink`; returns the payload's drift.
pub fn read(
    payload: &[u8],
    max_line_bytes: usize,
    sink: &mut RowSink,
) -> Result<Drift, PayloadError> {
    let payload = payload.strip_prefix(BOM).unwrap_or(payload);
    let mut columns = Columns {
        mapping: sink.mapping(),
        known: Vec::new(),
        ignored: Vec::new(),
        seen: [false; SLOTS],
        path: String::new(),
        canonical: String::new(),
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
        if line.trim_ascii_end().len() > max_line_bytes {
            sink.reject_record(&Problem::RecordTooLong {
                max: max_line_bytes,
            });
        } else {
            read_line(line, &mut columns, &mut scratch, sink);
        }
        sink.end_row();
    }
    if sink.rows_total() == 0 {
        return Ok(Drift::default());
    }
    let missing = columns
        .mapping
        .check_columns(|slot| columns.seen[slot], &columns.ignored)?;
    Ok(Drift {
        ignored: columns.ignored,
        missing,
    })
}

fn read_line(line: &[u8], columns: &mut Columns<'_>, scratch: &mut String, sink: &mut RowSink) {
    let Ok(text) = std::str::from_utf8(line) else {
        sink.reject_record(&Problem::NotUtf8);
        return;
    };
    let mut values = LineValues {
        by_slot: [None; SLOTS],
        repeated: Vec::new(),
    };
    columns.path.clear();
    let parsed = read_object(text, 0, columns, &mut values, &mut 0);
    if let Err(e) = parsed {
        let problem = Problem::BadRecord(format!("the line is not a JSON object: {e}"));
        sink.reject_record(&problem);
        return;
    }
    for &(key, first) in &values.repeated {
        let problem = Problem::GivenTwice {
            first: columns.known[first].0.clone(),
        };
        sink.reject(&columns.known[key].0, &problem, &Cell::Null);
    }
    for (key, raw) in values.by_slot.iter().flatten() {
        let (name, found) = &columns.known[*key];
        if let Match::Read(binding) = found {
            sink.cell(name, *binding, cell(raw.get(), scratch));
        }
    }
}

/// Reads one object (the line, or a nested one under `columns.path`) into `values`.
fn read_object<'de>(
    text: &'de str,
    depth: usize,
    columns: &mut Columns<'_>,
    values: &mut LineValues<'de>,
    position: &mut usize,
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_map(ObjectVisitor {
        depth,
        columns,
        values,
        position,
    })?;
    de.end()
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

/// The keys met so far and what they are to the source. Lines of one payload nearly always
/// repeat the same keys in the same order, so the lookup tries the key's position first.
struct Columns<'m> {
    mapping: &'m Mapping,
    /// (dotted key as written, what it is)
    known: Vec<(String, Match)>,
    ignored: Vec<String>,
    seen: [bool; SLOTS],
    /// The dotted key being read.
    path: String,
    canonical: String,
}

impl Columns<'_> {
    /// The index in `known` of the key at `columns.path`.
    fn lookup(&mut self, position: usize) -> usize {
        if let Some((name, _)) = self.known.get(position) {
            if *name == self.path {
                return position;
            }
        }
        if let Some(i) = self.known.iter().position(|(name, _)| *name == self.path) {
            return i;
        }
        let found = self.mapping.classify(&self.path, &mut self.canonical);
        match found {
            Match::Read(b) => self.seen[b.slot()] = true,
            Match::Unknown
                if !self
                    .ignored
                    .iter()
                    .any(|i| i.eq_ignore_ascii_case(&self.path)) =>
            {
                self.ignored.push(self.path.clone());
            }
            Match::Unknown | Match::Unread => {}
        }
        self.known.push((self.path.clone(), found));
        self.known.len() - 1
    }
}

struct LineValues<'de> {
    /// (index in `known`, value) of the key that gave each slot.
    by_slot: [Option<(usize, &'de RawValue)>; SLOTS],
    /// (key, the key that gave the same slot before it), as indexes in `known`.
    repeated: Vec<(usize, usize)>,
}

struct ObjectVisitor<'a, 'c, 'm, 'de> {
    depth: usize,
    columns: &'c mut Columns<'m>,
    values: &'a mut LineValues<'de>,
    /// Leaf keys read so far in the line.
    position: &'a mut usize,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let prefix = self.columns.path.len();
        while let Some(Key(key)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            self.columns.path.truncate(prefix);
            self.columns.path.push_str(&key);
            if value.get().starts_with('{') && self.depth < MAX_DEPTH {
                self.columns.path.push('.');
                read_object(
                    value.get(),
                    self.depth + 1,
                    self.columns,
                    self.values,
                    self.position,
                )
                .map_err(serde::de::Error::custom)?;
                continue;
            }
            let index = self.columns.lookup(*self.position);
            *self.position += 1;
            let Match::Read(binding) = self.columns.known[index].1 else {
                continue;
            };
            let slot = &mut self.values.by_slot[Binding::slot(binding)];
            match slot {
                Some((first, _)) => self.values.repeated.push((index, *first)),
                None => *slot = Some((index, value)),
            }
        }
        self.columns.path.truncate(prefix);
        Ok(())
    }
}

/// An object key, borrowed from the line unless it has escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
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
    use crate::ingest::test_support::parse_batch;
    use crate::ingest::{ParsedBatch, PayloadErrorCode};

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
        // A nested object is more columns, named by their path.
        assert_eq!(batch.ignored_columns, ["Extra.a", "extra"]);
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
