//! droplet's JSON-RPC API (`VENUS_MARKET.*`), over the daemon's parts.

use std::sync::Arc;

use cid::Cid;
use jsonrpsee::core::{RpcResult, async_trait};
use market_proto::Json;
use market_proto::api::handler_error;
use market_proto::api::market::{
    AddrInfo, DealInfoV2, DealQuery, GetDealSpec, ImportDataRef, MarketServer, MinerAccount, MinerDeal,
    MinerRetrievalAsk, PendingDeals, SectorId, VersionInfo,
};
use market_proto::api::wallet::MsgMeta;
use market_proto::p2p::Host;
use market_types::chain::{Message, MsgLookup};
use market_types::retrieval::RetrievalAsk;
use market_types::storage::SignedStorageAsk;
use market_types::units::{ChainEpoch, PaddedPieceSize};
use market_types::{Address, TokenAmount};

use crate::asks::{AskTerms, Asks};
use crate::chain::Chain;
use crate::deals::runner::DealRunner;
use crate::deals::{DealRecordExt, DealStore};
use crate::miners::Miners;

/// The API handlers.
#[derive(Clone)]
pub struct Api {
    pub miners: Arc<Miners>,
    pub asks: Arc<Asks>,
    pub chain: Arc<Chain>,
    pub host: Host,
    pub deals: DealStore,
    pub runner: Arc<DealRunner>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Api")
    }
}

fn fail(e: impl std::fmt::Display) -> jsonrpsee::types::ErrorObjectOwned {
    handler_error(e.to_string())
}

/// The API version droplet reports (semver 1.2.0 packed as lotus packs it).
pub const API_VERSION: u32 = (1 << 16) | (2 << 8);

#[async_trait]
impl MarketServer for Api {
    async fn actor_upsert(&self, miner: MinerAccount) -> RpcResult<bool> {
        let addr = miner.addr.0;
        // Only a miner that exists on chain can be served.
        self.chain.miner_info(&addr).await.map_err(fail)?;
        self.miners.upsert(&addr, &miner.account).map_err(fail)
    }

    async fn actor_delete(&self, miner: Json<Address>) -> RpcResult<()> {
        if self.miners.delete(&miner.0).map_err(fail)? {
            Ok(())
        } else {
            Err(handler_error(format!(
                "miner {} is not served by this droplet",
                miner.0
            )))
        }
    }

    async fn actor_list(&self) -> RpcResult<Vec<MinerAccount>> {
        Ok(self
            .miners
            .list()
            .into_iter()
            .map(|(a, account)| MinerAccount { addr: Json(a), account })
            .collect())
    }

    async fn actor_exist(&self, miner: Json<Address>) -> RpcResult<bool> {
        Ok(self.miners.contains(&miner.0))
    }

    async fn actor_sector_size(&self, miner: Json<Address>) -> RpcResult<u64> {
        Ok(self.chain.miner_info(&miner.0).await.map_err(fail)?.sector_size)
    }

    async fn market_set_ask(
        &self,
        miner: Json<Address>,
        price: Json<TokenAmount>,
        verified_price: Json<TokenAmount>,
        duration: ChainEpoch,
        min_piece_size: Json<PaddedPieceSize>,
        max_piece_size: Json<PaddedPieceSize>,
    ) -> RpcResult<()> {
        let terms = AskTerms {
            price: price.0,
            verified_price: verified_price.0,
            duration,
            min_piece_size: min_piece_size.0,
            max_piece_size: max_piece_size.0,
        };
        self.asks.set(&miner.0, terms).await.map(|_| ()).map_err(fail)
    }

    async fn market_get_ask(&self, miner: Json<Address>) -> RpcResult<Option<Json<SignedStorageAsk>>> {
        Ok(self.asks.get(&miner.0).map_err(fail)?.map(Json))
    }

    async fn market_list_storage_ask(&self) -> RpcResult<Vec<Json<SignedStorageAsk>>> {
        Ok(self.asks.list().map_err(fail)?.into_iter().map(Json).collect())
    }

    async fn market_set_retrieval_ask(&self, miner: Json<Address>, ask: Json<RetrievalAsk>) -> RpcResult<()> {
        self.asks.set_retrieval(&miner.0, &ask.0).map_err(fail)
    }

    async fn market_get_retrieval_ask(&self, miner: Json<Address>) -> RpcResult<Option<Json<RetrievalAsk>>> {
        Ok(self.asks.get_retrieval(&miner.0).map_err(fail)?.map(Json))
    }

    async fn market_list_retrieval_ask(&self) -> RpcResult<Vec<MinerRetrievalAsk>> {
        Ok(self
            .asks
            .list_retrieval()
            .map_err(fail)?
            .into_iter()
            .map(|(m, a)| MinerRetrievalAsk {
                miner: Json(m),
                ask: Json(a),
            })
            .collect())
    }

