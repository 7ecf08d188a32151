//! API tokens: HS256 JWTs with sophon-auth's payload `{"name","perm","ext"}`.
//!
//! Permissions are cumulative (admin ⊃ sign ⊃ write ⊃ read), as in venus and lotus. Lotus
//! tokens carry `{"Allow":["read","write",…]}` instead; both forms are read.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A permission level, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Perm {
    Read,
    Write,
    Sign,
    Admin,
}

impl Perm {
    pub const ALL: [Perm; 4] = [Perm::Read, Perm::Write, Perm::Sign, Perm::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Perm::Read => "read",
            Perm::Write => "write",
            Perm::Sign => "sign",
            Perm::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Perm> {
        Perm::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Perm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtPayload {
    pub name: String,
    pub perm: String,
    #[serde(default)]
    pub ext: String,
}

impl JwtPayload {
    pub fn new(name: &str, perm: Perm) -> Self {
        JwtPayload {
            name: name.to_string(),
            perm: perm.as_str().to_string(),
            ext: String::new(),
        }
    }

    /// The permission the token grants; an unknown word grants nothing.
    pub fn perm(&self) -> Option<Perm> {
        Perm::parse(&self.perm)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a JWT (expected three dot-separated parts)")]
    Malformed,
    #[error("token signature does not match this service's secret")]
    BadSignature,
    #[error("token uses algorithm {0}; only HS256 is accepted")]
    Algorithm(String),
    #[error("token payload is not valid: {0}")]
    Payload(String),
    #[error("token grants unknown permission {0:?}")]
    UnknownPerm(String),
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: String,
}

/// The lotus payload form: a list of permissions.
#[derive(Deserialize)]
struct LotusPayload {
    #[serde(rename = "Allow")]
    allow: Vec<String>,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    }
}

/// Sign a token for `payload` with `secret`.
pub fn sign(secret: &[u8], payload: &JwtPayload) -> String {
    let header = B64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = B64URL.encode(serde_json::to_vec(payload).unwrap_or_default());
    let signing_input = format!("{header}.{body}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = B64URL.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Check a token's signature against `secret` and read its payload.
pub fn verify(secret: &[u8], token: &str) -> Result<JwtPayload, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let header_raw = B64URL.decode(h).map_err(|_| TokenError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_raw).map_err(|_| TokenError::Malformed)?;
    if header.alg != "HS256" {
        return Err(TokenError::Algorithm(header.alg));
    }
    let sig = B64URL.decode(s).map_err(|_| TokenError::Malformed)?;
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let body = B64URL.decode(p).map_err(|_| TokenError::Malformed)?;
    if let Ok(payload) = serde_json::from_slice::<JwtPayload>(&body) {
        if payload.perm().is_none() {
            return Err(TokenError::UnknownPerm(payload.perm));
        }
        return Ok(payload);
    }
    let lotus: LotusPayload = serde_json::from_slice(&body).map_err(|e| TokenError::Payload(e.to_string()))?;
    let best = lotus
        .allow
        .iter()
        .filter_map(|p| Perm::parse(p))
        .max()
        .ok_or_else(|| TokenError::UnknownPerm(lotus.allow.join(",")))?;
    Ok(JwtPayload::new("lotus", best))
}

/// A fresh 32-byte secret.
pub fn new_secret() -> [u8; 32] {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let t = sign(secret, &JwtPayload::new("alice", Perm::Sign));
        let p = verify(secret, &t).expect("valid");
        assert_eq!(p.name, "alice");
        assert_eq!(p.perm(), Some(Perm::Sign));
        assert_eq!(verify(b"other", &t), Err(TokenError::BadSignature));
        let mut bad = t.clone();
        bad.insert(t.find('.').map(|i| i + 2).unwrap_or(0), 'x');
        assert!(verify(secret, &bad).is_err());
        assert_eq!(verify(secret, "abc"), Err(TokenError::Malformed));
        assert_eq!(verify(secret, ""), Err(TokenError::Malformed));
    }

    #[test]
    fn lotus_allow_list_and_perm_order() {
        assert!(Perm::Admin > Perm::Sign && Perm::Sign > Perm::Write && Perm::Write > Perm::Read);
        let secret = b"s";
        let h = B64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let p = B64URL.encode(br#"{"Allow":["read","write"]}"#);
        let mut m = mac(secret);
        m.update(format!("{h}.{p}").as_bytes());
        let s = B64URL.encode(m.finalize().into_bytes());
        let t = format!("{h}.{p}.{s}");
        assert_eq!(verify(secret, &t).map(|p| p.perm()), Ok(Some(Perm::Write)));
    }

    #[test]
    fn none_algorithm_is_refused() {
        let h = B64URL.encode(br#"{"alg":"none"}"#);
        let p = B64URL.encode(br#"{"name":"x","perm":"admin"}"#);
        assert_eq!(
            verify(b"s", &format!("{h}.{p}.")),
            Err(TokenError::Algorithm("none".into()))
        );
    }
}
