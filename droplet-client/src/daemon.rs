//! `droplet-client run`: the client daemon: config (flags saved into it), store, libp2p host
//! and the `VENUS_MARKET_CLIENT` API on `/rpc/v0`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use jsonrpsee::RpcModule;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::MethodTable;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::handler_error;
use market_proto::api::market::VersionInfo;
use market_proto::api::market_client::{METHODS, MarketClientServer, StartDealParams};
use market_proto::api_info::ApiInfo;
use market_proto::messages::MessageSender;
use market_proto::p2p::{Host, HostConfig};
use market_proto::server::{Authenticator, Endpoint, LocalSecret};
use market_proto::signer::{Signer, SignerType};
use market_types::Address;
use market_types::storage::StorageAsk;

use crate::config::ClientConfig;
use market_daemon::repo::Repo;

/// `droplet-client run` flags.
#[derive(Debug, Default, Clone)]
pub struct RunFlags {
    pub listen: Option<String>,
    pub node_url: Option<String>,
    pub node_token: Option<String>,
    pub messager_url: Option<String>,
    pub messager_token: Option<String>,
    pub auth_token: Option<String>,
    pub signer_type: Option<String>,
    pub signer_url: Option<String>,
    pub signer_token: Option<String>,
    pub addr: Option<String>,
    pub libp2p_listen: Vec<String>,
}

fn apply(cfg: &mut ClientConfig, f: &RunFlags) -> Result<()> {
    let set = |dst: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            *dst = v.clone();
        }
    };
    set(&mut cfg.api.listen_address, &f.listen);
    set(&mut cfg.node.url, &f.node_url);
    set(&mut cfg.node.token, &f.node_token);
    set(&mut cfg.messager.url, &f.messager_url);
    set(&mut cfg.messager.token, &f.messager_token);
    if let Some(t) = &f.auth_token {
        for ep in [&mut cfg.node, &mut cfg.messager] {
            if ep.token.is_empty() {
                ep.token = t.clone();
            }
        }
    }
    set(&mut cfg.signer.signer_type, &f.signer_type);
    set(&mut cfg.signer.url, &f.signer_url);
    set(&mut cfg.signer.token, &f.signer_token);
    set(&mut cfg.default_market_address, &f.addr);
    if !f.libp2p_listen.is_empty() {
        cfg.libp2p.listen_addresses = f.libp2p_listen.clone();
    }
    match cfg.signer.signer_type.as_str() {
        "wallet" | "lotusnode" => {}
        "gateway" => bail!("droplet-client cannot sign through sophon-gateway; use --signer-type wallet or lotusnode"),
        other => bail!("--signer-type {other:?}: use wallet or lotusnode"),
    }
    if cfg.signer.signer_type == "lotusnode" && cfg.signer.url.is_empty() {
        cfg.signer.url = cfg.node.url.clone();
        cfg.signer.token = cfg.node.token.clone();
    }
    if !cfg.default_market_address.is_empty() {
        market_types::address::parse(&cfg.default_market_address)
            .with_context(|| format!("--addr {:?} is not an address", cfg.default_market_address))?;
    }
    Ok(())
}

/// The API handlers.
#[derive(Clone)]
struct ClientApi {
    host: Host,
    node: HttpClient,
    default_address: Option<Address>,
    proposer: crate::deals::Proposer,
    sender: Arc<MessageSender>,
}

