//! The devnet's JSON-RPC: the full node (v1 and v0), the messager, the gateway signer, and
//! the devnet's own `Devnet.Mine` for deterministic tests.
//!
//! The devnet keeps only its current state, so `State*` calls accept any tipset key on the
//! chain and answer from the head (enough for the market, which always asks about the head).

use std::sync::Arc;

use jsonrpsee::core::{RpcResult, SubscriptionResult, async_trait};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use market_crypto::KeyType;
use market_proto::api::full_node::{
    ActorState, FullNodeServer, FullNodeV0Server, METHODS as FULL_NODE_METHODS, MarketDeals, PaychStateView, V0_METHODS,
};
use market_proto::api::gateway::{GatewayServer, METHODS as GATEWAY_METHODS};
use market_proto::api::messager::{METHODS as MESSAGER_METHODS, MessagerMessage, MessagerServer};
use market_proto::api::wallet::MsgMeta;
use market_proto::api::{Json, MethodSpec, MethodTable, handler_error, spec};
use market_proto::jwt::Perm;
use market_types::chain::{
    Actor, BeneficiaryTerm, Claim, DealCollateralBounds, HeadChange, MarketBalance, MarketDeal, Message,
    MessageSendSpec, MinerInfo, MinerPower, MsgLookup, SectorPreCommitOnChainInfo, SignedMessage, TipSet, TipSetKey,
};
use market_types::{Address, BigInt, Bytes, Cid, PeerId, Signature, TokenAmount};

use crate::chain::Chain;
use crate::node::{Node, NodeError};
use crate::state::ActorKind;
use crate::state::policy::NETWORK_VERSION;

/// The devnet's own methods (admin).
#[rpc(server, client, namespace = "Devnet", namespace_separator = ".")]
pub trait Devnet {
    /// Mine one tipset now, after `null_rounds` empty epochs; returns it.
    #[method(name = "Mine")]
    async fn mine(&self, null_rounds: u64) -> RpcResult<Json<TipSet>>;

    /// Make the next `count` calls of `method` (full name) answer an error, as a node with a
    /// fault in one method does; 0 ends the fault.
    #[method(name = "FailMethod")]
    async fn fail_method(&self, method: String, count: u64) -> RpcResult<()>;
}

pub const DEVNET_METHODS: &[MethodSpec] = &[spec("Mine", Perm::Admin, 1), spec("FailMethod", Perm::Admin, 2)];

/// Permissions and parameter counts of `/rpc/v1` (full node, messager, devnet).
pub fn v1_table() -> MethodTable {
    MethodTable::new()
        .with("Filecoin", FULL_NODE_METHODS)
        .with("Message", MESSAGER_METHODS)
        .with("Devnet", DEVNET_METHODS)
}

/// `/rpc/v0`: v1 with the v0 parameter counts.
pub fn v0_table() -> MethodTable {
    v1_table().with("Filecoin", V0_METHODS)
}

/// `/rpc/v2`: the gateway.
pub fn gateway_table() -> MethodTable {
    MethodTable::new().with("Gateway", GATEWAY_METHODS)
}

/// The RPC handlers over a node.
#[derive(Debug, Clone)]
pub struct Rpc(pub Arc<Node>);

fn err(e: NodeError) -> jsonrpsee::types::ErrorObjectOwned {
    handler_error(e.to_string())
}

/// `/rpc/v1`: full node, messager, devnet.
pub fn v1_module(node: Arc<Node>) -> RpcModule<()> {
    let rpc = Rpc(node);
    let mut m = RpcModule::new(());
    merge(&mut m, FullNodeServer::into_rpc(rpc.clone()));
    merge(&mut m, MessagerServer::into_rpc(rpc.clone()));
    merge(&mut m, DevnetServer::into_rpc(rpc));
    m
}

/// `/rpc/v0`: v1 with the v0 forms of `StateSearchMsg` and `StateWaitMsg`.
pub fn v0_module(node: Arc<Node>) -> RpcModule<()> {
    let mut m = v1_module(node.clone());
    m.remove_method("Filecoin.StateSearchMsg");
    m.remove_method("Filecoin.StateWaitMsg");
    merge(&mut m, FullNodeV0Server::into_rpc(Rpc(node)));
    m
}

