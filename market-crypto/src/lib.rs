//! Filecoin keys and signatures, as lotus and venus-wallet make and check them.
//!
//! - secp256k1: the key signs blake2b-256 of the message; the signature is 65 bytes
//!   `r || s || recovery id`; the address (f1) is blake2b-160 of the uncompressed public key,
//!   so verification recovers the public key and compares addresses.
//! - BLS (BLS12-381, G2 signatures over the raw message, 96 bytes); the address (f3) is the
//!   48-byte compressed public key.
//!
//! A [`KeyInfo`] is lotus's key file: `{"Type":"secp256k1"|"bls","PrivateKey":base64}`, and
//! `lotus wallet export` prints it as hex of that JSON.

use std::fmt;

use bls_signatures::Serialize as _;
use k256::ecdsa::{RecoveryId, SigningKey, VerifyingKey};
use market_types::{Address, SigType, Signature};
use rand::RngCore;

/// Why a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("invalid {0} private key: {1}")]
    BadPrivateKey(KeyType, String),
    #[error("invalid key info: {0}")]
    BadKeyInfo(String),
    #[error("signature type {got:?} does not match address {addr} (needs {want:?})")]
    WrongSignatureType { got: SigType, want: SigType, addr: String },
    #[error("address {0} is not a key address (f1 or f3); resolve it to its key address first")]
    NotAKeyAddress(String),
    #[error("malformed {0:?} signature: {1}")]
    Malformed(SigType, String),
    #[error("signature does not verify for {0}")]
    Invalid(String),
    #[error("{0:?} signatures are not supported")]
    Unsupported(SigType),
}

/// The two key kinds accounts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    Secp256k1,
    Bls,
}

impl KeyType {
    /// Lotus's name for the key type (`KeyInfo.Type`).
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyType::Secp256k1 => "secp256k1",
            KeyType::Bls => "bls",
        }
    }

    pub fn sig_type(&self) -> SigType {
        match self {
            KeyType::Secp256k1 => SigType::Secp256k1,
            KeyType::Bls => SigType::Bls,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyType {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "secp256k1" | "secp" => Ok(KeyType::Secp256k1),
            "bls" => Ok(KeyType::Bls),
            other => Err(CryptoError::BadKeyInfo(format!(
                "unknown key type {other:?} (secp256k1 or bls)"
            ))),
        }
    }
}

/// A private key as lotus stores and exports it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyInfo {
    #[serde(rename = "Type")]
    pub key_type: String,
    #[serde(rename = "PrivateKey", with = "b64")]
    pub private_key: Vec<u8>,
}

impl fmt::Debug for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyInfo")
            .field("key_type", &self.key_type)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl KeyInfo {
    /// `lotus wallet export`'s form: hex of the JSON.
    pub fn to_hex(&self) -> String {
        hex::encode(serde_json::to_vec(self).expect("KeyInfo serializes"))
    }

    /// Reads `lotus wallet export` output (hex of the JSON) or the JSON itself.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let t = text.trim();
        let json = if t.starts_with('{') {
            t.as_bytes().to_vec()
        } else {
            hex::decode(t).map_err(|e| CryptoError::BadKeyInfo(format!("not hex or JSON: {e}")))?
        };
        serde_json::from_slice(&json).map_err(|e| CryptoError::BadKeyInfo(e.to_string()))
    }
}

mod b64 {
    use base64::Engine;

    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

enum Secret {
    Secp(SigningKey),
    Bls(bls_signatures::PrivateKey),
}

/// A private key with its address.
pub struct Key {
    secret: Secret,
    address: Address,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("type", &self.key_type())
            .field("address", &self.address.to_string())
            .finish()
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        Key::from_info(&self.info()).expect("a key's own info is valid")
    }
}

impl Key {
    /// A new random key.
    pub fn generate(key_type: KeyType) -> Key {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Key::from_seed(key_type, &seed)
    }

    /// A key derived from `seed` (at least 32 bytes of entropy for real use): the same seed
    /// gives the same key, which makes test networks reproducible.
    pub fn from_seed(key_type: KeyType, seed: &[u8]) -> Key {
        match key_type {
            KeyType::Bls => {
                let mut ikm = blake2b_simd::Params::new()
                    .hash_length(32)
                    .hash(seed)
                    .as_bytes()
                    .to_vec();
                ikm.extend_from_slice(b"bls");
                Key::from_bls(bls_signatures::PrivateKey::new(ikm))
            }
            KeyType::Secp256k1 => {
                let mut counter = 0u32;
                loop {
                    let mut state = blake2b_simd::Params::new().hash_length(32).to_state();
                    state.update(seed).update(b"secp256k1").update(&counter.to_be_bytes());
                    let bytes: [u8; 32] = state.finalize().as_bytes().try_into().expect("32 bytes");
                    if let Ok(sk) = SigningKey::from_bytes(&bytes.into()) {
                        return Key::from_secp(sk);
                    }
                    counter += 1;
                }
            }
        }
    }

