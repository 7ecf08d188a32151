//! droplet's own API (`VENUS_MARKET.*` on `/rpc/v1` and `/rpc/v0`), as a few traits under the
//! one namespace: miners and identity, asks, deals and the sealer hand-off, funds, and the
//! per-miner settings (the piece index and piece storage are in [`super::pieces`]). Names,
//! parameters and permissions as in `venus-shared/api/market/v1` (droplet-inventory §2.1);
//! [`METHODS`] is the namespace's permission table for these traits.

use cid::Cid;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::boost::Transfer;
use market_types::chain::{ClientDealProposal, Message, MsgLookup};
use market_types::retrieval::RetrievalAsk;
use market_types::storage::SignedStorageAsk;
use market_types::units::{ChainEpoch, PaddedPieceSize};
use market_types::{Address, TokenAmount, Uuid};
use serde::{Deserialize, Serialize};

use super::wallet::MsgMeta;
use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// A miner served by this droplet and the sophon-auth user it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinerAccount {
    #[serde(rename = "Addr")]
    pub addr: Json<Address>,
    #[serde(rename = "Account", default)]
    pub account: String,
}

/// A retrieval ask as `MarketListRetrievalAsk` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinerRetrievalAsk {
    #[serde(rename = "Miner")]
    pub miner: Json<Address>,
    #[serde(flatten)]
    pub ask: Json<RetrievalAsk>,
}

/// `NetAddrsListen`: a peer and its addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Addrs")]
    pub addrs: Vec<String>,
}

/// `Version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "APIVersion")]
    pub api_version: u32,
}

/// Where a deal's data comes from (go-fil-markets `storagemarket.DataRef`, in droplet's
/// `MinerDeal.Ref`): the client API's type.
pub use super::market_client::DataRef;

/// A provider's storage deal as droplet's JSON-RPC carries it (venus-shared
/// `market.MinerDeal`: the client's signed proposal embedded, so `Proposal` and
/// `ClientSignature` sit at the top level), with a few droplet-rs fields after it that Go's
/// decoder ignores (`StateName`, `IsOffline`, `Transfer`, `PayloadCID`, `NBytesReceived`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinerDeal {
    /// Nil in a lotus-miner deal (go-fil-markets has no UUID).
    #[serde(rename = "ID", default = "nil_uuid")]
    pub uuid: Json<Uuid>,
    /// `Proposal` and `ClientSignature`.
    #[serde(flatten)]
    pub proposal: Json<ClientDealProposal>,
    #[serde(rename = "ProposalCid")]
    pub proposal_cid: Json<Cid>,
    #[serde(rename = "AddFundsCid", default)]
    pub add_funds_msg: Option<Json<Cid>>,
    #[serde(rename = "PublishCid", default)]
    pub publish_msg: Option<Json<Cid>>,
    /// The provider's libp2p peer ID.
    #[serde(rename = "Miner", default)]
    pub miner_peer: String,
    /// The client's libp2p peer ID.
    #[serde(rename = "Client", default)]
    pub client_peer: String,
    #[serde(rename = "State")]
    pub state: u64,
    #[serde(rename = "PiecePath", default)]
    pub piece_path: String,
    #[serde(rename = "PayloadSize", default)]
    pub payload_size: u64,
    #[serde(rename = "MetadataPath", default)]
    pub metadata_path: String,
    #[serde(rename = "SlashEpoch", default)]
    pub slash_epoch: ChainEpoch,
    #[serde(rename = "FastRetrieval", default)]
    pub fast_retrieval: bool,
    #[serde(rename = "Message", default)]
    pub message: String,
    #[serde(rename = "FundsReserved", default = "zero")]
    pub funds_reserved: Json<TokenAmount>,
    #[serde(rename = "Ref", default)]
    pub data_ref: Option<DataRef>,
    #[serde(rename = "AvailableForRetrieval", default)]
    pub available_for_retrieval: bool,
    #[serde(rename = "DealID", default)]
    pub deal_id: u64,
    /// RFC 3339, as Go writes a `time.Time`.
    #[serde(rename = "CreationTime", default)]
    pub creation_time: String,
    #[serde(rename = "TransferChannelId", default)]
    pub transfer_channel_id: Option<serde_json::Value>,
    #[serde(rename = "SectorNumber", default)]
    pub sector: u64,
    #[serde(rename = "Offset", default)]
    pub offset: u64,
    #[serde(rename = "PieceStatus", default)]
    pub piece_status: String,
    #[serde(rename = "InboundCAR", default)]
    pub inbound_path: String,
    #[serde(rename = "CreatedAt", default)]
    pub created_at: u64,
    #[serde(rename = "UpdatedAt", default)]
    pub updated_at: u64,
    #[serde(rename = "StateName", default)]
    pub state_name: String,
    #[serde(rename = "IsOffline", default)]
    pub offline: bool,
    /// boost's transfer (type, size, params) of an online deal.
    #[serde(rename = "Transfer", default)]
    pub transfer: Option<Json<Transfer>>,
    #[serde(rename = "PayloadCID", default)]
    pub data_root: Option<Json<Cid>>,
    #[serde(rename = "NBytesReceived", default)]
    pub transferred: u64,
}

