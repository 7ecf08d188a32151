//! IPNI: droplet advertises what it can serve to network indexers (cid.contact), so lassie,
//! Spark and other clients find the data by CID.
//!
//! One advertisement chain per provider identity: the identity is the libp2p peer ID the
//! miners have on chain (droplet's own), so an indexer sees one chain for it with every
//! miner's deals. (Go droplet runs one engine per miner on that same ID: each overwrites the
//! others' chain at the indexer.) A miner whose on-chain peer ID is another one is left out,
//! with a warning, since its advertisements could not be signed as it.
//!
//! - A deal is advertised once Active (context ID = proposal CID bytes, metadata
//!   graphsync-filecoinv1 {piece, verified, fast retrieval}, entries = every block of its
//!   piece from the piece index), and withdrawn when it is Expired or Slashed. A direct deal
//!   likewise, by its UUID's bytes (as droplet), verified and fast-retrieval. A reconcile
//!   pass does both ([`Indexer::reconcile`]), so nothing is missed across restarts.
//! - A provider-wide advertisement names the trustless gateway
//!   (`HTTPRetrievalMultiaddr`, transport-ipfs-gateway-http) when it is set, and is published
//!   again when it changes.
//! - The chain is served by the HTTP publisher ([`http`]) and its head announced to
//!   `DirectAnnounceURLs` ([`announce`]); a failed announcement is retried at the next pass.

pub mod announce;
pub mod http;
pub mod start;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use ipni::metadata::{self, Protocol};
use ipni::{Identity, PutDecision};
use libp2p::Multiaddr;
use market_fsm::storage::direct::DirectDealState;
use market_proto::api::direct_deal::DirectDeal;
use market_types::Address;
use market_types::states::StorageDealStatus as S;

use crate::deals::DealStore;
use crate::deals::record::DealRecord;
use crate::miners::LiveConfig;
use crate::pieces::Pieces;
use crate::store::StoreError;
use store::{ChainStore, Change, Context, Entries, Transports};

/// Why an advertisement was not published.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("piece index: {0}")]
    Index(#[from] piece_store::index::IndexError),
    #[error("signing the advertisement: {0}")]
    Sign(#[from] ipni::schema::SignError),
    #[error("signing the head: {0}")]
    Head(#[from] libp2p::identity::SigningError),
    #[error("no deal has context ID {0} (a proposal CID's bytes, or a deal UUID's 16 bytes)")]
    NoDeal(String),
    #[error(
        "deal {deal}'s piece {piece} has no block index, so there is nothing to advertise: store and index the piece first (`droplet pieces piece-info {piece}`)"
    )]
    NotIndexed { deal: String, piece: String },
    #[error("context ID {0} has not been advertised, so there is nothing to remove")]
    NotAdvertised(String),
    #[error(
        "miner {miner} has peer ID {on_chain} on chain, not this droplet's {ours}: its deals cannot be advertised as it (set it with `droplet actor set-peer-id`)"
    )]
    ForeignIdentity {
        miner: String,
        on_chain: String,
        ours: String,
    },
    #[error("nothing has been advertised yet")]
    NoHead,
    #[error("announcing to {url}: {reason}")]
    Announce { url: String, reason: String },
    #[error("the advertising task stopped: {0}")]
    Task(String),
}

/// The indexer side of droplet: the chain, its publisher's addresses and its announcements.
#[derive(Debug)]
pub struct Indexer {
    chains: ChainStore,
    deals: DealStore,
    direct: crate::direct::DirectDeals,
    pieces: Arc<Pieces>,
    config: Arc<LiveConfig>,
    identity: Identity,
    peer: String,
    /// Where the publisher is reached, as announcements carry it (without `/p2p/…`).
    publisher_addrs: Vec<Multiaddr>,
    /// The chain, to read the miners' on-chain peer IDs at each pass.
    chain: Arc<crate::chain::Chain>,
    /// Miners whose on-chain peer ID is not this droplet's, with that ID (as of the last pass).
    foreign: Mutex<HashMap<Address, String>>,
    /// One change to the chain at a time.
    chain_lock: tokio::sync::Mutex<()>,
    /// The head last announced to every configured URL.
    announced: Mutex<Option<Cid>>,
    /// Deals skipped with a reason, so each is logged once.
    skipped: Mutex<HashSet<String>>,
    http: reqwest::Client,
}

