//! The full node API (venus or lotus), `Filecoin.*`: the subset the market uses
//! (`rpc-and-anchors.md` A.1), in the v1 shapes, plus the v0 variants that differ.

use std::collections::BTreeMap;

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use market_types::chain::{
    Actor, DealCollateralBounds, HeadChange, MarketBalance, MarketDeal, Message, MessageSendSpec, MinerInfo,
    MinerPower, MsgLookup, SectorPreCommitOnChainInfo, SignedMessage, TipSet, TipSetKey,
};
use market_types::json::{JsonError, LotusJson, Value};
use market_types::{Address, BigInt, Bytes, Cid, Signature, TokenAmount};

use super::wallet::MsgMeta;
use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// `StateMarketDeals`: deal ID (as a decimal string key) to deal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketDeals(pub BTreeMap<u64, MarketDeal>);

impl LotusJson for MarketDeals {
    fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect())
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let Value::Object(m) = v else {
            return Err(JsonError::new("MarketDeals: expected an object"));
        };
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let id = k
                .parse::<u64>()
                .map_err(|_| JsonError::new(format!("MarketDeals: key {k:?} is not a deal ID")))?;
            out.insert(id, MarketDeal::from_json(v)?);
        }
        Ok(MarketDeals(out))
    }
}

/// `StateReadState`: an actor's balance, code and state (as the actor's own JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActorState {
    #[serde(rename = "Balance")]
    pub balance: Json<TokenAmount>,
    #[serde(rename = "Code")]
    pub code: Json<Cid>,
    #[serde(rename = "State")]
    pub state: serde_json::Value,
}

/// A payment channel's state as `StateReadState` shows it (builtin-actors `paych::State`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaychStateView {
    #[serde(rename = "From")]
    pub from: Json<Address>,
    #[serde(rename = "To")]
    pub to: Json<Address>,
    #[serde(rename = "ToSend")]
    pub to_send: Json<TokenAmount>,
    #[serde(rename = "SettlingAt")]
    pub settling_at: i64,
    #[serde(rename = "MinSettleHeight")]
    pub min_settle_height: i64,
    #[serde(rename = "LaneStates")]
    pub lane_states: Json<Cid>,
}

/// `Filecoin.*` on `/rpc/v1`.
#[rpc(server, client, namespace = "Filecoin", namespace_separator = ".")]
pub trait FullNode {
    // ------------------------------------------------------------ chain
    #[method(name = "ChainHead")]
    async fn chain_head(&self) -> RpcResult<Json<TipSet>>;

    #[method(name = "ChainGetTipSet")]
    async fn chain_get_tipset(&self, tsk: Json<TipSetKey>) -> RpcResult<Json<TipSet>>;

    #[method(name = "ChainGetTipSetByHeight")]
    async fn chain_get_tipset_by_height(&self, height: i64, tsk: Json<TipSetKey>) -> RpcResult<Json<TipSet>>;

    #[method(name = "ChainGetTipSetAfterHeight")]
    async fn chain_get_tipset_after_height(&self, height: i64, tsk: Json<TipSetKey>) -> RpcResult<Json<TipSet>>;

    #[method(name = "ChainGetMessage")]
    async fn chain_get_message(&self, cid: Json<Cid>) -> RpcResult<Json<Message>>;

    /// Head changes; the first notification is one `current` change. WebSocket only.
    #[subscription(name = "ChainNotify" => "xrpc.ch.val", unsubscribe = "xrpc.cancel", item = Json<Vec<HeadChange>>)]
    async fn chain_notify(&self) -> SubscriptionResult;

    // ------------------------------------------------------------ state
    #[method(name = "StateNetworkName")]
    async fn state_network_name(&self) -> RpcResult<String>;

    #[method(name = "StateNetworkVersion")]
    async fn state_network_version(&self, tsk: Json<TipSetKey>) -> RpcResult<u64>;

