//! A serialized `adpulse.v1.RowBatch` (proto/adpulse/v1/ingest_service.proto), decoded straight
//! from the wire: strings are borrowed from the payload, so no row allocates. The field table
//! below is checked against fact_row.proto by a test, so the two cannot drift apart silently.

use super::rows::RowSink;
use super::source::{Binding, Read};
use super::validate::Cell;
use super::wire::{Wire, WIRE_I64, WIRE_LEN, WIRE_VARINT};
use super::{Drift, PayloadError};
use crate::schema::FactField;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProtoType {
    String,
    Int64,
    Double,
}

struct ProtoField {
    number: u32,
    name: &'static str,
    proto_type: ProtoType,
    binding: Binding,
}

const fn field(
    number: u32,
    name: &'static str,
    proto_type: ProtoType,
    field: FactField,
    read: Read,
) -> ProtoField {
    ProtoField {
        number,
        name,
        proto_type,
        binding: Binding::new(field, read),
    }
}

/// `adpulse.v1.FactRow`, by field number.
const FACT_ROW: [ProtoField; 13] = [
    field(1, "date", ProtoType::String, FactField::Date, Read::Natural),
    field(
        2,
        "platform",
        ProtoType::String,
        FactField::Platform,
        Read::Natural,
    ),
    field(
        3,
        "account_id",
        ProtoType::String,
        FactField::AccountId,
        Read::Natural,
    ),
    field(
        4,
        "campaign_id",
        ProtoType::String,
        FactField::CampaignId,
        Read::Natural,
    ),
    field(
        5,
        "campaign_name",
        ProtoType::String,
        FactField::CampaignName,
        Read::Natural,
    ),
    field(
        6,
        "ad_group_id",
        ProtoType::String,
        FactField::AdGroupId,
        Read::Natural,
    ),
    field(
        7,
        "ad_id",
        ProtoType::String,
        FactField::AdId,
        Read::Natural,
    ),
    field(
        8,
        "currency",
        ProtoType::String,
        FactField::Currency,
        Read::Natural,
    ),
    field(
        9,
        "impressions",
        ProtoType::Int64,
        FactField::Impressions,
        Read::Natural,
    ),
    field(
        10,
        "clicks",
        ProtoType::Int64,
        FactField::Clicks,
        Read::Natural,
    ),
    field(
        11,
        "cost_micros",
        ProtoType::Int64,
        FactField::Cost,
        Read::Micros,
    ),
    field(
        12,
        "conversions",
        ProtoType::Double,
        FactField::Conversions,
        Read::Natural,
    ),
    field(
        13,
        "revenue_micros",
        ProtoType::Int64,
        FactField::Revenue,
        Read::Micros,
    ),
];

/// `RowBatch.rows`.
const ROWS_FIELD: u32 = 1;

/// Reads every row into `sink`. Proto rows have a fixed layout: there is no drift.
pub fn read(payload: &[u8], sink: &mut RowSink) -> Result<Drift, PayloadError> {
    let mut batch = Wire::new(payload, "RowBatch");
    while let Some((number, wire_type)) = batch.tag()? {
        if number == ROWS_FIELD && wire_type == WIRE_LEN {
            let row = decode_row(batch.bytes()?)?;
            sink.begin_row(0);
            for (spec, value) in FACT_ROW.iter().zip(row) {
                let cell = match value {
                    Value::Bytes(bytes) => Cell::Text(bytes),
                    Value::Int(v) => Cell::Int(i128::from(v)),
                    Value::Double(v) => Cell::F64(v),
                };
                sink.cell(spec.name, spec.binding, cell);
            }
            sink.end_row();
        } else {
            batch.skip(wire_type)?;
        }
    }
    Ok(Drift::default())
}

#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Bytes(&'a [u8]),
    Int(i64),
    Double(f64),
}