fn nil_uuid() -> Json<Uuid> {
    Json(Uuid::nil())
}

fn zero() -> Json<TokenAmount> {
    Json(TokenAmount::default())
}

/// `MarketListIncompleteDeals` filters (droplet's `StorageDealQueryParams`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealQuery {
    #[serde(rename = "Miner", default, skip_serializing_if = "Option::is_none")]
    pub miner: Option<Json<Address>>,
    #[serde(rename = "State", default, skip_serializing_if = "Option::is_none")]
    pub state: Option<u64>,
    #[serde(rename = "DiscardFailedDeal", default)]
    pub discard_failed: bool,
    /// The client's peer ID.
    #[serde(rename = "Client", default, skip_serializing_if = "String::is_empty")]
    pub client: String,
    /// 0 means any (as in Go).
    #[serde(rename = "DealID", default)]
    pub deal_id: u64,
    #[serde(rename = "PieceCID", default, skip_serializing_if = "String::is_empty")]
    pub piece_cid: String,
    #[serde(rename = "Page", default)]
    pub page: Page,
    /// Oldest first.
    #[serde(rename = "Asc", default)]
    pub asc: bool,
}

/// A page of a list: skip `offset`, take at most `limit` (0: all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    #[serde(rename = "Offset", default)]
    pub offset: u64,
    #[serde(rename = "Limit", default)]
    pub limit: u64,
}

/// Which deal's data to import, and from where (droplet's `ImportDataRef`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportDataRef {
    #[serde(rename = "ProposalCID", default, skip_serializing_if = "Option::is_none")]
    pub proposal_cid: Option<Json<Cid>>,
    #[serde(rename = "UUID", default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<Json<Uuid>>,
    #[serde(rename = "File")]
    pub file: String,
}

/// Deals waiting to be published for one miner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDeals {
    #[serde(rename = "Miner")]
    pub miner: Json<Address>,
    #[serde(rename = "Deals")]
    pub deals: Vec<Json<Cid>>,
}

/// A sector (`abi.SectorID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorId {
    #[serde(rename = "Miner")]
    pub miner: u64,
    #[serde(rename = "Number")]
    pub number: u64,
}

/// What the sealer can take (droplet's `GetDealSpec`); absent fields do not limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetDealSpec {
    #[serde(rename = "MaxPiece", default)]
    pub max_piece: u64,
    #[serde(rename = "MaxPieceSize", default)]
    pub max_piece_size: u64,
    #[serde(rename = "MinPiece", default)]
    pub min_piece: u64,
    #[serde(rename = "MinPieceSize", default)]
    pub min_piece_size: u64,
    #[serde(rename = "MinUsedSpace", default)]
    pub min_used_space: u64,
    #[serde(rename = "StartEpoch", default)]
    pub start_epoch: i64,
    #[serde(rename = "EndEpoch", default)]
    pub end_epoch: i64,
    #[serde(rename = "SectorExpiration", default)]
    pub sector_expiration: Option<i64>,
}