    #[method(name = "StateAccountKey")]
    async fn state_account_key(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<Address>>;

    #[method(name = "StateLookupID")]
    async fn state_lookup_id(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<Address>>;

    #[method(name = "StateMinerInfo")]
    async fn state_miner_info(&self, miner: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<MinerInfo>>;

    #[method(name = "StateMarketBalance")]
    async fn state_market_balance(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<MarketBalance>>;

    #[method(name = "StateMarketStorageDeal")]
    async fn state_market_storage_deal(&self, deal_id: u64, tsk: Json<TipSetKey>) -> RpcResult<Json<MarketDeal>>;

    #[method(name = "StateMarketDeals")]
    async fn state_market_deals(&self, tsk: Json<TipSetKey>) -> RpcResult<Json<MarketDeals>>;

    #[method(name = "StateDealProviderCollateralBounds")]
    async fn state_deal_provider_collateral_bounds(
        &self,
        padded_size: u64,
        verified: bool,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Json<DealCollateralBounds>>;

    /// The client's datacap, or `null` when it is not a verified client.
    #[method(name = "StateVerifiedClientStatus")]
    async fn state_verified_client_status(
        &self,
        addr: Json<Address>,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Option<Json<BigInt>>>;

    /// A client's allocation by ID, or `null`.
    #[method(name = "StateGetAllocation")]
    async fn state_get_allocation(
        &self,
        client: Json<Address>,
        id: u64,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Option<Json<market_types::actors::Allocation>>>;

    /// A client's allocations by ID.
    #[method(name = "StateGetAllocations")]
    async fn state_get_allocations(
        &self,
        client: Json<Address>,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<BTreeMap<String, Json<market_types::actors::Allocation>>>;

    /// A provider's claim by ID, or `null`.
    #[method(name = "StateGetClaim")]
    async fn state_get_claim(
        &self,
        provider: Json<Address>,
        id: u64,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Option<Json<market_types::actors::Claim>>>;

    /// A provider's claims by ID.
    #[method(name = "StateGetClaims")]
    async fn state_get_claims(
        &self,
        provider: Json<Address>,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<BTreeMap<String, Json<market_types::actors::Claim>>>;

    #[method(name = "StateSectorPreCommitInfo")]
    async fn state_sector_precommit_info(
        &self,
        miner: Json<Address>,
        sector: u64,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Option<Json<SectorPreCommitOnChainInfo>>>;

    #[method(name = "StateSearchMsg")]
    async fn state_search_msg(
        &self,
        from: Json<TipSetKey>,
        cid: Json<Cid>,
        lookback: i64,
        allow_replaced: bool,
    ) -> RpcResult<Option<Json<MsgLookup>>>;

    /// Blocks until the message is on chain with `confidence` tipsets on top of it.
    #[method(name = "StateWaitMsg")]
    async fn state_wait_msg(
        &self,
        cid: Json<Cid>,
        confidence: u64,
        lookback: i64,
        allow_replaced: bool,
    ) -> RpcResult<Json<MsgLookup>>;

    #[method(name = "StateGetActor")]
    async fn state_get_actor(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<Actor>>;

    #[method(name = "StateReadState")]
    async fn state_read_state(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<ActorState>;

    /// The code CID of each builtin actor at network version `nv`, by manifest name.
    #[method(name = "StateActorCodeCIDs")]
    async fn state_actor_code_cids(&self, nv: u64) -> RpcResult<BTreeMap<String, Json<Cid>>>;

    #[method(name = "StateListMiners")]
    async fn state_list_miners(&self, tsk: Json<TipSetKey>) -> RpcResult<Json<Vec<Address>>>;

    #[method(name = "StateMinerPower")]
    async fn state_miner_power(&self, miner: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<MinerPower>>;

    // ------------------------------------------------------------ messages
    #[method(name = "GasEstimateMessageGas")]
    async fn gas_estimate_message_gas(
        &self,
        msg: Json<Message>,
        spec: Option<Json<MessageSendSpec>>,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Json<Message>>;

    #[method(name = "MpoolGetNonce")]
    async fn mpool_get_nonce(&self, addr: Json<Address>) -> RpcResult<u64>;

    #[method(name = "MpoolPush")]
    async fn mpool_push(&self, msg: Json<SignedMessage>) -> RpcResult<Json<Cid>>;

    /// Estimate, assign the nonce and sign with a key the node holds, then push.
    #[method(name = "MpoolPushMessage")]
    async fn mpool_push_message(
        &self,
        msg: Json<Message>,
        spec: Option<Json<MessageSendSpec>>,
    ) -> RpcResult<Json<SignedMessage>>;

    // ------------------------------------------------------------ wallet
    /// `"secp256k1"` or `"bls"`.
    #[method(name = "WalletNew")]
    async fn wallet_new(&self, key_type: String) -> RpcResult<Json<Address>>;

    #[method(name = "WalletList")]
    async fn wallet_list(&self) -> RpcResult<Json<Vec<Address>>>;

    #[method(name = "WalletBalance")]
    async fn wallet_balance(&self, addr: Json<Address>) -> RpcResult<Json<TokenAmount>>;

    #[method(name = "WalletHas")]
    async fn wallet_has(&self, addr: Json<Address>) -> RpcResult<bool>;

    /// Lotus form `[addr, data]`; venus-wallet form `[addr, data, MsgMeta]`.
    #[method(name = "WalletSign")]
    async fn wallet_sign(
        &self,
        addr: Json<Address>,
        data: Json<Bytes>,
        meta: Option<MsgMeta>,
    ) -> RpcResult<Json<Signature>>;

    #[method(name = "WalletDefaultAddress")]
    async fn wallet_default_address(&self) -> RpcResult<Json<Address>>;
}

/// The v0 methods whose parameters differ from v1 (`/rpc/v0`).
#[rpc(server, client, namespace = "Filecoin", namespace_separator = ".")]
pub trait FullNodeV0 {
    #[method(name = "StateSearchMsg")]
    async fn state_search_msg(&self, cid: Json<Cid>) -> RpcResult<Option<Json<MsgLookup>>>;

    #[method(name = "StateWaitMsg")]
    async fn state_wait_msg(&self, cid: Json<Cid>, confidence: u64) -> RpcResult<Json<MsgLookup>>;
}

/// The lotus node as a signer (`Signer.Type = "lotusnode"`): the two-argument `WalletSign`.
#[rpc(client, namespace = "Filecoin", namespace_separator = ".")]
pub trait LotusSigner {
    #[method(name = "WalletHas")]
    async fn wallet_has(&self, addr: Json<Address>) -> RpcResult<bool>;

    #[method(name = "WalletSign")]
    async fn wallet_sign(&self, addr: Json<Address>, data: Json<Bytes>) -> RpcResult<Json<Signature>>;
}

/// Permissions as lotus assigns them (`api/api_full.go` perm tags) and the v1 parameter
/// counts (`WalletSign` takes lotus's two or venus-wallet's three).
pub const METHODS: &[MethodSpec] = &[
    spec("ChainHead", Perm::Read, 0),
    spec("ChainGetTipSet", Perm::Read, 1),
    spec("ChainGetTipSetByHeight", Perm::Read, 2),
    spec("ChainGetTipSetAfterHeight", Perm::Read, 2),
    spec("ChainGetMessage", Perm::Read, 1),
    spec("ChainNotify", Perm::Read, 0),
    spec("xrpc.cancel", Perm::Read, 1),
    spec("StateNetworkName", Perm::Read, 0),
    spec("StateNetworkVersion", Perm::Read, 1),
    spec("StateAccountKey", Perm::Read, 2),
    spec("StateLookupID", Perm::Read, 2),
    spec("StateMinerInfo", Perm::Read, 2),
    spec("StateMarketBalance", Perm::Read, 2),
    spec("StateMarketStorageDeal", Perm::Read, 2),
    spec("StateMarketDeals", Perm::Read, 1),
    spec("StateDealProviderCollateralBounds", Perm::Read, 3),
    spec("StateVerifiedClientStatus", Perm::Read, 2),
    spec("StateGetAllocation", Perm::Read, 3),
    spec("StateGetAllocations", Perm::Read, 2),
    spec("StateGetClaim", Perm::Read, 3),
    spec("StateGetClaims", Perm::Read, 2),
    spec("StateSectorPreCommitInfo", Perm::Read, 3),
    spec("StateSearchMsg", Perm::Read, 4),
    spec("StateWaitMsg", Perm::Read, 4),
    spec("StateGetActor", Perm::Read, 2),
    spec("StateReadState", Perm::Read, 2),
    spec("StateActorCodeCIDs", Perm::Read, 1),
    spec("StateListMiners", Perm::Read, 1),
    spec("StateMinerPower", Perm::Read, 2),
    spec("GasEstimateMessageGas", Perm::Read, 3),
    spec("MpoolGetNonce", Perm::Read, 1),
    spec("MpoolPush", Perm::Write, 1),
    spec("MpoolPushMessage", Perm::Sign, 2),
    spec("WalletNew", Perm::Write, 1),
    spec("WalletList", Perm::Write, 0),
    spec("WalletBalance", Perm::Read, 1),
    spec("WalletHas", Perm::Write, 1),
    spec("WalletSign", Perm::Sign, 3),
    spec("WalletDefaultAddress", Perm::Write, 0),
];

/// The v0 parameter counts that differ.
pub const V0_METHODS: &[MethodSpec] = &[
    spec("StateSearchMsg", Perm::Read, 1),
    spec("StateWaitMsg", Perm::Read, 2),
];
