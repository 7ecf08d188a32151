//! Arbitrary IPLD nodes carried inline (selectors, vouchers, voucher results).
//!
//! [`RawCbor`] keeps the exact bytes of one well-formed dag-cbor item, so a value passed
//! through us is re-sent byte for byte. Its JSON form is dag-json.

use base64::Engine;

use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder, Major};
use crate::json::{JsonError, LotusJson, Map, Value};

/// One dag-cbor item, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawCbor(Vec<u8>);

impl RawCbor {
    /// Check that `bytes` is exactly one well-formed item and keep it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Decoder::new(bytes);
        d.skip()?;
        d.finish()?;
        Ok(RawCbor(bytes.to_vec()))
    }

    /// Encode any value as an inline node.
    pub fn from_value<T: Encode + ?Sized>(v: &T) -> Self {
        RawCbor(crate::cbor::to_vec(v))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Decode the node as a typed value.
    pub fn decode<T: Decode>(&self) -> Result<T, DecodeError> {
        crate::cbor::from_slice(&self.0)
    }
}

impl Encode for RawCbor {
    fn encode(&self, e: &mut Encoder) {
        e.raw(&self.0);
    }
}

impl Decode for RawCbor {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        Ok(RawCbor(d.skip()?.to_vec()))
    }
}

/// The bytes go-ipld-cbor names a value by (`cborutil.AsIpld`, which go-fil-markets, the Go
/// droplet and boost use for the proposal CID): it reads the cbor-gen encoding with refmt and
/// writes it again. With refmt v0.89 (the Go droplet v2.15, go-fil-markets, lotus, lassie) that
/// turns an unsigned integer above `i64::MAX` into the negative int64 it wraps to and sorts map
/// keys; it refuses tags other than 42; everything else is kept, so a valid signed proposal is
/// named by the hash of its wire bytes. (refmt v0.90, which boost pins since v2.5.2, also
/// writes an empty byte string as null, so boost now names most proposals differently.)
/// Checked against go-ipld-cbor by the interop suite and by the vectors below.
pub fn go_ipld_cbor_form(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut d = Decoder::new(bytes);
    let mut e = Encoder::new();
    refmt_item(&mut d, &mut e, 0)?;
    d.finish()?;
    Ok(e.into_bytes())
}

fn refmt_item(d: &mut Decoder<'_>, e: &mut Encoder, depth: u32) -> Result<(), DecodeError> {
    if depth > crate::cbor::MAX_DEPTH {
        return Err(DecodeError::TooDeep(d.position()));
    }
    match d.peek_major()? {
        Major::Unsigned => match d.u64()? {
            // refmt reads into an int64 and wraps.
            v if v > i64::MAX as u64 => e.header(1, !v),
            v => e.u64(v),
        },
        Major::Bytes => e.bytes(d.bytes("byte string", u64::MAX)?),
        Major::Text => e.text_raw(d.text_raw(u64::MAX)?),
        Major::Array => {
            let n = d.array(u64::MAX)?;
            e.array(n);
            for _ in 0..n {
                refmt_item(d, e, depth + 1)?;
            }
        }
        Major::Map => {
            let n = d.map(u64::MAX)?;
            let mut entries = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                let key = d.text_raw(u64::MAX)?.to_vec();
                let mut value = Encoder::new();
                refmt_item(d, &mut value, depth + 1)?;
                entries.push((key, value.into_bytes()));
            }
            entries.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            e.map(entries.len());
            for (k, v) in entries {
                e.text_raw(&k);
                e.raw(&v);
            }
        }
        Major::Tag => {
            let at = d.position();
            let c = d.cid().map_err(|_| DecodeError::Invalid {
                what: "tag",
                reason: "go-ipld-cbor reads no tag but 42 (CID)".into(),
                at,
            })?;
            e.cid(&c);
        }
        // Negative integers, booleans, null and floats are written back as they were.
        _ => e.raw(d.skip()?),
    }
    Ok(())
}

/// The dag-cbor item as dag-json.
pub fn cbor_to_dag_json(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut d = Decoder::new(bytes);
    let v = item_to_json(&mut d, 0)?;
    d.finish()?;
    Ok(v)
}

