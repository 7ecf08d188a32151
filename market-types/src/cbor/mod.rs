//! CBOR as the Go market implementations write and read it.
//!
//! Why not a serde CBOR crate: cbor-gen's rules are not any crate's defaults. Map keys go in
//! length-first order, every field is always written, unknown keys are skipped, missing keys
//! take their zero value, text strings that hold peer IDs are not UTF-8, and each kind of
//! item has its own size limit. This module is the one place those rules live; every wire
//! type is declared with [`cbor_map!`](crate::cbor_map) or [`cbor_tuple!`](crate::cbor_tuple)
//! and gets them for free.

mod decode;
mod encode;
mod scan;

pub use decode::{DecodeError, Decoder, MAX_ARRAY_LEN, MAX_BYTES_LEN, MAX_CID_LEN, MAX_DEPTH, MAX_TEXT_LEN, Major};
pub use encode::Encoder;
pub use scan::ItemScanner;

use cid::Cid;

/// A value with a CBOR encoding.
pub trait Encode {
    fn encode(&self, e: &mut Encoder);
}

/// A value that can be read back from CBOR.
pub trait Decode: Sized {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError>;

    /// The value a Go decoder leaves in a field whose map key is absent, if the Rust type
    /// can hold it (an undefined CID or address cannot, and Go never sends those).
    fn missing() -> Option<Self> {
        None
    }
}

/// How a struct is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// cbor-gen `--map-encoding`: a map keyed by Go field names.
    Map,
    /// cbor-gen tuple encoding: a fixed-length array in Go declaration order.
    Tuple,
}

/// Layout facts of a declared wire struct, for generic tests and diagnostics.
pub trait WireShape {
    const NAME: &'static str;
    const SHAPE: Shape;
    /// Map keys (for `Shape::Map`, in wire order) or Go field names (for `Shape::Tuple`).
    const KEYS: &'static [&'static str];
}

/// Encode a value to bytes.
pub fn to_vec<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    let mut e = Encoder::new();
    value.encode(&mut e);
    e.into_bytes()
}

/// Decode exactly one value that fills the whole input.
pub fn from_slice<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut d = Decoder::new(bytes);
    let v = T::decode(&mut d)?;
    d.finish()?;
    Ok(v)
}

/// RFC 7049 canonical order, which cbor-gen uses for map keys: shorter keys first, then bytewise.
pub const fn key_before(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    false
}

/// True when `keys` are strictly increasing in canonical order (checked at compile time by the macros).
pub const fn keys_in_canonical_order(keys: &[&str]) -> bool {
    let mut i = 1;
    while i < keys.len() {
        if !key_before(keys[i - 1], keys[i]) {
            return false;
        }
        i += 1;
    }
    true
}

// ---- primitive implementations ----

impl Encode for u64 {
    fn encode(&self, e: &mut Encoder) {
        e.u64(*self)
    }
}
impl Decode for u64 {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.u64()
    }
    fn missing() -> Option<Self> {
        Some(0)
    }
}

impl Encode for i64 {
    fn encode(&self, e: &mut Encoder) {
        e.i64(*self)
    }
}
impl Decode for i64 {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.i64()
    }
    fn missing() -> Option<Self> {
        Some(0)
    }
}

impl Encode for bool {
    fn encode(&self, e: &mut Encoder) {
        e.bool(*self)
    }
}
impl Decode for bool {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.bool()
    }
    fn missing() -> Option<Self> {
        Some(false)
    }
}

/// Go `string` fields: UTF-8 text of at most 8192 bytes.
impl Encode for String {
    fn encode(&self, e: &mut Encoder) {
        e.text(self)
    }
}
impl Decode for String {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        Ok(d.text(MAX_TEXT_LEN)?.to_owned())
    }
    fn missing() -> Option<Self> {
        Some(String::new())
    }
}

impl Encode for Cid {
    fn encode(&self, e: &mut Encoder) {
        e.cid(self)
    }
}
impl Decode for Cid {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.cid()
    }
}

/// Go pointers: `nil` is `null`.
impl<T: Encode> Encode for Option<T> {
    fn encode(&self, e: &mut Encoder) {
        match self {
            Some(v) => v.encode(e),
            None => e.null(),
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        if d.peek_null() {
            d.null()?;
            Ok(None)
        } else {
            T::decode(d).map(Some)
        }
    }
    fn missing() -> Option<Self> {
        Some(None)
    }
}

/// Go slices of structs or numbers: arrays of at most 8192 elements. A nil slice is written
/// by cbor-gen as an empty array, and read back as empty.
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, e: &mut Encoder) {
        e.array(self.len());
        for v in self {
            v.encode(e);
        }
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        if d.peek_null() {
            d.null()?;
            return Ok(Vec::new());
        }
        let n = d.array(MAX_ARRAY_LEN)?;
        // Reserve for a few elements only: the count is a claim of the input, and the
        // elements may be much larger in memory than on the wire. Growth follows real data.
        let mut out = Vec::with_capacity(n.min(16));
        for _ in 0..n {
            out.push(T::decode(d)?);
        }
        Ok(out)
    }
    fn missing() -> Option<Self> {
        Some(Vec::new())
    }
}

