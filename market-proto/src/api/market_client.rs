//! droplet-client's own API (`VENUS_MARKET_CLIENT.*` on `/rpc/v0`): asks, deals and imports.
//! Names and permissions as in `venus-shared/api/market/client` (droplet-inventory §2.2).

use std::collections::BTreeMap;

use cid::Cid;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::storage::StorageAsk;
use market_types::{Address, TokenAmount};
use serde::{Deserialize, Serialize};

use super::market::VersionInfo;
use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// Where a deal's data is (lotus `storagemarket.DataRef`). `PieceSize` is unpadded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRef {
    /// `graphsync`, `manual` (offline), `import`, or boost's transfer type (`http`).
    #[serde(rename = "TransferType", default)]
    pub transfer_type: String,
    #[serde(rename = "Root")]
    pub root: Json<Cid>,
    #[serde(rename = "PieceCid", default)]
    pub piece_cid: Option<Json<Cid>>,
    #[serde(rename = "PieceSize", default)]
    pub piece_size: u64,
    #[serde(rename = "RawBlockSize", default)]
    pub raw_block_size: u64,
}

/// `ClientStartDeal` / `ClientStatelessDeal` parameters (lotus `StartDealParams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartDealParams {
    #[serde(rename = "Data")]
    pub data: DataRef,
    #[serde(rename = "Wallet")]
    pub wallet: Json<Address>,
    #[serde(rename = "Miner")]
    pub miner: Json<Address>,
    /// attoFIL per GiB per epoch.
    #[serde(rename = "EpochPrice")]
    pub epoch_price: Json<TokenAmount>,
    #[serde(rename = "MinBlocksDuration")]
    pub min_blocks_duration: u64,
    /// Zero: the chain's minimum plus 20 %.
    #[serde(rename = "ProviderCollateral")]
    pub provider_collateral: Json<TokenAmount>,
    /// Zero or negative: eight days after the head.
    #[serde(rename = "DealStartEpoch")]
    pub deal_start_epoch: i64,
    #[serde(rename = "FastRetrieval")]
    pub fast_retrieval: bool,
    #[serde(rename = "VerifiedDeal")]
    pub verified_deal: bool,
    /// droplet-rs: the protocol to propose on (`/fil/storage/mk/1.2.1` …); empty: the newest
    /// the provider speaks.
    #[serde(rename = "Protocol", default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// droplet-rs: where the provider downloads an online deal's CAR, when the client does not
    /// serve it itself; with the headers to send.
    #[serde(rename = "HttpUrl", default, skip_serializing_if = "String::is_empty")]
    pub http_url: String,
    #[serde(rename = "HttpHeaders", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, String>,
    /// droplet-rs: the byte size of the CAR at `HttpUrl` (taken from the local import of the
    /// data root when zero).
    #[serde(rename = "TransferSize", default, skip_serializing_if = "is_zero")]
    pub transfer_size: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `ClientImport`'s argument (lotus `FileRef`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "IsCAR")]
    pub is_car: bool,
}

/// A retrieval provider's peer (lotus `retrievalmarket.RetrievalPeer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalPeer {
    pub address: Json<Address>,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "PieceCID", default)]
    pub piece_cid: Option<Json<Cid>>,
}

/// A provider's answer to a retrieval query (lotus `api.QueryOffer`). `Err` is set instead
/// when the provider cannot serve the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryOffer {
    pub err: String,
    pub root: Json<Cid>,
    pub piece: Option<Json<Cid>>,
    pub size: u64,
    /// `PricePerByte · Size + UnsealPrice`.
    pub min_price: Json<TokenAmount>,
    pub unseal_price: Json<TokenAmount>,
    pub price_per_byte: Json<TokenAmount>,
    pub payment_interval: u64,
    pub payment_interval_increase: u64,
    /// The provider's payment address.
    pub miner: Json<Address>,
    pub miner_peer: RetrievalPeer,
}

