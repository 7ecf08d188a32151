//! Storage and retrieval asks per miner: set (signed by the miner's worker through the
//! signer, for both protocol encodings), persisted, listed, and served on
//! `/fil/storage/ask/1.1.0` and `/fil/storage/ask/1.0.1`.

use std::sync::Arc;

use market_p2p::{Frame, protocols};
use market_proto::api::wallet::{MsgMeta, meta_type};
use market_types::cbor;
use market_types::retrieval::RetrievalAsk;
use market_types::storage::{
    AskRequest, AskRequestV0, AskResponse, AskResponseV0, SignedStorageAsk, SignedStorageAskV0, StorageAsk,
    StorageAskV0,
};
use market_types::units::{ChainEpoch, PaddedPieceSize};
use market_types::{Address, Signature, TokenAmount};

use crate::chain::{Chain, ChainError};

/// Storage asks last 720 hours, as droplet fixes them (the CLI's and the UI's `set`).
pub const ASK_DURATION_EPOCHS: ChainEpoch = 720 * 3600 / market_types::units::EPOCH_DURATION_SECONDS;
use crate::miners::Miners;
use crate::store::{Store, StoreError, Table};

const STORAGE_ASKS: Table = Table("storage-ask/");
const RETRIEVAL_ASKS: Table = Table("retrieval-ask/");

/// Why an ask could not be set.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("miner {0} is not served by this droplet (add it with `droplet actor upsert`)")]
    UnknownMiner(Address),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("signing the ask with the worker key: {0}")]
    Sign(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stored ask: the signed 1.1.0 form and the worker's signature over the 1.0.1 form.
type StoredAsk = (SignedStorageAsk, Signature);

pub struct Asks {
    store: Arc<Store>,
    chain: Arc<Chain>,
    miners: Arc<Miners>,
}

impl std::fmt::Debug for Asks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Asks")
    }
}

/// What `storage ask set` gives.
#[derive(Debug, Clone)]
pub struct AskTerms {
    pub price: TokenAmount,
    pub verified_price: TokenAmount,
    pub duration: ChainEpoch,
    pub min_piece_size: PaddedPieceSize,
    pub max_piece_size: PaddedPieceSize,
}

impl Asks {
    pub fn new(store: Arc<Store>, chain: Arc<Chain>, miners: Arc<Miners>) -> Self {
        Asks { store, chain, miners }
    }

    /// Set `miner`'s ask: validated, stamped with the head height, numbered after the last
    /// one, signed by the worker for both encodings, then stored.
    pub async fn set(&self, miner: &Address, terms: AskTerms) -> Result<SignedStorageAsk, AskError> {
        if !self.miners.contains(miner) {
            return Err(AskError::UnknownMiner(*miner));
        }
        if terms.price.is_negative() || terms.verified_price.is_negative() {
            return Err(AskError::Invalid("prices cannot be negative".into()));
        }
        if terms.duration <= 0 {
            return Err(AskError::Invalid(format!(
                "ask duration must be positive, got {} epochs",
                terms.duration
            )));
        }
        let info = self.chain.miner_info(miner).await?;
        let max = if terms.max_piece_size.0 == 0 {
            PaddedPieceSize(info.sector_size)
        } else {
            terms.max_piece_size
        };
        for (what, s) in [("minimum", terms.min_piece_size), ("maximum", max)] {
            s.validate()
                .map_err(|e| AskError::Invalid(format!("{what} piece size: {}", e.0)))?;
        }
        if terms.min_piece_size.0 < 256 {
            return Err(AskError::Invalid("minimum piece size must be at least 256 B".into()));
        }
        if terms.min_piece_size > max {
            return Err(AskError::Invalid(format!(
                "minimum piece size {} is above the maximum {}",
                terms.min_piece_size.0, max.0
            )));
        }
        if max.0 > info.sector_size {
            return Err(AskError::Invalid(format!(
                "maximum piece size {} is above the miner's sector size {}",
                max.0, info.sector_size
            )));
        }
        let head = self.chain.head_height().await?;
        let seq_no = match self.store.get::<StoredAsk>(STORAGE_ASKS, &miner.to_string())? {
            Some((prev, _)) => prev.ask.map_or(0, |a| a.seq_no + 1),
            None => 0,
        };
        let ask = StorageAsk {
            miner: *miner,
            price: terms.price,
            seq_no,
            expiry: head + terms.duration,
            timestamp: head,
            max_piece_size: max,
            min_piece_size: terms.min_piece_size,
            verified_price: terms.verified_price,
        };
        let worker = self.chain.account_key(&info.worker).await?;
        let sign = |bytes: Vec<u8>| {
            let chain = self.chain.clone();
            async move {
                chain
                    .signer
                    .sign(&worker, &bytes, MsgMeta::new(meta_type::STORAGE_ASK))
                    .await
                    .map_err(|e| AskError::Sign(e.to_string()))
            }
        };
        let sig = sign(ask.signing_bytes()).await?;
        let sig_v0 = sign(ask.signing_bytes_v0()).await?;
        let signed = SignedStorageAsk {
            ask: Some(ask),
            signature: Some(sig),
        };
        self.store
            .put(STORAGE_ASKS, &miner.to_string(), &(signed.clone(), sig_v0))?;
        Ok(signed)
    }

