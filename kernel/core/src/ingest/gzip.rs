//! gzip payloads (`.csv.gz` as it is), unpacked in a streaming, bounded way: a payload that
//! unpacks to more than the limit is refused as soon as the limit is passed, so a gzip bomb
//! costs at most the limit in memory and time, never what it claims to hold.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use super::PayloadError;

/// Memory reserved up front, before the real size is known.
const FIRST_RESERVE: usize = 1 << 20;

pub fn gunzip(payload: &[u8], max_bytes: u64) -> Result<Vec<u8>, PayloadError> {
    // Concatenated members are one file to gzip(1), so they are to us.
    let decoder = MultiGzDecoder::new(payload);
    let mut out = Vec::with_capacity(payload.len().saturating_mul(4).min(FIRST_RESERVE));
    decoder
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| PayloadError::unreadable(format!("the payload is not readable gzip: {e}")))?;
    if out.len() as u64 > max_bytes {
        return Err(PayloadError::too_large(format!(
            "the payload unpacks to more than {max_bytes} bytes"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;
    use crate::ingest::PayloadErrorCode;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn members_are_unpacked_and_concatenated() {
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        assert_eq!(gunzip(&two, 11).unwrap(), b"hello world");
        assert_eq!(gunzip(&gz(b""), 0).unwrap(), b"");
    }

    #[test]
    fn a_bomb_is_refused_without_unpacking_it() {
        // 64 MiB of zeros packs into ~64 KiB; a 1 MiB limit stops after 1 MiB.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        let err = gunzip(&bomb, 1 << 20).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::PayloadTooLarge);
        assert_eq!(gunzip(&gz(&zeros), 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn damaged_gzip_is_unreadable() {
        let good = gz(b"some text to compress");
        for bad in [&b"not gzip"[..], &good[..good.len() - 3], &good[..5]] {
            let err = gunzip(bad, 100).unwrap_err();
            assert_eq!(err.code, PayloadErrorCode::UnreadablePayload);
        }
    }
}