    /// The key stored in `info`.
    pub fn from_info(info: &KeyInfo) -> Result<Key, CryptoError> {
        let key_type: KeyType = info.key_type.parse()?;
        match key_type {
            KeyType::Secp256k1 => SigningKey::from_slice(&info.private_key)
                .map(Key::from_secp)
                .map_err(|e| CryptoError::BadPrivateKey(key_type, e.to_string())),
            KeyType::Bls => bls_signatures::PrivateKey::from_bytes(&info.private_key)
                .map(Key::from_bls)
                .map_err(|e| CryptoError::BadPrivateKey(key_type, e.to_string())),
        }
    }

    fn from_secp(sk: SigningKey) -> Key {
        let public = sk.verifying_key().to_encoded_point(false);
        let address = Address::new_secp256k1(public.as_bytes()).expect("65-byte uncompressed key");
        Key {
            secret: Secret::Secp(sk),
            address,
        }
    }

    fn from_bls(sk: bls_signatures::PrivateKey) -> Key {
        let public = sk.public_key().as_bytes();
        let address = Address::new_bls(&public).expect("48-byte public key");
        Key {
            secret: Secret::Bls(sk),
            address,
        }
    }

    pub fn key_type(&self) -> KeyType {
        match self.secret {
            Secret::Secp(_) => KeyType::Secp256k1,
            Secret::Bls(_) => KeyType::Bls,
        }
    }

    /// The key's address (f1 or f3).
    pub fn address(&self) -> Address {
        self.address
    }

    /// The private key in lotus's form.
    pub fn info(&self) -> KeyInfo {
        let private_key = match &self.secret {
            Secret::Secp(sk) => sk.to_bytes().to_vec(),
            Secret::Bls(sk) => sk.as_bytes(),
        };
        KeyInfo {
            key_type: self.key_type().as_str().to_string(),
            private_key,
        }
    }

    /// Signs `msg` as Filecoin does for this key type.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        match &self.secret {
            Secret::Secp(sk) => {
                let digest = blake2b_256(msg);
                let (sig, recid) = sk
                    .sign_prehash_recoverable(&digest)
                    .expect("a 32-byte prehash always signs");
                let mut data = sig.to_bytes().to_vec();
                data.push(recid.to_byte());
                Signature::new(SigType::Secp256k1, data)
            }
            Secret::Bls(sk) => Signature::new(SigType::Bls, sk.sign(msg).as_bytes()),
        }
    }
}

fn blake2b_256(msg: &[u8]) -> [u8; 32] {
    blake2b_simd::Params::new()
        .hash_length(32)
        .hash(msg)
        .as_bytes()
        .try_into()
        .expect("32 bytes")
}