/// Tuples of two, for Go types like `Merge` declared elsewhere as structs.
impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode(&self, e: &mut Encoder) {
        e.array(2);
        self.0.encode(e);
        self.1.encode(e);
    }
}
impl<A: Decode, B: Decode> Decode for (A, B) {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let n = d.array(2)?;
        if n != 2 {
            return Err(DecodeError::Arity {
                ty: "pair",
                expected: 2,
                got: n as u64,
            });
        }
        Ok((A::decode(d)?, B::decode(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
            .collect()
    }

    #[test]
    fn integers_use_the_shortest_header() {
        for (v, want) in [
            (0u64, "00"),
            (23, "17"),
            (24, "1818"),
            (255, "18ff"),
            (256, "190100"),
            (65535, "19ffff"),
            (65536, "1a00010000"),
            (u32::MAX as u64, "1affffffff"),
            (1 << 32, "1b0000000100000000"),
        ] {
            assert_eq!(to_vec(&v), hex(want), "{v}");
            assert_eq!(from_slice::<u64>(&hex(want)), Ok(v));
        }
        assert_eq!(to_vec(&-1i64), hex("20"));
        assert_eq!(to_vec(&-25i64), hex("3818"));
        assert_eq!(to_vec(&i64::MIN), hex("3b7fffffffffffffff"));
        assert_eq!(from_slice::<i64>(&hex("3b7fffffffffffffff")), Ok(i64::MIN));
    }

    #[test]
    fn non_minimal_and_indefinite_items_are_rejected() {
        for bad in ["1817", "1900ff", "1a0000ffff", "1b00000000ffffffff"] {
            assert_eq!(from_slice::<u64>(&hex(bad)), Err(DecodeError::NonMinimal(0)), "{bad}");
        }
        assert_eq!(from_slice::<Vec<u64>>(&hex("9f01ff")), Err(DecodeError::Indefinite(0)));
        assert_eq!(from_slice::<String>(&hex("7f6161ff")), Err(DecodeError::Indefinite(0)));
    }

    #[test]
    fn int64_out_of_range_is_rejected() {
        assert!(matches!(
            from_slice::<i64>(&hex("1b8000000000000000")),
            Err(DecodeError::OutOfRange { .. })
        ));
        assert!(matches!(
            from_slice::<i64>(&hex("3b8000000000000000")),
            Err(DecodeError::OutOfRange { .. })
        ));
    }

    #[test]
    fn lengths_are_checked_before_allocation() {
        // An array claiming 8000 elements in a 3-byte input.
        assert_eq!(from_slice::<Vec<u64>>(&hex("991f40")), Err(DecodeError::Eof(3)));
        // A byte string over the 2 MiB limit.
        assert!(matches!(
            Decoder::new(&hex("5a00200001")).bytes("bytes", MAX_BYTES_LEN),
            Err(DecodeError::TooLong { .. })
        ));
        // A text string over 8192 bytes.
        assert!(matches!(
            from_slice::<String>(&hex("792001")),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert_eq!(from_slice::<u64>(&hex("0101")), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn cids_are_tag_42_with_a_zero_prefix() {
        let cid: Cid = "bafkqaaa".parse().expect("cid");
        assert_eq!(to_vec(&cid), hex("d82a450001550000"));
        assert_eq!(from_slice::<Cid>(&hex("d82a450001550000")), Ok(cid));
        // Wrong tag, missing 0x00 prefix, trailing garbage inside the byte string.
        assert!(from_slice::<Cid>(&hex("d82b450001550000")).is_err());
        assert!(from_slice::<Cid>(&hex("d82a4401550000")).is_err());
        assert!(from_slice::<Cid>(&hex("d82a46000155000000")).is_err());
    }

    #[test]
    fn skip_walks_nested_items_and_limits_depth() {
        let item = hex("a2616182f6f56162fb3ff0000000000000");
        let mut d = Decoder::new(&item);
        assert_eq!(d.skip().map(<[u8]>::len), Ok(item.len()));
        let deep = vec![0x81u8; 200];
        assert!(matches!(Decoder::new(&deep).skip(), Err(DecodeError::TooDeep(_))));
        // Half and single precision floats are not dag-cbor.
        assert!(Decoder::new(&hex("f93c00")).skip().is_err());
    }

    #[test]
    fn canonical_key_order_is_length_first() {
        assert!(keys_in_canonical_order(&[
            "Miner",
            "Price",
            "SeqNo",
            "Expiry",
            "Timestamp"
        ]));
        assert!(!keys_in_canonical_order(&["Price", "Miner"]));
        assert!(!keys_in_canonical_order(&["Expiry", "Miner"]));
    }
}