/// A FactRow's values with proto3 defaults for absent fields; a field given twice keeps its
/// last value, and a known field number with another wire type is an unknown field (both as
/// the protobuf runtimes do).
fn decode_row(bytes: &[u8]) -> Result<[Value<'_>; 13], PayloadError> {
    let mut values = FACT_ROW.map(|f| match f.proto_type {
        ProtoType::String => Value::Bytes(&[]),
        ProtoType::Int64 => Value::Int(0),
        ProtoType::Double => Value::Double(0.0),
    });
    let mut row = Wire::new(bytes, "RowBatch");
    while let Some((number, wire_type)) = row.tag()? {
        let known = FACT_ROW.iter().position(|f| f.number == number);
        let value = match known.map(|i| (i, FACT_ROW[i].proto_type, wire_type)) {
            Some((i, ProtoType::String, WIRE_LEN)) => (i, Value::Bytes(row.bytes()?)),
            Some((i, ProtoType::Int64, WIRE_VARINT)) => (i, Value::Int(row.varint()? as i64)),
            Some((i, ProtoType::Double, WIRE_I64)) => {
                (i, Value::Double(f64::from_bits(row.fixed64()?)))
            }
            _ => {
                row.skip(wire_type)?;
                continue;
            }
        };
        values[value.0] = value.1;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    use super::*;
    use crate::ingest::test_support::error_places;
    use crate::ingest::test_support::parse_batch;
    use crate::ingest::wire::encode::{bytes_field, varint};
    use crate::ingest::PayloadErrorCode;

    #[test]
    fn the_field_table_matches_fact_row_proto() {
        let proto = include_str!("../../../../proto/adpulse/v1/fact_row.proto");
        let mut declared = Vec::new();
        for line in proto.lines().map(str::trim) {
            let words: Vec<&str> = line.trim_end_matches(';').split_whitespace().collect();
            if let [proto_type @ ("string" | "int64" | "double"), name, "=", number] = words[..] {
                declared.push((
                    number.parse::<u32>().unwrap(),
                    name.to_owned(),
                    proto_type.to_owned(),
                ));
            }
        }
        let table: Vec<(u32, String, String)> = FACT_ROW
            .iter()
            .map(|f| {
                let t = match f.proto_type {
                    ProtoType::String => "string",
                    ProtoType::Int64 => "int64",
                    ProtoType::Double => "double",
                };
                (f.number, f.name.to_owned(), t.to_owned())
            })
            .collect();
        assert_eq!(declared, table);
        let batch_proto = include_str!("../../../../proto/adpulse/v1/ingest_service.proto");
        assert!(batch_proto.contains(&format!("repeated FactRow rows = {ROWS_FIELD};")));
    }

    fn row(cost_micros: i64, conversions: f64, ad: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        for (number, text) in [
            (1, &b"2026-11-01"[..]),
            (2, b"bing"),
            (3, b"acc"),
            (4, b"c1"),
            (6, b"g1"),
            (7, ad),
            (8, b"usd"),
        ] {
            bytes_field(number, text, &mut r);
        }
        varint(9 << 3, &mut r);
        varint(1000, &mut r);
        varint(11 << 3, &mut r);
        varint(cost_micros as u64, &mut r);
        varint(12 << 3 | 1, &mut r);
        r.extend_from_slice(&conversions.to_le_bytes());
        // An unknown field and a known number with the wrong wire type are skipped.
        varint(99 << 3, &mut r);
        varint(5, &mut r);
        varint(13 << 3 | 5, &mut r);
        r.extend_from_slice(&[1, 2, 3, 4]);
        r
    }

    fn batch(rows: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in rows {
            bytes_field(ROWS_FIELD, r, &mut out);
        }
        out
    }

    #[test]
    fn rows_decode_with_proto3_defaults() {
        let payload = batch(&[
            row(1_500_000, 0.1, b"a1"),
            row(-5, f64::INFINITY, b"a2"),
            row(7, 2.0, b"\xff"),
        ]);
        let parsed = parse_batch(&payload, "proto_rows", "generic", 10).unwrap();
        assert_eq!(parsed.rows_total, 3);
        assert_eq!(parsed.facts.num_rows(), 1);
        let ints = |i: usize| parsed.facts.column(i).as_primitive::<Int64Type>().value(0);
        assert_eq!(
            (ints(8), ints(9), ints(10), ints(11), ints(12)),
            (1000, 0, 1_500_000, 100_000, 0)
        );
        assert_eq!(
            parsed.facts.column(1).as_string::<i32>().value(0),
            "microsoft_ads"
        );
        assert_eq!(parsed.facts.column(4).as_string::<i32>().value(0), "");
        assert_eq!(
            error_places(&parsed),
            [
                (2, 0, "cost_micros"),
                (2, 0, "conversions"),
                (3, 0, "ad_id")
            ]
        );
        assert_eq!(parsed.errors[1].reason, "'inf' is not a finite number");
    }

    #[test]
    fn malformed_wire_data_is_unreadable() {
        let good = batch(&[row(1, 1.0, b"a1")]);
        for bad in [
            &good[..good.len() - 1],
            &[0x0a, 0xff][..],
            &[0x00][..],
            &[0x0b, 0x00][..],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ][..],
        ] {
            let err = parse_batch(bad, "proto_rows", "generic", 10).unwrap_err();
            assert_eq!(err.code, PayloadErrorCode::UnreadablePayload, "{bad:?}");
        }
        let empty = parse_batch(b"", "proto_rows", "generic", 10).unwrap();
        assert_eq!(empty.rows_total, 0);
    }
}
