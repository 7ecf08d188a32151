//! Importing direct deals against their allocations.
//!
//! Import checks, as droplet's: the allocation exists on chain for that client, is for one of
//! the miners served here and for this piece, and has not expired; the piece's data is in
//! piece storage (or, unlike droplet, which only checks that the file exists, the file given
//! is checked against the piece and put there); its commP is checked unless skipped.

use std::path::Path;

use market_fsm::storage::direct::DirectDealState;
use market_proto::Json;
use market_proto::api::direct_deal::{DirectDeal, DirectDealParam};
use market_proto::api::full_node::FullNodeClient;
use market_types::chain::TipSetKey;
use market_types::{Address, Cid, Uuid};

use super::{DirectDeals, now_secs};

/// What importing needs from the daemon.
pub struct Importer<'a> {
    pub deals: &'a DirectDeals,
    pub node: &'a jsonrpsee::http_client::HttpClient,
    pub pieces: &'a crate::pieces::Pieces,
    pub miners: &'a crate::miners::Miners,
}

impl std::fmt::Debug for Importer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("direct::Importer")
    }
}

impl Importer<'_> {
    /// Import each deal on its own; the failures come back together, one line each naming
    /// the allocation.
    pub async fn import(&self, params: &[DirectDealParam], skip_commp: bool) -> Result<(), String> {
        if params.is_empty() {
            return Err("deal params is empty".into());
        }
        let mut failures = Vec::new();
        for p in params {
            let file = (!p.file_path.is_empty()).then(|| Path::new(&p.file_path));
            if let Err(e) = self.import_one(p, skip_commp, file).await {
                failures.push(format!(
                    "import deal failed, allocation id: {}, error: {e}",
                    p.allocation_id
                ));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n"))
        }
    }

    async fn import_one(&self, p: &DirectDealParam, skip_commp: bool, file: Option<&Path>) -> Result<(), String> {
        if let Some(d) = self.deals.by_allocation(p.allocation_id).map_err(|e| e.to_string())? {
            return Err(super::DirectError::Exists {
                allocation: p.allocation_id,
                state: d.state,
            }
            .to_string());
        }
        let tsk = || Json(TipSetKey::empty());
        let allocation = self
            .node
            .state_get_allocation(p.client.clone(), p.allocation_id, tsk())
            .await
            .map_err(|e| format!("reading the allocation: {e}"))?
            .ok_or_else(|| format!("{} has no allocation {}", p.client.0, p.allocation_id))?
            .0;
        let head = self
            .node
            .chain_head()
            .await
            .map_err(|e| format!("reading the chain head: {e}"))?
            .0
            .height();
        if head > allocation.expiration {
            return Err(format!("the allocation expired at epoch {}", allocation.expiration));
        }
        let provider = Address::new_id(allocation.provider);
        if !self.miners.contains(&provider) {
            return Err(format!(
                "the allocation is for {provider}, which this droplet does not serve"
            ));
        }
        if allocation.data != p.piece_cid.0 {
            return Err(format!(
                "the allocation is for piece {}, not {}",
                allocation.data, p.piece_cid.0
            ));
        }
        let payload_size = self
            .check_data(&p.piece_cid.0, allocation.size, p.payload_size, skip_commp, file)
            .await?;
        if payload_size == 0 {
            return Err("the payload size is 0: give it, or put the piece in piece storage".into());
        }
        let now = now_secs();
        let deal = DirectDeal {
            id: Json(Uuid::new_v4()),
            piece_cid: p.piece_cid.clone(),
            piece_size: allocation.size,
            client: p.client.clone(),
            provider: Json(provider),
            payload_size,
            payload_cid: p.payload_cid.clone(),
            state: DirectDealState::Allocated.code(),
            allocation_id: p.allocation_id,
            claim_id: 0,
            sector_id: 0,
            offset: 0,
            length: 0,
            start_epoch: p.start_epoch,
            end_epoch: p.end_epoch,
            message: String::new(),
            created_at: now,
            updated_at: now,
        };
        // Checked again under the lock: another import of the allocation may have won.
        self.deals.insert(&deal).map_err(|e| e.to_string())?;
        tracing::info!(allocation = p.allocation_id, piece = %p.piece_cid.0, uuid = %deal.id.0, "direct deal imported");
        Ok(())
    }

    /// The piece's data: in piece storage (its length is the payload size), or the file given,
    /// checked against the piece and stored. Skipped when commP is skipped and the payload size
    /// is given, as droplet does.
    async fn check_data(
        &self,
        piece: &Cid,
        padded: u64,
        payload_size: u64,
        skip_commp: bool,
        file: Option<&Path>,
    ) -> Result<u64, String> {
        if skip_commp && payload_size != 0 {
            return Ok(payload_size);
        }
        let storage = self.pieces.storage();
        let stored = match storage.open(&piece.to_string()).await {
            Ok(open) => Some(open),
            Err(piece_store::store::StoreError::NotFound { .. }) => None,
            Err(e) => return Err(format!("looking for the piece in piece storage: {e}")),
        };
        let path = match (stored, file) {
            (Some(open), _) if skip_commp => return Ok(open.size()),
            (Some(open), _) => {
                let len = open.size();
                let reader = open.blocking_reader(tokio::runtime::Handle::current(), 8 << 20);
                verify(piece, padded, reader).await?;
                return Ok(len);
            }
            (None, Some(f)) => f.to_path_buf(),
            (None, None) => {
                return Err(format!(
                    "piece {piece} is not in piece storage; give its file, or put it there first"
                ));
            }
        };
        let len = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        if !skip_commp {
            let f = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            verify(piece, padded, f).await?;
        }
        self.pieces
            .store_piece(piece, &path)
            .await
            .map_err(|e| format!("storing the piece: {e}"))?;
        Ok(len)
    }
}

/// commP of `data` padded to `padded` must be `piece`.
async fn verify(piece: &Cid, padded: u64, data: impl std::io::Read + Send + 'static) -> Result<(), String> {
    let piece = *piece;
    tokio::task::spawn_blocking(move || {
        let c = piece_store::commp::from_reader(data, 0, &mut |_| {}).map_err(|e| format!("commP: {e}"))?;
        let c = c
            .padded_to(padded)
            .map_err(|e| format!("the data does not fit the allocation's {padded} bytes: {e}"))?;
        if c.piece_cid() != piece {
            return Err(format!("the data's piece CID is {}, not {piece}", c.piece_cid()));
        }
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?
}
