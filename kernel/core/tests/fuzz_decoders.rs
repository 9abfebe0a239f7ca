//! Every decoder against arbitrary and mutated bytes: whatever comes in, the answer is a clean
//! ParsedBatch or a PayloadError, never a panic, a hang or an abort. Mutations start from real
//! payloads (the platform fixtures, a typed Arrow stream, a protobuf row batch, a request
//! envelope), so they reach deep into each format rather than failing at the first byte.

use std::io::Write;
use std::sync::Arc;

use adpulse_core::ingest::{
    inspect_request, parse_batch, Compression, ParsedBatch, PayloadError, Settings,
};
use arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray};
use arrow::ipc::writer::StreamWriter;
use proptest::prelude::*;

const FORMATS: [&str; 4] = ["csv", "ndjson", "arrow_ipc", "proto_rows"];

/// (source, options) pairs that every payload is tried with.
const SOURCES: [(&str, &[(&str, &str)]); 6] = [
    ("generic", &[]),
    ("google_ads", &[]),
    ("meta_ads", &[("action_types", "purchase,lead")]),
    ("tiktok_ads", &[]),
    ("tiktok_ads", &[("value_field", "complete_payment")]),
    ("linkedin_ads", &[("currency", "EUR"), ("account_id", "1")]),
];

fn settings(gzip: bool) -> Settings {
    Settings {
        max_errors: 20,
        compression: if gzip {
            Compression::Gzip
        } else {
            Compression::None
        },
        max_decompressed_bytes: 1 << 20,
        max_line_bytes: 4096,
        ..Settings::default()
    }
}

