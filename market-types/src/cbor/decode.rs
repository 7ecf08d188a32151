//! A strict CBOR reader with the rules of Go's cbor-gen (and go-ipld-prime's dag-cbor):
//! shortest integer headers only, no indefinite lengths, only tag 42, size limits checked
//! before anything is allocated.

use std::fmt;

/// Largest text string cbor-gen reads (`cbg.MaxLength`).
pub const MAX_TEXT_LEN: u64 = 8192;
/// Largest array or map cbor-gen reads (`cbg.MaxLength`).
pub const MAX_ARRAY_LEN: u64 = 8192;
/// Largest byte string cbor-gen reads (`cbg.ByteArrayMaxLen`, 2 MiB).
pub const MAX_BYTES_LEN: u64 = 2 << 20;
/// Largest serialized CID go-cid accepts inside CBOR.
pub const MAX_CID_LEN: u64 = 512;
/// Deepest nesting accepted when skipping or capturing arbitrary items.
pub const MAX_DEPTH: u32 = 64;

/// Why a CBOR input was refused. Every variant says where (byte offset) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unexpected end of input at byte {0}")]
    Eof(usize),
    #[error("cbor input was not canonical at byte {0}: integer header is not in its shortest form")]
    NonMinimal(usize),
    #[error("indefinite-length item at byte {0}: not allowed in dag-cbor")]
    Indefinite(usize),
    #[error("expected {expected} at byte {at}, found {found}")]
    Type {
        expected: &'static str,
        found: &'static str,
        at: usize,
    },
    #[error("{what} at byte {at} has length {len}, over the limit of {max}")]
    TooLong {
        what: &'static str,
        len: u64,
        max: u64,
        at: usize,
    },
    #[error("integer {value} at byte {at} does not fit {target}")]
    OutOfRange {
        value: String,
        target: &'static str,
        at: usize,
    },
    #[error("wrong number of fields in {ty}: expected {expected}, got {got}")]
    Arity {
        ty: &'static str,
        expected: usize,
        got: u64,
    },
    #[error("missing field {field} in {ty}")]
    Missing { ty: &'static str, field: &'static str },
    #[error("invalid {what} at byte {at}: {reason}")]
    Invalid {
        what: &'static str,
        reason: String,
        at: usize,
    },
    #[error("nesting deeper than {MAX_DEPTH} levels at byte {0}")]
    TooDeep(usize),
    #[error("{0} bytes left over after the item")]
    Trailing(usize),
    #[error("in {ty}.{field}: {source}")]
    InField {
        ty: &'static str,
        field: &'static str,
        source: Box<DecodeError>,
    },
}

impl DecodeError {
    /// Attach the struct and field being decoded, so the message points at the culprit.
    pub fn in_field(self, ty: &'static str, field: &'static str) -> Self {
        DecodeError::InField {
            ty,
            field,
            source: Box::new(self),
        }
    }

    /// The innermost error, without the field path.
    pub fn root(&self) -> &DecodeError {
        match self {
            DecodeError::InField { source, .. } => source.root(),
            other => other,
        }
    }
}

/// CBOR major types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Major {
    Unsigned,
    Negative,
    Bytes,
    Text,
    Array,
    Map,
    Tag,
    Simple,
}

impl Major {
    fn from_bits(b: u8) -> Self {
        match b >> 5 {
            0 => Major::Unsigned,
            1 => Major::Negative,
            2 => Major::Bytes,
            3 => Major::Text,
            4 => Major::Array,
            5 => Major::Map,
            6 => Major::Tag,
            _ => Major::Simple,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Major::Unsigned => "unsigned integer",
            Major::Negative => "negative integer",
            Major::Bytes => "byte string",
            Major::Text => "text string",
            Major::Array => "array",
            Major::Map => "map",
            Major::Tag => "tag",
            Major::Simple => "simple value",
        }
    }
}