    async fn net_addrs_listen(&self) -> RpcResult<AddrInfo> {
        Ok(AddrInfo {
            id: self.host.peer_id().to_string(),
            addrs: self.host.listen_addrs().iter().map(|a| a.to_string()).collect(),
        })
    }

    async fn id(&self) -> RpcResult<String> {
        Ok(self.host.peer_id().to_string())
    }

    async fn version(&self) -> RpcResult<VersionInfo> {
        Ok(VersionInfo {
            version: format!("{}+droplet-rs", env!("CARGO_PKG_VERSION")),
            api_version: API_VERSION,
        })
    }

    async fn messager_push_message(&self, msg: Json<Message>, _meta: Option<MsgMeta>) -> RpcResult<Json<Cid>> {
        self.chain.sender.push(msg.0).await.map(Json).map_err(fail)
    }

    async fn messager_wait_message(&self, id: Json<Cid>, confidence: u64) -> RpcResult<Json<MsgLookup>> {
        self.chain
            .sender
            .wait(&id.0, confidence, &self.chain.node)
            .await
            .map(Json)
            .map_err(fail)
    }

    async fn market_list_incomplete_deals(&self, query: Option<DealQuery>) -> RpcResult<Vec<MinerDeal>> {
        let q = query.unwrap_or_default();
        let mut deals: Vec<MinerDeal> = self
            .deals
            .list()
            .map_err(fail)?
            .into_iter()
            .filter(|d| q.miner.as_ref().is_none_or(|m| m.0 == d.proposal.0.proposal.provider))
            .filter(|d| q.state.is_none_or(|s| s == d.state))
            .filter(|d| {
                !(q.discard_failed
                    && d.status().is_terminal()
                    && d.status() != market_types::states::StorageDealStatus::Active)
            })
            .collect();
        deals.sort_by_key(|d| std::cmp::Reverse(d.created_at));
        Ok(deals)
    }

    async fn market_get_deal(&self, proposal_cid: Json<Cid>) -> RpcResult<MinerDeal> {
        self.deals
            .by_proposal_cid(&proposal_cid.0)
            .map_err(fail)?
            .ok_or_else(|| handler_error(format!("no deal with proposal CID {}", proposal_cid.0)))
    }

    async fn deals_import_data(&self, data: ImportDataRef, skip_commp: bool) -> RpcResult<()> {
        let deal = match (&data.uuid, &data.proposal_cid) {
            (Some(u), _) => self.deals.get(&u.0).map_err(fail)?,
            (None, Some(c)) => self.deals.by_proposal_cid(&c.0).map_err(fail)?,
            (None, None) => return Err(handler_error("give the deal's proposal CID or UUID")),
        }
        .ok_or_else(|| handler_error("no such deal"))?;
        let path = std::path::Path::new(&data.file);
        let meta = std::fs::metadata(path).map_err(|e| handler_error(format!("{}: {e}", data.file)))?;
        if !meta.is_file() {
            return Err(handler_error(format!("{} is not a file", data.file)));
        }
        let path = std::fs::canonicalize(path).map_err(|e| handler_error(format!("{}: {e}", data.file)))?;
        let status = deal.status();
        if status != market_types::states::StorageDealStatus::WaitingForData {
            return Err(handler_error(format!(
                "deal {} is in state {}: data can only be imported while it waits for data",
                deal.proposal_cid.0,
                status.name()
            )));
        }
        let event = market_fsm::provider::Event::DataImported {
            path: path.to_string_lossy().into_owned(),
            skip_commp,
        };
        self.runner
            .event(deal.uuid.0, event)
            .await
            .map(|_| ())
            .map_err(handler_error)
    }

    async fn market_pending_deals(&self) -> RpcResult<Vec<PendingDeals>> {
        Ok(self
            .runner
            .pending()
            .into_iter()
            .map(|(m, deals)| PendingDeals {
                miner: Json(m),
                deals: deals.into_iter().map(Json).collect(),
            })
            .collect())
    }

    async fn market_publish_pending_deals(&self) -> RpcResult<()> {
        self.runner.publish_now().await;
        Ok(())
    }

    async fn assign_deals(&self, sector: SectorId, sector_size: u64, spec: GetDealSpec) -> RpcResult<Vec<DealInfoV2>> {
        if !self.miners.contains(&Address::new_id(sector.miner)) {
            return Err(handler_error(format!(
                "miner f0{} is not served by this droplet",
                sector.miner
            )));
        }
        crate::deals::sealing::assign(&self.runner, &self.deals, &self.chain, sector, sector_size, &spec)
            .await
            .map_err(handler_error)
    }

    async fn release_deals(&self, miner: Json<Address>, deals: Vec<u64>) -> RpcResult<()> {
        crate::deals::sealing::release(&self.runner, &self.deals, miner.0, &deals)
            .await
            .map_err(handler_error)
    }
}