/// What to retrieve and on what terms (lotus `api.RetrievalOrder`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalOrder {
    pub root: Json<Cid>,
    pub piece: Option<Json<Cid>>,
    /// A selector as dag-json text, or a UnixFS path; none: the whole DAG.
    pub data_selector: Option<String>,
    pub size: u64,
    pub total: Json<TokenAmount>,
    pub unseal_price: Json<TokenAmount>,
    pub payment_interval: u64,
    pub payment_interval_increase: u64,
    /// The wallet that pays.
    pub client: Json<Address>,
    /// The provider's payment address.
    pub miner: Json<Address>,
    pub miner_peer: Option<RetrievalPeer>,
    #[serde(default)]
    pub remote_store: Option<String>,
    /// droplet-rs: where `ClientExport` will write the result. A UnixFS file is then written
    /// there while its blocks arrive, and the export after the retrieval has nothing left to
    /// do. Absent from lotus' and droplet's orders (they export afterwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<FileRef>,
    /// droplet-rs: `http` retrieves over the provider's trustless gateway (found through its
    /// transports protocol) instead of graphsync. Absent from lotus' and droplet's orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
}

/// `ClientRetrieve`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrievalRes {
    #[serde(rename = "DealID")]
    pub deal_id: u64,
}

/// A transfer channel's ID as lotus shows it (the same shape droplet's API uses).
pub use super::retrieval::ChannelRef as ChannelIdJson;

/// A client retrieval (lotus `api.RetrievalInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetrievalInfo {
    #[serde(rename = "PayloadCID")]
    pub payload_cid: Json<Cid>,
    #[serde(rename = "ID")]
    pub id: u64,
    #[serde(rename = "PieceCID")]
    pub piece_cid: Option<Json<Cid>>,
    pub price_per_byte: Json<TokenAmount>,
    pub unseal_price: Json<TokenAmount>,
    /// go-fil-markets `DealStatus`.
    pub status: u64,
    pub message: String,
    /// The provider's peer ID.
    pub provider: String,
    pub bytes_received: u64,
    pub bytes_paid_for: u64,
    pub total_paid: Json<TokenAmount>,
    #[serde(rename = "TransferChannelID")]
    pub transfer_channel_id: Option<ChannelIdJson>,
    /// The last go-fil-markets `ClientEvent`.
    pub event: Option<u64>,
}

/// What `ClientExport` writes out (lotus `api.ExportRef`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportRef {
    pub root: Json<Cid>,
    #[serde(rename = "DealID")]
    pub deal_id: u64,
    #[serde(default, rename = "FromLocalCAR")]
    pub from_local_car: String,
}

/// An outbound payment channel of this client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutboundChannel {
    pub channel: Option<Json<Address>>,
    pub from: Json<Address>,
    pub to: Json<Address>,
    /// Funds the channel holds.
    pub amount: Json<TokenAmount>,
    /// What its vouchers promise (the best of each lane, summed).
    pub promised: Json<TokenAmount>,
    pub lanes: u64,
    pub vouchers: u64,
    pub settling: bool,
}

/// `PaychAvailableFunds`' answer (lotus `ChannelAvailableFunds`, with its field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelAvailableFunds {
    pub channel: Option<Json<Address>>,
    pub from: Json<Address>,
    pub to: Json<Address>,
    /// Funds landed on chain.
    pub confirmed_amt: Json<TokenAmount>,
    /// Funds in a create or add-funds message not yet landed.
    pub pending_amt: Json<TokenAmount>,
    /// Confirmed funds no voucher promises.
    pub non_reserved_amt: Json<TokenAmount>,
    pub pending_available_amt: Json<TokenAmount>,
    pub pending_wait_sentinel: Option<Json<Cid>>,
    pub queued_amt: Json<TokenAmount>,
    /// What the vouchers made promise (lotus spells it so).
    pub voucher_reedeemed_amt: Json<TokenAmount>,
}

/// `PaychVoucherCreate`'s answer: the voucher, or how far the funds fall short of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VoucherCreateResult {
    pub voucher: Option<market_types::chain::SignedVoucher>,
    pub shortfall: Json<TokenAmount>,
}

/// `PaychGet`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    #[serde(rename = "Channel")]
    pub channel: Json<Address>,
    #[serde(rename = "WaitSentinel")]
    pub wait_sentinel: Option<Json<Cid>>,
}

