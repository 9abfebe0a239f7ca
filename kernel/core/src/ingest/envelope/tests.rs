use super::*;
use crate::ingest::wire::encode::{bytes_field as field, varint_field as number};
use crate::ingest::PayloadErrorCode;

#[test]
fn the_field_numbers_match_ingest_service_proto() {
    let proto = include_str!("../../../../../proto/adpulse/v1/ingest_service.proto");
    let declared = |line: String| {
        assert!(
            proto.lines().any(|l| l.trim() == line),
            "ingest_service.proto has no line '{line}'"
        );
    };
    declared(format!("StreamOpen open = {REQUEST_OPEN};"));
    declared(format!("IngestBatch batch = {REQUEST_BATCH};"));
    declared(format!("string batch_id = {BATCH_ID};"));
    declared(format!("RowBatch rows = {BATCH_ROWS};"));
    declared(format!("bytes arrow_ipc = {BATCH_ARROW_IPC};"));
    declared(format!("TextPayload text = {BATCH_TEXT};"));
    declared(format!("TextFormat format = {TEXT_FORMAT};"));
    declared(format!("bytes data = {TEXT_DATA};"));
    declared(format!("Compression compression = {TEXT_COMPRESSION};"));
    declared(format!("TEXT_FORMAT_CSV = {TEXT_FORMAT_CSV};"));
    declared(format!("TEXT_FORMAT_NDJSON = {TEXT_FORMAT_NDJSON};"));
    declared(format!(
        "COMPRESSION_UNSPECIFIED = {COMPRESSION_UNSPECIFIED};"
    ));
    declared(format!("COMPRESSION_NONE = {COMPRESSION_NONE};"));
    declared(format!("COMPRESSION_GZIP = {COMPRESSION_GZIP};"));
}

fn batch(members: &[u8]) -> Vec<u8> {
    let mut request = Vec::new();
    field(REQUEST_BATCH, members, &mut request);
    request
}

fn payload<'a>(raw: &'a [u8], header: &RequestHeader) -> &'a [u8] {
    &raw[header.offset..header.offset + header.length]
}

#[test]
fn each_payload_kind_is_found_in_place() {
    let data = vec![b'x'; 300];
    for (member, format) in [
        (BATCH_ROWS, PayloadFormat::ProtoRows),
        (BATCH_ARROW_IPC, PayloadFormat::ArrowIpc),
    ] {
        let mut members = Vec::new();
        field(BATCH_ID, b"file.csv:1", &mut members);
        field(member, &data, &mut members);
        let raw = batch(&members);
        let header = inspect_request(&raw).unwrap();
        assert_eq!(header.kind, RequestKind::Batch);
        assert_eq!(header.batch_id, "file.csv:1");
        assert_eq!(header.format, Some(format));
        assert_eq!(payload(&raw, &header), &data[..]);
    }
    let mut text = Vec::new();
    number(TEXT_COMPRESSION, COMPRESSION_GZIP, &mut text);
    field(TEXT_DATA, b"a,b\n", &mut text);
    number(TEXT_FORMAT, TEXT_FORMAT_NDJSON, &mut text);
    let mut members = Vec::new();
    field(BATCH_TEXT, &text, &mut members);
    field(BATCH_ID, b"b2", &mut members);
    let raw = batch(&members);
    let header = inspect_request(&raw).unwrap();
    assert_eq!(
        (header.format, header.compression, header.batch_id.as_str()),
        (Some(PayloadFormat::Ndjson), Compression::Gzip, "b2")
    );
    assert_eq!(payload(&raw, &header), b"a,b\n");
}

#[test]
fn open_empty_and_unknown_fields() {
    let mut raw = Vec::new();
    field(REQUEST_OPEN, b"\x0a\x07generic", &mut raw);
    number(99, 5, &mut raw);
    assert_eq!(inspect_request(&raw).unwrap().kind, RequestKind::Open);
    assert_eq!(inspect_request(b"").unwrap().kind, RequestKind::Empty);
    let header = inspect_request(&batch(b"")).unwrap();
    assert_eq!(
        (header.kind, header.format, header.length),
        (RequestKind::Batch, None, 0)
    );
    let mut text = Vec::new();
    field(TEXT_DATA, b"x", &mut text);
    let mut members = Vec::new();
    field(BATCH_TEXT, &text, &mut members);
    // A text payload of unspecified format has no format to parse it with.
    assert_eq!(inspect_request(&batch(&members)).unwrap().format, None);
}

#[test]
fn the_last_payload_member_wins() {
    let mut members = Vec::new();
    field(BATCH_ARROW_IPC, b"arrow", &mut members);
    field(BATCH_ROWS, b"rows", &mut members);
    let raw = batch(&members);
    let header = inspect_request(&raw).unwrap();
    assert_eq!(header.format, Some(PayloadFormat::ProtoRows));
    assert_eq!(payload(&raw, &header), b"rows");
}

#[test]
fn malformed_envelopes_are_unreadable() {
    let mut text = Vec::new();
    number(TEXT_COMPRESSION, 7, &mut text);
    let mut members = Vec::new();
    field(BATCH_TEXT, &text, &mut members);
    let mut bad_id = Vec::new();
    field(BATCH_ID, b"\xff", &mut bad_id);
    for bad in [
        batch(&members),
        batch(&bad_id),
        vec![0x12, 0x05, 0x0a],
        vec![0x12],
        vec![0x00],
        vec![0x17],
    ] {
        let err = inspect_request(&bad).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::UnreadablePayload, "{bad:?}");
    }
}
