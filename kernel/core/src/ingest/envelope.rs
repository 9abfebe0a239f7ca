//! The envelope of a serialized `adpulse.v1.IngestRequest`, read without touching the rows: the
//! server hands the request's bytes to the kernel and gets back where the payload lies in
//! them, so no row ever becomes a Python object. Field numbers are checked against
//! ingest_service.proto by a test.

use super::wire::{Wire, WIRE_LEN, WIRE_VARINT};
use super::{Compression, PayloadError, PayloadFormat};

/// `IngestRequest.open`, `IngestRequest.batch`.
const REQUEST_OPEN: u32 = 1;
const REQUEST_BATCH: u32 = 2;
/// `IngestBatch.batch_id`, `.rows`, `.arrow_ipc`, `.text`.
const BATCH_ID: u32 = 1;
const BATCH_ROWS: u32 = 2;
const BATCH_ARROW_IPC: u32 = 3;
const BATCH_TEXT: u32 = 4;
/// `TextPayload.format`, `.data`, `.compression`.
const TEXT_FORMAT: u32 = 1;
const TEXT_DATA: u32 = 2;
const TEXT_COMPRESSION: u32 = 3;
/// `TextFormat` and `Compression` values.
const TEXT_FORMAT_CSV: u64 = 1;
const TEXT_FORMAT_NDJSON: u64 = 2;
const COMPRESSION_UNSPECIFIED: u64 = 0;
const COMPRESSION_NONE: u64 = 1;
const COMPRESSION_GZIP: u64 = 2;

const MESSAGE: &str = "IngestRequest";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Open,
    Batch,
    Empty,
}

impl RequestKind {
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Open => "open",
            RequestKind::Batch => "batch",
            RequestKind::Empty => "empty",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub kind: RequestKind,
    pub batch_id: String,
    /// None: no payload, or a text payload of unspecified format.
    pub format: Option<PayloadFormat>,
    pub compression: Compression,
    /// Where the payload lies in the request.
    pub offset: usize,
    pub length: usize,
}

/// The payload member of the `IngestBatch.payload` oneof, as it stands in the request.
#[derive(Debug, Default, Clone, Copy)]
struct TextFields {
    format: u64,
    data: Option<(usize, usize)>,
    compression: u64,
}

/// Reads the envelope. Later fields win over earlier ones, as protobuf parsers merge them.
pub fn inspect_request(raw: &[u8]) -> Result<RequestHeader, PayloadError> {
    let mut header = RequestHeader {
        kind: RequestKind::Empty,
        batch_id: String::new(),
        format: None,
        compression: Compression::None,
        offset: 0,
        length: 0,
    };
    let mut request = Wire::new(raw, MESSAGE);
    while let Some((number, wire_type)) = request.tag()? {
        match (number, wire_type) {
            (REQUEST_OPEN, WIRE_LEN) => {
                request.bytes()?;
                header = RequestHeader {
                    kind: RequestKind::Open,
                    ..empty_batch()
                };
            }
            (REQUEST_BATCH, WIRE_LEN) => {
                let start = request.position();
                let batch = request.bytes()?;
                // The length prefix sits between `start` and the batch's first byte.
                let base = start + (request.position() - start - batch.len());
                if header.kind != RequestKind::Batch {
                    header = empty_batch();
                }
                read_batch(batch, base, &mut header)?;
            }
            _ => request.skip(wire_type)?,
        }
    }
    Ok(header)
}

fn empty_batch() -> RequestHeader {
    RequestHeader {
        kind: RequestKind::Batch,
        batch_id: String::new(),
        format: None,
        compression: Compression::None,
        offset: 0,
        length: 0,
    }
}

/// Reads an `IngestBatch` that starts at `base` in the request.
fn read_batch(bytes: &[u8], base: usize, header: &mut RequestHeader) -> Result<(), PayloadError> {
    let mut batch = Wire::new(bytes, MESSAGE);
    let mut text: Option<TextFields> = None;
    while let Some((number, wire_type)) = batch.tag()? {
        if wire_type != WIRE_LEN || !(BATCH_ID..=BATCH_TEXT).contains(&number) {
            batch.skip(wire_type)?;
            continue;
        }
        let value = batch.bytes()?;
        let offset = base + batch.position() - value.len();
        match number {
            BATCH_ID => {
                header.batch_id = std::str::from_utf8(value)
                    .map_err(|_| PayloadError::unreadable("the batch id is not valid UTF-8"))?
                    .to_owned();
            }
            BATCH_TEXT => {
                // A repeated text member merges into the one before it.
                let mut fields = text.unwrap_or_default();
                read_text(value, offset, &mut fields)?;
                text = Some(fields);
                set_text(header, fields)?;
            }
            BATCH_ROWS | BATCH_ARROW_IPC => {
                text = None;
                header.format = Some(if number == BATCH_ROWS {
                    PayloadFormat::ProtoRows
                } else {
                    PayloadFormat::ArrowIpc
                });
                header.compression = Compression::None;
                header.offset = offset;
                header.length = value.len();
            }
            _ => unreachable!("numbers outside the batch's fields are skipped above"),
        }
    }
    Ok(())
}

fn read_text(bytes: &[u8], base: usize, fields: &mut TextFields) -> Result<(), PayloadError> {
    let mut text = Wire::new(bytes, MESSAGE);
    while let Some((number, wire_type)) = text.tag()? {
        match (number, wire_type) {
            (TEXT_FORMAT, WIRE_VARINT) => fields.format = text.varint()?,
            (TEXT_COMPRESSION, WIRE_VARINT) => fields.compression = text.varint()?,
            (TEXT_DATA, WIRE_LEN) => {
                let data = text.bytes()?;
                fields.data = Some((base + text.position() - data.len(), data.len()));
            }
            _ => text.skip(wire_type)?,
        }
    }
    Ok(())
}

fn set_text(header: &mut RequestHeader, fields: TextFields) -> Result<(), PayloadError> {
    header.format = match fields.format {
        TEXT_FORMAT_CSV => Some(PayloadFormat::Csv),
        TEXT_FORMAT_NDJSON => Some(PayloadFormat::Ndjson),
        _ => None,
    };
    header.compression = match fields.compression {
        COMPRESSION_UNSPECIFIED | COMPRESSION_NONE => Compression::None,
        COMPRESSION_GZIP => Compression::Gzip,
        other => {
            return Err(PayloadError::unreadable(format!(
                "the text payload's compression {other} is not one this server knows"
            )))
        }
    };
    (header.offset, header.length) = fields.data.unwrap_or((0, 0));
    Ok(())
}

#[cfg(test)]
mod tests;
