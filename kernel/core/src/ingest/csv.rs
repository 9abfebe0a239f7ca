//! CSV with a header line (RFC 4180 quoting, so a quoted field may span lines). A record
//! longer than the limit (an unclosed quote swallows the rest of the payload into one) is a row
//! error, and reading starts again at the line after the one it began on.

use std::io::{self, Read};

use csv::{ByteRecord, Reader, ReaderBuilder};

use super::rows::RowSink;
use super::validate::Cell;
use super::{Drift, PayloadError, BOM};
use crate::problem::Problem;

const MIN_HEADER_CAP: usize = 64 << 10;
const READ_BUFFER: usize = 8 << 10;

/// The most bytes the CSV reader may read past the end of the record before.
fn window(max_record_bytes: usize) -> usize {
    max_record_bytes.max(MIN_HEADER_CAP) + 2 + READ_BUFFER
}

/// Bytes the reader's record buffers may reach: the field bytes, and a field end (8 bytes) per
/// byte at most (a record of commas), each grown by doubling.
pub fn buffer_bound(max_record_bytes: usize) -> u64 {
    let window = window(max_record_bytes) as u64;
    2 * (window + 8 * window) + READ_BUFFER as u64
}

/// The payload as the CSV reader sees it: at most a window past the end of the last record,
/// so one endless record cannot make the reader copy the rest of the payload into its record
/// buffer. `cut` says the reader asked for bytes past the window.
struct Window<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
    width: usize,
    cut: bool,
}

impl Window<'_> {
    fn slide_to(&mut self, from: u64) {
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        self.end = from
            .saturating_add(self.width)
            .min(self.bytes.len())
            .max(self.at);
    }
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.end - self.at);
        if n == 0 && !buf.is_empty() && self.at < self.bytes.len() {
            self.cut = true;
        }
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn reader_of(bytes: &[u8], width: usize) -> Reader<Window<'_>> {
    ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(READ_BUFFER)
        .from_reader(Window {
            bytes,
            at: 0,
            end: width.min(bytes.len()),
            width,
            cut: false,
        })
}

/// Reads every record into `sink`; returns the payload's drift.
pub fn read(
    payload: &[u8],
    max_record_bytes: usize,
    sink: &mut RowSink,
) -> Result<Drift, PayloadError> {
    let payload = payload.strip_prefix(BOM).unwrap_or(payload);
    // An endless header would become an endless column name, reported and stored as drift;
    // it is refused before the CSV reader copies it. A header may be as long as a record, and
    // never needs to be shorter than 64 KiB.
    let max_header = max_record_bytes.max(MIN_HEADER_CAP);
    let head = &payload[..payload.len().min(max_header + 2)];
    if head.len() < payload.len() && memchr::memchr(b'\n', head).is_none() {
        return Err(PayloadError::unreadable(format!(
            "the CSV header (line 1) is longer than {max_header} bytes"
        )));
    }
    let mapping = sink.mapping();
    let width = window(max_record_bytes);
    let mut reader = reader_of(payload, width);
    let mut record = ByteRecord::new();
    let unreadable =
        |e: csv::Error| PayloadError::unreadable(format!("the CSV cannot be read: {e}"));
    if !reader.read_byte_record(&mut record).map_err(unreadable)? {
        mapping.check_columns(|_| false, &[])?;
        return Ok(Drift::default());
    }
    if reader.get_ref().cut {
        // A quoted newline let the header pass the check above.
        return Err(PayloadError::unreadable(format!(
            "the CSV header (line 1) is longer than {max_header} bytes"
        )));
    }
    let names = record
        .iter()
        .map(|name| std::str::from_utf8(name).map(|n| n.trim().to_owned()))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|_| PayloadError::unreadable("the CSV header is not valid UTF-8"))?;
    let layout = mapping.layout(&names)?;
    // Where the current reader started: its byte offset and the lines before it.
    let (mut base, mut base_line) = (0usize, 0u64);
    loop {
        let at = &payload[base..];
        let next = reader.position().byte();
        reader.get_mut().slide_to(next);
        if !reader.read_byte_record(&mut record).map_err(unreadable)? {
            if !reader.get_ref().cut {
                break;
            }
            // The window held only blank lines: go on after them.
            let position = reader.position();
            base += clamp(position.byte(), at.len());
            base_line += position.line().saturating_sub(1);
            reader = reader_of(&payload[base..], width);
            continue;
        }
        let line = base_line + record_line(at, &record);
        let start = record.position().map_or(0, |p| clamp(p.byte(), at.len()));
        let end = clamp(reader.position().byte(), at.len());
        // The reader's start is before any blank lines it skipped on the way to the record.
        let skipped = at[start..end]
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        let raw = end - start - skipped;
        let cut = reader.get_ref().cut;
        if cut && raw <= max_record_bytes + 2 {
            // Blank lines used up the window before the record began: read it from its start
            // (which is past where this reader began, so reading moves on).
            base += start + skipped;
            base_line = line - 1;
            reader = reader_of(&payload[base..], width);
            continue;
        }
        sink.begin_row(line);
        let text = at[start + skipped..end].trim_ascii_end();
        if cut || text.len() > max_record_bytes {
            sink.reject_record(&Problem::RecordTooLong {
                max: max_record_bytes,
            });
            sink.end_row();
            // The record's first line is skipped; reading goes on after it.
            let Some(newline) = memchr::memchr(b'\n', &at[start + skipped..]) else {
                break;
            };
            base += start + skipped + newline + 1;
            base_line = line;
            reader = reader_of(&payload[base..], width);
            continue;
        }
        if record.len() == names.len() {
            for &(i, binding) in &layout.bound {
                sink.cell(&names[i], binding, Cell::Text(&record[i]));
            }
        } else {
            sink.reject_record(&Problem::FieldCount {
                got: record.len(),
                expected: names.len(),
            });
        }
        sink.end_row();
    }
    Ok(Drift {
        ignored: layout.ignored,
        missing: layout.missing,
    })
}

