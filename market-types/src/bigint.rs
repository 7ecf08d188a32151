//! Big integers and token amounts (go-state-types `big.Int`, `abi.TokenAmount`).
//!
//! CBOR: a byte string `sign || big-endian magnitude`, zero as the empty string, at most
//! 128 bytes. JSON: a decimal string.

pub use fvm_shared::bigint::{BigInt, Sign};
pub use fvm_shared::econ::TokenAmount;

use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder};
use crate::json::{JsonError, LotusJson, Value, string_of};

/// Longest serialized big integer go-state-types reads.
pub const MAX_BIGINT_LEN: u64 = 128;

/// The cbor-gen byte form of a big integer.
pub fn bigint_to_bytes(v: &BigInt) -> Vec<u8> {
    let (sign, magnitude) = v.to_bytes_be();
    match sign {
        Sign::NoSign => Vec::new(),
        Sign::Plus => std::iter::once(0).chain(magnitude).collect(),
        Sign::Minus => std::iter::once(1).chain(magnitude).collect(),
    }
}

/// Read the cbor-gen byte form; like Go, a leading-zero magnitude is accepted.
pub fn bigint_from_bytes(raw: &[u8]) -> Result<BigInt, String> {
    match raw.split_first() {
        None => Ok(BigInt::from(0)),
        Some((0, mag)) => Ok(BigInt::from_bytes_be(Sign::Plus, mag)),
        Some((1, mag)) => Ok(BigInt::from_bytes_be(Sign::Minus, mag)),
        Some((b, _)) => Err(format!("big int sign byte 0x{b:02x} is neither 0 nor 1")),
    }
}

impl Encode for BigInt {
    fn encode(&self, e: &mut Encoder) {
        e.bytes(&bigint_to_bytes(self));
    }
}

impl Decode for BigInt {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let raw = d.bytes("big int", MAX_BIGINT_LEN)?;
        bigint_from_bytes(raw).map_err(|reason| DecodeError::Invalid {
            what: "big int",
            reason,
            at,
        })
    }
    fn missing() -> Option<Self> {
        Some(BigInt::from(0))
    }
}

impl Encode for TokenAmount {
    fn encode(&self, e: &mut Encoder) {
        self.atto().encode(e)
    }
}

impl Decode for TokenAmount {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        BigInt::decode(d).map(TokenAmount::from_atto)
    }
    fn missing() -> Option<Self> {
        Some(TokenAmount::from_atto(0))
    }
}

impl LotusJson for BigInt {
    fn to_json(&self) -> Value {
        Value::String(self.to_string())
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let s = string_of(v, "a decimal string")?;
        s.parse::<BigInt>()
            .map_err(|e| JsonError(format!("invalid big int {s:?}: {e}")))
    }
    fn json_missing() -> Option<Self> {
        Some(BigInt::from(0))
    }
}

impl LotusJson for TokenAmount {
    fn to_json(&self) -> Value {
        self.atto().to_json()
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        BigInt::from_json(v).map(TokenAmount::from_atto)
    }
    fn json_missing() -> Option<Self> {
        Some(TokenAmount::from_atto(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::{from_slice, to_vec};

    #[test]
    fn vectors() {
        let cases: [(i128, &[u8]); 5] = [
            (0, &[0x40]),
            (1, &[0x42, 0x00, 0x01]),
            (-1, &[0x42, 0x01, 0x01]),
            (
                1_000_000_000_000_000_000,
                &[0x49, 0x00, 0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0x00, 0x00],
            ),
            (500_000_000, &[0x45, 0x00, 0x1d, 0xcd, 0x65, 0x00]),
        ];
        for (v, bytes) in cases {
            let t = TokenAmount::from_atto(v);
            assert_eq!(to_vec(&t), bytes, "{v}");
            assert_eq!(from_slice::<TokenAmount>(bytes), Ok(t));
        }
    }

    #[test]
    fn bad_sign_and_oversize_are_rejected() {
        assert!(from_slice::<BigInt>(&[0x42, 0x02, 0x01]).is_err());
        let mut long = vec![0x58, 129, 0];
        long.extend(std::iter::repeat_n(1u8, 128));
        assert!(matches!(from_slice::<BigInt>(&long), Err(DecodeError::TooLong { .. })));
    }

    #[test]
    fn json_is_a_decimal_string() {
        let t = TokenAmount::from_atto(500_000_000);
        assert_eq!(crate::json::to_string(&t), "\"500000000\"");
        assert_eq!(crate::json::from_str::<TokenAmount>("\"500000000\""), Ok(t));
        assert!(crate::json::from_str::<TokenAmount>("500000000").is_err());
        assert!(crate::json::from_str::<TokenAmount>("\"5e8\"").is_err());
    }
}