/// A deal handed to the sealer (droplet's `DealInfoV2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealInfoV2 {
    #[serde(rename = "DealID")]
    pub deal_id: u64,
    #[serde(rename = "PublishCid")]
    pub publish_cid: Option<Json<Cid>>,
    #[serde(rename = "AllocationID", default)]
    pub allocation_id: u64,
    #[serde(rename = "PieceCID")]
    pub piece_cid: Json<Cid>,
    #[serde(rename = "PieceSize")]
    pub piece_size: u64,
    #[serde(rename = "Client")]
    pub client: Json<Address>,
    #[serde(rename = "Provider")]
    pub provider: Json<Address>,
    #[serde(rename = "Offset")]
    pub offset: u64,
    #[serde(rename = "Length")]
    pub length: u64,
    #[serde(rename = "PayloadSize")]
    pub payload_size: u64,
    #[serde(rename = "StartEpoch")]
    pub start_epoch: i64,
    #[serde(rename = "EndEpoch")]
    pub end_epoch: i64,
}

/// A miner whose settings a `Deals*` getter or setter reads or changes; Go's undefined
/// address (`"<empty>"` in JSON) means `[CommonProvider]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MinerOrCommon(pub Option<Address>);

/// How go-address writes `address.Undef` in JSON.
pub const UNDEF_ADDRESS: &str = "<empty>";

impl Serialize for MinerOrCommon {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(a) => Json(*a).serialize(s),
            None => s.serialize_str(UNDEF_ADDRESS),
        }
    }
}

impl<'de> Deserialize<'de> for MinerOrCommon {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s == UNDEF_ADDRESS {
            return Ok(MinerOrCommon(None));
        }
        market_types::address::parse(&s)
            .map(|a| MinerOrCommon(Some(a)))
            .map_err(|e| serde::de::Error::custom(format!("{s:?} is not an address: {e}")))
    }
}

/// `DealsBatchImportData` parameters (droplet's `ImportDataRefs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportDataRefs {
    #[serde(rename = "Refs")]
    pub refs: Vec<ImportDataRef>,
    #[serde(rename = "SkipCommP", default)]
    pub skip_commp: bool,
}

/// One import's outcome: the deal it targeted and, when it failed, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportDataResult {
    #[serde(rename = "Target")]
    pub target: String,
    #[serde(rename = "Message")]
    pub message: String,
}

/// A deal for the legacy sealer (droplet's `DealInfoIncludePath`): the proposal's fields
/// inline, then where the piece sits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealInfoIncludePath {
    #[serde(flatten)]
    pub proposal: Json<market_types::chain::DealProposal>,
    #[serde(rename = "Offset")]
    pub offset: u64,
    #[serde(rename = "Length")]
    pub length: u64,
    #[serde(rename = "PayloadSize")]
    pub payload_size: u64,
    #[serde(rename = "DealID")]
    pub deal_id: u64,
    #[serde(rename = "TotalStorageFee")]
    pub total_storage_fee: Json<TokenAmount>,
    #[serde(rename = "FastRetrieval")]
    pub fast_retrieval: bool,
    #[serde(rename = "PublishCid")]
    pub publish_cid: Option<Json<Cid>>,
}

/// The miners served, the node identity and the message proxy.
#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketMiners {
    #[method(name = "ActorUpsert")]
    async fn actor_upsert(&self, miner: MinerAccount) -> RpcResult<bool>;

    #[method(name = "ActorDelete")]
    async fn actor_delete(&self, miner: Json<Address>) -> RpcResult<()>;

    #[method(name = "ActorList")]
    async fn actor_list(&self) -> RpcResult<Vec<MinerAccount>>;

    #[method(name = "ActorExist")]
    async fn actor_exist(&self, miner: Json<Address>) -> RpcResult<bool>;

    #[method(name = "ActorSectorSize")]
    async fn actor_sector_size(&self, miner: Json<Address>) -> RpcResult<u64>;

    #[method(name = "NetAddrsListen")]
    async fn net_addrs_listen(&self) -> RpcResult<AddrInfo>;

    #[method(name = "ID")]
    async fn id(&self) -> RpcResult<String>;

    #[method(name = "Version")]
    async fn version(&self) -> RpcResult<VersionInfo>;

    /// Send a message through droplet's message client; returns a messager id or a chain CID.
    #[method(name = "MessagerPushMessage")]
    async fn messager_push_message(&self, msg: Json<Message>, meta: Option<MsgMeta>) -> RpcResult<Json<Cid>>;

    #[method(name = "MessagerWaitMessage")]
    async fn messager_wait_message(&self, id: Json<Cid>, confidence: u64) -> RpcResult<Json<MsgLookup>>;
}

