//! Advertisements and entry chunks (go-libipni `ingest/schema`), their dag-json blocks and
//! signatures.
//!
//! An advertisement's signature is a libp2p signed envelope (domain `indexer`, payload type
//! `/indexer/ingest/adSignature`) over the SHA-256 multihash of previous ID ‖ entries ‖
//! provider ‖ addresses ‖ metadata ‖ is-removal. Each extended provider signs its own
//! envelope (`/indexer/ingest/extendedProviderSignature`) over previous ID ‖ entries ‖
//! provider ‖ context ID ‖ its ID ‖ its addresses ‖ its metadata ‖ override.

use cid::Cid;
use libp2p::core::SignedEnvelope;
use libp2p::identity::{Keypair, PeerId};
use multihash_codetable::{Code, MultihashDigest};

use crate::dagjson::Value;

/// Multicodec of dag-json, the codec of every IPNI block.
pub const DAG_JSON: u64 = 0x0129;
/// Multicodec of raw.
const RAW: u64 = 0x55;
/// Go's limits (`schema.MaxContextIDLen`, `MaxMetadataLen`).
pub const MAX_CONTEXT_ID_LEN: usize = 64;
pub const MAX_METADATA_LEN: usize = 1024;

const DOMAIN: &str = "indexer";
const AD_SIGNATURE_CODEC: &[u8] = b"/indexer/ingest/adSignature";
const EP_SIGNATURE_CODEC: &[u8] = b"/indexer/ingest/extendedProviderSignature";

/// The entries link of an advertisement without entries (a removal, or a provider-only ad):
/// raw, SHA-256 of nothing truncated to 16 bytes.
pub fn no_entries() -> Cid {
    let digest = Code::Sha2_256.digest(&[]);
    let mh = cid::multihash::Multihash::<64>::wrap(0x12, &digest.digest()[..16]).expect("16 bytes fit in 64");
    Cid::new_v1(RAW, mh)
}

/// A block's CID: dag-json, SHA-256.
pub fn block_cid(bytes: &[u8]) -> Cid {
    Cid::new_v1(DAG_JSON, Code::Sha2_256.digest(bytes))
}

/// Another peer the advertised content can be fetched from, or the provider itself over
/// other addresses and protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub id: PeerId,
    pub addresses: Vec<String>,
    pub metadata: Vec<u8>,
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedProvider {
    pub providers: Vec<Provider>,
    pub override_: bool,
}

/// One advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    pub previous: Option<Cid>,
    pub provider: PeerId,
    pub addresses: Vec<String>,
    pub signature: Vec<u8>,
    pub entries: Cid,
    pub context_id: Vec<u8>,
    pub metadata: Vec<u8>,
    pub is_rm: bool,
    pub extended_provider: Option<ExtendedProvider>,
}

/// Why an advertisement could not be signed or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("signing with the provider's key: {0}")]
    Signing(#[from] libp2p::identity::SigningError),
    #[error("extended provider {0} is not this key's peer; only the provider's own key is held")]
    ForeignProvider(PeerId),
    #[error("the signature does not decode as a signed envelope")]
    Envelope,
    #[error("the signature is not over this advertisement")]
    Mismatch,
    #[error("context ID of {0} bytes is over IPNI's limit of 64")]
    ContextTooLong(usize),
    #[error("metadata of {0} bytes is over IPNI's limit of 1024")]
    MetadataTooLong(usize),
}

fn sha256_multihash(data: &[u8]) -> Vec<u8> {
    Code::Sha2_256.digest(data).to_bytes()
}

impl Advertisement {
    /// What the provider's envelope signs.
    fn signature_payload(&self) -> Vec<u8> {
        let mut b = Vec::new();
        if let Some(p) = &self.previous {
            b.extend_from_slice(&p.to_bytes());
        }
        b.extend_from_slice(&self.entries.to_bytes());
        b.extend_from_slice(self.provider.to_base58().as_bytes());
        for a in &self.addresses {
            b.extend_from_slice(a.as_bytes());
        }
        b.extend_from_slice(&self.metadata);
        b.push(u8::from(self.is_rm));
        sha256_multihash(&b)
    }

    /// What an extended provider's envelope signs.
    fn extended_payload(&self, p: &Provider, override_: bool) -> Vec<u8> {
        let mut b = Vec::new();
        if let Some(prev) = &self.previous {
            b.extend_from_slice(&prev.to_bytes());
        }
        b.extend_from_slice(&self.entries.to_bytes());
        b.extend_from_slice(self.provider.to_base58().as_bytes());
        b.extend_from_slice(&self.context_id);
        b.extend_from_slice(p.id.to_base58().as_bytes());
        for a in &p.addresses {
            b.extend_from_slice(a.as_bytes());
        }
        b.extend_from_slice(&p.metadata);
        b.push(u8::from(override_));
        sha256_multihash(&b)
    }