/// `/rpc/v2`: the gateway signer.
pub fn gateway_module(node: Arc<Node>) -> RpcModule<()> {
    let mut m = RpcModule::new(());
    merge(&mut m, GatewayServer::into_rpc(Rpc(node)));
    m
}

fn merge<C: Send + Sync + 'static>(m: &mut RpcModule<()>, other: RpcModule<C>) {
    if let Err(e) = m.merge(other) {
        // Names are fixed at compile time; a clash is a programming error caught by tests.
        tracing::error!(error = %e, "duplicate RPC method");
    }
}

impl Rpc {
    fn chain<R>(&self, f: impl FnOnce(&Chain) -> R) -> R {
        self.0.with_chain(f)
    }

    /// Check that a tipset key names a tipset on this chain.
    fn at(&self, tsk: &TipSetKey) -> RpcResult<TipSet> {
        self.chain(|c| c.tipset_by_key(tsk))
            .ok_or_else(|| handler_error(format!("loading tipset {:?}: tipset not found", tsk.0)))
    }

    fn id_of(&self, addr: &Address) -> RpcResult<u64> {
        self.chain(|c| c.state.lookup_id(addr))
            .ok_or_else(|| handler_error(format!("resolution lookup failed ({addr}): actor not found")))
    }

    fn miner_info(&self, miner: &Address) -> RpcResult<MinerInfo> {
        let id = self.id_of(miner)?;
        self.chain(|c| {
            let m = c
                .state
                .miner(id)
                .ok_or_else(|| handler_error(format!("{miner} is not a miner actor")))?;
            let owner = Address::new_id(m.owner);
            Ok(MinerInfo {
                owner,
                worker: Address::new_id(m.worker),
                new_worker: None,
                control_addresses: m.control.iter().map(|c| Address::new_id(*c)).collect(),
                worker_change_epoch: -1,
                peer_id: (!m.peer_id.is_empty()).then(|| PeerId(m.peer_id.clone())),
                multiaddrs: m.multiaddrs.iter().map(|a| Bytes(a.clone())).collect(),
                window_post_proof_type: m.window_post_proof_type,
                sector_size: m.sector_size,
                window_post_partition_sectors: partition_sectors(m.sector_size),
                consensus_fault_elapsed: -1,
                pending_owner_address: None,
                beneficiary: owner,
                beneficiary_term: BeneficiaryTerm {
                    quota: TokenAmount::default(),
                    used_quota: TokenAmount::default(),
                    expiration: 0,
                },
                pending_beneficiary_term: None,
            })
        })
    }
}

/// Window PoSt partition sizes by sector size (builtin-actors `WindowPoStPartitionSectors`).
fn partition_sectors(sector_size: u64) -> u64 {
    match sector_size {
        2048 | 8_388_608 => 2,
        536_870_912 => 2,
        34_359_738_368 => 2349,
        _ => 2300,
    }
}

#[async_trait]
impl FullNodeServer for Rpc {
    async fn chain_head(&self) -> RpcResult<Json<TipSet>> {
        Ok(Json(self.chain(|c| c.head())))
    }

    async fn chain_get_tipset(&self, tsk: Json<TipSetKey>) -> RpcResult<Json<TipSet>> {
        self.at(&tsk.0).map(Json)
    }

    async fn chain_get_tipset_by_height(&self, height: i64, tsk: Json<TipSetKey>) -> RpcResult<Json<TipSet>> {
        let from = self.at(&tsk.0)?;
        if height > from.height() {
            return Err(handler_error("looking for tipset with height greater than start point"));
        }
        if height < 0 {
            return Err(handler_error(format!("negative height {height}")));
        }
        self.chain(|c| c.tipset_at_or_before(height))
            .map(Json)
            .ok_or_else(|| handler_error(format!("no tipset at or before height {height}")))
    }

    async fn chain_get_tipset_after_height(&self, height: i64, tsk: Json<TipSetKey>) -> RpcResult<Json<TipSet>> {
        let from = self.at(&tsk.0)?;
        if height > from.height() {
            return Err(handler_error("looking for tipset with height greater than start point"));
        }
        self.chain(|c| c.tipsets_after(height.saturating_sub(1)).into_iter().next())
            .map(Json)
            .ok_or_else(|| handler_error(format!("no tipset at or after height {height}")))
    }

