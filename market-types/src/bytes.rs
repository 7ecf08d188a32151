//! Byte-like leaf values: byte strings, peer IDs, UUIDs.

use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder, MAX_BYTES_LEN, MAX_TEXT_LEN};
use crate::json::{self, JsonError, LotusJson, Value, string_of};

/// A Go `[]byte` field: a CBOR byte string (at most 2 MiB), base64 in JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Encode for Bytes {
    fn encode(&self, e: &mut Encoder) {
        e.bytes(&self.0);
    }
}

impl Decode for Bytes {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        // cbor-gen reads a null []byte as nil.
        if d.peek_null() {
            d.null()?;
            return Ok(Bytes::default());
        }
        Ok(Bytes(d.bytes("byte string", MAX_BYTES_LEN)?.to_vec()))
    }
    fn missing() -> Option<Self> {
        Some(Bytes::default())
    }
}

impl LotusJson for Bytes {
    fn to_json(&self) -> Value {
        json::b64_encode(&self.0)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        json::b64_decode(v).map(Bytes)
    }
    fn json_missing() -> Option<Self> {
        Some(Bytes::default())
    }
}

/// A libp2p peer ID as its raw multihash bytes. Printed (and JSON) as base58btc.
///
/// On chain (miner info) it travels as a CBOR byte string; see [`PeerIdText`] for the
/// data-transfer form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub Vec<u8>);

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&bs58::encode(&self.0).into_string())
    }
}

impl std::str::FromStr for PeerId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        bs58::decode(s)
            .into_vec()
            .map(PeerId)
            .map_err(|e| format!("invalid peer id {s:?}: {e}"))
    }
}

impl Encode for PeerId {
    fn encode(&self, e: &mut Encoder) {
        e.bytes(&self.0);
    }
}

impl Decode for PeerId {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        Ok(PeerId(d.bytes("peer id", MAX_TEXT_LEN)?.to_vec()))
    }
    fn missing() -> Option<Self> {
        Some(PeerId::default())
    }
}

impl LotusJson for PeerId {
    fn to_json(&self) -> Value {
        Value::String(self.to_string())
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        string_of(v, "a peer id string")?.parse().map_err(JsonError)
    }
    fn json_missing() -> Option<Self> {
        Some(PeerId::default())
    }
}

/// A peer ID written as a CBOR *text* string holding raw multihash bytes, as go-data-transfer
/// does in `ChannelID`. Those bytes are usually not UTF-8, and Go does not check; neither do we.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerIdText(pub PeerId);

impl Encode for PeerIdText {
    fn encode(&self, e: &mut Encoder) {
        e.text_raw(&self.0.0);
    }
}

impl Decode for PeerIdText {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        Ok(PeerIdText(PeerId(d.text_raw(MAX_TEXT_LEN)?.to_vec())))
    }
    fn missing() -> Option<Self> {
        Some(PeerIdText::default())
    }
}

impl LotusJson for PeerIdText {
    fn to_json(&self) -> Value {
        self.0.to_json()
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        PeerId::from_json(v).map(PeerIdText)
    }
    fn json_missing() -> Option<Self> {
        Some(PeerIdText::default())
    }
}

pub use uuid::Uuid;

/// Boost's `uuid.UUID`: a 16-byte CBOR byte string; the hyphenated string in JSON.
impl Encode for Uuid {
    fn encode(&self, e: &mut Encoder) {
        e.bytes(self.as_bytes());
    }
}

impl Decode for Uuid {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let raw = d.bytes("uuid", 16)?;
        Uuid::from_slice(raw).map_err(|_| DecodeError::Invalid {
            what: "uuid",
            reason: format!("{} bytes instead of 16", raw.len()),
            at,
        })
    }
}

impl LotusJson for Uuid {
    fn to_json(&self) -> Value {
        Value::String(self.hyphenated().to_string())
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let s = string_of(v, "a uuid string")?;
        s.parse().map_err(|e| JsonError(format!("invalid uuid {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::{from_slice, to_vec};

    #[test]
    fn peer_id_text_accepts_non_utf8() {
        // 0x62 = text of length 2 holding bytes that are not UTF-8.
        let raw = [0x62, 0xff, 0xfe];
        let p: PeerIdText = from_slice(&raw).expect("non-UTF-8 text accepted");
        assert_eq!(p.0.0, vec![0xff, 0xfe]);
        assert_eq!(to_vec(&p), raw);
    }

    #[test]
    fn uuid_is_sixteen_bytes() {
        let u = Uuid::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        let enc = to_vec(&u);
        assert_eq!(enc[0], 0x50);
        assert_eq!(&enc[1..], u.as_bytes());
        assert_eq!(from_slice::<Uuid>(&enc), Ok(u));
        assert!(from_slice::<Uuid>(&[0x41, 0]).is_err());
        assert_eq!(json::to_string(&u), "\"00010203-0405-0607-0809-0a0b0c0d0e0f\"");
    }

    #[test]
    fn peer_id_prints_base58() {
        let p: PeerId = "12D3KooWGRUVh8ZkAbSynfKCGHLCpgHmSAkY6RD1ooRjd3bTnqcy"
            .parse()
            .expect("peer id");
        assert_eq!(p.0.len(), 38);
        assert_eq!(p.to_string(), "12D3KooWGRUVh8ZkAbSynfKCGHLCpgHmSAkY6RD1ooRjd3bTnqcy");
    }
}
