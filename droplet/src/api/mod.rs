//! droplet's JSON-RPC API (`VENUS_MARKET.*`), over the daemon's parts: one `Api` value
//! serving each of market-proto's traits for the namespace (deals, asks and settings here;
//! the piece index and piece storage in `pieces`).

mod indexer;
mod market_event;
mod pieces;
mod retrieval;
mod transfers;

use std::collections::HashMap;
use std::sync::Arc;

use cid::Cid;
use jsonrpsee::core::{RpcResult, async_trait};
use market_p2p::Host;
use market_proto::Json;
use market_proto::api::handler_error;
use market_proto::api::market::{
    AddrInfo, DealInfoIncludePath, DealInfoV2, DealQuery, GetDealSpec, ImportDataRef, ImportDataRefs, ImportDataResult,
    MarketAsksServer, MarketDealsServer, MarketFundsServer, MarketMinersServer, MarketSettingsServer, MinerAccount,
    MinerDeal, MinerOrCommon, MinerRetrievalAsk, PendingDeals, SectorId, VersionInfo,
};
use market_proto::api::wallet::MsgMeta;
use market_types::chain::{Message, MsgLookup};
use market_types::retrieval::RetrievalAsk;
use market_types::storage::SignedStorageAsk;
use market_types::units::{ChainEpoch, PaddedPieceSize};
use market_types::{Address, TokenAmount};

use crate::asks::{AskTerms, Asks};
use crate::chain::Chain;
use crate::config::ProviderConfig;
use crate::deals::DealStore;
use crate::deals::runner::DealRunner;
use crate::miners::{LiveConfig, Miners};
use market_fsm::storage::provider::{Event, PieceStatus};
use market_types::states::StorageDealStatus;
use market_types::units::GoDuration;

/// The API handlers.
#[derive(Clone)]
pub struct Api {
    pub miners: Arc<Miners>,
    pub asks: Arc<Asks>,
    pub chain: Arc<Chain>,
    pub host: Host,
    pub deals: DealStore,
    pub runner: Arc<DealRunner>,
    pub config: Arc<LiveConfig>,
    pub pieces: Arc<crate::pieces::Pieces>,
    pub retrieval_deals: crate::retrieval::record::RetrievalDeals,
    pub redeemer: crate::retrieval::redeem::Redeemer,
    /// Graphsync and data-transfer on the host.
    pub transfers: data_transfer::DataTransfer,
    /// The sealers' market event streams.
    pub events: Arc<crate::market_events::MarketEvents>,
    /// IPNI, when `[CommonProvider.IndexProvider] Enable`.
    pub indexer: Option<Arc<crate::indexprovider::Indexer>>,
    /// Direct deals (DataCap allocations imported without proposals).
    pub direct: crate::direct::DirectDeals,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Api")
    }
}

fn fail(e: impl std::fmt::Display) -> jsonrpsee::types::ErrorObjectOwned {
    handler_error(e.to_string())
}

impl Api {
    /// The sealer's calls for a miner another droplet on the shared database acts for are
    /// refused: that droplet hands its deals out.
    fn acting_for(&self, miner: &Address) -> RpcResult<()> {
        if self.runner.owns(miner) {
            return Ok(());
        }
        Err(handler_error(
            crate::deals::runner::DealError::OtherDroplet { miner: *miner }.to_string(),
        ))
    }

    /// Read one provider setting of a miner (or `[CommonProvider]`).
    fn setting<R>(&self, miner: MinerOrCommon, f: impl FnOnce(&ProviderConfig) -> R) -> RpcResult<R> {
        if let Some(m) = &miner.0
            && !self.miners.contains(m)
        {
            return Err(handler_error(format!("miner {m} is not served by this droplet")));
        }
        Ok(f(&self.config.policy(miner.0.as_ref()).settings))
    }

    /// Change one provider setting of a miner (or `[CommonProvider]`), saved to config.toml.
    fn set_setting(&self, miner: MinerOrCommon, f: impl FnOnce(&mut ProviderConfig)) -> RpcResult<()> {
        self.config
            .update(|c| c.update_provider(miner.0.as_ref(), f))
            .map_err(fail)?
            .map_err(handler_error)
    }