fn clamp(position: u64, len: usize) -> usize {
    usize::try_from(position).map_or(len, |p| p.min(len))
}

/// The line a record starts on. The reader's position is where it began reading, which is
/// before any blank lines it skipped on the way to the record.
fn record_line(payload: &[u8], record: &ByteRecord) -> u64 {
    let Some(position) = record.position() else {
        return 0;
    };
    let from = usize::try_from(position.byte()).map_or(payload.len(), |b| b.min(payload.len()));
    let skipped_newlines = payload[from..]
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count();
    position.line() + skipped_newlines as u64
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    use crate::ingest::test_support::error_places as errors;
    use crate::ingest::test_support::parse_batch;
    use crate::ingest::{ParsedBatch, PayloadErrorCode};

    const HEADER: &str = "date,platform,account_id,campaign_id,campaign_name,ad_group_id,ad_id,currency,impressions,clicks,cost,conversions,revenue\n";

    fn parse(body: &str) -> ParsedBatch {
        parse_batch(format!("{HEADER}{body}").as_bytes(), "csv", "generic", 100).unwrap()
    }

    #[test]
    fn good_rows_become_facts() {
        let batch = parse(
            "2026-11-01,Google,acc,c1,Spring sale,g1,a1,eur,100,5,12.5,1.5,30\n\
             2026-11-01,meta,acc,c1,,g1,a1,USD,,,,,\n",
        );
        assert_eq!(batch.rows_total, 2);
        assert_eq!(batch.facts.num_rows(), 2);
        assert!(batch.errors.is_empty());
        let cost = batch.facts.column(10).as_primitive::<Int64Type>();
        assert_eq!(cost.values().to_vec(), [12_500_000, 0]);
        assert_eq!(
            batch.facts.column(1).as_string::<i32>().value(1),
            "meta_ads"
        );
    }

    #[test]
    fn every_bad_field_is_reported_with_row_and_line() {
        let batch = parse(
            "2026-02-30,google,acc,c1,n,g1,a1,EUR,1,1,-5,0,0\n\
             2026-11-01,google,acc,c2,\"multi\nline\",g1,a1,EUR,1,1,1,0,0\n\
             2026-11-01,yahoo,acc,c3,n,g1,a1,EUR,1.5,1,1,0,0\n",
        );
        assert_eq!(batch.rows_total, 3);
        assert_eq!(batch.rows_rejected, 2);
        assert_eq!(
            errors(&batch),
            [
                (1, 2, "date"),
                (1, 2, "cost"),
                (3, 5, "platform"),
                (3, 5, "impressions")
            ]
        );
        assert_eq!(
            batch.errors[0].reason,
            "'2026-02-30' is not a date (expected YYYY-MM-DD)"
        );
        assert_eq!(batch.errors[1].reason, "must not be negative, got '-5'");
        assert_eq!(
            batch.facts.column(4).as_string::<i32>().value(0),
            "multi\nline"
        );
    }

    #[test]
    fn blank_lines_count_as_lines_but_not_rows_and_bad_records_are_row_errors() {
        let body = "\n\r\n2026-11-01,google,acc,c1,n,g1,a1,EUR,1,1,1,0,0,extra\n\n\
                    2026-11-01,google,acc,c1,n,g1,a1,EUR,1,1,1,0\n\
                    2026-11-01,google,acc,c1,~,g1,a1,EUR,1,1,1,0,0\n";
        let mut payload = format!("{HEADER}{body}").into_bytes();
        let tilde = payload.iter().position(|b| *b == b'~').unwrap();
        payload[tilde] = 0xFF;
        let batch = parse_batch(&payload, "csv", "generic", 100).unwrap();
        assert_eq!(batch.rows_total, 3);
        assert_eq!(
            errors(&batch),
            [(1, 4, ""), (2, 6, ""), (3, 7, "campaign_name")]
        );
        assert_eq!(
            batch.errors[0].reason,
            "the record has 14 fields, the header has 13"
        );
    }

    #[test]
    fn the_header_is_matched_loosely_and_a_bom_is_skipped() {
        let payload = "\u{FEFF} Date ,PLATFORM,account_id,campaign_id,ad_group_id,ad_id,currency,impressions,clicks,Cost,conversions,Conversion_Value,notes\n\
                       2026-11-01,google,acc,c1,g1,a1,EUR,1,1,1,0,2.5,hello\n\
                       2026-11-01,google,acc,c2,g1,a1,EUR,1,1,x,0,2.5,hello\n";
        let batch = parse_batch(payload.as_bytes(), "csv", "generic", 10).unwrap();
        assert_eq!(batch.facts.num_rows(), 1);
        assert_eq!(batch.ignored_columns, ["notes"]);
        assert_eq!(
            batch.facts.column(12).as_primitive::<Int64Type>().value(0),
            2_500_000
        );
        assert_eq!(errors(&batch), [(2, 3, "Cost")]);
        assert_eq!(batch.errors[0].reason, "'x' is not a number");
    }

    #[test]
    fn payload_errors() {
        let missing = parse_batch(b"date,platform\n", "csv", "generic", 10).unwrap_err();
        assert_eq!(missing.code, PayloadErrorCode::MissingColumns);
        assert!(missing.message.ends_with(
            "ad_group_id, ad_id, currency, impressions, clicks, cost, conversions, revenue"
        ));
        let empty = parse_batch(b"", "csv", "generic", 10).unwrap_err();
        assert_eq!(empty.code, PayloadErrorCode::MissingColumns);
        let binary = parse_batch(b"da\xffte\n", "csv", "generic", 10).unwrap_err();
        assert_eq!(binary.code, PayloadErrorCode::UnreadablePayload);
        let endless = format!("date,{}", "x".repeat((1 << 20) + 10));
        let long = parse_batch(endless.as_bytes(), "csv", "generic", 10).unwrap_err();
        assert_eq!(long.code, PayloadErrorCode::UnreadablePayload);
        assert!(long
            .message
            .contains("header (line 1) is longer than 1048576 bytes"));
    }

    #[test]
    fn an_endless_record_is_a_row_error_read_no_further_than_its_window() {
        let good = "2026-11-01,google,acc,c1,n,g1,a1,EUR,1,1,1,0,0\n";
        let other = "2026-11-01,google,acc,c1,n,g1,a2,EUR,1,1,1,0,0\n";
        for filler in ["x", ",", " "] {
            let endless = format!("2026-11-01,{}", filler.repeat(3 << 20));
            let payload = format!("{HEADER}{good}{endless}\n{other}");
            let batch = parse_batch(payload.as_bytes(), "csv", "generic", 10).unwrap();
            assert_eq!(
                (batch.rows_total, batch.facts.num_rows()),
                (3, 2),
                "{filler:?}"
            );
            assert_eq!(errors(&batch), [(2, 3, "")], "{filler:?}");
        }
        // Blank lines longer than the window before a record: the record is still read.
        let blanks = "\n".repeat(2 << 20);
        let bad = "2026-11-01,google,acc,c1,n,g1,a2,EUR,x,1,1,0,0\n";
        let payload = format!("{HEADER}{good}{blanks}{other}{blanks}{bad}");
        let batch = parse_batch(payload.as_bytes(), "csv", "generic", 10).unwrap();
        assert_eq!((batch.rows_total, batch.facts.num_rows()), (3, 2));
        let line = 3 + 2 * (2 << 20) + 1;
        assert_eq!(errors(&batch), [(3, line as u64, "impressions")]);
        let h = "h".repeat(1 << 20);
        let quoted = format!("\"{h}\n{h}\",x\n");
        let err = parse_batch(quoted.as_bytes(), "csv", "generic", 10).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::UnreadablePayload);
    }

    #[test]
    fn errors_past_the_limit_are_counted_not_listed() {
        let bad_row = "2026-11-01,google,acc,c1,n,g1,a1,EUR,x,y,1,0,0\n";
        let payload = format!("{HEADER}{}", bad_row.repeat(5));
        let batch = parse_batch(payload.as_bytes(), "csv", "generic", 3).unwrap();
        assert_eq!(batch.rows_rejected, 5);
        assert_eq!(batch.errors.len(), 3);
        assert!(batch.errors_truncated);
        let batch = parse_batch(payload.as_bytes(), "csv", "generic", 10).unwrap();
        assert_eq!(batch.errors.len(), 10);
        assert!(!batch.errors_truncated);
    }
}