    async fn chain_get_message(&self, cid: Json<Cid>) -> RpcResult<Json<Message>> {
        self.chain(|c| c.message(&cid.0))
            .map(|m| Json(m.message))
            .ok_or_else(|| handler_error(format!("failed to load message {}: blockstore: block not found", cid.0)))
    }

    async fn chain_notify(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let mut rx = self.0.subscribe();
        let (head, mut seen) = self.chain(|c| (c.head(), c.height()));
        let sink = pending.accept().await?;
        let first = vec![HeadChange {
            change_type: "current".into(),
            val: head,
        }];
        sink.send(SubscriptionMessage::from(serde_json::value::to_raw_value(&Json(
            first,
        ))?))
        .await?;
        loop {
            tokio::select! {
                _ = sink.closed() => return Ok(()),
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
            }
            let new = self.chain(|c| c.tipsets_after(seen));
            if let Some(last) = new.last() {
                seen = last.height();
            }
            let changes: Vec<HeadChange> = new
                .into_iter()
                .map(|ts| HeadChange {
                    change_type: "apply".into(),
                    val: ts,
                })
                .collect();
            if !changes.is_empty() {
                sink.send(SubscriptionMessage::from(serde_json::value::to_raw_value(&Json(
                    changes,
                ))?))
                .await?;
            }
        }
    }

    async fn state_network_name(&self) -> RpcResult<String> {
        Ok(self.chain(|c| c.state.network_name.clone()))
    }

    async fn state_network_version(&self, tsk: Json<TipSetKey>) -> RpcResult<u64> {
        self.at(&tsk.0)?;
        Ok(NETWORK_VERSION as u64)
    }

