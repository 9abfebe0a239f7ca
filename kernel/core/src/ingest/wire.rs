//! A cursor over protobuf wire format, shared by the RowBatch decoder and the IngestRequest
//! envelope reader. Every read is bounds-checked: malformed bytes are an error, never a panic.

use super::PayloadError;

pub const WIRE_VARINT: u8 = 0;
pub const WIRE_I64: u8 = 1;
pub const WIRE_LEN: u8 = 2;
pub const WIRE_I32: u8 = 5;

pub struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The message being read, for error messages.
    message: &'static str,
}

impl<'a> Wire<'a> {
    pub fn new(buf: &'a [u8], message: &'static str) -> Self {
        Wire {
            buf,
            pos: 0,
            message,
        }
    }

    /// Where the cursor is in the bytes it was given.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn error(&self, what: &str) -> PayloadError {
        PayloadError::unreadable(format!(
            "the payload is not a valid {}: {what}",
            self.message
        ))
    }

    fn truncated(&self) -> PayloadError {
        self.error("it ends in the middle of a field")
    }

    /// The next field's (number, wire type), or None at the end.
    pub fn tag(&mut self) -> Result<Option<(u32, u8)>, PayloadError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|n| *n != 0)
            .ok_or_else(|| self.error("bad field number"))?;
        Ok(Some((number, (key & 7) as u8)))
    }

    pub fn varint(&mut self) -> Result<u64, PayloadError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or_else(|| self.truncated())?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error("a varint is too long"))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], PayloadError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| self.truncated())?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// A length-delimited field's bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], PayloadError> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.truncated())?;
        self.take(len)
    }

    pub fn fixed64(&mut self) -> Result<u64, PayloadError> {
        let bytes = self.take(8)?;
        let bytes: [u8; 8] = bytes.try_into().map_err(|_| self.truncated())?;
        Ok(u64::from_le_bytes(bytes))
    }

    pub fn skip(&mut self, wire_type: u8) -> Result<(), PayloadError> {
        match wire_type {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_I64 => self.take(8).map(drop),
            WIRE_LEN => self.bytes().map(drop),
            WIRE_I32 => self.take(4).map(drop),
            _ => Err(self.error(&format!("unsupported wire type {wire_type}"))),
        }
    }
}

/// Writing wire format, for tests that build messages by hand.
#[cfg(test)]
pub mod encode {
    pub fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// A length-delimited field.
    pub fn bytes_field(number: u32, value: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(number << 3 | 2), out);
        varint(value.len() as u64, out);
        out.extend_from_slice(value);
    }

    pub fn varint_field(number: u32, value: u64, out: &mut Vec<u8>) {
        varint(u64::from(number << 3), out);
        varint(value, out);
    }
}