/// Checks that `sig` is `addr`'s signature over `msg`. `addr` must be a key address (f1 or
/// f3): resolve ID addresses through the chain first (`StateAccountKey`).
pub fn verify(sig: &Signature, addr: &Address, msg: &[u8]) -> Result<(), CryptoError> {
    use market_types::address::Protocol;
    let want = match addr.protocol() {
        Protocol::Secp256k1 => SigType::Secp256k1,
        Protocol::BLS => SigType::Bls,
        _ => return Err(CryptoError::NotAKeyAddress(addr.to_string())),
    };
    if sig.sig_type != want {
        return Err(CryptoError::WrongSignatureType {
            got: sig.sig_type,
            want,
            addr: addr.to_string(),
        });
    }
    match sig.sig_type {
        SigType::Secp256k1 => {
            let data = &sig.data;
            if data.len() != 65 {
                return Err(CryptoError::Malformed(
                    sig.sig_type,
                    format!("{} bytes, expected 65", data.len()),
                ));
            }
            let parsed = k256::ecdsa::Signature::from_slice(&data[..64])
                .map_err(|e| CryptoError::Malformed(sig.sig_type, e.to_string()))?;
            let recid = RecoveryId::from_byte(data[64])
                .ok_or_else(|| CryptoError::Malformed(sig.sig_type, format!("recovery id {}", data[64])))?;
            let key = VerifyingKey::recover_from_prehash(&blake2b_256(msg), &parsed, recid)
                .map_err(|_| CryptoError::Invalid(addr.to_string()))?;
            let recovered = Address::new_secp256k1(key.to_encoded_point(false).as_bytes())
                .map_err(|_| CryptoError::Invalid(addr.to_string()))?;
            if &recovered == addr {
                Ok(())
            } else {
                Err(CryptoError::Invalid(addr.to_string()))
            }
        }
        SigType::Bls => {
            let public = bls_signatures::PublicKey::from_bytes(&addr.payload_bytes()[..])
                .map_err(|e| CryptoError::Malformed(sig.sig_type, format!("public key: {e}")))?;
            let parsed = bls_signatures::Signature::from_bytes(&sig.data)
                .map_err(|e| CryptoError::Malformed(sig.sig_type, e.to_string()))?;
            if public.verify(parsed, msg) {
                Ok(())
            } else {
                Err(CryptoError::Invalid(addr.to_string()))
            }
        }
        SigType::Delegated => Err(CryptoError::Unsupported(SigType::Delegated)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_key_types_sign_and_verify() {
        for kt in [KeyType::Secp256k1, KeyType::Bls] {
            let key = Key::generate(kt);
            let sig = key.sign(b"hello");
            verify(&sig, &key.address(), b"hello").expect("verifies");
            assert!(verify(&sig, &key.address(), b"hellO").is_err(), "{kt}: other message");
            let other = Key::generate(kt);
            assert!(verify(&sig, &other.address(), b"hello").is_err(), "{kt}: other key");
        }
    }

    #[test]
    fn seeds_are_deterministic_and_infos_round_trip() {
        for kt in [KeyType::Secp256k1, KeyType::Bls] {
            let a = Key::from_seed(kt, b"devnet seed 1");
            let b = Key::from_seed(kt, b"devnet seed 1");
            assert_eq!(a.address(), b.address());
            assert_ne!(a.address(), Key::from_seed(kt, b"devnet seed 2").address());
            let info = KeyInfo::parse(&a.info().to_hex()).expect("parse");
            assert_eq!(Key::from_info(&info).expect("key").address(), a.address());
            let json = serde_json::to_string(&a.info()).expect("json");
            assert!(json.starts_with(&format!("{{\"Type\":\"{}\",\"PrivateKey\":\"", kt.as_str())));
        }
    }

    /// vectors.md §9: a real mainnet PublishStorageDeals parameter with a BLS client
    /// signature, made by Go; it must verify over the proposal's canonical bytes.
    #[test]
    fn a_real_go_bls_deal_signature_verifies() {
        use base64::Engine;
        use market_types::chain::PublishStorageDealsParams;
        let raw = base64::engine::general_purpose::STANDARD
            .decode("gYGCi9gqWCgAAYHiA5IgIM0ZDnOXrYczT9jfC/47iVtWrdzqgFiPGBD8FHO9SmI9GiAAAAD0WDEDrrTNgZqwjUdpSHUXxGAVFAbc5OFUm5JXCBf3cF1dvhB4TyaOB4DO6ODkR3pm5iRXQwCVEWAZK7gZZTxGAAkUlMYARQAfwAAAQFhhAqeOt8l8xFd6wRXsMP7+nPwIxWfVTVpjZQxc2DAdrXxSIWXPT2W9H7JYGS1eI/jCGgqmFuxfyKCGb4MRgcB+3PuJ00mPZHqli/jeBR8ug44vXmHNwb5m2QdRASRrca8xZg==")
            .expect("base64");
        let params: PublishStorageDealsParams = market_types::cbor::from_slice(&raw).expect("decode");
        let deal = &params.deals[0];
        let bytes = deal.proposal.signing_bytes();
        verify(&deal.client_signature, &deal.proposal.client, &bytes).expect("Go's BLS signature verifies");
        let mut tampered = deal.proposal.clone();
        tampered.end_epoch += 1;
        assert!(verify(&deal.client_signature, &deal.proposal.client, &tampered.signing_bytes()).is_err());
    }

    #[test]
    fn malformed_signatures_are_errors_not_panics() {
        let key = Key::generate(KeyType::Secp256k1);
        let bls = Key::generate(KeyType::Bls);
        for data in [vec![], vec![0u8; 64], vec![0u8; 65], vec![0xff; 65], vec![1u8; 200]] {
            assert!(verify(&Signature::new(SigType::Secp256k1, data.clone()), &key.address(), b"m").is_err());
            assert!(verify(&Signature::new(SigType::Bls, data), &bls.address(), b"m").is_err());
        }
        let sig = key.sign(b"m");
        assert!(matches!(
            verify(&sig, &bls.address(), b"m"),
            Err(CryptoError::WrongSignatureType { .. })
        ));
        assert!(matches!(
            verify(&sig, &Address::new_id(1000), b"m"),
            Err(CryptoError::NotAKeyAddress(_))
        ));
    }
}