/// `ClientImport`'s answer (lotus `ImportRes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRes {
    #[serde(rename = "Root")]
    pub root: Json<Cid>,
    #[serde(rename = "ImportID")]
    pub import_id: u64,
}

/// One local import (lotus `Import`, plus the piece droplet-rs computed for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    #[serde(rename = "Key")]
    pub key: u64,
    #[serde(rename = "Err")]
    pub err: String,
    #[serde(rename = "Root")]
    pub root: Option<Json<Cid>>,
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "FilePath")]
    pub file_path: String,
    #[serde(rename = "CARPath")]
    pub car_path: String,
    #[serde(rename = "CarSize", default)]
    pub car_size: u64,
    #[serde(rename = "PieceCid", default)]
    pub piece_cid: Option<Json<Cid>>,
    /// Unpadded.
    #[serde(rename = "PieceSize", default)]
    pub piece_size: u64,
    #[serde(rename = "Created", default)]
    pub created: u64,
}

/// A client deal (lotus `DealInfo`; `DealStages`, `TransferChannelID` and `DataTransfer` are
/// null, as droplet-rs moves data over HTTP), plus the deal UUID and protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealInfo {
    #[serde(rename = "ProposalCid")]
    pub proposal_cid: Json<Cid>,
    #[serde(rename = "State")]
    pub state: u64,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "DealStages")]
    pub deal_stages: Option<serde_json::Value>,
    #[serde(rename = "Provider")]
    pub provider: Json<Address>,
    #[serde(rename = "DataRef")]
    pub data_ref: Option<DataRef>,
    #[serde(rename = "PieceCID")]
    pub piece_cid: Json<Cid>,
    /// Padded piece size.
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "PricePerEpoch")]
    pub price_per_epoch: Json<TokenAmount>,
    #[serde(rename = "Duration")]
    pub duration: u64,
    #[serde(rename = "DealID")]
    pub deal_id: u64,
    /// RFC 3339.
    #[serde(rename = "CreationTime")]
    pub creation_time: String,
    #[serde(rename = "Verified")]
    pub verified: bool,
    #[serde(rename = "TransferChannelID")]
    pub transfer_channel_id: Option<serde_json::Value>,
    #[serde(rename = "DataTransfer")]
    pub data_transfer: Option<serde_json::Value>,
    #[serde(rename = "DealUUID", default)]
    pub deal_uuid: String,
    #[serde(rename = "Protocol", default)]
    pub protocol: String,
    #[serde(rename = "Client", default)]
    pub client: Option<Json<Address>>,
    #[serde(rename = "Online", default)]
    pub online: bool,
    #[serde(rename = "TransferSize", default)]
    pub transfer_size: u64,
    #[serde(rename = "BytesReceived", default)]
    pub bytes_received: u64,
    #[serde(rename = "PublishCid", default)]
    pub publish_cid: Option<Json<Cid>>,
    #[serde(rename = "StartEpoch", default)]
    pub start_epoch: i64,
}

/// What the provider says about a deal right now (`ClientDealStatusFromProvider`, a
/// droplet-rs addition: the Go client asks from the CLI with a throwaway libp2p host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderDealStatus {
    #[serde(rename = "DealUUID")]
    pub deal_uuid: String,
    #[serde(rename = "ProposalCid")]
    pub proposal_cid: Json<Cid>,
    #[serde(rename = "Provider")]
    pub provider: Json<Address>,
    #[serde(rename = "Protocol")]
    pub protocol: String,
    /// Boost's checkpoint (`Accepted`, `Transferred`, `Published`, …) or the legacy state name.
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "Failed")]
    pub failed: bool,
    #[serde(rename = "DealID")]
    pub deal_id: Option<u64>,
    #[serde(rename = "PublishCid")]
    pub publish_cid: Option<Json<Cid>>,
    #[serde(rename = "TransferSize")]
    pub transfer_size: u64,
    #[serde(rename = "BytesReceived")]
    pub bytes_received: u64,
}