    pub fn get(&self, miner: &Address) -> Result<Option<SignedStorageAsk>, AskError> {
        Ok(self
            .store
            .get::<StoredAsk>(STORAGE_ASKS, &miner.to_string())?
            .map(|(a, _)| a))
    }

    /// [`Self::get`] for async callers (a SQL store's read is awaited, not waited for).
    pub async fn get_async(&self, miner: &Address) -> Result<Option<SignedStorageAsk>, AskError> {
        Ok(self
            .store
            .get_async::<StoredAsk>(STORAGE_ASKS, &miner.to_string())
            .await?
            .map(|(a, _)| a))
    }

    pub fn list(&self) -> Result<Vec<SignedStorageAsk>, AskError> {
        Ok(self
            .store
            .list::<StoredAsk>(STORAGE_ASKS)?
            .into_iter()
            .map(|(a, _)| a)
            .collect())
    }

    pub fn set_retrieval(&self, miner: &Address, ask: &RetrievalAsk) -> Result<(), AskError> {
        if !self.miners.contains(miner) {
            return Err(AskError::UnknownMiner(*miner));
        }
        if ask.price_per_byte.is_negative() || ask.unseal_price.is_negative() {
            return Err(AskError::Invalid("prices cannot be negative".into()));
        }
        Ok(self
            .store
            .put(RETRIEVAL_ASKS, &miner.to_string(), &(*miner, ask.clone()))?)
    }

    pub fn get_retrieval(&self, miner: &Address) -> Result<Option<RetrievalAsk>, AskError> {
        Ok(self
            .store
            .get::<(Address, RetrievalAsk)>(RETRIEVAL_ASKS, &miner.to_string())?
            .map(|(_, a)| a))
    }

    pub fn list_retrieval(&self) -> Result<Vec<(Address, RetrievalAsk)>, AskError> {
        Ok(self.store.list(RETRIEVAL_ASKS)?)
    }

    /// Answer an ask request on either protocol version. A request that does not decode is
    /// dropped (the stream closes); an unknown miner gets `{"Ask": null}` as Boost answers.
    pub fn answer(&self, request: &Frame) -> Option<Vec<u8>> {
        let v0 = request.protocol.as_ref() == protocols::ASK_1_0_1;
        let miner = if v0 {
            cbor::from_slice::<AskRequestV0>(&request.bytes).ok()?.miner
        } else {
            cbor::from_slice::<AskRequest>(&request.bytes).ok()?.miner
        };
        let stored = if self.miners.contains(&miner) {
            self.store
                .get::<StoredAsk>(STORAGE_ASKS, &miner.to_string())
                .ok()
                .flatten()
        } else {
            None
        };
        Some(match (v0, stored) {
            (false, s) => cbor::to_vec(&AskResponse { ask: s.map(|(a, _)| a) }),
            (true, Some((SignedStorageAsk { ask: Some(ask), .. }, sig_v0))) => cbor::to_vec(&AskResponseV0 {
                ask: Some(SignedStorageAskV0 {
                    ask: Some(StorageAskV0::from(ask)),
                    signature: Some(sig_v0),
                }),
            }),
            (true, _) => cbor::to_vec(&AskResponseV0 { ask: None }),
        })
    }
}