/// The multihashes a piece is advertised with: every block in its block index but identity
/// ones (code 0), whose data is in the CID and so nothing to find.
fn advertised_multihashes(pieces: &Pieces, piece: &Cid, mut f: impl FnMut(&[u8])) -> Result<(), IndexerError> {
    pieces.index().for_each_multihash(piece, |mh| {
        if mh.first() != Some(&0) {
            f(mh);
        }
        Ok::<_, IndexerError>(())
    })
}

/// Whether a deal in `status` is no longer served: its advertisement is withdrawn.
fn ended(status: S) -> bool {
    matches!(status, S::Expired | S::Slashed)
}

/// What one advertisement says of a deal: a storage deal, or a direct deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub context_id: Vec<u8>,
    pub uuid: market_types::Uuid,
    pub miner: Address,
    pub piece: Cid,
    pub verified: bool,
    pub fast_retrieval: bool,
}

impl Listing {
    /// A storage deal, by its proposal CID.
    pub fn of_deal(d: &DealRecord) -> Listing {
        let p = d.proposal();
        Listing {
            context_id: d.proposal_cid.to_bytes(),
            uuid: d.uuid,
            miner: p.provider,
            piece: p.piece_cid,
            verified: p.verified_deal,
            fast_retrieval: d.fast_retrieval,
        }
    }

    /// A direct deal, by its UUID: DataCap paid for it, and its piece is kept unsealed.
    pub fn of_direct(d: &DirectDeal) -> Listing {
        Listing {
            context_id: d.id.0.as_bytes().to_vec(),
            uuid: d.id.0,
            miner: d.provider.0,
            piece: d.piece_cid.0,
            verified: true,
            fast_retrieval: true,
        }
    }
}

/// What a put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    Published(Cid),
    AlreadyAdvertised,
    /// The operator withdrew it (`droplet index announce-remove-deal`).
    Withdrawn,
}

/// Everything [`Indexer::new`] needs.
#[derive(Debug)]
pub struct IndexerParts {
    pub store: Arc<crate::store::Store>,
    pub deals: DealStore,
    pub direct: crate::direct::DirectDeals,
    pub pieces: Arc<Pieces>,
    pub config: Arc<LiveConfig>,
    pub key: libp2p::identity::Keypair,
    /// The libp2p addresses retrievals reach this droplet at.
    pub retrieval_addrs: Vec<Multiaddr>,
    pub publisher_addrs: Vec<Multiaddr>,
    pub chain: Arc<crate::chain::Chain>,
}

