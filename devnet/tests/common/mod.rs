//! Shared helpers for the devnet's tests: an in-process devnet on a loopback port, raw
//! JSON-RPC posts, deal building through the devnet's own wallet, and messages applied
//! straight to a state.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use devnet::genesis::GenesisConfig;
use devnet::http::Server;
use devnet::node::Node;
use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::wallet::{MsgMeta, meta_type};
use market_proto::api_info::ApiInfo;
use market_proto::jwt::Perm;
use market_types::chain::{ClientDealProposal, DealProposal, Message};
use market_types::units::{ChainEpoch, PaddedPieceSize};
use market_types::{Address, Bytes, Cid, DealLabel, TokenAmount};
use serde_json::Value;

pub struct TestNet {
    pub node: Arc<Node>,
    pub server: Option<Server>,
    pub port: u16,
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }
}

impl TestNet {
    pub async fn start() -> TestNet {
        let config = GenesisConfig {
            deal_updates_interval: Some(100),
            pre_commit_challenge_delay: Some(0),
            ..GenesisConfig::default()
        };
        let node = Node::ephemeral(config).expect("node");
        let server = devnet::http::serve(node.clone(), "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("serve");
        let port = server.addr.port();
        TestNet {
            node,
            server: Some(server),
            port,
        }
    }

    pub fn info(&self, perm: Perm) -> ApiInfo {
        ApiInfo::parse(&format!(
            "{}:/ip4/127.0.0.1/tcp/{}/http",
            self.node.token(perm),
            self.port
        ))
    }

    pub fn client(&self, perm: Perm) -> HttpClient {
        market_proto::client::http(&self.info(perm), "v1", Duration::from_secs(30)).expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn addr(&self, name: &str) -> Address {
        self.node.genesis().address_of(name).expect("genesis account")
    }

    /// POST a raw body to `path` with an optional token; (HTTP status, body as JSON or text).
    pub async fn post(&self, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    /// Call a v1 method with raw JSON params and the admin token.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, v) = self
            .post("/rpc/v1", Some(&self.node.token(Perm::Admin)), &body.to_string())
            .await;
        assert_eq!(status, 200, "{method}: {v}");
        v
    }

    /// Sign and push a message from a devnet account, mine, and return its CID.
    pub async fn send(&self, from: Address, to: Address, method: u64, params: Vec<u8>, value: TokenAmount) -> Cid {
        let c = self.client(Perm::Sign);
        let msg = Message::to_send(from, to, method, params, value);
        let signed = c.mpool_push_message(Json(msg), None).await.expect("push").0;
        self.node.mine(0).expect("mine");
        signed.cid()
    }

    /// A deal proposal for a 1 KiB piece of `seed`, signed by `client` through WalletSign.
    pub async fn signed_deal(
        &self,
        client: Address,
        provider: Address,
        seed: u8,
        start: ChainEpoch,
    ) -> ClientDealProposal {
        let c = piece_store::commp::of_bytes(&[seed; 1000]).expect("commP");
        let proposal = DealProposal {
            piece_cid: piece_store::commp::piece_cid_v1(&c.commp),
            piece_size: PaddedPieceSize(1024),
            verified_deal: false,
            client,
            provider,
            label: DealLabel::String(format!("deal {seed}")),
            start_epoch: start,
            end_epoch: start + devnet::state::policy::DEAL_MIN_DURATION,
            storage_price_per_epoch: TokenAmount::from_atto(1_000),
            provider_collateral: devnet::state::policy::fil(1),
            client_collateral: TokenAmount::default(),
        };
        let sig = self
            .client(Perm::Sign)
            .wallet_sign(
                Json(client),
                Json(Bytes(proposal.signing_bytes())),
                Some(MsgMeta::new(meta_type::DEAL_PROPOSAL)),
            )
            .await
            .expect("sign")
            .0;
        ClientDealProposal {
            proposal,
            client_signature: sig,
        }
    }
}

/// Apply a message from `from` to `st` as a block would: the mpool's checks, then execution.
pub fn apply(
    st: &mut devnet::state::State,
    from: &market_crypto::Key,
    to: Address,
    method: u64,
    params: Vec<u8>,
    value: TokenAmount,
) -> devnet::state::Applied {
    let msg = Message {
        version: 0,
        to,
        from: from.address(),
        nonce: st.nonce(&from.address()),
        value,
        gas_limit: 2_000_000_000,
        gas_fee_cap: TokenAmount::from_atto(1_000),
        gas_premium: TokenAmount::from_atto(100),
        method,
        params: Bytes(params),
    };
    st.check_message(&msg).expect("message accepted by the mpool");
    st.apply_message(&msg)
}

/// A state with a 2 KiB-sector miner for the actor tests: funded client, BLS worker, owner and
/// a stranger (10 000 FIL each), the miner created, at epoch 10.
pub struct ActorNet {
    pub st: devnet::state::State,
    pub client: market_crypto::Key,
    pub worker: market_crypto::Key,
    pub owner: market_crypto::Key,
    pub stranger: market_crypto::Key,
    pub miner: Address,
}

pub fn actor_net(sector_size: u64) -> ActorNet {
    use market_crypto::{Key, KeyType};
    let policy = devnet::state::policy::Policy {
        deal_updates_interval: 100,
        pre_commit_challenge_delay: 0,
        ..devnet::state::policy::Policy::default()
    };
    let mut st = devnet::state::State::new("devnet", policy);
    let client = Key::from_seed(KeyType::Secp256k1, b"client");
    let worker = Key::from_seed(KeyType::Bls, b"worker");
    let owner = Key::from_seed(KeyType::Secp256k1, b"owner");
    let stranger = Key::from_seed(KeyType::Secp256k1, b"stranger");
    for k in [&client, &worker, &owner, &stranger] {
        let id = st.ensure_account(&k.address()).expect("account");
        st.mint(id, &devnet::state::policy::fil(10_000));
    }
    let owner_id = st.lookup_id(&owner.address()).expect("owner");
    let worker_id = st.lookup_id(&worker.address()).expect("worker");
    let (miner_id, _) = st.create_miner(
        devnet::state::miner::Miner::new(owner_id, worker_id, sector_size).expect("miner"),
        b"genesis miner",
    );
    st.advance_to(10);
    ActorNet {
        st,
        client,
        worker,
        owner,
        stranger,
        miner: Address::new_id(miner_id),
    }
}