    /// Import one deal's data from a file on this machine.
    /// The deal an import names, by UUID or else proposal CID.
    fn deal_of(&self, data: &ImportDataRef) -> Result<crate::deals::DealRecord, String> {
        match (&data.uuid, &data.proposal_cid) {
            (Some(u), _) => self.deals.get(&u.0).map_err(|e| e.to_string())?,
            (None, Some(c)) => self.deals.by_proposal_cid(&c.0).map_err(|e| e.to_string())?,
            (None, None) => return Err("give the deal's proposal CID or UUID".into()),
        }
        .ok_or_else(|| "no such deal".into())
    }

    async fn import_one(&self, data: &ImportDataRef, skip_commp: bool) -> Result<(), String> {
        let deal = self.deal_of(data)?;
        self.import_into(&deal, data, skip_commp).await
    }

    async fn import_into(
        &self,
        deal: &crate::deals::DealRecord,
        data: &ImportDataRef,
        skip_commp: bool,
    ) -> Result<(), String> {
        let path = std::path::Path::new(&data.file);
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", data.file))?;
        if !meta.is_file() {
            return Err(format!("{} is not a file", data.file));
        }
        let path = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", data.file))?;
        let status = deal.status();
        if status != StorageDealStatus::WaitingForData {
            return Err(format!(
                "deal {} is in state {}: data can only be imported while it waits for data",
                deal.proposal_cid,
                status.name()
            ));
        }
        let event = Event::DataImported {
            path: path.to_string_lossy().into_owned(),
            skip_commp,
        };
        self.runner
            .event(deal.uuid, event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Apply `event` to each of the miner's deals with these deal IDs (all must exist).
    async fn sealer_event(&self, miner: Address, deal_ids: &[u64], event: Event) -> RpcResult<()> {
        for d in crate::deals::sealing::by_deal_ids(&self.deals, miner, deal_ids).map_err(fail)? {
            self.runner.event(d.uuid, event.clone()).await.map_err(fail)?;
        }
        Ok(())
    }
}

fn nanos(d: &GoDuration) -> i64 {
    i64::try_from(d.0.as_nanos()).unwrap_or(i64::MAX)
}

fn duration(ns: i64) -> RpcResult<GoDuration> {
    u64::try_from(ns)
        .map(|n| GoDuration(std::time::Duration::from_nanos(n)))
        .map_err(|_| handler_error(format!("a duration cannot be negative ({ns} ns)")))
}

fn piece_status(s: &str) -> RpcResult<Option<PieceStatus>> {
    if s.is_empty() {
        return Ok(None);
    }
    PieceStatus::parse(s).map(Some).ok_or_else(|| {
        handler_error(format!(
            "unknown piece status {s:?}: one of Undefine, Assigned, Packing, Proving"
        ))
    })
}

fn deal_status(n: u64) -> RpcResult<Option<StorageDealStatus>> {
    if n == 0 {
        return Ok(None);
    }
    StorageDealStatus::from_u64(n)
        .map(Some)
        .ok_or_else(|| handler_error(format!("no deal state {n} (see `droplet storage deal states`)")))
}

/// The API version droplet reports (semver 1.2.0 packed as lotus packs it).
pub const API_VERSION: u32 = (1 << 16) | (2 << 8);

#[async_trait]
impl MarketMinersServer for Api {
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
}

#[async_trait]
impl MarketAsksServer for Api {
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
}

#[async_trait]
impl MarketDealsServer for Api {
    async fn market_list_incomplete_deals(&self, query: Option<DealQuery>) -> RpcResult<Vec<MinerDeal>> {
        let q = query.unwrap_or_default();
        let peer = self.host.peer_id().to_string();
        let stored = match (&q.miner, q.state.and_then(StorageDealStatus::from_u64)) {
            (_, Some(state)) => self.deals.in_states(&[state]),
            (Some(m), None) => self.deals.of_miner(&m.0),
            (None, None) => self.deals.list(),
        };
        let mut deals: Vec<MinerDeal> = stored
            .map_err(fail)?
            .into_iter()
            .filter(|d| q.miner.as_ref().is_none_or(|m| m.0 == d.proposal().provider))
            .filter(|d| q.state.is_none_or(|s| s == d.status().code()))
            .filter(|d| !(q.discard_failed && d.status().is_terminal() && d.status() != StorageDealStatus::Active))
            .filter(|d| q.client.is_empty() || d.client_peer == q.client)
            .filter(|d| q.deal_id == 0 || d.deal.deal_id == Some(q.deal_id))
            .filter(|d| q.piece_cid.is_empty() || d.proposal().piece_cid.to_string() == q.piece_cid)
            .map(|d| {
                let mut m = d.to_api(&peer);
                m.message = self.runner.shown_message(&d);
                m
            })
            .collect();
        if q.asc {
            deals.sort_by_key(|d| d.created_at);
        } else {
            deals.sort_by_key(|d| std::cmp::Reverse(d.created_at));
        }
        let limit = if q.page.limit == 0 {
            usize::MAX
        } else {
            q.page.limit as usize
        };
        Ok(deals.into_iter().skip(q.page.offset as usize).take(limit).collect())
    }

    async fn market_get_deal(&self, proposal_cid: Json<Cid>) -> RpcResult<MinerDeal> {
        let peer = self.host.peer_id().to_string();
        self.deals
            .by_proposal_cid(&proposal_cid.0)
            .map_err(fail)?
            .map(|d| {
                let mut m = d.to_api(&peer);
                m.message = self.runner.shown_message(&d);
                m
            })
            .ok_or_else(|| handler_error(format!("no deal with proposal CID {}", proposal_cid.0)))
    }

    async fn deals_import_data(&self, data: ImportDataRef, skip_commp: bool) -> RpcResult<()> {
        self.import_one(&data, skip_commp).await.map_err(handler_error)
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
        self.acting_for(&Address::new_id(sector.miner))?;
        crate::deals::sealing::assign(
            &self.runner,
            &self.deals,
            &self.direct,
            &self.chain,
            sector,
            sector_size,
            &spec,
        )
        .await
        .map_err(fail)
    }

    async fn release_deals(&self, miner: Json<Address>, deals: Vec<u64>) -> RpcResult<()> {
        self.acting_for(&miner.0)?;
        crate::deals::sealing::release(&self.runner, &self.deals, miner.0, &deals)
            .await
            .map_err(fail)
    }
    async fn get_unpacked_deals(
        &self,
        miner: Json<Address>,
        spec: Option<GetDealSpec>,
    ) -> RpcResult<Vec<DealInfoIncludePath>> {
        self.acting_for(&miner.0)?;
        crate::deals::sealing::unpacked(&self.deals, &self.chain, miner.0, &spec.unwrap_or_default())
            .await
            .map_err(fail)
    }

    async fn mark_deals_as_packing(&self, miner: Json<Address>, deals: Vec<u64>) -> RpcResult<()> {
        self.sealer_event(miner.0, &deals, Event::MarkedPacking).await
    }

    async fn update_deal_on_packing(
        &self,
        miner: Json<Address>,
        deal_id: u64,
        sector: u64,
        offset: u64,
    ) -> RpcResult<()> {
        self.sealer_event(miner.0, &[deal_id], Event::Packed { sector, offset })
            .await
    }

    async fn update_deal_status(
        &self,
        miner: Json<Address>,
        deal_id: u64,
        piece_status: String,
        deal_status: Option<u64>,
    ) -> RpcResult<()> {
        let event = Event::Overridden {
            status: deal_status.map(self::deal_status).transpose()?.flatten(),
            piece_status: self::piece_status(&piece_status)?,
        };
        self.sealer_event(miner.0, &[deal_id], event).await
    }

    async fn update_storage_deal_status(
        &self,
        proposal_cid: Json<Cid>,
        state: u64,
        piece_status: String,
    ) -> RpcResult<()> {
        let d = self
            .deals
            .by_proposal_cid(&proposal_cid.0)
            .map_err(fail)?
            .ok_or_else(|| handler_error(format!("no deal with proposal CID {}", proposal_cid.0)))?;
        let event = Event::Overridden {
            status: deal_status(state)?,
            piece_status: self::piece_status(&piece_status)?,
        };
        tracing::warn!(proposal = %proposal_cid.0, ?event, "deal state set by hand");
        self.runner.event(d.uuid, event).await.map(|_| ()).map_err(fail)
    }

    async fn deals_import(&self, deals: Vec<MinerDeal>) -> RpcResult<()> {
        let served: Vec<Address> = self.miners.list().into_iter().map(|(m, _)| m).collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut records = Vec::with_capacity(deals.len().min(100_000));
        let mut refused = Vec::new();
        for m in &deals {
            match crate::deals::import::record_of(m, &served, now) {
                Ok(r) => records.push(r),
                Err(e) => refused.push(format!("  {}: {e}", m.proposal_cid.0)),
            }
        }
        if !refused.is_empty() {
            return Err(handler_error(format!(
                "{} of {} deals refused, none imported:\n{}",
                refused.len(),
                deals.len(),
                refused.join("\n")
            )));
        }
        let offered = records.len();
        let stored = self.deals.read(move |s| s.insert_new(records)).await.map_err(fail)?;
        tracing::info!(
            imported = stored.len(),
            already_here = offered - stored.len(),
            "deals taken over from another market"
        );
        // Published deals' pieces: recorded in the piece index, and indexed from piece storage
        // when a store holds them (a read-only store over the old market's pieces, say).
        let with_piece: Vec<_> = stored
            .into_iter()
            .filter(|d| crate::pieces::has_stored_piece(d.status()))
            .collect();
        for d in &with_piece {
            if let Err(e) = self.pieces.record_deal(d) {
                tracing::warn!(proposal = %d.proposal_cid, error = %e, "recording an imported deal in the piece index");
            }
        }
        let pieces = self.pieces.clone();
        tokio::spawn(async move {
            let n = pieces.index_missing(&with_piece).await;
            tracing::info!(pieces = n, "imported deals' pieces indexed from piece storage");
        });
        Ok(())
    }

    async fn deals_batch_import_data(&self, refs: ImportDataRefs) -> RpcResult<Vec<ImportDataResult>> {
        // Each ref's deal, looked up once.
        let found: Vec<Result<crate::deals::DealRecord, String>> = refs.refs.iter().map(|r| self.deal_of(r)).collect();
        // The batch's collateral first, one deposit per miner, so that each deal's own
        // reservation finds it set aside instead of sending a message of its own.
        let mut per_miner: std::collections::BTreeMap<Address, Vec<(Cid, TokenAmount)>> = Default::default();
        let mut reserved: HashMap<Cid, Address> = HashMap::new();
        for d in found.iter().flatten() {
            let p = &d.proposal.proposal;
            if d.status() == StorageDealStatus::WaitingForData && reserved.insert(d.proposal_cid, p.provider).is_none()
            {
                per_miner
                    .entry(p.provider)
                    .or_default()
                    .push((d.proposal_cid, p.provider_collateral.clone()));
            }
        }
        let mut refused: HashMap<Address, String> = HashMap::new();
        for (miner, deals) in &per_miner {
            if let Err(e) = self.runner.reserve_batch(*miner, deals).await {
                tracing::warn!(%miner, error = %e, "batch collateral");
                for (deal, _) in deals {
                    reserved.remove(deal);
                }
                refused.insert(*miner, e);
            }
        }
        let mut out = Vec::with_capacity(refs.refs.len());
        for (r, deal) in refs.refs.iter().zip(found) {
            let target = match (&r.uuid, &r.proposal_cid) {
                (Some(u), _) => u.0.to_string(),
                (None, Some(c)) => c.0.to_string(),
                (None, None) => String::new(),
            };
            let message = match &deal {
                Err(e) => e.clone(),
                Ok(d) => match refused.get(&d.proposal.proposal.provider) {
                    Some(why) => format!("the batch's collateral could not be set aside: {why}"),
                    None => self.import_into(d, r, refs.skip_commp).await.err().unwrap_or_default(),
                },
            };
            if !message.is_empty()
                && let Ok(d) = &deal
                && let Some(miner) = reserved.remove(&d.proposal_cid)
            {
                self.runner.release_batch(miner, &d.proposal_cid);
            }
            out.push(ImportDataResult { target, message });
        }
        Ok(out)
    }
}

#[async_trait]
impl MarketFundsServer for Api {
    async fn market_add_balance(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Json<Cid>> {
        let msg = Message::add_balance(wallet.0, addr.0, amount.0);
        self.chain.sender.push(msg).await.map(Json).map_err(fail)
    }

    async fn market_get_reserved(&self, addr: Json<Address>) -> RpcResult<Json<TokenAmount>> {
        Ok(Json(self.runner.reserved(&addr.0)))
    }

    async fn market_reserve_funds(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Option<Json<Cid>>> {
        self.runner
            .reserve_manual(wallet.0, addr.0, amount.0)
            .await
            .map(|c| c.map(Json))
            .map_err(fail)
    }

    async fn market_release_funds(&self, addr: Json<Address>, amount: Json<TokenAmount>) -> RpcResult<()> {
        self.runner.release_manual(addr.0, &amount.0).await;
        Ok(())
    }

    async fn market_withdraw(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Json<Cid>> {
        let msg = Message::withdraw_balance(wallet.0, addr.0, amount.0);
        self.chain.sender.push(msg).await.map(Json).map_err(fail)
    }
}

#[async_trait]
impl MarketSettingsServer for Api {
    async fn deals_consider_online_storage_deals(&self, miner: MinerOrCommon) -> RpcResult<bool> {
        self.setting(miner, |p| p.consider_online_storage_deals)
    }
    async fn deals_set_consider_online_storage_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()> {
        self.set_setting(miner, |p| p.consider_online_storage_deals = b)
    }
    async fn deals_consider_offline_storage_deals(&self, miner: MinerOrCommon) -> RpcResult<bool> {
        self.setting(miner, |p| p.consider_offline_storage_deals)
    }
    async fn deals_set_consider_offline_storage_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()> {
        self.set_setting(miner, |p| p.consider_offline_storage_deals = b)
    }
    async fn deals_consider_verified_storage_deals(&self, miner: MinerOrCommon) -> RpcResult<bool> {
        self.setting(miner, |p| p.consider_verified_storage_deals)
    }
    async fn deals_set_consider_verified_storage_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()> {
        self.set_setting(miner, |p| p.consider_verified_storage_deals = b)
    }
    async fn deals_consider_unverified_storage_deals(&self, miner: MinerOrCommon) -> RpcResult<bool> {
        self.setting(miner, |p| p.consider_unverified_storage_deals)
    }
    async fn deals_set_consider_unverified_storage_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()> {
        self.set_setting(miner, |p| p.consider_unverified_storage_deals = b)
    }
    async fn deals_consider_online_retrieval_deals(&self, miner: MinerOrCommon) -> RpcResult<bool> {
        self.setting(miner, |p| p.consider_online_retrieval_deals)
    }
    async fn deals_set_consider_online_retrieval_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()> {
        self.set_setting(miner, |p| p.consider_online_retrieval_deals = b)
    }
    async fn deals_consider_offline_retrieval_deals(&self, miner: MinerOrCommon) -> RpcResult<bool> {
        self.setting(miner, |p| p.consider_offline_retrieval_deals)
    }
    async fn deals_set_consider_offline_retrieval_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()> {
        self.set_setting(miner, |p| p.consider_offline_retrieval_deals = b)
    }

    async fn deals_piece_cid_blocklist(&self, miner: MinerOrCommon) -> RpcResult<Vec<Json<Cid>>> {
        self.setting(miner, |p| {
            p.piece_cid_blocklist
                .iter()
                .filter_map(|c| c.parse().ok().map(Json))
                .collect()
        })
    }
    async fn deals_set_piece_cid_blocklist(&self, miner: MinerOrCommon, cids: Vec<Json<Cid>>) -> RpcResult<()> {
        self.set_setting(miner, |p| {
            p.piece_cid_blocklist = cids.iter().map(|c| c.0.to_string()).collect();
        })
    }

    async fn deals_max_start_delay(&self, miner: MinerOrCommon) -> RpcResult<i64> {
        self.setting(miner, |p| nanos(&p.max_deal_start_delay))
    }
    async fn deals_set_max_start_delay(&self, miner: MinerOrCommon, delay: i64) -> RpcResult<()> {
        let d = duration(delay)?;
        self.set_setting(miner, |p| p.max_deal_start_delay = d)
    }
    async fn deals_publish_msg_period(&self, miner: MinerOrCommon) -> RpcResult<i64> {
        self.setting(miner, |p| nanos(&p.publish_msg_period))
    }
    async fn deals_set_publish_msg_period(&self, miner: MinerOrCommon, period: i64) -> RpcResult<()> {
        let d = duration(period)?;
        self.set_setting(miner, |p| p.publish_msg_period = d)
    }
    async fn sector_get_expected_seal_duration(&self, miner: MinerOrCommon) -> RpcResult<i64> {
        self.setting(miner, |p| nanos(&p.expected_seal_duration))
    }
    async fn sector_set_expected_seal_duration(&self, miner: MinerOrCommon, duration: i64) -> RpcResult<()> {
        let d = self::duration(duration)?;
        self.set_setting(miner, |p| p.expected_seal_duration = d)
    }
    async fn market_max_deals_per_publish_msg(&self, miner: MinerOrCommon) -> RpcResult<u64> {
        self.setting(miner, |p| p.max_deals_per_publish_msg)
    }
    async fn market_set_max_deals_per_publish_msg(&self, miner: MinerOrCommon, n: u64) -> RpcResult<()> {
        self.set_setting(miner, |p| p.max_deals_per_publish_msg = n)
    }
}

#[async_trait]
impl market_proto::api::direct_deal::MarketDirectDealsServer for Api {
    async fn import_direct_deal(&self, params: market_proto::api::direct_deal::DirectDealParams) -> RpcResult<()> {
        let importer = crate::direct::Importer {
            deals: &self.direct,
            node: &self.chain.node,
            pieces: &self.pieces,
            miners: &self.miners,
        };
        importer
            .import(&params.deal_params, params.skip_commp)
            .await
            .map_err(handler_error)
    }

    async fn get_direct_deal(
        &self,
        id: Json<market_types::Uuid>,
    ) -> RpcResult<market_proto::api::direct_deal::DirectDeal> {
        self.direct
            .get(&id.0)
            .map_err(fail)?
            .ok_or_else(|| handler_error(format!("no direct deal {}", id.0)))
    }

    async fn get_direct_deal_by_allocation_id(&self, id: u64) -> RpcResult<market_proto::api::direct_deal::DirectDeal> {
        self.direct
            .by_allocation(id)
            .map_err(fail)?
            .ok_or_else(|| handler_error(format!("no direct deal for allocation {id}")))
    }

    async fn list_direct_deals(
        &self,
        query: market_proto::api::direct_deal::DirectDealQueryParams,
    ) -> RpcResult<Vec<market_proto::api::direct_deal::DirectDeal>> {
        self.direct.query(&query).map_err(fail)
    }

    async fn update_direct_deal_state(&self, id: Json<market_types::Uuid>, state: u64) -> RpcResult<()> {
        let state = market_fsm::storage::direct::DirectDealState::from_code(state)
            .ok_or_else(|| handler_error(format!("unknown direct deal state {state}: 1 to 6")))?;
        self.direct.set_state(&id.0, state).map(|_| ()).map_err(fail)
    }

    async fn release_direct_deals(&self, miner: Json<Address>, allocations: Vec<u64>) -> RpcResult<()> {
        crate::direct::sealing::release(&self.direct, miner.0, &allocations).map_err(fail)
    }
}