impl Indexer {
    pub fn new(p: IndexerParts) -> Self {
        let peer = p.key.public().to_peer_id().to_base58();
        Indexer {
            chains: ChainStore::new(p.store),
            deals: p.deals,
            direct: p.direct,
            pieces: p.pieces,
            config: p.config,
            identity: Identity {
                key: p.key,
                addresses: p.retrieval_addrs.iter().map(|a| a.to_string()).collect(),
            },
            peer,
            publisher_addrs: p.publisher_addrs,
            chain: p.chain,
            foreign: Mutex::new(HashMap::new()),
            chain_lock: tokio::sync::Mutex::new(()),
            announced: Mutex::new(None),
            skipped: Mutex::new(HashSet::new()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("droplet-rs/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    pub fn chains(&self) -> &ChainStore {
        &self.chains
    }

    /// The signed head message, or `None` before the first advertisement.
    pub fn signed_head(&self) -> Result<Option<Vec<u8>>, IndexerError> {
        let Some(head) = self.chains.head(&self.peer)? else {
            return Ok(None);
        };
        let topic = self
            .config
            .read(|c| c.common_provider.index_provider.topic_name.clone());
        let topic = if topic.is_empty() {
            ipni::DEFAULT_TOPIC.to_string()
        } else {
            topic
        };
        Ok(Some(ipni::head::signed_head(&head, &topic, &self.identity.key)?))
    }

    fn chunk_size(&self) -> usize {
        let n = self
            .config
            .read(|c| c.common_provider.index_provider.entries_chunk_size);
        usize::try_from(n).unwrap_or(usize::MAX).clamp(1, 1 << 20)
    }

    fn deal_metadata(l: &Listing) -> Vec<u8> {
        metadata::encode(&[Protocol::GraphsyncFilecoinV1 {
            piece_cid: l.piece,
            verified_deal: l.verified,
            fast_retrieval: l.fast_retrieval,
        }])
    }

    fn foreign(&self, miner: &Address) -> Option<String> {
        self.foreign
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(miner)
            .cloned()
    }

    /// Reads each served miner's on-chain peer ID: a miner whose ID is not this droplet's is
    /// left out (its deals could not be advertised as it) until it is set, which takes effect
    /// at the next pass. A miner the node cannot answer for keeps what was last known.
    pub async fn refresh_identities(&self) {
        let ours = self.identity.key.public().to_peer_id();
        for (miner, _) in crate::miners::Miners::new(self.config.clone()).list() {
            let Ok(info) = self.chain.miner_info(&miner).await else {
                continue;
            };
            let on_chain = info
                .peer_id
                .as_ref()
                .and_then(|p| libp2p::PeerId::from_bytes(&p.0).ok());
            let mut foreign = self.foreign.lock().unwrap_or_else(|e| e.into_inner());
            if on_chain == Some(ours) {
                if foreign.remove(&miner).is_some() {
                    tracing::info!(%miner, "IPNI: the miner's on-chain peer ID is now this droplet's; advertising its deals");
                }
            } else {
                let shown = on_chain.map_or_else(|| "none".to_string(), |p| p.to_base58());
                if foreign.get(&miner) != Some(&shown) {
                    tracing::warn!(
                        %miner, on_chain = %shown, droplet = %ours,
                        "IPNI: the miner's on-chain peer ID is not this droplet's, so its deals are not advertised \
                         (set it with `droplet actor set-peer-id`)"
                    );
                }
                foreign.insert(miner, shown);
            }
        }
    }

    fn check_miner(&self, l: &Listing) -> Result<(), IndexerError> {
        let miner = l.miner;
        if let Some(on_chain) = self.foreign(&miner) {
            return Err(IndexerError::ForeignIdentity {
                miner: miner.to_string(),
                on_chain,
                ours: self.peer.clone(),
            });
        }
        Ok(())
    }

    /// Advertises a deal (as index-provider's NotifyPut): its entries are built from the piece
    /// index the first time; an unchanged deal is not advertised again. `by_hand`: the
    /// operator asks, which also lifts an earlier withdrawal; otherwise a deal the operator
    /// withdrew is left out.
    pub async fn put(self: &Arc<Self>, d: Listing, by_hand: bool) -> Result<Put, IndexerError> {
        self.check_miner(&d)?;
        let _g = self.chain_lock.lock().await;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.put_blocking(&d, by_hand))
            .await
            .map_err(|e| IndexerError::Task(e.to_string()))?
    }

    fn put_blocking(&self, d: &Listing, by_hand: bool) -> Result<Put, IndexerError> {
        let context_id = d.context_id.clone();
        let withdrawn = self.chains.is_withdrawn(&self.peer, &context_id)?;
        if withdrawn && !by_hand {
            return Ok(Put::Withdrawn);
        }
        let md = Self::deal_metadata(d);
        let current = self.chains.context(&self.peer, &context_id)?;
        let advertised = match &current {
            None => None,
            Some(c) => {
                let corrupt = |reason: String| StoreError::Corrupt {
                    key: format!("ipni-ctx/{}", hex::encode(&d.context_id)),
                    reason,
                };
                Some(ipni::Advertised {
                    entries: c.entries.parse().map_err(|e| corrupt(format!("entries: {e}")))?,
                    metadata: hex::decode(&c.metadata).map_err(|e| corrupt(format!("metadata: {e}")))?,
                })
            }
        };
        let mut change = Change::default();
        if withdrawn {
            change.withdrawn(&self.peer, &context_id, false);
        }
        let entries = match ipni::decide_put(advertised.as_ref(), &md) {
            PutDecision::AlreadyAdvertised => return Ok(Put::AlreadyAdvertised),
            PutDecision::Metadata { entries } => entries,
            PutDecision::New => self.build_entries(d, &mut change)?,
        };
        let previous = self.chains.head(&self.peer)?;
        let ad = self.identity.put(previous, &context_id, md.clone(), Some(entries))?;
        let (cid, bytes) = ad.to_block();
        change.block(&cid, &bytes);
        change.advertised(
            &self.peer,
            &context_id,
            &Context {
                entries: entries.to_string(),
                metadata: hex::encode(&md),
                deal: d.uuid.to_string(),
            },
        );
        change.head(&self.peer, &cid);
        self.chains.commit(change)?;
        tracing::info!(deal = %d.uuid, context = %hex::encode(&d.context_id), ad = %cid, "advertised to IPNI");
        Ok(Put::Published(cid))
    }

    /// The deal piece's multihashes as an entries chain, its chunks staged in `change`
    /// (kept if another deal of the same piece has them already).
    fn build_entries(&self, d: &Listing, change: &mut Change) -> Result<Cid, IndexerError> {
        let piece = d.piece;
        let mut b = ipni::entries::EntriesBuilder::new(self.chunk_size());
        let mut chunks = Vec::new();
        advertised_multihashes(&self.pieces, &piece, |mh| {
            if let Some((cid, bytes)) = b.push(mh.to_vec()) {
                change.block(&cid, &bytes);
                chunks.push(cid.to_string());
            }
        })?;
        let count = b.count();
        let (last, head) = b.finish();
        if let Some((cid, bytes)) = last {
            change.block(&cid, &bytes);
            chunks.push(cid.to_string());
        }
        let Some(head) = head else {
            return Err(IndexerError::NotIndexed {
                deal: d.uuid.to_string(),
                piece: piece.to_string(),
            });
        };
        if self.chains.entries(&head.to_string())?.is_none() {
            change.entries(&head, &Entries { chunks, count });
        }
        Ok(head)
    }

    /// Withdraws a context ID (as index-provider's NotifyRemove). `by_hand`: the operator
    /// asks, and the deal stays withdrawn until advertised by hand.
    pub async fn remove(self: &Arc<Self>, context_id: Vec<u8>, by_hand: bool) -> Result<Cid, IndexerError> {
        let _g = self.chain_lock.lock().await;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.remove_blocking(&context_id, by_hand))
            .await
            .map_err(|e| IndexerError::Task(e.to_string()))?
    }

    fn remove_blocking(&self, context_id: &[u8], by_hand: bool) -> Result<Cid, IndexerError> {
        let Some(current) = self.chains.context(&self.peer, context_id)? else {
            return Err(IndexerError::NotAdvertised(hex::encode(context_id)));
        };
        let previous = self.chains.head(&self.peer)?;
        let ad = self.identity.remove(previous, context_id)?;
        let (cid, bytes) = ad.to_block();
        let mut change = Change::default();
        change.block(&cid, &bytes);
        // The chunks go when this was the last context linking to them.
        let last = self.chains.refs(&current.entries)? <= 1;
        let entries = if last {
            self.chains.entries(&current.entries)?
        } else {
            None
        };
        change.removed(&self.peer, context_id, &current, entries.as_ref());
        if by_hand {
            change.withdrawn(&self.peer, context_id, true);
        }
        change.head(&self.peer, &cid);
        self.chains.commit(change)?;
        tracing::info!(context = %hex::encode(context_id), deal = %current.deal, ad = %cid, "withdrawn from IPNI");
        Ok(cid)
    }

    /// Advertises the provider's HTTP transport (`HTTPRetrievalMultiaddr`, or none) when it
    /// differs from what was last advertised.
    pub async fn advertise_transports(self: &Arc<Self>) -> Result<Option<Cid>, IndexerError> {
        let http = self.config.policy(None).http_retrieval_multiaddr.clone();
        let want = Transports {
            providers: http
                .map(|a| {
                    (
                        vec![a.to_string()],
                        hex::encode(metadata::encode(&[Protocol::IpfsGatewayHttp])),
                    )
                })
                .into_iter()
                .collect(),
        };
        let _g = self.chain_lock.lock().await;
        let last = self.chains.transports(&self.peer)?;
        // Nothing to say before the first deal when there is no gateway either.
        if last.as_ref() == Some(&want) || (last.is_none() && want.providers.is_empty()) {
            return Ok(None);
        }
        let other: Vec<(Vec<String>, Vec<u8>)> = want
            .providers
            .iter()
            .map(|(a, m)| (a.clone(), hex::decode(m).unwrap_or_default()))
            .collect();
        let previous = self.chains.head(&self.peer)?;
        let ad = self.identity.providers(previous, &other)?;
        let (cid, bytes) = ad.to_block();
        let mut change = Change::default();
        change.block(&cid, &bytes);
        change.transports(&self.peer, &want);
        change.head(&self.peer, &cid);
        self.chains.commit(change)?;
        tracing::info!(ad = %cid, transports = ?want.providers, "advertised the provider's transports to IPNI");
        Ok(Some(cid))
    }

    /// One pass: advertise every active deal not advertised yet (of `only` when given),
    /// withdraw every advertised deal that expired or was slashed, then announce the head if
    /// it has not been. Returns how many advertisements were published.
    pub async fn reconcile(self: &Arc<Self>, only: Option<Address>) -> Result<usize, IndexerError> {
        self.refresh_identities().await;
        let mut published = usize::from(self.advertise_transports().await?.is_some());
        let active = self
            .deals
            .read(|s| s.in_states(&[S::Active]))
            .await
            .map_err(IndexerError::Store)?;
        let direct = self
            .direct
            .in_states(&[DirectDealState::Active])
            .map_err(IndexerError::Store)?;
        let listings = active
            .iter()
            .map(Listing::of_deal)
            .chain(direct.iter().map(Listing::of_direct));
        for l in listings {
            if only.is_some_and(|m| m != l.miner) || self.foreign(&l.miner).is_some() {
                continue;
            }
            let uuid = l.uuid.to_string();
            match self.put(l, false).await {
                Ok(Put::Published(_)) => published += 1,
                Ok(Put::AlreadyAdvertised | Put::Withdrawn) => {}
                Err(e @ IndexerError::NotIndexed { .. }) => {
                    if self.skipped.lock().map(|mut s| s.insert(uuid)).unwrap_or(false) {
                        tracing::warn!("not advertised: {e}");
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let chains = self.chains.clone();
        let peer = self.peer.clone();
        let advertised = tokio::task::spawn_blocking(move || chains.contexts(&peer))
            .await
            .map_err(|e| IndexerError::Task(e.to_string()))??;
        for (context_id, c) in advertised {
            // Whether the deal still serves its piece, and its miner.
            let (live, miner) = match c.deal.parse::<market_types::Uuid>() {
                Ok(uuid) => match self.deals.read(move |s| s.get(&uuid)).await? {
                    Some(d) => (!ended(d.status()), Some(d.proposal().provider)),
                    None => match self.direct.get(&uuid)? {
                        Some(d) => (crate::direct::is_live(&d), Some(d.provider.0)),
                        None => (false, None),
                    },
                },
                Err(_) => (false, None),
            };
            if !live && only.is_none_or(|m| miner == Some(m)) {
                self.remove(context_id, false).await?;
                published += 1;
            }
        }
        self.announce_new().await;
        Ok(published)
    }

    /// Runs [`Self::reconcile`] every `interval`, logging what fails.
    pub fn start(self: &Arc<Self>, interval: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.reconcile(None).await {
                    tracing::warn!("IPNI: {e}");
                }
                tokio::time::sleep(interval).await;
            }
        });
    }

    /// The deal a context ID names: a proposal CID's bytes, or a storage or direct deal
    /// UUID's 16 bytes.
    pub async fn deal_for(&self, context_id: &[u8]) -> Result<Listing, IndexerError> {
        let owned = context_id.to_vec();
        let found = if let Ok(c) = Cid::try_from(owned.as_slice()) {
            self.deals
                .read(move |s| s.by_proposal_cid(&c))
                .await?
                .map(|d| Listing::of_deal(&d))
        } else if let Ok(bytes) = <[u8; 16]>::try_from(owned.as_slice()) {
            let uuid = market_types::Uuid::from_bytes(bytes);
            match self.deals.read(move |s| s.get(&uuid)).await? {
                Some(d) => Some(Listing::of_deal(&d)),
                None => self.direct.get(&uuid)?.map(|d| Listing::of_direct(&d)),
            }
        } else {
            None
        };
        found.ok_or_else(|| IndexerError::NoDeal(hex::encode(context_id)))
    }

    /// The multihashes a deal's advertisement lists (or would list).
    pub async fn multihashes(&self, context_id: &[u8]) -> Result<Vec<Vec<u8>>, IndexerError> {
        let d = self.deal_for(context_id).await?;
        let pieces = self.pieces.clone();
        let piece = d.piece;
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            advertised_multihashes(&pieces, &piece, |mh| out.push(mh.to_vec()))?;
            Ok(out)
        })
        .await
        .map_err(|e| IndexerError::Task(e.to_string()))?
    }