/// A clean outcome: facts in the schema and counts that add up, or a coded error.
fn check(outcome: Result<ParsedBatch, PayloadError>) {
    match outcome {
        Ok(batch) => {
            assert_eq!(batch.facts.schema(), adpulse_core::schema::fact_schema());
            let accepted = batch.facts.num_rows() as u64;
            assert_eq!(
                accepted + batch.rows_rejected + batch.rows_superseded,
                batch.rows_total
            );
            assert!(batch.errors.len() <= 20 && batch.warnings.len() <= 20);
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/", $path)).as_slice()
    };
}

fn arrow_seed() -> Vec<u8> {
    let text = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("date", Arc::new(Date32Array::from(vec![20_000, 20_001]))),
        ("platform", text(&["google_ads", "meta"])),
        ("account_id", text(&["a", "b"])),
        ("campaign_id", text(&["c", "c"])),
        ("ad_group_id", text(&["g", "g"])),
        ("ad_id", text(&["x", "y"])),
        ("currency", text(&["EUR", "usd"])),
        ("impressions", Arc::new(Int64Array::from(vec![10, 20]))),
        ("clicks", Arc::new(Int64Array::from(vec![1, 30]))),
        ("cost_micros", Arc::new(Int64Array::from(vec![5, 6]))),
        ("conversions_micros", Arc::new(Int64Array::from(vec![0, 1]))),
        (
            "revenue",
            Arc::new(
                Decimal128Array::from(vec![12_345, 1])
                    .with_precision_and_scale(12, 3)
                    .unwrap(),
            ),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.write(&batch.slice(1, 1)).unwrap();
    writer.finish().unwrap();
    drop(writer);
    out
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn len_field(number: u64, value: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(value.len() as u64, out);
    out.extend_from_slice(value);
}

/// A RowBatch of two FactRows.
fn proto_seed() -> Vec<u8> {
    let mut row = Vec::new();
    for (n, v) in [
        (1, "2026-03-01"),
        (2, "google"),
        (3, "a"),
        (4, "c"),
        (6, "g"),
        (7, "x"),
        (8, "EUR"),
    ] {
        len_field(n, v.as_bytes(), &mut row);
    }
    varint(9 << 3, &mut row);
    varint(100, &mut row);
    varint(12 << 3 | 1, &mut row);
    row.extend_from_slice(&1.5f64.to_le_bytes());
    let mut batch = Vec::new();
    len_field(1, &row, &mut batch);
    len_field(1, &row, &mut batch);
    batch
}

/// An IngestRequest with a text batch.
fn envelope_seed() -> Vec<u8> {
    let mut text = Vec::new();
    varint(1 << 3, &mut text);
    varint(1, &mut text);
    len_field(2, fixture!("google_ads/ad_performance.csv"), &mut text);
    let mut batch = Vec::new();
    len_field(1, b"file:1", &mut batch);
    len_field(4, &text, &mut batch);
    let mut request = Vec::new();
    len_field(2, &batch, &mut request);
    request
}

/// (format, seed, gzip) payloads the mutations start from.
fn seeds() -> Vec<(&'static str, Vec<u8>, bool)> {
    vec![
        (
            "csv",
            fixture!("google_ads/ad_performance.csv").to_vec(),
            false,
        ),
        ("csv", fixture!("meta_ads/insights.csv").to_vec(), false),
        (
            "csv",
            fixture!("linkedin_ads/creative_analytics.csv").to_vec(),
            false,
        ),
        (
            "csv",
            fixture!("tiktok_ads/campaign_report.csv.gz").to_vec(),
            true,
        ),
        (
            "ndjson",
            fixture!("google_ads/ad_group_performance.ndjson").to_vec(),
            false,
        ),
        (
            "ndjson",
            fixture!("tiktok_ads/integrated_report.ndjson").to_vec(),
            false,
        ),
        (
            "ndjson",
            fixture!("linkedin_ads/ad_analytics.ndjson").to_vec(),
            false,
        ),
        (
            "ndjson",
            fixture!("meta_ads/insights.ndjson.gz").to_vec(),
            true,
        ),
        ("arrow_ipc", arrow_seed(), false),
        ("arrow_ipc", gz(&arrow_seed()), true),
        ("proto_rows", proto_seed(), false),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
    Truncate { at: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (
            at,
            prop::sample::select(vec![
                0u8, b'"', b',', b'\n', b'\r', b'{', b'}', b'[', b'\\', 0x80, 0xff, b'9', b'-',
                b'.'
            ])
        )
            .prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (at, prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (at, 1usize..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
        at.prop_map(|at| Mutation::Truncate { at }),
        (at, 1usize..256).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len().max(1);
        match m {
            Mutation::Flip { at, bit } => {
                if let Some(b) = bytes.get_mut(at % n) {
                    *b ^= 1 << bit;
                }
            }
            Mutation::Set { at, byte } => {
                if let Some(b) = bytes.get_mut(at % n) {
                    *b = *byte;
                }
            }
            Mutation::Insert { at, bytes: extra } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, extra.iter().copied());
            }
            Mutation::Remove { at, len } => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Truncate { at } => bytes.truncate(at % n),
            Mutation::Duplicate { at, len } => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                let copy: Vec<u8> = bytes.get(at..end).unwrap_or_default().to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_break_a_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        format in prop::sample::select(FORMATS.to_vec()),
        source in 0usize..SOURCES.len(),
        gzip in any::<bool>(),
    ) {
        let (source, options) = SOURCES[source];
        check(parse_batch(&bytes, format, source, options, &settings(gzip)));
        let _ = inspect_request(&bytes);
    }

    #[test]
    fn mutated_payloads_never_break_a_decoder(
        seed in 0usize..11,
        mutations in prop::collection::vec(mutation(), 1..6),
        source in 0usize..SOURCES.len(),
        as_format in prop::option::weighted(0.1, prop::sample::select(FORMATS.to_vec())),
    ) {
        let (format, bytes, gzip) = seeds().swap_remove(seed);
        let bytes = mutate(bytes, &mutations);
        let (source, options) = SOURCES[source];
        check(parse_batch(&bytes, as_format.unwrap_or(format), source, options, &settings(gzip)));
    }

    #[test]
    fn mutated_gzip_inside_stays_within_its_limits(
        seed in 0usize..8,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        // The text is mutated, then packed: the decoder behind gzip sees the damage.
        let (format, bytes, gzip) = seeds().swap_remove(seed);
        let plain = if gzip { return Ok(()) } else { bytes };
        let packed = gz(&mutate(plain, &mutations));
        check(parse_batch(&packed, format, "generic", &[] as &[(&str, &str)], &settings(true)));
    }

    #[test]
    fn mutated_envelopes_never_break_inspect_request(
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let raw = mutate(envelope_seed(), &mutations);
        if let Ok(header) = inspect_request(&raw) {
            // Whatever it found lies inside the request, and parses cleanly.
            prop_assert!(header.offset + header.length <= raw.len());
            if let Some(format) = header.format {
                let payload = &raw[header.offset..header.offset + header.length];
                let settings = Settings { compression: header.compression, ..settings(false) };
                check(parse_batch(payload, format.name(), "generic", &[] as &[(&str, &str)], &settings));
            }
        }
    }
}

#[test]
fn every_seed_parses_before_it_is_mutated() {
    for (format, bytes, gzip) in seeds() {
        let batch = parse_batch(
            &bytes,
            format,
            "generic",
            &[] as &[(&str, &str)],
            &settings(gzip),
        );
        let sourced = SOURCES.iter().any(|(s, o)| {
            parse_batch(&bytes, format, s, o, &settings(gzip)).is_ok_and(|b| b.facts.num_rows() > 0)
        });
        assert!(
            sourced || batch.is_ok_and(|b| b.facts.num_rows() > 0),
            "{format} seed reads no facts"
        );
    }
    let header = inspect_request(&envelope_seed()).unwrap();
    assert_eq!(header.batch_id, "file:1");
}