    /// Signs the advertisement and every extended provider record with `key`, which must be
    /// the provider's (every extended provider here is the provider itself on other
    /// addresses).
    pub fn sign(&mut self, key: &Keypair) -> Result<(), SignError> {
        if self.context_id.len() > MAX_CONTEXT_ID_LEN {
            return Err(SignError::ContextTooLong(self.context_id.len()));
        }
        if self.metadata.len() > MAX_METADATA_LEN {
            return Err(SignError::MetadataTooLong(self.metadata.len()));
        }
        let me = key.public().to_peer_id();
        let envelope = SignedEnvelope::new(
            key,
            DOMAIN.to_string(),
            AD_SIGNATURE_CODEC.to_vec(),
            self.signature_payload(),
        )?;
        self.signature = envelope.into_protobuf_encoding();
        if let Some(ep) = &self.extended_provider {
            let mut signed = Vec::with_capacity(ep.providers.len());
            for p in &ep.providers {
                if p.id != me {
                    return Err(SignError::ForeignProvider(p.id));
                }
                let payload = self.extended_payload(p, ep.override_);
                let env = SignedEnvelope::new(key, DOMAIN.to_string(), EP_SIGNATURE_CODEC.to_vec(), payload)?;
                signed.push(env.into_protobuf_encoding());
            }
            if let Some(ep) = &mut self.extended_provider {
                for (p, s) in ep.providers.iter_mut().zip(signed) {
                    p.signature = s;
                }
            }
        }
        Ok(())
    }

    /// Checks the signatures as go-libipni's `VerifySignature` does; returns the signer.
    pub fn verify(&self) -> Result<PeerId, SignError> {
        let env = SignedEnvelope::from_protobuf_encoding(&self.signature).map_err(|_| SignError::Envelope)?;
        let (payload, key) = env
            .payload_and_signing_key(DOMAIN.to_string(), AD_SIGNATURE_CODEC)
            .map_err(|_| SignError::Mismatch)?;
        if payload != self.signature_payload().as_slice() {
            return Err(SignError::Mismatch);
        }
        let signer = key.to_peer_id();
        if let Some(ep) = &self.extended_provider {
            for p in &ep.providers {
                let env = SignedEnvelope::from_protobuf_encoding(&p.signature).map_err(|_| SignError::Envelope)?;
                let (payload, _) = env
                    .payload_and_signing_key(DOMAIN.to_string(), EP_SIGNATURE_CODEC)
                    .map_err(|_| SignError::Mismatch)?;
                if payload != self.extended_payload(p, ep.override_).as_slice() {
                    return Err(SignError::Mismatch);
                }
            }
        }
        Ok(signer)
    }

    /// The advertisement as the schema's dag-json map.
    pub fn to_value(&self) -> Value {
        let strs = |v: &[String]| Value::List(v.iter().cloned().map(Value::Str).collect());
        let mut m = vec![
            ("Provider", Value::Str(self.provider.to_base58())),
            ("Addresses", strs(&self.addresses)),
            ("Signature", Value::Bytes(self.signature.clone())),
            ("Entries", Value::Link(self.entries)),
            ("ContextID", Value::Bytes(self.context_id.clone())),
            ("Metadata", Value::Bytes(self.metadata.clone())),
            ("IsRm", Value::Bool(self.is_rm)),
        ];
        if let Some(p) = self.previous {
            m.push(("PreviousID", Value::Link(p)));
        }
        if let Some(ep) = &self.extended_provider {
            let providers = ep
                .providers
                .iter()
                .map(|p| {
                    Value::Map(vec![
                        ("ID", Value::Str(p.id.to_base58())),
                        ("Addresses", strs(&p.addresses)),
                        ("Metadata", Value::Bytes(p.metadata.clone())),
                        ("Signature", Value::Bytes(p.signature.clone())),
                    ])
                })
                .collect();
            m.push((
                "ExtendedProvider",
                Value::Map(vec![
                    ("Providers", Value::List(providers)),
                    ("Override", Value::Bool(ep.override_)),
                ]),
            ));
        }
        Value::Map(m)
    }

    /// The block: its CID and dag-json bytes.
    pub fn to_block(&self) -> (Cid, Vec<u8>) {
        let bytes = self.to_value().to_bytes();
        (block_cid(&bytes), bytes)
    }
}

