//! The deal label: a kinded union of a text string and a byte string (FIP-0027).

use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder, MAX_BYTES_LEN, Major};
use crate::json::{JsonError, LotusJson, Value, string_of};

pub use crate::policy::DEAL_MAX_LABEL_SIZE;

/// `DealLabel`: text (must be UTF-8) or bytes. The two are different labels even with the
/// same content: they encode differently and give different deal CIDs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DealLabel {
    String(String),
    Bytes(Vec<u8>),
}

impl Default for DealLabel {
    /// Go's zero value (and a nil `*DealLabel`): the empty text string.
    fn default() -> Self {
        DealLabel::String(String::new())
    }
}

impl DealLabel {
    pub fn len(&self) -> usize {
        match self {
            DealLabel::String(s) => s.len(),
            DealLabel::Bytes(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_string(&self) -> bool {
        matches!(self, DealLabel::String(_))
    }
}

impl Encode for DealLabel {
    fn encode(&self, e: &mut Encoder) {
        match self {
            DealLabel::String(s) => e.text(s),
            DealLabel::Bytes(b) => e.bytes(b),
        }
    }
}

impl Decode for DealLabel {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        match d.peek_major()? {
            Major::Text => Ok(DealLabel::String(d.text(MAX_BYTES_LEN)?.to_owned())),
            Major::Bytes => Ok(DealLabel::Bytes(d.bytes("label", MAX_BYTES_LEN)?.to_vec())),
            other => Err(DecodeError::Type {
                expected: "text or byte string label",
                found: match other {
                    Major::Unsigned => "unsigned integer",
                    Major::Negative => "negative integer",
                    Major::Array => "array",
                    Major::Map => "map",
                    Major::Tag => "tag",
                    _ => "simple value",
                },
                at,
            }),
        }
    }
    fn missing() -> Option<Self> {
        Some(DealLabel::default())
    }
}

impl LotusJson for DealLabel {
    /// As go-state-types: a string label is the JSON string; a bytes label is lost (`""`).
    fn to_json(&self) -> Value {
        match self {
            DealLabel::String(s) => Value::String(s.clone()),
            DealLabel::Bytes(_) => Value::String(String::new()),
        }
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        string_of(v, "a label string").map(DealLabel::String)
    }
    fn json_missing() -> Option<Self> {
        Some(DealLabel::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::{from_slice, to_vec};

    /// vectors.md §4.
    #[test]
    fn label_vectors() {
        let cases: [(DealLabel, &[u8]); 4] = [
            (DealLabel::String(String::new()), &[0x60]),
            (DealLabel::Bytes(vec![]), &[0x40]),
            (DealLabel::String("deadbeef".into()), b"\x68deadbeef"),
            (
                DealLabel::Bytes(vec![0xde, 0xad, 0xbe, 0xef]),
                &[0x44, 0xde, 0xad, 0xbe, 0xef],
            ),
        ];
        for (label, bytes) in cases {
            assert_eq!(to_vec(&label), bytes);
            assert_eq!(from_slice::<DealLabel>(bytes), Ok(label));
        }
        assert_eq!(to_vec(&DealLabel::default()), [0x60]);
        // Text that is not UTF-8, and an array, are rejected.
        assert!(from_slice::<DealLabel>(&[0x64, 0xde, 0xad, 0xbe, 0xef]).is_err());
        assert!(from_slice::<DealLabel>(&[0x81, 0x80]).is_err());
    }
}