#[async_trait]
impl MarketClientServer for ClientApi {
    async fn client_query_ask(&self, peer: String, miner: Json<Address>) -> RpcResult<Json<StorageAsk>> {
        let peer = if peer.is_empty() {
            None
        } else {
            Some(
                peer.parse()
                    .map_err(|e| handler_error(format!("{peer:?} is not a peer ID: {e}")))?,
            )
        };
        crate::asks::query_ask(&self.host, &self.node, &miner.0, peer)
            .await
            .map(Json)
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_stateless_deal(&self, params: StartDealParams) -> RpcResult<Json<cid::Cid>> {
        self.proposer
            .offline_deal(&self.sender, &params)
            .await
            .map(|(c, uuid)| {
                tracing::info!(proposal = %c, %uuid, "offline deal accepted by the provider");
                Json(c)
            })
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn default_address(&self) -> RpcResult<Json<Address>> {
        self.default_address
            .map(Json)
            .ok_or_else(|| handler_error("no default address: start the daemon with --addr"))
    }

    async fn version(&self) -> RpcResult<VersionInfo> {
        Ok(VersionInfo {
            version: format!("{}+droplet-rs", env!("CARGO_PKG_VERSION")),
            api_version: (1 << 16) | (2 << 8),
        })
    }
}

pub async fn run(repo: Repo, flags: RunFlags) -> Result<()> {
    repo.create()?;
    let mut cfg = if repo.config_path().exists() {
        ClientConfig::load(&repo.config_path())?
    } else {
        ClientConfig::default()
    };
    apply(&mut cfg, &flags)?;
    repo.generate_secrets(&mut cfg.api, &mut cfg.libp2p)?;
    cfg.save(&repo.config_path())?;
    // One daemon per repo: the store's lock says so.
    let _store = market_daemon::store::Store::open(&repo.db_path())?;

    if cfg.node.url.is_empty() {
        bail!("no full node: set [Node] Url (or --node-url)");
    }
    let info = ApiInfo {
        token: cfg.node.token.clone(),
        addr: cfg.node.url.clone(),
    };
    let node = market_proto::client::http(&info, "v1", Duration::from_secs(120))?;
    let network = node.state_network_name().await.with_context(|| {
        format!(
            "cannot reach the full node at {} (check --node-url and --node-token)",
            cfg.node.url
        )
    })?;
    market_types::address::set_network(if network == "mainnet" {
        market_types::address::Network::Mainnet
    } else {
        market_types::address::Network::Testnet
    });

    let secret = repo.api_secret(&cfg.api)?;
    let listen = cfg
        .libp2p
        .listen_addresses
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<_>, _>>()
        .context("[Libp2p] ListenAddresses")?;
    let host = Host::start(
        HostConfig {
            keypair: repo.libp2p_key(&cfg.libp2p)?,
            listen,
            announce: Vec::new(),
            agent: format!("droplet-client{}", env!("CARGO_PKG_VERSION")),
            request_timeout: Duration::from_secs(30),
        },
        HashMap::new(),
    )
    .await?;
    let default_address = market_types::address::parse(&cfg.default_market_address).ok();
    let kind = SignerType::parse(&cfg.signer.signer_type).context("[Signer] Type")?;
    if cfg.signer.url.is_empty() {
        bail!("no signer: set [Signer] Url (or --signer-url)");
    }
    let signer = Signer::connect(kind, &cfg.signer.url, &cfg.signer.token, None)?;
    let sender = MessageSender::connect(node.clone(), signer.clone(), &cfg.messager.url, &cfg.messager.token)
        .context("[Messager] Url")?;
    let proposer = crate::deals::Proposer {
        host: host.clone(),
        node: node.clone(),
        signer,
        ledger: Default::default(),
    };
    let api = ClientApi {
        host: host.clone(),
        node,
        default_address,
        proposer,
        sender: Arc::new(sender),
    };
    let mut module = RpcModule::new(());
    module
        .merge(MarketClientServer::into_rpc(api))
        .context("building the API")?;
    let table = MethodTable::new().with("VENUS_MARKET_CLIENT", METHODS);
    let auth: Arc<dyn Authenticator> = Arc::new(LocalSecret(secret.clone()));
    let (stop, stop_handle) = jsonrpsee::server::stop_channel();
    let router = axum::Router::new().route("/rpc/v0", Endpoint::new(module, table, auth, stop).route());
    let server = market_daemon::api_server::serve(&repo, &cfg.api.listen_address, &secret, router).await?;
    let bound = server.bound;
    println!(
        "droplet-client: network {network}, API on {bound}, peer ID {}",
        host.peer_id()
    );
    market_daemon::signal::shutdown().await;
    eprintln!("droplet-client: shutting down");
    let _ = stop_handle.stop();
    server.stop();
    Ok(())
}