/// One link of an entries chain: multihashes and the chunk after it.
pub fn entry_chunk_block(multihashes: &[Vec<u8>], next: Option<Cid>) -> (Cid, Vec<u8>) {
    let mut m = vec![(
        "Entries",
        Value::List(multihashes.iter().map(|h| Value::Bytes(h.clone())).collect()),
    )];
    if let Some(n) = next {
        m.push(("Next", Value::Link(n)));
    }
    let bytes = Value::Map(m).to_bytes();
    (block_cid(&bytes), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad(key: &Keypair) -> Advertisement {
        Advertisement {
            previous: Some(block_cid(b"prev")),
            provider: key.public().to_peer_id(),
            addresses: vec!["/ip4/127.0.0.1/tcp/1234".into()],
            signature: vec![],
            entries: block_cid(b"entries"),
            context_id: b"ctx".to_vec(),
            metadata: crate::metadata::encode(&[crate::metadata::Protocol::IpfsGatewayHttp]),
            is_rm: false,
            extended_provider: None,
        }
    }

    #[test]
    fn no_entries_is_go_libipnis_constant() {
        assert_eq!(
            no_entries().to_string(),
            "bafkreehdwdcefgh4dqkjv67uzcmw7oje",
            "raw, sha2-256 of nothing cut to 16 bytes"
        );
    }

    #[test]
    fn a_signed_advertisement_verifies_and_any_signed_field_changed_does_not() {
        let key = Keypair::generate_ed25519();
        let mut a = ad(&key);
        a.sign(&key).expect("test value");
        assert_eq!(a.verify().expect("test value"), key.public().to_peer_id());
        let changes: [fn(&mut Advertisement); 5] = [
            |a| a.previous = None,
            |a| a.entries = no_entries(),
            |a| a.addresses.push("/ip4/1.2.3.4/tcp/1".into()),
            |a| a.metadata.push(0),
            |a| a.is_rm = true,
        ];
        for change in changes {
            let mut b = a.clone();
            change(&mut b);
            assert!(b.verify().is_err());
        }
        // The context ID is not signed by the provider envelope (go-libipni's payload).
        let mut b = a.clone();
        b.context_id = b"other".to_vec();
        assert!(b.verify().is_ok());

        let mut x = ad(&key);
        x.context_id = vec![];
        x.extended_provider = Some(ExtendedProvider {
            providers: vec![Provider {
                id: key.public().to_peer_id(),
                addresses: vec!["/ip4/127.0.0.1/tcp/80/http".into()],
                metadata: vec![0xa0, 0x12, 0x00],
                signature: vec![],
            }],
            override_: false,
        });
        x.sign(&key).expect("test value");
        x.verify().expect("test value");
        let mut y = x.clone();
        if let Some(ep) = &mut y.extended_provider {
            ep.providers[0].addresses[0] = "/ip4/6.6.6.6/tcp/80/http".into();
        }
        assert!(y.verify().is_err());
        let other = Keypair::generate_ed25519();
        let mut z = x.clone();
        if let Some(ep) = &mut z.extended_provider {
            ep.providers[0].id = other.public().to_peer_id();
        }
        assert!(matches!(z.sign(&key), Err(SignError::ForeignProvider(_))));
    }

    #[test]
    fn the_block_is_the_schema_in_dag_json() {
        let key = Keypair::generate_ed25519();
        let mut a = ad(&key);
        a.previous = None;
        a.sign(&key).expect("test value");
        let (cid, bytes) = a.to_block();
        assert_eq!(cid, block_cid(&bytes));
        let text = String::from_utf8(bytes).expect("test value");
        assert!(text.starts_with(
            r#"{"Addresses":["/ip4/127.0.0.1/tcp/1234"],"ContextID":{"/":{"bytes":"Y3R4"}},"Entries":{"/":"#
        ));
        assert!(!text.contains("PreviousID") && !text.contains("ExtendedProvider"));
        let (c1, b1) = entry_chunk_block(&[vec![0x12, 0x20], vec![1]], None);
        assert_eq!(
            String::from_utf8(b1).expect("test value"),
            r#"{"Entries":[{"/":{"bytes":"EiA"}},{"/":{"bytes":"AQ"}}]}"#
        );
        let (_, b2) = entry_chunk_block(&[], Some(c1));
        assert_eq!(
            String::from_utf8(b2).expect("test value"),
            format!(r#"{{"Entries":[],"Next":{{"/":"{c1}"}}}}"#)
        );
    }
}