    async fn state_account_key(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<Address>> {
        self.at(&tsk.0)?;
        let a = addr.0;
        self.chain(|c| c.state.account_key(&a)).map(Json).ok_or_else(|| {
            handler_error(format!(
                "resolution lookup failed ({a}): actor not found or not an account"
            ))
        })
    }

    async fn state_lookup_id(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<Address>> {
        self.at(&tsk.0)?;
        self.id_of(&addr.0).map(|id| Json(Address::new_id(id)))
    }

    async fn state_miner_info(&self, miner: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<MinerInfo>> {
        self.at(&tsk.0)?;
        self.miner_info(&miner.0).map(Json)
    }

    async fn state_market_balance(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<MarketBalance>> {
        self.at(&tsk.0)?;
        // An address with no actor has an empty balance, as on lotus.
        let id = self.chain(|c| c.state.lookup_id(&addr.0));
        Ok(Json(self.chain(|c| match id {
            Some(id) => MarketBalance {
                escrow: c.state.market.escrow_of(id),
                locked: c.state.market.locked_of(id),
            },
            None => MarketBalance {
                escrow: TokenAmount::default(),
                locked: TokenAmount::default(),
            },
        })))
    }

    async fn state_market_storage_deal(&self, deal_id: u64, tsk: Json<TipSetKey>) -> RpcResult<Json<MarketDeal>> {
        self.at(&tsk.0)?;
        self.chain(|c| c.state.market.deal(deal_id))
            .map(|(proposal, state)| Json(MarketDeal { proposal, state }))
            .ok_or_else(|| {
                handler_error(format!(
                    "deal {deal_id} not found - deal may not have completed sealing before deal proposal start epoch, or deal may have been slashed"
                ))
            })
    }

    async fn state_market_deals(&self, tsk: Json<TipSetKey>) -> RpcResult<Json<MarketDeals>> {
        self.at(&tsk.0)?;
        Ok(Json(self.chain(|c| {
            MarketDeals(
                c.state
                    .market
                    .proposals
                    .keys()
                    .filter_map(|id| {
                        c.state
                            .market
                            .deal(*id)
                            .map(|(proposal, state)| (*id, MarketDeal { proposal, state }))
                    })
                    .collect(),
            )
        })))
    }

    async fn state_deal_provider_collateral_bounds(
        &self,
        padded_size: u64,
        _verified: bool,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Json<DealCollateralBounds>> {
        self.at(&tsk.0)?;
        let (min, max) = self.chain(|c| {
            c.state
                .policy
                .lotus_collateral_bounds(padded_size, &c.state.network_raw_power())
        });
        Ok(Json(DealCollateralBounds { min, max }))
    }

    async fn state_verified_client_status(
        &self,
        addr: Json<Address>,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Option<Json<BigInt>>> {
        self.at(&tsk.0)?;
        let Some(id) = self.chain(|c| c.state.lookup_id(&addr.0)) else {
            return Ok(None);
        };
        Ok(self.chain(|c| c.state.verifreg.datacap.get(&id).cloned()).map(Json))
    }

    async fn state_get_allocation(
        &self,
        client: Json<Address>,
        id: u64,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Option<Json<market_types::actors::Allocation>>> {
        Ok(self.state_get_allocations(client, tsk).await?.remove(&id.to_string()))
    }

    async fn state_get_allocations(
        &self,
        client: Json<Address>,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<std::collections::BTreeMap<String, Json<market_types::actors::Allocation>>> {
        self.at(&tsk.0)?;
        let Some(id) = self.chain(|c| c.state.lookup_id(&client.0)) else {
            return Ok(Default::default());
        };
        Ok(self.chain(|c| {
            c.state
                .verifreg
                .allocations
                .iter()
                .filter(|(_, a)| a.client == id)
                .map(|(n, a)| (n.to_string(), Json(a.to_wire())))
                .collect()
        }))
    }

    async fn state_get_claim(
        &self,
        provider: Json<Address>,
        id: u64,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Option<Json<market_types::actors::Claim>>> {
        Ok(self.state_get_claims(provider, tsk).await?.remove(&id.to_string()))
    }

    async fn state_get_claims(
        &self,
        provider: Json<Address>,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<std::collections::BTreeMap<String, Json<market_types::actors::Claim>>> {
        self.at(&tsk.0)?;
        let Some(id) = self.chain(|c| c.state.lookup_id(&provider.0)) else {
            return Ok(Default::default());
        };
        Ok(self.chain(|c| {
            c.state
                .verifreg
                .claims
                .iter()
                .filter(|(_, cl)| cl.provider == id)
                .map(|(n, cl)| (n.to_string(), Json(cl.to_wire())))
                .collect()
        }))
    }

    async fn state_sector_precommit_info(
        &self,
        miner: Json<Address>,
        sector: u64,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Option<Json<SectorPreCommitOnChainInfo>>> {
        self.at(&tsk.0)?;
        let id = self.id_of(&miner.0)?;
        self.chain(|c| match c.state.miner(id) {
            Some(m) => Ok(m.precommits.get(&sector).cloned().map(Json)),
            None => Err(handler_error(format!("{} is not a miner actor", miner.0))),
        })
    }

    async fn state_search_msg(
        &self,
        from: Json<TipSetKey>,
        cid: Json<Cid>,
        _lookback: i64,
        _allow_replaced: bool,
    ) -> RpcResult<Option<Json<MsgLookup>>> {
        self.at(&from.0)?;
        Ok(self.0.lookup(&cid.0, 0).map(Json))
    }

    async fn state_wait_msg(
        &self,
        cid: Json<Cid>,
        confidence: u64,
        _lookback: i64,
        _allow_replaced: bool,
    ) -> RpcResult<Json<MsgLookup>> {
        Ok(Json(self.0.wait(&cid.0, confidence).await))
    }

    async fn state_get_actor(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<Actor>> {
        self.at(&tsk.0)?;
        let id = self.id_of(&addr.0)?;
        self.chain(|c| {
            let a = c
                .state
                .actor(id)
                .ok_or_else(|| handler_error(format!("actor not found: {}", addr.0)))?;
            let head = market_types::chain::chain_cid(&market_types::cbor::to_vec(&(id, a.nonce)));
            Ok(Json(Actor {
                code: crate::state::code_cid(a.kind.code_name()),
                head,
                nonce: a.nonce,
                balance: a.balance.clone(),
                delegated_address: None,
            }))
        })
    }

    async fn state_read_state(&self, addr: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<ActorState> {
        self.at(&tsk.0)?;
        let id = self.id_of(&addr.0)?;
        self.chain(|c| {
            let a = c
                .state
                .actor(id)
                .ok_or_else(|| handler_error(format!("actor not found: {}", addr.0)))?;
            let code = crate::state::code_cid(a.kind.code_name());
            let state = match (c.state.paych(id), &a.kind) {
                (None, crate::state::ActorKind::Account { key }) => serde_json::json!({ "Address": key.to_string() }),
                (Some(p), _) => {
                    let view = PaychStateView {
                        from: Json(Address::new_id(p.from)),
                        to: Json(Address::new_id(p.to)),
                        to_send: Json(p.to_send.clone()),
                        settling_at: p.settling_at,
                        min_settle_height: p.min_settle_height,
                        // The devnet keeps lanes as a map, not an AMT: this names their CBOR.
                        lane_states: Json(market_types::chain::chain_cid(&market_types::cbor::to_vec(
                            &p.lanes.values().cloned().collect::<Vec<_>>(),
                        ))),
                    };
                    serde_json::to_value(view).map_err(|e| handler_error(e.to_string()))?
                }
                (None, _) => {
                    return Err(handler_error(format!(
                        "this devnet serves the state of accounts and payment channels only, not of {} actors",
                        a.kind.code_name()
                    )));
                }
            };
            Ok(ActorState {
                balance: Json(a.balance.clone()),
                code: Json(code),
                state,
            })
        })
    }

    async fn state_actor_code_cids(&self, _nv: u64) -> RpcResult<std::collections::BTreeMap<String, Json<Cid>>> {
        Ok([
            "system",
            "init",
            "reward",
            "cron",
            "storagepower",
            "storagemarket",
            "verifiedregistry",
            "datacap",
            "account",
            "storageminer",
            "multisig",
            crate::state::paych::CODE_NAME,
        ]
        .into_iter()
        .map(|n| (n.to_string(), Json(crate::state::code_cid(n))))
        .collect())
    }

    async fn state_list_miners(&self, tsk: Json<TipSetKey>) -> RpcResult<Json<Vec<Address>>> {
        self.at(&tsk.0)?;
        Ok(Json(self.chain(|c| {
            c.state.miners().map(|(id, _)| Address::new_id(id)).collect()
        })))
    }

    async fn state_miner_power(&self, miner: Json<Address>, tsk: Json<TipSetKey>) -> RpcResult<Json<MinerPower>> {
        self.at(&tsk.0)?;
        let id = self.id_of(&miner.0)?;
        self.chain(|c| {
            let m = c
                .state
                .miner(id)
                .ok_or_else(|| handler_error(format!("{} is not a miner actor", miner.0)))?;
            let raw = BigInt::from(m.raw_power());
            let total = c.state.network_raw_power();
            Ok(Json(MinerPower {
                miner_power: Claim {
                    raw_byte_power: raw.clone(),
                    quality_adj_power: raw.clone(),
                },
                total_power: Claim {
                    raw_byte_power: total.clone(),
                    quality_adj_power: total,
                },
                has_min_power: raw > BigInt::from(0),
            }))
        })
    }

    async fn gas_estimate_message_gas(
        &self,
        msg: Json<Message>,
        spec: Option<Json<MessageSendSpec>>,
        tsk: Json<TipSetKey>,
    ) -> RpcResult<Json<Message>> {
        self.at(&tsk.0)?;
        let from = msg.0.from;
        if self.chain(|c| c.state.lookup_id(&from)).is_none() {
            return Err(handler_error(format!(
                "estimating gas: sender {from} has no actor on chain"
            )));
        }
        Ok(Json(self.0.estimate_gas(msg.0, spec.as_ref().map(|s| &s.0))))
    }

    async fn mpool_get_nonce(&self, addr: Json<Address>) -> RpcResult<u64> {
        Ok(self.chain(|c| c.next_nonce(&addr.0)))
    }

    async fn mpool_push(&self, msg: Json<SignedMessage>) -> RpcResult<Json<Cid>> {
        self.0.push(msg.0).map(Json).map_err(err)
    }

    async fn mpool_push_message(
        &self,
        msg: Json<Message>,
        spec: Option<Json<MessageSendSpec>>,
    ) -> RpcResult<Json<SignedMessage>> {
        self.0
            .sign_and_push(msg.0, spec.as_ref().map(|s| &s.0))
            .map(Json)
            .map_err(err)
    }

    async fn wallet_new(&self, key_type: String) -> RpcResult<Json<Address>> {
        let kt = match key_type.as_str() {
            "secp256k1" => KeyType::Secp256k1,
            "bls" => KeyType::Bls,
            other => {
                return Err(handler_error(format!(
                    "unknown key type {other:?}: use secp256k1 or bls"
                )));
            }
        };
        self.0.new_key(kt).map(Json).map_err(err)
    }

    async fn wallet_list(&self) -> RpcResult<Json<Vec<Address>>> {
        Ok(Json(self.0.with_keystore(|k| k.addresses().copied().collect())))
    }

    async fn wallet_balance(&self, addr: Json<Address>) -> RpcResult<Json<TokenAmount>> {
        Ok(Json(self.chain(|c| c.state.balance(&addr.0))))
    }

    async fn wallet_has(&self, addr: Json<Address>) -> RpcResult<bool> {
        Ok(self.0.has_key(&addr.0))
    }

    async fn wallet_sign(
        &self,
        addr: Json<Address>,
        data: Json<Bytes>,
        meta: Option<MsgMeta>,
    ) -> RpcResult<Json<Signature>> {
        self.0.sign(&addr.0, &data.0.0, meta.as_ref()).map(Json).map_err(err)
    }

    async fn wallet_default_address(&self) -> RpcResult<Json<Address>> {
        self.0
            .with_keystore(|k| k.resolve("client").or_else(|| k.addresses().next().copied()))
            .map(Json)
            .ok_or_else(|| handler_error("the wallet has no default address"))
    }
}

#[async_trait]
impl FullNodeV0Server for Rpc {
    async fn state_search_msg(&self, cid: Json<Cid>) -> RpcResult<Option<Json<MsgLookup>>> {
        Ok(self.0.lookup(&cid.0, 0).map(Json))
    }

    async fn state_wait_msg(&self, cid: Json<Cid>, confidence: u64) -> RpcResult<Json<MsgLookup>> {
        Ok(Json(self.0.wait(&cid.0, confidence).await))
    }
}

#[async_trait]
impl MessagerServer for Rpc {
    async fn push_message_with_id(
        &self,
        id: String,
        msg: Json<Message>,
        spec: Option<serde_json::Value>,
    ) -> RpcResult<String> {
        // The messager's SendSpec: only `MaxFee` (attoFIL as a string) matters here.
        let max_fee = spec
            .as_ref()
            .and_then(|s| s.get("MaxFee"))
            .and_then(|v| v.as_str())
            .map(|v| {
                v.parse::<BigInt>()
                    .map(TokenAmount::from_atto)
                    .map_err(|e| handler_error(format!("SendSpec MaxFee {v:?}: {e}")))
            })
            .transpose()?;
        let spec = max_fee.map(|max_fee| MessageSendSpec {
            max_fee,
            msg_uuid: String::new(),
            maximize_fee_cap: false,
        });
        self.0.messager_push(&id, msg.0, spec.as_ref()).map_err(err)
    }

    async fn get_message_by_uid(&self, id: String) -> RpcResult<MessagerMessage> {
        self.0
            .messager_get(&id)
            .ok_or_else(|| handler_error(format!("message {id} not found")))
    }
}

#[async_trait]
impl GatewayServer for Rpc {
    async fn wallet_has(&self, addr: Json<Address>, _accounts: Vec<String>) -> RpcResult<bool> {
        Ok(self.0.has_key(&addr.0))
    }

    async fn wallet_sign(
        &self,
        addr: Json<Address>,
        _accounts: Vec<String>,
        data: Json<Bytes>,
        meta: MsgMeta,
    ) -> RpcResult<Json<Signature>> {
        self.0.sign(&addr.0, &data.0.0, Some(&meta)).map(Json).map_err(err)
    }
}

#[async_trait]
impl DevnetServer for Rpc {
    async fn mine(&self, null_rounds: u64) -> RpcResult<Json<TipSet>> {
        if null_rounds > 100_000 {
            return Err(handler_error("at most 100000 null rounds at once"));
        }
        self.0.mine(null_rounds).map(Json).map_err(err)
    }

    async fn fail_method(&self, method: String, count: u64) -> RpcResult<()> {
        self.0.fail_method(&method, count);
        Ok(())
    }
}

/// Whether `kind` is a miner (for the auth REST stand-in).
pub(crate) fn is_miner(kind: &ActorKind) -> bool {
    matches!(kind, ActorKind::Miner(_))
}