    /// Announces the head to the configured URLs unless it was announced already.
    pub async fn announce_new(&self) {
        let Ok(Some(head)) = self.chains.head(&self.peer) else {
            return;
        };
        if *self.announced.lock().unwrap_or_else(|e| e.into_inner()) == Some(head) {
            return;
        }
        let (over_http, urls) = self.config.read(|c| {
            let a = &c.common_provider.index_provider.announce;
            (a.announce_over_http, a.direct_announce_urls.clone())
        });
        if !over_http || urls.is_empty() {
            return;
        }
        match self.announce_to(&urls).await {
            Ok(c) => *self.announced.lock().unwrap_or_else(|e| e.into_inner()) = Some(c),
            Err(e) => tracing::warn!("IPNI: {e} (retried at the next pass)"),
        }
    }

    /// Announces the head to `urls` (the configured ones when empty); returns the head.
    pub async fn announce_to(&self, urls: &[String]) -> Result<Cid, IndexerError> {
        let head = self.chains.head(&self.peer)?.ok_or(IndexerError::NoHead)?;
        let urls: Vec<String> = if urls.is_empty() {
            self.config
                .read(|c| c.common_provider.index_provider.announce.direct_announce_urls.clone())
        } else {
            urls.to_vec()
        };
        let msg = announce::message(&head, &self.publisher_addrs, self.identity.key.public().to_peer_id());
        announce::send(&self.http, &urls, msg).await?;
        tracing::info!(ad = %head, ?urls, "announced the IPNI head");
        Ok(head)
    }

    /// Announces the head to the configured URLs now, whatever was announced before.
    pub async fn announce_latest(&self) -> Result<Cid, IndexerError> {
        let c = self.announce_to(&[]).await?;
        *self.announced.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_expired_and_slashed_deals_are_withdrawn() {
        for s in [S::Expired, S::Slashed] {
            assert!(ended(s), "{s:?}");
        }
        for s in [S::Active, S::Sealing, S::AwaitingPreCommit, S::Error, S::Failing] {
            assert!(!ended(s), "{s:?}");
        }
    }
}