/// One provider's verified deals (venus-shared `ProviderDistribution`): padded sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderDistribution {
    #[serde(rename = "Provider")]
    pub provider: Json<Address>,
    #[serde(rename = "Total")]
    pub total: u64,
    #[serde(rename = "Uniq")]
    pub uniq: u64,
    /// Piece CID → size, each piece once.
    #[serde(rename = "UniqPieces", default)]
    pub uniq_pieces: BTreeMap<String, u64>,
    /// (Total − Uniq) / Total.
    #[serde(rename = "DuplicationPercentage")]
    pub duplication_percentage: f64,
}

/// One client's verified deals over its providers (venus-shared `ReplicaDistribution`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaDistribution {
    #[serde(rename = "Client")]
    pub client: Json<Address>,
    #[serde(rename = "Total")]
    pub total: u64,
    #[serde(rename = "Uniq")]
    pub uniq: u64,
    #[serde(rename = "DuplicationPercentage")]
    pub duplication_percentage: f64,
    /// Provider → its part of the client's total.
    #[serde(rename = "ReplicasPercentage", default)]
    pub replicas_percentage: BTreeMap<String, f64>,
    #[serde(rename = "ReplicasDistribution", default)]
    pub replicas_distribution: Vec<ProviderDistribution>,
}

/// One deal of a `ClientBatchDeal` call (venus-shared `DealResult`): the proposal CID when
/// the provider accepted it, else why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealResult {
    #[serde(rename = "ProposalCID")]
    pub proposal_cid: Option<Json<Cid>>,
    #[serde(rename = "Message")]
    pub message: String,
}

/// `ClientBatchDeal`'s answer, a result per deal in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DealResults {
    #[serde(rename = "Results", default)]
    pub results: Vec<DealResult>,
}

/// `ClientGetVerifiedDealDistribution`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DealDistribution {
    #[serde(rename = "ProvidersDistribution", default)]
    pub providers_distribution: Vec<ProviderDistribution>,
    #[serde(rename = "ReplicasDistribution", default)]
    pub replicas_distribution: Vec<ReplicaDistribution>,
}

#[rpc(server, client, namespace = "VENUS_MARKET_CLIENT", namespace_separator = ".")]
pub trait MarketClient {
    /// Fetch `miner`'s storage ask from `peer` (a peer ID string), verified against the
    /// miner's worker key.
    #[method(name = "ClientQueryAsk")]
    async fn client_query_ask(&self, peer: String, miner: Json<Address>) -> RpcResult<Json<StorageAsk>>;

    /// Propose an offline ("manual") deal: funds are reserved in the client's escrow, the
    /// proposal is signed and sent on `/fil/storage/mk/1.2.1`; returns the proposal CID once
    /// the provider accepts it.
    #[method(name = "ClientStatelessDeal")]
    async fn client_stateless_deal(&self, params: StartDealParams) -> RpcResult<Json<Cid>>;

    /// Propose a deal whose data the provider fetches over HTTP: from this daemon (the CAR of
    /// a local import, by data root) or from `HttpUrl`. Returns the proposal CID once accepted.
    #[method(name = "ClientStartDeal")]
    async fn client_start_deal(&self, params: StartDealParams) -> RpcResult<Json<Cid>>;

    /// Propose offline deals (manual transfer, price 0) one after another, each stored before
    /// it is sent, over mk/1.2.x (droplet's own batch used mk/1.1.1, which droplet providers
    /// refuse); a deal that fails does not stop the others.
    #[method(name = "ClientBatchDeal")]
    async fn client_batch_deal(&self, params: Vec<StartDealParams>) -> RpcResult<DealResults>;

    #[method(name = "ClientListDeals")]
    async fn client_list_deals(&self) -> RpcResult<Vec<DealInfo>>;
    /// The offline deals (the provider imports their data by hand), as droplet's offline repo.
    #[method(name = "ClientListOfflineDeals")]
    async fn client_list_offline_deals(&self) -> RpcResult<Vec<DealInfo>>;
    /// How this client's verified deals not yet ended are spread: `providers`' totals (over
    /// every client) and `client`'s spread over its providers. An undefined address
    /// (`"<empty>"`) asks for nothing on its side, as droplet's CLI sends it.
    #[method(name = "ClientGetVerifiedDealDistribution")]
    async fn client_get_verified_deal_distribution(
        &self,
        providers: Vec<super::market::MinerOrCommon>,
        client: super::market::MinerOrCommon,
    ) -> RpcResult<DealDistribution>;

