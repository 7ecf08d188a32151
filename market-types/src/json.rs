//! Lotus JSON: how values travel over the Filecoin JSON-RPC APIs.
//!
//! CIDs are `{"/": "bafy…"}`, big integers are decimal strings, bytes are standard base64
//! with padding, addresses are their `f…`/`t…` strings. Struct fields use the Go field names;
//! like Go's decoder, field lookup on input ignores ASCII case, and absent fields take their
//! zero value where the Rust type has one.

use base64::Engine;
use cid::Cid;
pub use serde_json::{Map, Value};

/// Why a JSON value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

impl JsonError {
    pub fn new(msg: impl Into<String>) -> Self {
        JsonError(msg.into())
    }

    fn expected(what: &str, got: &Value) -> Self {
        let kind = match got {
            Value::Null => "null",
            Value::Bool(_) => "a bool",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        JsonError(format!("expected {what}, got {kind}"))
    }
}

/// A value with a Lotus JSON form.
pub trait LotusJson: Sized {
    fn to_json(&self) -> Value;
    fn from_json(v: Value) -> Result<Self, JsonError>;

    /// The value of an absent field (Go's zero value), where the type has one.
    fn json_missing() -> Option<Self> {
        None
    }
}

/// Carries any [`LotusJson`] value through serde, e.g. as a JSON-RPC parameter or result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: LotusJson> serde::Serialize for Json<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(s)
    }
}

impl<'de, T: LotusJson> serde::Deserialize<'de> for Json<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        T::from_json(v).map(Json).map_err(serde::de::Error::custom)
    }
}

/// Serialize any [`LotusJson`] value to a JSON string.
pub fn to_string<T: LotusJson>(v: &T) -> String {
    v.to_json().to_string()
}

/// Parse a JSON string into any [`LotusJson`] value.
pub fn from_str<T: LotusJson>(s: &str) -> Result<T, JsonError> {
    let v: Value = serde_json::from_str(s).map_err(|e| JsonError(e.to_string()))?;
    T::from_json(v)
}

#[doc(hidden)]
pub fn expect_object(v: Value, ty: &str) -> Result<Map<String, Value>, JsonError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(JsonError(format!(
            "{ty}: {}",
            JsonError::expected("an object", &other).0
        ))),
    }
}

/// Take a struct field by its Go name, matching case-insensitively as Go's decoder does.
#[doc(hidden)]
pub fn take_field<T: LotusJson>(m: &mut Map<String, Value>, ty: &str, key: &str) -> Result<T, JsonError> {
    let found = m.remove(key).or_else(|| {
        let alt = m.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
        alt.and_then(|k| m.remove(&k))
    });
    match found {
        Some(v) => T::from_json(v).map_err(|e| JsonError(format!("{ty}.{key}: {}", e.0))),
        None => T::json_missing().ok_or_else(|| JsonError(format!("{ty}: missing field {key}"))),
    }
}

pub(crate) fn b64_encode(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub(crate) fn b64_decode(v: Value) -> Result<Vec<u8>, JsonError> {
    match v {
        Value::String(s) => base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|e| JsonError(format!("invalid base64: {e}"))),
        Value::Null => Ok(Vec::new()),
        other => Err(JsonError::expected("a base64 string", &other)),
    }
}

pub(crate) fn string_of(v: Value, what: &str) -> Result<String, JsonError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(JsonError::expected(what, &other)),
    }
}

impl LotusJson for u64 {
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        v.as_u64().ok_or_else(|| JsonError::expected("an unsigned integer", &v))
    }
    fn json_missing() -> Option<Self> {
        Some(0)
    }
}

impl LotusJson for i64 {
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        v.as_i64().ok_or_else(|| JsonError::expected("an integer", &v))
    }
    fn json_missing() -> Option<Self> {
        Some(0)
    }
}

impl LotusJson for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        v.as_bool().ok_or_else(|| JsonError::expected("a bool", &v))
    }
    fn json_missing() -> Option<Self> {
        Some(false)
    }
}

impl LotusJson for String {
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        string_of(v, "a string")
    }
    fn json_missing() -> Option<Self> {
        Some(String::new())
    }
}

impl LotusJson for Cid {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("/".into(), Value::String(self.to_string()));
        Value::Object(m)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let mut m = match v {
            Value::Object(m) => m,
            other => return Err(JsonError::expected(r#"a cid object {"/": "..."}"#, &other)),
        };
        let s = string_of(m.remove("/").unwrap_or(Value::Null), "a cid string under \"/\"")?;
        s.parse().map_err(|e| JsonError(format!("invalid cid {s:?}: {e}")))
    }
}

impl<T: LotusJson> LotusJson for Option<T> {
    fn to_json(&self) -> Value {
        match self {
            Some(v) => v.to_json(),
            None => Value::Null,
        }
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        match v {
            Value::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
    fn json_missing() -> Option<Self> {
        Some(None)
    }
}

impl<T: LotusJson> LotusJson for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(LotusJson::to_json).collect())
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        match v {
            // Go writes a nil slice as null.
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items.into_iter().map(T::from_json).collect(),
            other => Err(JsonError::expected("an array", &other)),
        }
    }
    fn json_missing() -> Option<Self> {
        Some(Vec::new())
    }
}

impl<A: LotusJson, B: LotusJson> LotusJson for (A, B) {
    fn to_json(&self) -> Value {
        Value::Array(vec![self.0.to_json(), self.1.to_json()])
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        match v {
            Value::Array(items) if items.len() == 2 => {
                let mut it = items.into_iter();
                let a = A::from_json(it.next().unwrap_or(Value::Null))?;
                let b = B::from_json(it.next().unwrap_or(Value::Null))?;
                Ok((a, b))
            }
            other => Err(JsonError::expected("an array of two", &other)),
        }
    }
}

impl LotusJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        Ok(v)
    }
    fn json_missing() -> Option<Self> {
        Some(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_json_is_a_slash_object() {
        let c: Cid = "bafkqaaa".parse().expect("cid");
        assert_eq!(to_string(&c), r#"{"/":"bafkqaaa"}"#);
        assert_eq!(from_str::<Cid>(r#"{"/":"bafkqaaa"}"#), Ok(c));
        assert!(from_str::<Cid>(r#""bafkqaaa""#).is_err());
        assert!(from_str::<Cid>(r#"{"/":"nope"}"#).is_err());
    }

    #[test]
    fn nil_slices_read_as_empty() {
        assert_eq!(from_str::<Vec<u64>>("null"), Ok(vec![]));
        assert_eq!(from_str::<Vec<u64>>("[1,2]"), Ok(vec![1, 2]));
    }
}