/// Storage and retrieval asks.
#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketAsks {
    /// Price and verified price in attoFIL per GiB per epoch; duration in epochs.
    #[method(name = "MarketSetAsk")]
    async fn market_set_ask(
        &self,
        miner: Json<Address>,
        price: Json<TokenAmount>,
        verified_price: Json<TokenAmount>,
        duration: ChainEpoch,
        min_piece_size: Json<PaddedPieceSize>,
        max_piece_size: Json<PaddedPieceSize>,
    ) -> RpcResult<()>;

    #[method(name = "MarketGetAsk")]
    async fn market_get_ask(&self, miner: Json<Address>) -> RpcResult<Option<Json<SignedStorageAsk>>>;

    #[method(name = "MarketListStorageAsk")]
    async fn market_list_storage_ask(&self) -> RpcResult<Vec<Json<SignedStorageAsk>>>;

    #[method(name = "MarketSetRetrievalAsk")]
    async fn market_set_retrieval_ask(&self, miner: Json<Address>, ask: Json<RetrievalAsk>) -> RpcResult<()>;

    #[method(name = "MarketGetRetrievalAsk")]
    async fn market_get_retrieval_ask(&self, miner: Json<Address>) -> RpcResult<Option<Json<RetrievalAsk>>>;

    #[method(name = "MarketListRetrievalAsk")]
    async fn market_list_retrieval_ask(&self) -> RpcResult<Vec<MinerRetrievalAsk>>;
}

