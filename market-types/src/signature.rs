//! Signatures (go-state-types `crypto.Signature`).
//!
//! CBOR: a byte string `type || data`, 1..=200 bytes. JSON: `{"Type": n, "Data": base64}`.

use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder};
use crate::json::{self, JsonError, LotusJson, Map, Value};

/// Longest serialized signature go-state-types reads.
pub const MAX_SIGNATURE_LEN: u64 = 200;

/// Signature schemes, with Go's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigType {
    /// secp256k1 over blake2b-256 of the message; 65 bytes R || S || V.
    Secp256k1 = 1,
    /// BLS12-381 G2 over the raw message; 96 bytes.
    Bls = 2,
    /// Delegated (f4/eth): keccak-256 then secp256k1.
    Delegated = 3,
}

impl SigType {
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(SigType::Secp256k1),
            2 => Some(SigType::Bls),
            3 => Some(SigType::Delegated),
            _ => None,
        }
    }
}

/// A signature with its scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    pub sig_type: SigType,
    pub data: Vec<u8>,
}

impl Signature {
    pub fn new(sig_type: SigType, data: Vec<u8>) -> Self {
        Signature { sig_type, data }
    }

    /// The cbor-gen byte form: type byte followed by the data.
    pub fn to_bytes(&self) -> Vec<u8> {
        std::iter::once(self.sig_type as u8)
            .chain(self.data.iter().copied())
            .collect()
    }

    pub fn from_bytes(raw: &[u8]) -> Result<Self, String> {
        match raw.split_first() {
            None => Err("signature is empty".into()),
            Some((t, data)) => SigType::from_u8(*t)
                .map(|sig_type| Signature::new(sig_type, data.to_vec()))
                .ok_or_else(|| format!("invalid signature type in cbor input: {t}")),
        }
    }
}

impl Encode for Signature {
    fn encode(&self, e: &mut Encoder) {
        e.bytes(&self.to_bytes());
    }
}

impl Decode for Signature {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let raw = d.bytes("signature", MAX_SIGNATURE_LEN)?;
        Signature::from_bytes(raw).map_err(|reason| DecodeError::Invalid {
            what: "signature",
            reason,
            at,
        })
    }
}

impl LotusJson for Signature {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Type".into(), Value::from(self.sig_type as u8));
        m.insert("Data".into(), json::b64_encode(&self.data));
        Value::Object(m)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let mut m = json::expect_object(v, "Signature")?;
        let t: u64 = json::take_field(&mut m, "Signature", "Type")?;
        let data = json::b64_decode(m.remove("Data").unwrap_or(Value::Null))?;
        let sig_type = u8::try_from(t)
            .ok()
            .and_then(SigType::from_u8)
            .ok_or_else(|| JsonError(format!("Signature.Type: unknown signature type {t}")))?;
        Ok(Signature { sig_type, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::{from_slice, to_vec};

    #[test]
    fn byte_form_and_limits() {
        let s = Signature::new(SigType::Bls, vec![7; 96]);
        let enc = to_vec(&s);
        assert_eq!(&enc[..3], &[0x58, 97, 2]);
        assert_eq!(from_slice::<Signature>(&enc), Ok(s));
        assert!(from_slice::<Signature>(&[0x40]).is_err(), "empty");
        assert!(from_slice::<Signature>(&[0x42, 9, 0]).is_err(), "unknown type");
        let mut long = vec![0x58, 201, 1];
        long.extend([0u8; 200]);
        assert!(from_slice::<Signature>(&long).is_err(), "over 200 bytes");
    }

    #[test]
    fn json_matches_lotus() {
        let s = Signature::new(SigType::Bls, b"byte array".to_vec());
        assert_eq!(json::to_string(&s), r#"{"Type":2,"Data":"Ynl0ZSBhcnJheQ=="}"#);
        assert_eq!(
            json::from_str::<Signature>(r#"{"Type":2,"Data":"Ynl0ZSBhcnJheQ=="}"#),
            Ok(s)
        );
        assert!(json::from_str::<Signature>(r#"{"Type":9,"Data":""}"#).is_err());
    }
}
