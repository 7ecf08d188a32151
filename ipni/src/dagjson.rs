//! The part of dag-json IPNI's schema uses, written as go-ipld-prime's `dagjson.Encode` writes
//! it: no whitespace, map keys in byte order, bytes as `{"/":{"bytes":"<base64, no padding>"}}`,
//! links as `{"/":"<CID string>"}`. An indexer hashes the bytes it fetches against the CID it
//! asked for, so the bytes hashed are the bytes served; matching Go's layout also gives the
//! same CID Go would give the same advertisement.

use base64::Engine as _;
use cid::Cid;

/// A dag-json value of the kinds the IPNI schema has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
    Link(Cid),
    List(Vec<Value>),
    /// Entries in any order: the writer sorts them.
    Map(Vec<(&'static str, Value)>),
}

impl Value {
    /// The value's dag-json bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Str(s) => write_str(out, s),
            Value::Bytes(b) => {
                out.extend_from_slice(br#"{"/":{"bytes":""#);
                out.extend_from_slice(base64::engine::general_purpose::STANDARD_NO_PAD.encode(b).as_bytes());
                out.extend_from_slice(br#""}}"#);
            }
            Value::Link(c) => {
                out.extend_from_slice(br#"{"/":""#);
                out.extend_from_slice(c.to_string().as_bytes());
                out.extend_from_slice(br#""}"#);
            }
            Value::List(items) => {
                out.push(b'[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    v.write(out);
                }
                out.push(b']');
            }
            Value::Map(entries) => {
                let mut sorted: Vec<&(&str, Value)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push(b'{');
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

/// A JSON string: quotes, backslashes and control characters escaped, the rest verbatim.
fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(br#"\""#),
            '\\' => out.extend_from_slice(br"\\"),
            '\n' => out.extend_from_slice(br"\n"),
            '\r' => out.extend_from_slice(br"\r"),
            '\t' => out.extend_from_slice(br"\t"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_sorted_by_key_bytes_and_kinds_take_their_dag_json_forms() {
        let link: Cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
            .parse()
            .expect("test value");
        let v = Value::Map(vec![
            ("b", Value::Bytes(vec![0xff, 0x00, 0x10])),
            ("Z", Value::Bool(false)),
            (
                "a",
                Value::List(vec![Value::Str("x\"\\\n\u{1}é".into()), Value::Link(link)]),
            ),
            ("aa", Value::Map(vec![])),
        ]);
        assert_eq!(
            String::from_utf8(v.to_bytes()).expect("test value"),
            r#"{"Z":false,"a":["x\"\\\n\u0001é",{"/":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}],"aa":{},"b":{"/":{"bytes":"/wAQ"}}}"#
        );
    }
}
