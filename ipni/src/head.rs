//! The signed head an ipnisync publisher serves at `/ipni/v1/ad/head` (go-libipni
//! `dagsync/ipnisync/head`): the latest advertisement's link, the topic, the publisher's
//! public key and its signature over the link's bytes followed by the topic.

use cid::Cid;
use libp2p::identity::{Keypair, SigningError};

use crate::dagjson::Value;

/// The head message's dag-json bytes.
pub fn signed_head(head: &Cid, topic: &str, key: &Keypair) -> Result<Vec<u8>, SigningError> {
    let mut signed = head.to_bytes();
    signed.extend_from_slice(topic.as_bytes());
    let sig = key.sign(&signed)?;
    let mut m = vec![
        ("head", Value::Link(*head)),
        ("pubkey", Value::Bytes(key.public().encode_protobuf())),
        ("sig", Value::Bytes(sig)),
    ];
    if !topic.is_empty() {
        m.push(("topic", Value::Str(topic.to_string())));
    }
    Ok(Value::Map(m).to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_names_the_link_and_carries_a_signature_the_key_verifies() {
        let key = Keypair::generate_ed25519();
        let head = crate::schema::block_cid(b"ad");
        let bytes = signed_head(&head, "/indexer/ingest/mainnet", &key).expect("test value");
        let text = String::from_utf8(bytes).expect("test value");
        assert!(text.starts_with(&format!(r#"{{"head":{{"/":"{head}"}},"pubkey":"#)));
        assert!(text.ends_with(r#","topic":"/indexer/ingest/mainnet"}"#));
        let v: serde_json_lite::Sig = serde_json_lite::sig(&text);
        let mut msg = head.to_bytes();
        msg.extend_from_slice(b"/indexer/ingest/mainnet");
        assert!(key.public().verify(&msg, &v.0));
    }

    /// Enough JSON reading for the test: the base64 in `"sig":{"/":{"bytes":"…"}}`.
    mod serde_json_lite {
        use base64::Engine as _;
        pub struct Sig(pub Vec<u8>);
        pub fn sig(text: &str) -> Sig {
            let start = text.find(r#""sig":{"/":{"bytes":""#).expect("test value") + 21;
            let end = start + text[start..].find('"').expect("test value");
            Sig(base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(&text[start..end])
                .expect("test value"))
        }
    }
}
