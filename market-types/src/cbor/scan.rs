//! Where one CBOR item ends, found as its bytes arrive: each byte is looked at once, however
//! the input is cut. A stream reader feeds it every read and decodes the item (with all of
//! [`Decoder`](super::Decoder)'s checks) once it is complete, instead of parsing the whole
//! buffer again after each read, which a peer sending a byte at a time would make quadratic.

use super::DecodeError;

/// Finds the end of the first CBOR item in a byte stream. It only follows the structure
/// (heads, string lengths, array and map counts, tags); everything else is the decoder's job.
#[derive(Debug, Clone)]
pub struct ItemScanner {
    /// Items still needed before the first is complete.
    pending: u64,
    /// String payload bytes still to pass.
    payload: u64,
    /// The head being read (its first byte, then its argument's bytes).
    head: [u8; 9],
    head_len: usize,
    /// Bytes seen so far.
    seen: usize,
}

impl Default for ItemScanner {
    fn default() -> Self {
        ItemScanner {
            pending: 1,
            payload: 0,
            head: [0; 9],
            head_len: 0,
            seen: 0,
        }
    }
}

impl ItemScanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes seen so far.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Take the next bytes of the stream: `Some(n)` when the item ends after the first `n` of
    /// them (the rest belong to what follows), `None` when it needs more. An indefinite
    /// length or a reserved head is refused.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<Option<usize>, DecodeError> {
        let start = bytes.len();
        while !bytes.is_empty() {
            if self.payload > 0 {
                let n = usize::try_from(self.payload).unwrap_or(usize::MAX).min(bytes.len());
                self.payload -= n as u64;
                self.seen += n;
                bytes = &bytes[n..];
            } else {
                let at = self.seen;
                self.head[self.head_len] = bytes[0];
                self.head_len += 1;
                self.seen += 1;
                bytes = &bytes[1..];
                let arg_len = match self.head[0] & 0x1f {
                    0..=23 => 0,
                    24 => 1,
                    25 => 2,
                    26 => 4,
                    27 => 8,
                    31 => return Err(DecodeError::Indefinite(at + 1 - self.head_len)),
                    _ => {
                        return Err(DecodeError::Invalid {
                            what: "CBOR head",
                            reason: "reserved additional information (28-30)".into(),
                            at: at + 1 - self.head_len,
                        });
                    }
                };
                if self.head_len < 1 + arg_len {
                    continue;
                }
                let value = match arg_len {
                    0 => u64::from(self.head[0] & 0x1f),
                    n => self.head[1..=n].iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)),
                };
                let major = self.head[0] >> 5;
                self.head_len = 0;
                self.pending -= 1;
                match major {
                    2 | 3 => self.payload = value,
                    4 => self.pending = self.pending.saturating_add(value),
                    5 => self.pending = self.pending.saturating_add(value.saturating_mul(2)),
                    6 => self.pending = self.pending.saturating_add(1),
                    _ => {}
                }
            }
            if self.pending == 0 && self.payload == 0 {
                return Ok(Some(start - bytes.len()));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::Decoder;

    /// The item's length, fed `step` bytes at a time.
    fn scan(input: &[u8], step: usize) -> Result<Option<usize>, DecodeError> {
        let mut s = ItemScanner::new();
        let mut done = 0;
        for chunk in input.chunks(step.max(1)) {
            if let Some(n) = s.feed(chunk)? {
                return Ok(Some(done + n));
            }
            done += chunk.len();
        }
        Ok(None)
    }

    #[test]
    fn it_ends_where_the_decoder_does_however_the_input_is_cut() {
        for t in crate::testing::WIRE_TYPES {
            for seed in [&b""[..], b"abc", &[9; 300]] {
                let mut bytes = (t.sample)(seed);
                let len = Decoder::new(&bytes).skip().expect("a sample is one item").len();
                bytes.extend_from_slice(b"\x01\x02trailing");
                for step in [1, 2, 3, 7, 64, 4096] {
                    assert_eq!(scan(&bytes, step), Ok(Some(len)), "{} in steps of {step}", t.name);
                }
            }
        }
    }

    #[test]
    fn an_incomplete_item_needs_more_and_a_bad_head_is_refused() {
        // An array of 3 with 2 items; a byte string short of its length; a head cut short.
        for input in [&[0x83, 0x01, 0x02][..], &[0x44, 1, 2], &[0x1a, 0, 0]] {
            assert_eq!(scan(input, 1), Ok(None), "{input:02x?}");
        }
        assert_eq!(scan(&[0x82, 0x9f], 1), Err(DecodeError::Indefinite(1)));
        assert!(matches!(scan(&[0x1c], 1), Err(DecodeError::Invalid { at: 0, .. })));
        // A huge claimed count never completes (the reader's size limit ends it).
        assert_eq!(
            scan(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 1),
            Ok(None)
        );
        // A map counts keys and values; a tag its one item.
        assert_eq!(scan(&[0xa1, 0x61, b'a', 0x01, 0xff], 1), Ok(Some(4)));
        assert_eq!(scan(&[0xd8, 0x2a, 0x41, 0x00, 0xff], 2), Ok(Some(4)));
    }
}