fn item_to_json(d: &mut Decoder<'_>, depth: u32) -> Result<Value, DecodeError> {
    if depth > crate::cbor::MAX_DEPTH {
        return Err(DecodeError::TooDeep(d.position()));
    }
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(match d.peek_major()? {
        Major::Unsigned => Value::from(d.u64()?),
        Major::Negative => {
            let at = d.position();
            let v = d.i64().map_err(|_| DecodeError::OutOfRange {
                value: "negative".into(),
                target: "JSON number",
                at,
            })?;
            Value::from(v)
        }
        Major::Bytes => {
            let raw = d.bytes("byte string", crate::cbor::MAX_BYTES_LEN)?;
            let mut inner = Map::new();
            inner.insert("bytes".into(), Value::String(b64.encode(raw)));
            let mut outer = Map::new();
            outer.insert("/".into(), Value::Object(inner));
            Value::Object(outer)
        }
        Major::Text => Value::String(d.text(crate::cbor::MAX_BYTES_LEN)?.to_owned()),
        Major::Array => {
            let n = d.array(u64::MAX)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(item_to_json(d, depth + 1)?);
            }
            Value::Array(items)
        }
        Major::Map => {
            let n = d.map(u64::MAX)?;
            let mut m = Map::new();
            for _ in 0..n {
                let k = d.text(crate::cbor::MAX_TEXT_LEN)?.to_owned();
                let v = item_to_json(d, depth + 1)?;
                m.insert(k, v);
            }
            Value::Object(m)
        }
        Major::Tag => d.cid()?.to_json(),
        Major::Simple => {
            if d.peek_null() {
                d.null()?;
                Value::Null
            } else if let Ok(b) = d.bool() {
                Value::Bool(b)
            } else {
                let raw = d.skip()?;
                match raw {
                    [0xfb, rest @ ..] if rest.len() == 8 => {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(rest);
                        serde_json::Number::from_f64(f64::from_be_bytes(a))
                            .map(Value::Number)
                            .unwrap_or(Value::Null)
                    }
                    _ => Value::Null,
                }
            }
        }
    })
}

/// A dag-json value as dag-cbor, with map keys in canonical order.
pub fn dag_json_to_cbor(v: &Value) -> Result<Vec<u8>, JsonError> {
    let mut e = Encoder::new();
    json_to_item(v, &mut e, 0)?;
    Ok(e.into_bytes())
}

fn json_to_item(v: &Value, e: &mut Encoder, depth: u32) -> Result<(), JsonError> {
    if depth > crate::cbor::MAX_DEPTH {
        return Err(JsonError::new("dag-json nested too deeply"));
    }
    match v {
        Value::Null => e.null(),
        Value::Bool(b) => e.bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                e.u64(u)
            } else if let Some(i) = n.as_i64() {
                e.i64(i)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                let mut raw = vec![0xfb];
                raw.extend_from_slice(&f.to_be_bytes());
                e.raw(&raw);
            }
        }
        Value::String(s) => e.text(s),
        Value::Array(items) => {
            e.array(items.len());
            for item in items {
                json_to_item(item, e, depth + 1)?;
            }
        }
        Value::Object(m) => {
            if let (1, Some(link)) = (m.len(), m.get("/")) {
                match link {
                    Value::String(s) => {
                        let c: cid::Cid = s
                            .parse()
                            .map_err(|err| JsonError(format!("invalid link {s:?}: {err}")))?;
                        e.cid(&c);
                        return Ok(());
                    }
                    Value::Object(inner) if inner.len() == 1 => {
                        if let Some(Value::String(b)) = inner.get("bytes") {
                            let raw = base64::engine::general_purpose::STANDARD_NO_PAD
                                .decode(b.trim_end_matches('='))
                                .map_err(|err| JsonError(format!("invalid dag-json bytes: {err}")))?;
                            e.bytes(&raw);
                            return Ok(());
                        }
                    }
                    _ => {}
                }
            }
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| {
                if crate::cbor::key_before(a, b) {
                    std::cmp::Ordering::Less
                } else if a == b {
                    std::cmp::Ordering::Equal
                } else {
                    std::cmp::Ordering::Greater
                }
            });
            e.map(keys.len());
            for k in keys {
                e.text(k);
                json_to_item(&m[k.as_str()], e, depth + 1)?;
            }
        }
    }
    Ok(())
}

