//! A provider's advertisement chain: the next advertisement for a put, a removal or a change
//! of the provider's other transports, linked to the head and signed; and the decisions
//! index-provider's engine makes about them (an unchanged put is not advertised again, a
//! removal needs a put before it).

use cid::Cid;
use libp2p::identity::Keypair;

use crate::schema::{Advertisement, ExtendedProvider, Provider, SignError, no_entries};

/// What the provider last advertised for a context ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    pub entries: Cid,
    pub metadata: Vec<u8>,
}

/// What to do with a put for a context ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutDecision {
    /// Never advertised (or removed since): build its entries, then advertise.
    New,
    /// Advertised with other metadata: advertise again over the same entries.
    Metadata { entries: Cid },
    /// Advertised as it is: nothing to do (go's `ErrAlreadyAdvertised`).
    AlreadyAdvertised,
}

pub fn decide_put(current: Option<&Advertised>, metadata: &[u8]) -> PutDecision {
    match current {
        None => PutDecision::New,
        Some(a) if a.metadata == metadata => PutDecision::AlreadyAdvertised,
        Some(a) => PutDecision::Metadata { entries: a.entries },
    }
}

/// The provider's identity and where its content is retrievable over libp2p.
#[derive(Debug, Clone)]
pub struct Identity {
    pub key: Keypair,
    /// Multiaddr strings (without `/p2p/…`), as the advertisements carry them.
    pub addresses: Vec<String>,
}

impl Identity {
    fn base(
        &self,
        previous: Option<Cid>,
        entries: Cid,
        context_id: Vec<u8>,
        metadata: Vec<u8>,
        is_rm: bool,
    ) -> Advertisement {
        Advertisement {
            previous,
            provider: self.key.public().to_peer_id(),
            addresses: if is_rm { vec![] } else { self.addresses.clone() },
            signature: vec![],
            entries,
            context_id,
            metadata,
            is_rm,
            extended_provider: None,
        }
    }

    /// Content under `context_id` is available with `metadata`; its multihashes are in the
    /// entries chain at `entries` (or none: [`no_entries`]).
    pub fn put(
        &self,
        previous: Option<Cid>,
        context_id: &[u8],
        metadata: Vec<u8>,
        entries: Option<Cid>,
    ) -> Result<Advertisement, SignError> {
        let mut ad = self.base(
            previous,
            entries.unwrap_or_else(no_entries),
            context_id.to_vec(),
            metadata,
            false,
        );
        ad.sign(&self.key)?;
        Ok(ad)
    }

    /// Content under `context_id` is no longer available (empty metadata, no entries, as
    /// index-provider writes a removal).
    pub fn remove(&self, previous: Option<Cid>, context_id: &[u8]) -> Result<Advertisement, SignError> {
        let mut ad = self.base(previous, no_entries(), context_id.to_vec(), vec![], true);
        ad.sign(&self.key)?;
        Ok(ad)
    }

    /// The provider-wide record of its other transports (droplet's startup ad): with `other`
    /// empty, none (which withdraws earlier ones); otherwise the provider itself at each
    /// `(addresses, metadata)`.
    pub fn providers(
        &self,
        previous: Option<Cid>,
        other: &[(Vec<String>, Vec<u8>)],
    ) -> Result<Advertisement, SignError> {
        let mut ad = self.base(previous, no_entries(), vec![], vec![], false);
        let me = self.key.public().to_peer_id();
        ad.extended_provider = Some(ExtendedProvider {
            providers: other
                .iter()
                .map(|(addresses, metadata)| Provider {
                    id: me,
                    addresses: addresses.clone(),
                    metadata: metadata.clone(),
                    signature: vec![],
                })
                .collect(),
            override_: false,
        });
        ad.sign(&self.key)?;
        Ok(ad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::block_cid;

    #[test]
    fn puts_are_advertised_once_per_metadata() {
        let a = Advertised {
            entries: block_cid(b"e"),
            metadata: vec![1],
        };
        assert_eq!(decide_put(None, &[1]), PutDecision::New);
        assert_eq!(decide_put(Some(&a), &[1]), PutDecision::AlreadyAdvertised);
        assert_eq!(decide_put(Some(&a), &[2]), PutDecision::Metadata { entries: a.entries });
    }

    #[test]
    fn each_kind_of_advertisement_links_back_and_verifies() {
        let id = Identity {
            key: Keypair::generate_ed25519(),
            addresses: vec!["/ip4/127.0.0.1/tcp/1".into()],
        };
        let p = id
            .put(None, b"ctx", vec![0xa0, 0x12, 0x00], Some(block_cid(b"e")))
            .expect("test value");
        let (pc, _) = p.to_block();
        let r = id.remove(Some(pc), b"ctx").expect("test value");
        assert!(r.is_rm && r.addresses.is_empty() && r.entries == no_entries() && r.metadata.is_empty());
        assert_eq!(r.previous, Some(pc));
        let x = id
            .providers(
                Some(r.to_block().0),
                &[(vec!["/ip4/127.0.0.1/tcp/2/http".into()], vec![0xa0, 0x12, 0])],
            )
            .expect("test value");
        let none = id.providers(None, &[]).expect("test value");
        for ad in [&p, &r, &x, &none] {
            assert_eq!(ad.verify().expect("test value"), id.key.public().to_peer_id());
        }
        assert_eq!(none.extended_provider.as_ref().map(|e| e.providers.len()), Some(0));
    }
}