/// Market escrow of the served miners.
#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketFunds {
    // ---- funds

    /// Send AddBalance from `wallet` into `addr`'s market escrow.
    #[method(name = "MarketAddBalance")]
    async fn market_add_balance(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Json<Cid>>;

    /// Escrow this droplet holds back for deals in progress.
    #[method(name = "MarketGetReserved")]
    async fn market_get_reserved(&self, addr: Json<Address>) -> RpcResult<Json<TokenAmount>>;

    /// Hold `amount` of `addr`'s escrow back, sending AddBalance from `wallet` for what is missing.
    #[method(name = "MarketReserveFunds")]
    async fn market_reserve_funds(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Option<Json<Cid>>>;

    #[method(name = "MarketReleaseFunds")]
    async fn market_release_funds(&self, addr: Json<Address>, amount: Json<TokenAmount>) -> RpcResult<()>;

    /// Send WithdrawBalance from `wallet` for `addr`'s escrow.
    #[method(name = "MarketWithdraw")]
    async fn market_withdraw(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Json<Cid>>;
}

/// Per-miner provider settings (the undefined address means `[CommonProvider]`).
#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketSettings {
    // ---- per-miner settings (`[CommonProvider]` for the undefined address)

    #[method(name = "DealsConsiderOnlineStorageDeals")]
    async fn deals_consider_online_storage_deals(&self, miner: MinerOrCommon) -> RpcResult<bool>;
    #[method(name = "DealsSetConsiderOnlineStorageDeals")]
    async fn deals_set_consider_online_storage_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()>;
    #[method(name = "DealsConsiderOfflineStorageDeals")]
    async fn deals_consider_offline_storage_deals(&self, miner: MinerOrCommon) -> RpcResult<bool>;
    #[method(name = "DealsSetConsiderOfflineStorageDeals")]
    async fn deals_set_consider_offline_storage_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()>;
    #[method(name = "DealsConsiderVerifiedStorageDeals")]
    async fn deals_consider_verified_storage_deals(&self, miner: MinerOrCommon) -> RpcResult<bool>;
    #[method(name = "DealsSetConsiderVerifiedStorageDeals")]
    async fn deals_set_consider_verified_storage_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()>;
    #[method(name = "DealsConsiderUnverifiedStorageDeals")]
    async fn deals_consider_unverified_storage_deals(&self, miner: MinerOrCommon) -> RpcResult<bool>;
    #[method(name = "DealsSetConsiderUnverifiedStorageDeals")]
    async fn deals_set_consider_unverified_storage_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()>;
    #[method(name = "DealsConsiderOnlineRetrievalDeals")]
    async fn deals_consider_online_retrieval_deals(&self, miner: MinerOrCommon) -> RpcResult<bool>;
    #[method(name = "DealsSetConsiderOnlineRetrievalDeals")]
    async fn deals_set_consider_online_retrieval_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()>;
    #[method(name = "DealsConsiderOfflineRetrievalDeals")]
    async fn deals_consider_offline_retrieval_deals(&self, miner: MinerOrCommon) -> RpcResult<bool>;
    #[method(name = "DealsSetConsiderOfflineRetrievalDeals")]
    async fn deals_set_consider_offline_retrieval_deals(&self, miner: MinerOrCommon, b: bool) -> RpcResult<()>;

    #[method(name = "DealsPieceCidBlocklist")]
    async fn deals_piece_cid_blocklist(&self, miner: MinerOrCommon) -> RpcResult<Vec<Json<Cid>>>;
    #[method(name = "DealsSetPieceCidBlocklist")]
    async fn deals_set_piece_cid_blocklist(&self, miner: MinerOrCommon, cids: Vec<Json<Cid>>) -> RpcResult<()>;

    /// Durations are Go's `time.Duration`: nanoseconds.
    #[method(name = "DealsMaxStartDelay")]
    async fn deals_max_start_delay(&self, miner: MinerOrCommon) -> RpcResult<i64>;
    #[method(name = "DealsSetMaxStartDelay")]
    async fn deals_set_max_start_delay(&self, miner: MinerOrCommon, delay: i64) -> RpcResult<()>;
    #[method(name = "DealsPublishMsgPeriod")]
    async fn deals_publish_msg_period(&self, miner: MinerOrCommon) -> RpcResult<i64>;
    #[method(name = "DealsSetPublishMsgPeriod")]
    async fn deals_set_publish_msg_period(&self, miner: MinerOrCommon, period: i64) -> RpcResult<()>;
    #[method(name = "SectorGetExpectedSealDuration")]
    async fn sector_get_expected_seal_duration(&self, miner: MinerOrCommon) -> RpcResult<i64>;
    #[method(name = "SectorSetExpectedSealDuration")]
    async fn sector_set_expected_seal_duration(&self, miner: MinerOrCommon, duration: i64) -> RpcResult<()>;
    #[method(name = "MarketMaxDealsPerPublishMsg")]
    async fn market_max_deals_per_publish_msg(&self, miner: MinerOrCommon) -> RpcResult<u64>;
    #[method(name = "MarketSetMaxDealsPerPublishMsg")]
    async fn market_set_max_deals_per_publish_msg(&self, miner: MinerOrCommon, n: u64) -> RpcResult<()>;
}

/// Storage deals: listing, importing data, publishing, and the sealer hand-off.
#[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
pub trait MarketDeals {
    /// Storage deals, newest first, filtered.
    #[method(name = "MarketListIncompleteDeals")]
    async fn market_list_incomplete_deals(&self, query: Option<DealQuery>) -> RpcResult<Vec<MinerDeal>>;

    /// A storage deal by proposal CID.
    #[method(name = "MarketGetDeal")]
    async fn market_get_deal(&self, proposal_cid: Json<Cid>) -> RpcResult<MinerDeal>;

    /// Import an offline deal's data (by proposal CID or UUID) from a file on this machine.
    #[method(name = "DealsImportData")]
    async fn deals_import_data(&self, data: ImportDataRef, skip_commp: bool) -> RpcResult<()>;

    #[method(name = "MarketPendingDeals")]
    async fn market_pending_deals(&self) -> RpcResult<Vec<PendingDeals>>;

    /// Publish every waiting deal now.
    #[method(name = "MarketPublishPendingDeals")]
    async fn market_publish_pending_deals(&self) -> RpcResult<()>;

    /// The sealer's pull: deals waiting for a sector, packed into `sector` (aligned offsets,
    /// largest first), marked Assigned.
    #[method(name = "AssignDeals")]
    async fn assign_deals(&self, sector: SectorId, sector_size: u64, spec: GetDealSpec) -> RpcResult<Vec<DealInfoV2>>;

    /// The sealer gives deals back (their sector failed).
    #[method(name = "ReleaseDeals")]
    async fn release_deals(&self, miner: Json<Address>, deals: Vec<u64>) -> RpcResult<()>;

    /// Legacy sealer: deals waiting for a sector, without assigning them.
    #[method(name = "GetUnPackedDeals")]
    async fn get_unpacked_deals(
        &self,
        miner: Json<Address>,
        spec: Option<GetDealSpec>,
    ) -> RpcResult<Vec<DealInfoIncludePath>>;

    /// Legacy sealer: the deals are taken (piece status Assigned).
    #[method(name = "MarkDealsAsPacking")]
    async fn mark_deals_as_packing(&self, miner: Json<Address>, deals: Vec<u64>) -> RpcResult<()>;

    /// Legacy sealer: the deal is in `sector` at `offset` (piece status Packing).
    #[method(name = "UpdateDealOnPacking")]
    async fn update_deal_on_packing(
        &self,
        miner: Json<Address>,
        deal_id: u64,
        sector: u64,
        offset: u64,
    ) -> RpcResult<()>;

    /// Legacy sealer: set a deal's piece status and, unless 0, its state.
    #[method(name = "UpdateDealStatus")]
    async fn update_deal_status(
        &self,
        miner: Json<Address>,
        deal_id: u64,
        piece_status: String,
        deal_status: Option<u64>,
    ) -> RpcResult<()>;

    /// Set a deal's state and/or piece status by hand (`storage deal update`).
    #[method(name = "UpdateStorageDealStatus")]
    async fn update_storage_deal_status(
        &self,
        proposal_cid: Json<Cid>,
        state: u64,
        piece_status: String,
    ) -> RpcResult<()>;

    /// Import many offline deals' data; one result per reference, failures included.
    #[method(name = "DealsBatchImportData")]
    async fn deals_batch_import_data(&self, refs: ImportDataRefs) -> RpcResult<Vec<ImportDataResult>>;
    /// Take over deals from another market (lotus-miner, boost, another droplet), each as it
    /// stands: published ones are followed on chain, offline ones wait for their data. Every
    /// deal is checked first; none is recorded when one is refused.
    #[method(name = "DealsImport")]
    async fn deals_import(&self, deals: Vec<MinerDeal>) -> RpcResult<()>;
}

/// The client traits of the namespace, for `use market_proto::api::market::clients::*`.
pub mod clients {
    pub use super::{MarketAsksClient, MarketDealsClient, MarketFundsClient, MarketMinersClient, MarketSettingsClient};
}

pub const METHODS: &[MethodSpec] = &[
    spec("ActorUpsert", Perm::Admin, 1),
    spec("ActorDelete", Perm::Admin, 1),
    spec("ActorList", Perm::Read, 0),
    spec("ActorExist", Perm::Read, 1),
    spec("ActorSectorSize", Perm::Read, 1),
    spec("MarketSetAsk", Perm::Admin, 6),
    spec("MarketGetAsk", Perm::Read, 1),
    spec("MarketListStorageAsk", Perm::Read, 0),
    spec("MarketSetRetrievalAsk", Perm::Admin, 2),
    spec("MarketGetRetrievalAsk", Perm::Read, 1),
    spec("MarketListRetrievalAsk", Perm::Read, 0),
    spec("NetAddrsListen", Perm::Read, 0),
    spec("ID", Perm::Read, 0),
    spec("Version", Perm::Read, 0),
    spec("MessagerPushMessage", Perm::Write, 2),
    spec("MessagerWaitMessage", Perm::Read, 2),
    spec("MarketListIncompleteDeals", Perm::Read, 1),
    spec("MarketGetDeal", Perm::Read, 1),
    spec("DealsImportData", Perm::Admin, 2),
    spec("MarketPendingDeals", Perm::Write, 0),
    spec("MarketPublishPendingDeals", Perm::Admin, 0),
    spec("AssignDeals", Perm::Write, 3),
    spec("ReleaseDeals", Perm::Write, 2),
    spec("GetUnPackedDeals", Perm::Read, 2),
    spec("MarkDealsAsPacking", Perm::Write, 2),
    spec("UpdateDealOnPacking", Perm::Write, 4),
    spec("UpdateDealStatus", Perm::Write, 4),
    spec("UpdateStorageDealStatus", Perm::Write, 3),
    spec("DealsBatchImportData", Perm::Admin, 1),
    spec("DealsImport", Perm::Admin, 1),
    spec("MarketAddBalance", Perm::Sign, 3),
    spec("MarketGetReserved", Perm::Sign, 1),
    spec("MarketReserveFunds", Perm::Sign, 3),
    spec("MarketReleaseFunds", Perm::Sign, 2),
    spec("MarketWithdraw", Perm::Sign, 3),
    spec("DealsConsiderOnlineStorageDeals", Perm::Read, 1),
    spec("DealsSetConsiderOnlineStorageDeals", Perm::Write, 2),
    spec("DealsConsiderOfflineStorageDeals", Perm::Read, 1),
    spec("DealsSetConsiderOfflineStorageDeals", Perm::Write, 2),
    spec("DealsConsiderVerifiedStorageDeals", Perm::Read, 1),
    spec("DealsSetConsiderVerifiedStorageDeals", Perm::Write, 2),
    spec("DealsConsiderUnverifiedStorageDeals", Perm::Read, 1),
    spec("DealsSetConsiderUnverifiedStorageDeals", Perm::Write, 2),
    spec("DealsConsiderOnlineRetrievalDeals", Perm::Read, 1),
    spec("DealsSetConsiderOnlineRetrievalDeals", Perm::Write, 2),
    spec("DealsConsiderOfflineRetrievalDeals", Perm::Read, 1),
    spec("DealsSetConsiderOfflineRetrievalDeals", Perm::Write, 2),
    spec("DealsPieceCidBlocklist", Perm::Read, 1),
    spec("DealsSetPieceCidBlocklist", Perm::Write, 2),
    spec("DealsMaxStartDelay", Perm::Read, 1),
    spec("DealsSetMaxStartDelay", Perm::Write, 2),
    spec("DealsPublishMsgPeriod", Perm::Read, 1),
    spec("DealsSetPublishMsgPeriod", Perm::Write, 2),
    spec("SectorGetExpectedSealDuration", Perm::Read, 1),
    spec("SectorSetExpectedSealDuration", Perm::Write, 2),
    spec("MarketMaxDealsPerPublishMsg", Perm::Read, 1),
    spec("MarketSetMaxDealsPerPublishMsg", Perm::Write, 2),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_undefined_address_means_common_settings() {
        let m: MinerOrCommon = serde_json::from_str("\"<empty>\"").expect("undef");
        assert_eq!(m, MinerOrCommon(None));
        assert_eq!(serde_json::to_string(&m).expect("json"), "\"<empty>\"");
        let m: MinerOrCommon = serde_json::from_str("\"t01000\"").expect("miner");
        assert_eq!(m, MinerOrCommon(Some(Address::new_id(1000))));
        assert!(serde_json::from_str::<MinerOrCommon>("\"nope\"").is_err());
    }

    #[test]
    fn the_legacy_sealer_s_deal_info_carries_the_proposal_inline() {
        let raw = r#"{"PieceCID":{"/":"baga6ea4seaqhagmu63kq7jsfkzqmkdm2jsop7vmfe5rjbs6ba2jtzopcizssanq"},"PieceSize":2048,"VerifiedDeal":false,"Client":"t01001","Provider":"t01000","Label":"","StartEpoch":10,"EndEpoch":600000,"StoragePricePerEpoch":"0","ProviderCollateral":"0","ClientCollateral":"0",
            "Offset":0,"Length":2048,"PayloadSize":1900,"DealID":3,"TotalStorageFee":"0","FastRetrieval":true,"PublishCid":null}"#;
        let d: DealInfoIncludePath = serde_json::from_str(raw).expect("decodes");
        assert_eq!((d.deal_id, d.proposal.0.piece_size.0, d.payload_size), (3, 2048, 1900));
        let back = serde_json::to_value(&d).expect("encodes");
        assert_eq!(back["PieceSize"], 2048);
        assert_eq!(back["DealID"], 3);
        assert!(
            back["Provider"].as_str().is_some_and(|p| p.ends_with("01000")),
            "{back}"
        );
    }

    #[test]
    fn a_miner_deal_has_venus_shared_s_shape_with_the_signed_proposal_embedded() {
        // As Go's encoding/json writes venus-shared `market.MinerDeal` (a lotus-miner
        // `MarketListIncompleteDeals` entry is the same with fewer fields).
        let raw = r#"{"ID":"1b4b8f7e-6b55-4f71-93d7-be1b46ea00c6",
            "Proposal":{"PieceCID":{"/":"baga6ea4seaqhagmu63kq7jsfkzqmkdm2jsop7vmfe5rjbs6ba2jtzopcizssanq"},"PieceSize":2048,"VerifiedDeal":false,"Client":"t01001","Provider":"t01000","Label":"hello","StartEpoch":10,"EndEpoch":600000,"StoragePricePerEpoch":"0","ProviderCollateral":"0","ClientCollateral":"0"},
            "ClientSignature":{"Type":1,"Data":"AAEC"},
            "ProposalCid":{"/":"bafyreihujsu4bhb3ibjnxmzyhhgqc7ajtgcgodikw3rmxl5g6bdxmpoxhm"},
            "AddFundsCid":null,"PublishCid":null,"Miner":"12D3KooWprovider","Client":"12D3KooWclient",
            "State":7,"PiecePath":"","PayloadSize":1900,"MetadataPath":"","SlashEpoch":-1,"FastRetrieval":true,
            "Message":"","FundsReserved":"0",
            "Ref":{"TransferType":"manual","Root":{"/":"bafk2bzacedop3crihkfeddvnrvoqpvcmkzftqydlghy5pgcmvqi24llfu5vty"},"PieceCid":null,"PieceSize":2032,"RawBlockSize":1900},
            "AvailableForRetrieval":false,"DealID":3,"CreationTime":"2023-06-07T15:35:19.485691+08:00",
            "TransferChannelId":null,"SectorNumber":9,"Offset":0,"PieceStatus":"Proving","InboundCAR":"",
            "CreatedAt":1686123319,"UpdatedAt":1686123320}"#;
        let d: MinerDeal = serde_json::from_str(raw).expect("decodes");
        assert_eq!(d.proposal.0.proposal.piece_size.0, 2048);
        assert_eq!(d.proposal.0.client_signature.data.len(), 3);
        assert_eq!((d.state, d.deal_id, d.sector, d.payload_size), (7, 3, 9, 1900));
        assert_eq!(d.data_ref.as_ref().map(|r| r.transfer_type.as_str()), Some("manual"));
        assert_eq!(
            (d.miner_peer.as_str(), d.client_peer.as_str()),
            ("12D3KooWprovider", "12D3KooWclient")
        );
        let back = serde_json::to_value(&d).expect("encodes");
        for key in [
            "ID",
            "Proposal",
            "ClientSignature",
            "ProposalCid",
            "Miner",
            "Ref",
            "CreationTime",
            "SlashEpoch",
        ] {
            assert!(back.get(key).is_some(), "{key} in {back}");
        }
        assert!(back.get("ClientDealProposal").is_none(), "{back}");
        assert_eq!(back["Proposal"]["Label"], "hello");
        assert_eq!(serde_json::from_value::<MinerDeal>(back).expect("again"), d);
    }
}