impl LotusJson for RawCbor {
    fn to_json(&self) -> Value {
        // A RawCbor always holds one well-formed item; only a non-JSON-representable
        // negative integer below i64::MIN could fail, shown as null.
        cbor_to_dag_json(&self.0).unwrap_or(Value::Null)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        dag_json_to_cbor(&v).map(RawCbor)
    }
}

/// The all-selector (ExploreRecursive, no limit, ExploreAll → RecursiveEdge) as dag-cbor.
pub fn all_selector() -> RawCbor {
    RawCbor(ALL_SELECTOR_CBOR.to_vec())
}

const ALL_SELECTOR_CBOR: [u8; 26] = [
    0xa1, 0x61, 0x52, 0xa2, 0x61, 0x6c, 0xa1, 0x64, 0x6e, 0x6f, 0x6e, 0x65, 0xa0, 0x62, 0x3a, 0x3e, 0xa1, 0x61, 0x61,
    0xa1, 0x61, 0x3e, 0xa1, 0x61, 0x40, 0xa0,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs and what go-ipld-cbor v0.2.1's `Decode` wrote for them with refmt
    /// v0.89.1-0.20231129105047 (the Go droplet's versions).
    #[test]
    fn go_ipld_cbor_form_matches_go_ipld_cbor() {
        let cid = "d82a582500017112200000000000000000000000000000000000000000000000000000000000000000";
        for (input, go) in [
            ("40", "40"),
            ("4101", "4101"),
            ("60", "60"),
            ("80", "80"),
            ("a0", "a0"),
            ("f4", "f4"),
            ("f6", "f6"),
            ("17", "17"),
            ("1bffffffffffffffff", "20"),
            ("1b7fffffffffffffff", "1b7fffffffffffffff"),
            ("1b8000000000000000", "3b7fffffffffffffff"),
            ("3b7fffffffffffffff", "3b7fffffffffffffff"),
            ("824040", "824040"),
            ("a1614140", "a1614140"),
            (cid, cid),
            ("fb3ff0000000000000", "fb3ff0000000000000"),
            ("a2616101614200", "a2614200616101"),
            ("8160", "8160"),
        ] {
            let out = go_ipld_cbor_form(&hex::decode(input).expect("hex")).expect("well formed");
            assert_eq!(hex::encode(out), go, "{input}");
        }
        // Go refuses a truncated item and tags other than 42.
        assert!(go_ipld_cbor_form(&hex::decode("83404140").expect("hex")).is_err());
        assert!(go_ipld_cbor_form(&hex::decode("c240").expect("hex")).is_err());
    }

    #[test]
    fn all_selector_round_trips_through_dag_json() {
        let sel = all_selector();
        let json = sel.to_json();
        assert_eq!(json.to_string(), r#"{"R":{"l":{"none":{}},":>":{"a":{">":{"@":{}}}}}}"#);
        assert_eq!(RawCbor::from_json(json), Ok(sel));
    }

    #[test]
    fn links_and_bytes_use_dag_json_forms() {
        let v: Value = serde_json::from_str(r#"{"a":{"/":"bafkqaaa"},"b":{"/":{"bytes":"AQI"}}}"#).expect("json");
        let raw = RawCbor::from_json(v.clone()).expect("dag-json");
        assert_eq!(raw.to_json(), v);
    }

    #[test]
    fn from_bytes_refuses_partial_or_extra_input() {
        assert!(RawCbor::from_bytes(&[0x82, 0x01]).is_err());
        assert!(RawCbor::from_bytes(&[0x01, 0x01]).is_err());
        assert!(RawCbor::from_bytes(&[0x82, 0x01, 0x02]).is_ok());
    }
}