    /// One deal by proposal CID.
    #[method(name = "ClientGetDealInfo")]
    async fn client_get_deal_info(&self, proposal: Json<Cid>) -> RpcResult<DealInfo>;

    /// Import a file (as UnixFS, into a CAR in the repo) or a CAR (in place), with its piece.
    #[method(name = "ClientImport")]
    async fn client_import(&self, file: FileRef) -> RpcResult<ImportRes>;

    #[method(name = "ClientListImports")]
    async fn client_list_imports(&self) -> RpcResult<Vec<Import>>;

    #[method(name = "ClientRemoveImport")]
    async fn client_remove_import(&self, id: u64) -> RpcResult<()>;

    #[method(name = "DefaultAddress")]
    async fn default_address(&self) -> RpcResult<Json<Address>>;

    /// Ask the provider for a deal's status now, on the protocol the deal was made on
    /// (droplet-rs addition).
    #[method(name = "ClientDealStatusFromProvider")]
    async fn client_deal_status_from_provider(&self, proposal: Json<Cid>) -> RpcResult<ProviderDealStatus>;

    /// Send AddBalance from `wallet` into `addr`'s market escrow.
    #[method(name = "MarketAddBalance")]
    async fn market_add_balance(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Json<Cid>>;

    /// Escrow held back for deals not yet published and by hand.
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

    /// Send a message from one of this daemon's wallets through its messager (nonce and gas
    /// filled in); `MaxFee` of the spec caps the gas fee. Returns the messager id or CID.
    #[method(name = "MessagerPushMessage")]
    async fn messager_push_message(
        &self,
        msg: Json<market_types::chain::Message>,
        spec: Option<market_types::chain::MessageSendSpec>,
    ) -> RpcResult<Json<Cid>>;

    /// Wait for a message this daemon sent (a messager id or a chain CID).
    #[method(name = "MessagerWaitMessage")]
    async fn messager_wait_message(
        &self,
        id: Json<Cid>,
        confidence: u64,
    ) -> RpcResult<Json<market_types::chain::MsgLookup>>;

    /// Ask `miner`'s provider whether and on what terms it serves `root` (in `piece`).
    #[method(name = "ClientMinerQueryOffer")]
    async fn client_miner_query_offer(
        &self,
        miner: Json<Address>,
        root: Json<Cid>,
        piece: Option<Json<Cid>>,
    ) -> RpcResult<QueryOffer>;

    /// Start a retrieval; its progress is in `ClientListRetrievals`.
    #[method(name = "ClientRetrieve")]
    async fn client_retrieve(&self, order: RetrievalOrder) -> RpcResult<RetrievalRes>;

    /// Wait until the retrieval completes (or fails, with its message).
    #[method(name = "ClientRetrieveWait")]
    async fn client_retrieve_wait(&self, deal_id: u64) -> RpcResult<()>;

    /// A retrieval after each of its events so far, oldest first, from entry `from` on (all
    /// without it) (droplet-rs: what `retrieval retrieve` prints as progress).
    #[method(name = "ClientRetrievalLog")]
    async fn client_retrieval_log(&self, deal_id: u64, from: Option<usize>) -> RpcResult<Vec<RetrievalInfo>>;

    #[method(name = "ClientListRetrievals")]
    async fn client_list_retrievals(&self) -> RpcResult<Vec<RetrievalInfo>>;

    #[method(name = "ClientCancelRetrievalDeal")]
    async fn client_cancel_retrieval_deal(&self, deal_id: u64) -> RpcResult<()>;

    /// Write a retrieved DAG out: the CAR (`IsCAR`) or the UnixFS file or directory.
    #[method(name = "ClientExport")]
    async fn client_export(&self, export: ExportRef, file: FileRef) -> RpcResult<()>;

    /// A channel from `from` to `to` with `amount` not yet promised: the existing one's
    /// funds if they cover it, else funds are added (or the channel created) and waited for.
    #[method(name = "PaychGet")]
    async fn paych_get(
        &self,
        from: Json<Address>,
        to: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<ChannelInfo>;

    #[method(name = "PaychList")]
    async fn paych_list(&self) -> RpcResult<Vec<OutboundChannel>>;

    #[method(name = "PaychVoucherList")]
    async fn paych_voucher_list(&self, channel: Json<Address>) -> RpcResult<Vec<market_types::chain::SignedVoucher>>;

    #[method(name = "PaychAvailableFunds")]
    async fn paych_available_funds(&self, channel: Json<Address>) -> RpcResult<ChannelAvailableFunds>;

    /// A voucher for the cumulative `amount` on `lane`, or the shortfall.
    #[method(name = "PaychVoucherCreate")]
    async fn paych_voucher_create(
        &self,
        channel: Json<Address>,
        amount: Json<TokenAmount>,
        lane: u64,
    ) -> RpcResult<VoucherCreateResult>;

    #[method(name = "PaychVoucherCheckValid")]
    async fn paych_voucher_check_valid(
        &self,
        channel: Json<Address>,
        voucher: market_types::chain::SignedVoucher,
    ) -> RpcResult<()>;

    /// Keep a voucher; what it adds over its lane's best (at least `min_delta`).
    #[method(name = "PaychVoucherAdd")]
    async fn paych_voucher_add(
        &self,
        channel: Json<Address>,
        voucher: market_types::chain::SignedVoucher,
        proof: Option<String>,
        min_delta: Json<TokenAmount>,
    ) -> RpcResult<Json<TokenAmount>>;

    #[method(name = "PaychSettle")]
    async fn paych_settle(&self, channel: Json<Address>) -> RpcResult<Json<Cid>>;

    #[method(name = "PaychCollect")]
    async fn paych_collect(&self, channel: Json<Address>) -> RpcResult<Json<Cid>>;

    #[method(name = "Version")]
    async fn version(&self) -> RpcResult<VersionInfo>;
}

pub const METHODS: &[MethodSpec] = &[
    spec("ClientQueryAsk", Perm::Read, 2),
    spec("ClientStatelessDeal", Perm::Write, 1),
    spec("ClientStartDeal", Perm::Admin, 1),
    spec("ClientBatchDeal", Perm::Write, 1),
    spec("ClientListDeals", Perm::Write, 0),
    spec("ClientListOfflineDeals", Perm::Read, 0),
    spec("ClientGetVerifiedDealDistribution", Perm::Read, 2),
    spec("ClientGetDealInfo", Perm::Read, 1),
    spec("ClientImport", Perm::Admin, 1),
    spec("ClientListImports", Perm::Write, 0),
    spec("ClientRemoveImport", Perm::Admin, 1),
    spec("DefaultAddress", Perm::Read, 0),
    spec("ClientDealStatusFromProvider", Perm::Read, 1),
    spec("MarketAddBalance", Perm::Write, 3),
    spec("MarketGetReserved", Perm::Read, 1),
    spec("MarketReserveFunds", Perm::Write, 3),
    spec("MarketReleaseFunds", Perm::Write, 2),
    spec("MarketWithdraw", Perm::Write, 3),
    spec("MessagerWaitMessage", Perm::Read, 2),
    spec("MessagerPushMessage", Perm::Write, 2),
    spec("ClientMinerQueryOffer", Perm::Read, 3),
    spec("ClientRetrieve", Perm::Admin, 1),
    spec("ClientRetrieveWait", Perm::Admin, 1),
    spec("ClientRetrievalLog", Perm::Write, 2),
    spec("ClientListRetrievals", Perm::Write, 0),
    spec("ClientCancelRetrievalDeal", Perm::Write, 1),
    spec("ClientExport", Perm::Admin, 2),
    spec("PaychGet", Perm::Sign, 3),
    spec("PaychList", Perm::Read, 0),
    spec("PaychVoucherList", Perm::Write, 1),
    spec("PaychSettle", Perm::Sign, 1),
    spec("PaychAvailableFunds", Perm::Read, 1),
    spec("PaychVoucherCreate", Perm::Sign, 3),
    spec("PaychVoucherCheckValid", Perm::Read, 2),
    spec("PaychVoucherAdd", Perm::Write, 4),
    spec("PaychCollect", Perm::Sign, 1),
    spec("Version", Perm::Read, 0),
];