impl fmt::Display for Major {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const NULL: u8 = 0xf6;
const UNDEFINED: u8 = 0xf7;
const FALSE: u8 = 0xf4;
const TRUE: u8 = 0xf5;
const FLOAT64: u8 = 0xfb;

/// A cursor over one CBOR input.
#[derive(Debug)]
pub struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Decoder { input, pos: 0 }
    }

    /// Byte offset of the next item.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Fail unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Eof(self.input.len()));
        }
        let out = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn peek_byte(&self) -> Result<u8, DecodeError> {
        self.input.get(self.pos).copied().ok_or(DecodeError::Eof(self.pos))
    }

    /// The major type of the next item, without consuming it.
    pub fn peek_major(&self) -> Result<Major, DecodeError> {
        Ok(Major::from_bits(self.peek_byte()?))
    }

    /// True when the next item is `null`.
    pub fn peek_null(&self) -> bool {
        self.input.get(self.pos) == Some(&NULL)
    }

    /// Read a header of a non-simple item: (major, argument), rejecting non-minimal encodings.
    fn header(&mut self) -> Result<(Major, u64, usize), DecodeError> {
        let at = self.pos;
        let first = self.take(1)?[0];
        let major = Major::from_bits(first);
        let info = first & 0x1f;
        let arg = match info {
            0..=23 => u64::from(info),
            24 => {
                let v = u64::from(self.take(1)?[0]);
                if v < 24 {
                    return Err(DecodeError::NonMinimal(at));
                }
                v
            }
            25 => {
                let b = self.take(2)?;
                let v = u64::from(u16::from_be_bytes([b[0], b[1]]));
                if v <= 0xff {
                    return Err(DecodeError::NonMinimal(at));
                }
                v
            }
            26 => {
                let b = self.take(4)?;
                let v = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                if v <= 0xffff {
                    return Err(DecodeError::NonMinimal(at));
                }
                v
            }
            27 => {
                let b = self.take(8)?;
                let mut arr = [0u8; 8];
                arr.copy_from_slice(b);
                let v = u64::from_be_bytes(arr);
                if v <= 0xffff_ffff {
                    return Err(DecodeError::NonMinimal(at));
                }
                v
            }
            31 => return Err(DecodeError::Indefinite(at)),
            _ => {
                return Err(DecodeError::Invalid {
                    what: "cbor header",
                    reason: format!("reserved additional information {info}"),
                    at,
                });
            }
        };
        Ok((major, arg, at))
    }

    fn expect(&mut self, want: Major) -> Result<(u64, usize), DecodeError> {
        let at = self.pos;
        let found = self.peek_major()?;
        if found != want {
            return Err(DecodeError::Type {
                expected: want.name(),
                found: found.name(),
                at,
            });
        }
        let (_, arg, at) = self.header()?;
        Ok((arg, at))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(self.expect(Major::Unsigned)?.0)
    }

    /// An `int64` as cbor-gen writes it: major 0 for values ≥ 0, major 1 for negative ones.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        let at = self.pos;
        match self.peek_major()? {
            Major::Unsigned => {
                let v = self.u64()?;
                i64::try_from(v).map_err(|_| DecodeError::OutOfRange {
                    value: v.to_string(),
                    target: "int64",
                    at,
                })
            }
            Major::Negative => {
                let (_, n, _) = self.header()?;
                let n = i64::try_from(n).map_err(|_| DecodeError::OutOfRange {
                    value: format!("-1-{n}"),
                    target: "int64",
                    at,
                })?;
                Ok(-1 - n)
            }
            other => Err(DecodeError::Type {
                expected: "integer",
                found: other.name(),
                at,
            }),
        }
    }

    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        let at = self.pos;
        match self.peek_byte()? {
            FALSE => {
                self.pos += 1;
                Ok(false)
            }
            TRUE => {
                self.pos += 1;
                Ok(true)
            }
            b => Err(DecodeError::Type {
                expected: "bool",
                found: Major::from_bits(b).name(),
                at,
            }),
        }
    }

    /// Consume a `null`.
    pub fn null(&mut self) -> Result<(), DecodeError> {
        let at = self.pos;
        if self.peek_byte()? == NULL {
            self.pos += 1;
            Ok(())
        } else {
            Err(DecodeError::Type {
                expected: "null",
                found: self.peek_major()?.name(),
                at,
            })
        }
    }

    fn sized(&mut self, major: Major, what: &'static str, max: u64) -> Result<&'a [u8], DecodeError> {
        let (len, at) = self.expect(major)?;
        if len > max {
            return Err(DecodeError::TooLong { what, len, max, at });
        }
        // `len <= max` keeps this conversion lossless; `take` refuses lengths past the input.
        self.take(len as usize)
    }

    /// A byte string of at most `max` bytes.
    pub fn bytes(&mut self, what: &'static str, max: u64) -> Result<&'a [u8], DecodeError> {
        self.sized(Major::Bytes, what, max)
    }

    /// A text string's raw bytes, not checked for UTF-8 (as cbor-gen and go-ipld-prime do).
    pub fn text_raw(&mut self, max: u64) -> Result<&'a [u8], DecodeError> {
        self.sized(Major::Text, "text string", max)
    }

    /// A text string that must be valid UTF-8.
    pub fn text(&mut self, max: u64) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let raw = self.text_raw(max)?;
        std::str::from_utf8(raw).map_err(|e| DecodeError::Invalid {
            what: "text string",
            reason: format!("not UTF-8: {e}"),
            at,
        })
    }

    /// An array header; returns the element count (at most `max`).
    pub fn array(&mut self, max: u64) -> Result<usize, DecodeError> {
        let (len, at) = self.expect(Major::Array)?;
        self.check_count("array", len, max, at)
    }

    /// A map header; returns the number of entries (at most `max`).
    pub fn map(&mut self, max: u64) -> Result<usize, DecodeError> {
        let (len, at) = self.expect(Major::Map)?;
        self.check_count("map", len, max, at)
    }

    fn check_count(&self, what: &'static str, len: u64, max: u64, at: usize) -> Result<usize, DecodeError> {
        if len > max {
            return Err(DecodeError::TooLong { what, len, max, at });
        }
        // Every element takes at least one byte: a count larger than the rest of the input
        // is a lie, refused before anyone sizes an allocation by it.
        if len > self.remaining() as u64 {
            return Err(DecodeError::Eof(self.input.len()));
        }
        Ok(len as usize)
    }

    /// A tag header; returns the tag number.
    pub fn tag(&mut self) -> Result<u64, DecodeError> {
        Ok(self.expect(Major::Tag)?.0)
    }

    /// A CID link: tag 42 around a byte string holding 0x00 followed by the binary CID.
    pub fn cid(&mut self) -> Result<cid::Cid, DecodeError> {
        self.cid_sized()
    }

    /// A CID link whose multihash digest may be up to `S` bytes (an inlined identity CID
    /// of a block's links can carry more than the 64 of [`cid::Cid`]).
    pub fn cid_sized<const S: usize>(&mut self) -> Result<cid::CidGeneric<S>, DecodeError> {
        let at = self.pos;
        let tag = self.tag()?;
        if tag != 42 {
            return Err(DecodeError::Invalid {
                what: "cid",
                reason: format!("tag {tag} instead of 42"),
                at,
            });
        }
        let raw = self.bytes("cid", MAX_CID_LEN)?;
        parse_cid_bytes(raw, at)
    }

    /// Skip one whole item of any kind and return its bytes.
    pub fn skip(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        self.skip_at_depth(0)?;
        Ok(&self.input[start..self.pos])
    }

    fn skip_at_depth(&mut self, depth: u32) -> Result<(), DecodeError> {
        let at = self.pos;
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep(at));
        }
        match self.peek_major()? {
            Major::Unsigned | Major::Negative => {
                self.header()?;
            }
            Major::Bytes => {
                self.bytes("byte string", MAX_BYTES_LEN)?;
            }
            Major::Text => {
                self.text_raw(MAX_BYTES_LEN)?;
            }
            Major::Array => {
                let n = self.array(u64::MAX)?;
                for _ in 0..n {
                    self.skip_at_depth(depth + 1)?;
                }
            }
            Major::Map => {
                let n = self.map(u64::MAX)?;
                for _ in 0..n {
                    let key_at = self.pos;
                    if self.peek_major()? != Major::Text {
                        return Err(DecodeError::Type {
                            expected: "text string map key",
                            found: self.peek_major()?.name(),
                            at: key_at,
                        });
                    }
                    self.text_raw(MAX_TEXT_LEN)?;
                    self.skip_at_depth(depth + 1)?;
                }
            }
            Major::Tag => {
                self.cid()?;
            }
            Major::Simple => match self.peek_byte()? {
                FALSE | TRUE | NULL | UNDEFINED => self.pos += 1,
                FLOAT64 => {
                    self.take(9)?;
                }
                b => {
                    return Err(DecodeError::Invalid {
                        what: "simple value",
                        reason: format!("byte 0x{b:02x} is not allowed in dag-cbor"),
                        at,
                    });
                }
            },
        }
        Ok(())
    }
}

/// Parse the content of a CID byte string (the leading 0x00 multibase byte included).
pub(crate) fn parse_cid_bytes<const S: usize>(raw: &[u8], at: usize) -> Result<cid::CidGeneric<S>, DecodeError> {
    let invalid = |reason: String| DecodeError::Invalid {
        what: "cid",
        reason,
        at,
    };
    match raw.split_first() {
        Some((0, rest)) => {
            let mut cursor = std::io::Cursor::new(rest);
            let cid = cid::CidGeneric::<S>::read_bytes(&mut cursor).map_err(|e| invalid(e.to_string()))?;
            if cursor.position() as usize != rest.len() {
                return Err(invalid("trailing bytes after the cid".into()));
            }
            Ok(cid)
        }
        Some((b, _)) => Err(invalid(format!("multibase prefix 0x{b:02x} instead of 0x00"))),
        None => Err(invalid("empty".into())),
    }
}
