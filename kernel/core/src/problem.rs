//! What can be wrong with one field of a row, and how that is said to the person who sent it.

use std::borrow::Cow;

/// Values quoted in a reason are cut here: a reason must stay readable when a field holds
/// megabytes of garbage.
const QUOTE_MAX_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The row has no value for a required column (an NDJSON line without the key).
    Missing,
    NotUtf8,
    Empty,
    TooLong {
        max: usize,
    },
    ControlCharacter,
    NotADate,
    DateOutOfRange,
    /// `accepted` lists the spellings (the platform module's `accepted_names`).
    UnknownPlatform {
        accepted: &'static str,
    },
    UnknownCurrency,
    NotAWholeNumber,
    NotANumber,
    NotFinite,
    Negative,
    TooLarge {
        max: &'static str,
    },
    /// A value of a type the field cannot hold (a JSON object where a number belongs, …).
    WrongType {
        expected: &'static str,
    },
    /// A second column of the same row gives a field already given by `first`.
    GivenTwice {
        first: String,
    },
    /// A CSV record with another number of fields than the header.
    FieldCount {
        got: usize,
        expected: usize,
    },
    /// More clicks than impressions (some platforms count clicks on sitelinks without one).
    ClicksOverImpressions {
        impressions: i64,
    },
    /// A LinkedIn campaign group the options give no account for.
    NoAccount,
    /// A record longer than the payload's limit; the reader went on at the next line.
    RecordTooLong {
        max: usize,
    },
    /// The record as a whole is unusable; the text says why.
    BadRecord(String),
}

impl Problem {
    /// The reason shown to the sender; `value` is the offending input as text.
    pub fn describe(&self, value: &str) -> String {
        let v = quote(value);
        match self {
            Problem::Missing => "is missing".to_owned(),
            Problem::NotUtf8 => format!("{v} is not valid UTF-8"),
            Problem::Empty => "must not be empty".to_owned(),
            Problem::TooLong { max } => {
                format!("{v} is too long ({} bytes, at most {max})", value.len())
            }
            Problem::ControlCharacter => format!("{v} contains a control character"),
            Problem::NotADate => format!("{v} is not a date (expected YYYY-MM-DD)"),
            Problem::DateOutOfRange => {
                format!("{v} is outside the accepted dates 2000-01-01 to 2099-12-31")
            }
            Problem::UnknownPlatform { accepted } => {
                format!("{v} is not a known platform (expected one of {accepted})")
            }
            Problem::UnknownCurrency => format!("{v} is not an active ISO 4217 currency code"),
            Problem::NotAWholeNumber => {
                format!("{v} is not a whole number written as plain digits")
            }
            Problem::NotANumber => format!("{v} is not a number"),
            Problem::NotFinite => format!("{v} is not a finite number"),
            Problem::Negative => format!("must not be negative, got {v}"),
            Problem::TooLarge { max } => format!("{v} is too large (at most {max})"),
            Problem::WrongType { expected } => format!("{v} is not {expected}"),
            Problem::GivenTwice { first } => {
                format!("gives the same field as {} already did", quote(first))
            }
            Problem::FieldCount { got, expected } => {
                format!("the record has {got} fields, the header has {expected}")
            }
            Problem::ClicksOverImpressions { impressions } => {
                format!("{v} clicks are more than the row's {impressions} impressions")
            }
            Problem::NoAccount => format!(
                "campaign group {v} has no account: the option campaign_groups does not name it \
                 and no option account_id is set"
            ),
            Problem::RecordTooLong { max } => {
                format!("the record is longer than {max} bytes; it was skipped up to the next line")
            }
            Problem::BadRecord(why) => why.clone(),
        }
    }
}

/// `value` in single quotes, cut to a readable length on a character boundary, its control
/// characters escaped (`\0`, `\u{1b}`): a reason is stored in the ledger and shown in
/// terminals, and Postgres refuses text with a NUL in it.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(QUOTE_MAX_CHARS * 4) + 4);
    out.push('\'');
    match value.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((cut, _)) => {
            out.push_str(&printable(&value[..cut]));
            out.push('…');
        }
        None => out.push_str(&printable(value)),
    }
    out.push('\'');
    out
}

/// `value` with its control characters escaped as Rust writes them (`\0`, `\n`, `\u{7f}`),
/// for text from the input (a column name, a quoted value) that goes into a report.
pub fn printable(value: &str) -> Cow<'_, str> {
    if !value.chars().any(char::is_control) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_cuts_long_values_on_a_character_boundary() {
        let long = "é".repeat(200);
        let q = quote(&long);
        assert_eq!(q.chars().count(), QUOTE_MAX_CHARS + 3);
        assert!(q.ends_with("…'"));
        assert_eq!(quote("ab"), "'ab'");
    }

    #[test]
    fn quote_escapes_control_characters() {
        assert_eq!(quote("a\0b\u{1b}c\n"), "'a\\0b\\u{1b}c\\n'");
        assert_eq!(printable("plain"), "plain");
    }

    #[test]
    fn reasons_quote_the_value() {
        assert_eq!(
            Problem::NotADate.describe("2026-02-30"),
            "'2026-02-30' is not a date (expected YYYY-MM-DD)"
        );
        assert_eq!(
            Problem::Negative.describe("-5"),
            "must not be negative, got '-5'"
        );
        assert_eq!(
            Problem::UnknownPlatform { accepted: "a, b" }.describe("yahoo"),
            "'yahoo' is not a known platform (expected one of a, b)"
        );
        assert_eq!(
            Problem::TooLong { max: 4 }.describe("abcdef"),
            "'abcdef' is too long (6 bytes, at most 4)"
        );
    }
}
