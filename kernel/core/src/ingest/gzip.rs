//! gzip payloads (`.csv.gz` as it is), unpacked in a streaming, bounded way: a payload that
//! unpacks to more than the limit is refused as soon as the limit is passed, so a gzip bomb
//! costs at most the limit in memory and time, never what it claims to hold.
//!
//! Beyond each payload's limit, the bytes unpacked by all payloads being read at once (in any
//! thread), with the payloads themselves and the readers' buffers (`hold`), count against one
//! process-wide budget (`set_budget`): a payload that would pass it is refused as
//! `DecompressionBusy` (retry later), so concurrent bombs cannot add up.

use std::io::Read;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use super::PayloadError;

/// Memory reserved up front when the payload says nothing of its size.
const FIRST_RESERVE: usize = 1 << 20;
const READ_CHUNK: usize = 64 << 10;
/// Deflate expands its input at most about 1032 times.
const MAX_RATIO: usize = 1032;

/// Bytes that payloads being unpacked at once may hold together.
#[derive(Debug)]
pub struct Budget {
    limit: AtomicU64,
    in_use: AtomicU64,
}

impl Budget {
    pub const fn unbounded() -> Self {
        Budget {
            limit: AtomicU64::new(u64::MAX),
            in_use: AtomicU64::new(0),
        }
    }

    fn release(&self, bytes: u64) {
        self.in_use.fetch_sub(bytes, Ordering::SeqCst);
    }

    /// Takes `bytes`, or refuses when they would pass the limit.
    fn claim(&self, bytes: u64) -> Result<(), PayloadError> {
        let limit = self.limit.load(Ordering::SeqCst);
        if self
            .in_use
            .fetch_add(bytes, Ordering::SeqCst)
            .saturating_add(bytes)
            > limit
        {
            self.release(bytes);
            return Err(PayloadError::busy(format!(
                "the server is reading as many payload bytes as it allows at once \
                 ({limit} bytes); send the batch again shortly"
            )));
        }
        Ok(())
    }
}

/// The process-wide budget every payload is unpacked against.
static BUDGET: Budget = Budget::unbounded();

/// Sets the process-wide budget of unpacked bytes held at once (default: unbounded).
pub fn set_budget(bytes: u64) {
    BUDGET.limit.store(bytes, Ordering::SeqCst);
}

/// Unpacked bytes held now by all payloads being read (buffer capacity).
pub fn in_use() -> u64 {
    BUDGET.in_use.load(Ordering::SeqCst)
}

/// Bytes a parse holds besides the unpacked payload (the request message, the CSV reader's
/// buffers), counted against the budget until dropped.
#[derive(Debug)]
pub struct Held {
    bytes: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        BUDGET.release(self.bytes);
    }
}

/// Counts `bytes` against the process-wide budget, or refuses as `DecompressionBusy`.
pub fn hold(bytes: u64) -> Result<Held, PayloadError> {
    BUDGET.claim(bytes)?;
    Ok(Held { bytes })
}

/// One payload's unpacked bytes; its buffer's capacity counts against the budget until dropped.
#[derive(Debug)]
pub struct Unpacked {
    bytes: Vec<u8>,
    held: u64,
    budget: &'static Budget,
}

impl Unpacked {
    /// Makes room for `more` bytes, the buffer growing by doubling but never past `cap`.
    fn reserve(&mut self, more: usize, cap: usize) -> Result<(), PayloadError> {
        let needed = self.bytes.len() + more;
        if needed <= self.bytes.capacity() {
            return Ok(());
        }
        let target = needed.max(self.bytes.capacity() * 2).min(cap.max(needed));
        // Growing copies the bytes into a new buffer (the allocator cannot grow one in place):
        // the old one counts until the copy is done.
        self.budget.claim(target as u64)?;
        self.bytes.reserve_exact(target - self.bytes.len());
        self.budget.release(self.held);
        self.held = target as u64;
        Ok(())
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        self.budget.release(self.held);
    }
}

impl Deref for Unpacked {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

pub fn gunzip(payload: &[u8], max_bytes: u64) -> Result<Unpacked, PayloadError> {
    gunzip_within(payload, max_bytes, &BUDGET)
}

fn gunzip_within(
    payload: &[u8],
    max_bytes: u64,
    budget: &'static Budget,
) -> Result<Unpacked, PayloadError> {
    // Concatenated members are one file to gzip(1), so they are to us.
    let mut decoder = MultiGzDecoder::new(payload).take(max_bytes.saturating_add(1));
    let cap = usize::try_from(max_bytes.saturating_add(1)).unwrap_or(usize::MAX);
    let mut out = Unpacked {
        bytes: Vec::new(),
        held: 0,
        budget,
    };
    out.reserve(first_reserve(payload).min(cap), cap)?;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let n = decoder.read(&mut chunk).map_err(|e| {
            PayloadError::unreadable(format!("the payload is not readable gzip: {e}"))
        })?;
        if n == 0 {
            break;
        }
        out.reserve(n, cap)?;
        out.bytes.extend_from_slice(&chunk[..n]);
    }
    if out.len() as u64 > max_bytes {
        return Err(PayloadError::too_large(format!(
            "the payload unpacks to more than {max_bytes} bytes"
        )));
    }
    Ok(out)
}

/// The size a payload will likely unpack to, so it is unpacked into one buffer, not copied at
/// each doubling: the last member's trailer gives its size (mod 4 GiB), and deflate cannot
/// expand more than `MAX_RATIO` times. A trailer that lies costs at most that, and the limits.
fn first_reserve(payload: &[u8]) -> usize {
    let Some(trailer) = payload.len().checked_sub(4).map(|at| &payload[at..]) else {
        return 0;
    };
    let stated = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
    let most = payload.len().saturating_mul(MAX_RATIO);
    if stated == 0 {
        return payload.len().saturating_mul(4).min(FIRST_RESERVE);
    }
    stated.min(most)
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
        assert_eq!(&*gunzip(&two, 11).unwrap(), b"hello world");
        assert_eq!(&*gunzip(&gz(b""), 0).unwrap(), b"");
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
    fn a_payload_is_unpacked_into_the_buffer_its_trailer_asks_for() {
        let data = vec![7u8; 3 << 20];
        let unpacked = gunzip(&gz(&data), 8 << 20).unwrap();
        assert_eq!(
            (unpacked.len(), unpacked.bytes.capacity()),
            (3 << 20, 3 << 20)
        );
        // A trailer that claims more than deflate can hold is not believed.
        let mut lying = gz(b"tiny");
        let at = lying.len() - 4;
        lying[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(first_reserve(&lying) <= lying.len() * MAX_RATIO);
        let err = gunzip(&lying, 100).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::UnreadablePayload);
    }

    #[test]
    fn concurrent_payloads_share_one_budget() {
        // A budget of its own: the process-wide one is shared by the tests running alongside.
        static SMALL: Budget = Budget::unbounded();
        SMALL.limit.store(6 << 20, Ordering::SeqCst);
        let packed = gz(&vec![0u8; 4 << 20]);
        let first = gunzip_within(&packed, 8 << 20, &SMALL).unwrap();
        assert!(SMALL.in_use.load(Ordering::SeqCst) >= 4 << 20);
        let err = gunzip_within(&packed, 8 << 20, &SMALL).unwrap_err();
        assert_eq!(err.code, PayloadErrorCode::DecompressionBusy);
        drop(first);
        assert_eq!(SMALL.in_use.load(Ordering::SeqCst), 0);
        assert_eq!(
            gunzip_within(&packed, 8 << 20, &SMALL).unwrap().len(),
            4 << 20
        );
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
