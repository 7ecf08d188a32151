//! `droplet run`: load the config (applying the flags and saving them, as the Go droplet
//! does), check it against the chain, open the store, start libp2p and the API, and serve
//! until a signal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use jsonrpsee::RpcModule;
use market_p2p::{Family, Handler, Host, HostConfig};
use market_proto::api::MethodTable;
use market_proto::api::market::{
    MarketAsksServer, MarketDealsServer, MarketFundsServer, MarketMinersServer, MarketSettingsServer,
};
use market_proto::api::pieces::MarketPiecesServer;
use market_proto::api::retrieval::MarketRetrievalServer;
use market_proto::auth::LocalThenRemote;
use market_proto::server::{Authenticator, Endpoint};

use crate::api::Api;
use crate::asks::Asks;
use crate::chain::{Chain, resolve_endpoints};
use crate::config::{Config, FsStorage};
use crate::deals::DealStore;
use crate::deals::accept::Acceptor;
use crate::deals::runner::DealRunner;
use crate::lease::Leases;
use crate::miners::{LiveConfig, Miners};
use crate::pieces::Pieces;
use crate::repo::Repo;
use crate::store::Store;

/// `droplet run` flags that change the config.
#[derive(Debug, Default, Clone)]
pub struct RunFlags {
    pub listen: Option<String>,
    pub node_url: Option<String>,
    pub auth_url: Option<String>,
    pub messager_url: Option<String>,
    pub gateway_url: Option<String>,
    pub cs_url: Option<String>,
    pub cs_token: Option<String>,
    pub signer_type: Option<String>,
    pub signer_url: Option<String>,
    pub signer_token: Option<String>,
    pub piece_storage: Option<String>,
    pub miners: Vec<String>,
    pub mysql_dsn: Option<String>,
    pub libp2p_listen: Vec<String>,
}

/// Apply the flags to the config, as droplet's `run` does before saving it.
pub fn apply_flags(cfg: &mut Config, f: &RunFlags) -> Result<()> {
    let set = |dst: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            *dst = v.clone();
        }
    };
    set(&mut cfg.api.listen_address, &f.listen);
    set(&mut cfg.node.url, &f.node_url);
    set(&mut cfg.auth_node.url, &f.auth_url);
    set(&mut cfg.messager.url, &f.messager_url);
    set(&mut cfg.chain_service.url, &f.cs_url);
    set(&mut cfg.chain_service.token, &f.cs_token);
    set(&mut cfg.signer.signer_type, &f.signer_type);
    set(&mut cfg.signer.url, &f.signer_url);
    set(&mut cfg.signer.token, &f.signer_token);
    if let Some(g) = &f.gateway_url {
        cfg.signer.url = g.clone();
        if f.signer_type.is_none() {
            cfg.signer.signer_type = "gateway".into();
        }
    }
    if let Some(t) = &f.cs_token {
        // The chain-service token is the token of every chain service given on the command line.
        for (ep, given) in [
            (&mut cfg.node, &f.node_url),
            (&mut cfg.messager, &f.messager_url),
            (&mut cfg.auth_node, &f.auth_url),
        ] {
            if given.is_some() {
                ep.token = t.clone();
            }
        }
    }
    if let Some(dsn) = &f.mysql_dsn
        && !dsn.is_empty()
    {
        market_daemon::store::sql::dsn::parse(dsn).with_context(|| format!("--mysql-dsn {dsn:?}"))?;
        cfg.mysql.connection_string = dsn.clone();
    }
    if let Some(p) = &f.piece_storage {
        crate::config::PieceStorageFlag::parse(p)?.add_to(&mut cfg.piece_storage);
    }
    for m in &f.miners {
        let (addr, account) = m.split_once(':').unwrap_or((m.as_str(), ""));
        market_types::address::parse(addr).with_context(|| format!("--miner {m}: {addr} is not an address"))?;
        if !cfg.miners.iter().any(|x| x.addr == addr) {
            cfg.miners.push(crate::config::MinerConfig {
                addr: addr.to_string(),
                account: account.to_string(),
                settings: Default::default(),
            });
        }
    }
    if !f.libp2p_listen.is_empty() {
        cfg.libp2p.listen_addresses = f.libp2p_listen.clone();
    }
    if cfg.signer.signer_type.is_empty() {
        cfg.signer.signer_type = "wallet".into();
    }
    Ok(())
}

pub async fn run(repo: Repo, flags: RunFlags) -> Result<()> {
    repo.create()?;
    let mut cfg = if repo.config_path().exists() {
        Config::load(&repo.config_path())?
    } else {
        Config::default()
    };
    apply_flags(&mut cfg, &flags)?;
    // Every provider setting is checked before anything starts: a bad value stops here, with
    // its section and key.
    let resolved = cfg
        .resolve()
        .with_context(|| format!("{} is not usable", repo.config_path().display()))?;
    for key in &resolved.unknown {
        tracing::warn!(%key, "unknown config key ignored");
    }
    for warning in cfg.not_served_yet()? {
        tracing::warn!("{warning}");
    }
    repo.generate_secrets(&mut cfg.api, &mut cfg.libp2p)?;
    cfg.save(&repo.config_path())?;
    let store = Arc::new(match cfg.mysql.store() {
        Some(db) => Store::open_sql(&repo.db_path(), &db)?,
        None => Store::open(&repo.db_path())?,
    });
    tracing::info!(store = %store.describe(), "store open");
    let keypair = repo.libp2p_key(&cfg.libp2p)?;
    let leases = Leases::open(&store, crate::lease::holder(&keypair.public().to_peer_id(), &repo.root)).await?;

    let mut effective = cfg.clone();
    resolve_endpoints(&mut effective);
    let chain = Arc::new(Chain::connect(&effective).await?);
    if chain.network == "mainnet" {
        market_types::address::set_network(market_types::address::Network::Mainnet);
    } else {
        market_types::address::set_network(market_types::address::Network::Testnet);
    }
    for m in &cfg.miners {
        let addr = market_types::address::parse(&m.addr).with_context(|| format!("[[Miners]] Addr {:?}", m.addr))?;
        chain.miner_info(&addr).await.with_context(|| {
            format!(
                "[[Miners]] {addr} is not a miner on network {} (remove it or fix the address)",
                chain.network
            )
        })?;
    }

    let secret = repo.api_secret(&cfg.api)?;
    let live = Arc::new(LiveConfig::new(repo.config_path(), cfg.clone())?);
    let miners = Arc::new(Miners::new(live.clone()));
    let asks = Arc::new(Asks::new(store.clone(), chain.clone(), miners.clone()));
    let deals = DealStore::open(store.clone())?;
    // With a SQL store the piece index is in the same database, so every droplet on it finds
    // every piece; otherwise it is RocksDB under the repo.
    let index = if store.sql().is_some() {
        piece_store::index::PieceIndex::in_database(store.clone()).context("opening the piece index in the database")?
    } else {
        let index_path = repo.root.join("piece-index");
        piece_store::index::PieceIndex::open(&index_path)
            .with_context(|| format!("opening the piece index at {}", index_path.display()))?
    };
    let pieces = Arc::new(Pieces::new(piece_storage(&repo, &live)?, index, live.clone()));
    let transfer_dir = repo.root.join("transfer");
    std::fs::create_dir_all(&transfer_dir).with_context(|| format!("creating {}", transfer_dir.display()))?;
    let runner = DealRunner::start(
        deals.clone(),
        chain.clone(),
        store.clone(),
        live.clone(),
        pieces.clone(),
        transfer_dir,
        leases.clone(),
    )?;
    crate::deals::sealing::track(runner.clone(), deals.clone(), chain.clone(), tracker_interval());
    {
        // Pieces stored before the index was kept, or whose indexing was cut off.
        let (pieces, deals, leases) = (pieces.clone(), deals.clone(), leases.clone());
        tokio::spawn(async move {
            let stored: Vec<_> = deals
                .list()
                .unwrap_or_default()
                .into_iter()
                .filter(|d| crate::pieces::has_stored_piece(d.status()) && leases.owns(&d.proposal().provider))
                .collect();
            let n = pieces.index_missing(&stored).await;
            if n > 0 {
                tracing::info!(pieces = n, "indexed stored pieces");
            }
        });
    }
    let acceptor = Arc::new(Acceptor {
        facts: crate::deals::facts::ChainFacts::new(chain.node.clone()),
        chain: chain.clone(),
        miners: miners.clone(),
        asks: asks.clone(),
        deals: deals.clone(),
        config: live.clone(),
        runner: runner.clone(),
    });

    let mut handlers: HashMap<Family, Handler> = HashMap::new();
    let a = asks.clone();
    handlers.insert(
        Family::StorageAsk,
        Arc::new(move |_peer, frame| {
            let a = a.clone();
            Box::pin(async move { a.answer(&frame) })
        }),
    );
    let acc = acceptor.clone();
    handlers.insert(
        Family::StorageDeal,
        Arc::new(move |peer, frame| {
            let acc = acc.clone();
            Box::pin(async move { acc.handle_proposal(peer, frame).await })
        }),
    );
    let acc = acceptor.clone();
    handlers.insert(
        Family::DealStatus,
        Arc::new(move |_peer, frame| {
            let acc = acc.clone();
            Box::pin(async move { acc.handle_status(frame).await })
        }),
    );
    let events = Arc::new(crate::market_events::MarketEvents::default());
    let direct = crate::direct::DirectDeals::new(store.clone()).with_pieces(pieces.clone());
    let lookup = crate::retrieval::lookup::Lookup {
        pieces: pieces.clone(),
        deals: deals.clone(),
        direct: direct.clone(),
        asks: asks.clone(),
        chain: chain.clone(),
        config: live.clone(),
        events: events.clone(),
        workers: Default::default(),
    };
    let l = lookup.clone();
    handlers.insert(
        Family::RetrievalQuery,
        Arc::new(move |_peer, frame| {
            let l = l.clone();
            Box::pin(async move { crate::retrieval::query::answer(&l, &frame.bytes).await })
        }),
    );
    let parse_addrs = |v: &[String], what: &str| -> Result<Vec<libp2p::Multiaddr>> {
        v.iter()
            .map(|s| s.parse().with_context(|| format!("{what}: {s:?} is not a multiaddr")))
            .collect()
    };
    let host = Host::start(
        HostConfig {
            keypair,
            listen: parse_addrs(&cfg.libp2p.listen_addresses, "[Libp2p] ListenAddresses")?,
            announce: parse_addrs(&cfg.libp2p.announce_addresses, "[Libp2p] AnnounceAddresses")?,
            agent: format!("droplet{}", env!("CARGO_PKG_VERSION")),
            request_timeout: Duration::from_secs(30),
        },
        handlers,
    )
    .await?;

    // The retrieval transports this droplet serves, as droplet answers them: graphsync over
    // libp2p at the announce addresses if set, else the listen addresses; and the trustless
    // gateway (`/ipfs/` on the API port) at `[CommonProvider] HTTPRetrievalMultiaddr` when set
    // (read at each query, so a change applies without a restart).
    let announce = parse_addrs(&cfg.libp2p.announce_addresses, "[Libp2p] AnnounceAddresses")?;
    let h = host.clone();
    let transports_config = live.clone();
    market_p2p::transports::serve(
        &host.stream_control(),
        Arc::new(move || {
            let addrs = if announce.is_empty() {
                h.listen_addrs()
            } else {
                announce.clone()
            };
            let mut protocols = vec![market_types::boost::TransportProtocol {
                name: "libp2p".into(),
                addresses: addrs.iter().map(|a| market_types::Bytes(a.to_vec())).collect(),
            }];
            if let Some(http) = transports_config.policy(None).http_retrieval_multiaddr.clone() {
                protocols.push(market_types::boost::TransportProtocol {
                    name: "http".into(),
                    addresses: vec![market_types::Bytes(http.to_vec())],
                });
            }
            market_types::boost::TransportsQueryResponse { protocols }
        }),
    )
    .context("serving the retrieval transports protocol")?;

    // Retrievals: graphsync and data-transfer on the host, blocks from piece storage.
    let retrieval_deals = crate::retrieval::record::RetrievalDeals::new(store.clone());
    let vouchers = crate::retrieval::vouchers::Vouchers::new(store.clone(), chain.clone());
    let redeemer = crate::retrieval::redeem::Redeemer {
        vouchers: vouchers.clone(),
        chain: chain.clone(),
    };
    redeemer.clone().start(
        interval_from_env("DROPLET_PAYCH_INTERVAL", Duration::from_secs(60)),
        leases.clone(),
    );
    let provider = crate::retrieval::provider::RetrievalProvider {
        lookup,
        deals: retrieval_deals.clone(),
        config: live.clone(),
        local: host.peer_id().to_string(),
        vouchers,
        payments: Default::default(),
        changes: Default::default(),
        unsealer: crate::retrieval::unseal::Unsealer::new(pieces.clone(), events.clone()),
        transfers: Default::default(),
        restart_wait: interval_from_env("DROPLET_RETRIEVAL_RESTART_WAIT", Duration::from_secs(600)),
    };
    // Deals a stop or crash cut off wait for their clients to restart them, for a while
    // (in pool mode, those of the miners this droplet acts for, when it comes to).
    if !leases.pooled() {
        for record in retrieval_deals.list().context("reading the retrieval deals")? {
            provider.close_if_abandoned(&record, "droplet restarted during the transfer");
        }
    }
    let abandoned = provider.clone();
    let transfers_cell = provider.transfers.clone();
    let gs_config = graphsync::net::Config {
        max_in_progress_responses: cfg.simultaneous_transfers_for_retrieval.max(1) as usize,
        ..Default::default()
    };
    let transfers = data_transfer::DataTransfer::with_control(
        host.stream_control(),
        host.peer_id(),
        Arc::new(crate::retrieval::source::PieceBlocks::new(pieces.clone())),
        Arc::new(provider),
        gs_config,
    )
    .context("starting graphsync and data-transfer")?;
    let _ = transfers_cell.set(transfers.clone());

    // IPNI: the chain, its HTTP publisher and announcements (when enabled).
    let ipni = if cfg.common_provider.index_provider.enable {
        let retrieval_addrs = if cfg.libp2p.announce_addresses.is_empty() {
            host.listen_addrs()
        } else {
            parse_addrs(&cfg.libp2p.announce_addresses, "[Libp2p] AnnounceAddresses")?
        };
        Some(
            crate::indexprovider::start::start(crate::indexprovider::start::Start {
                store: store.clone(),
                deals: deals.clone(),
                direct: direct.clone(),
                pieces: pieces.clone(),
                config: live.clone(),
                chain: chain.clone(),
                key: repo.libp2p_key(&cfg.libp2p)?,
                retrieval_addrs,
                interval: interval_from_env("DROPLET_IPNI_INTERVAL", Duration::from_secs(60)),
            })
            .await
            .context("starting IPNI")?,
        )
    } else {
        None
    };

    // Metrics on their own listener (as droplet), when `[Metrics] Enabled`.
    let metrics = if cfg.metrics.enabled {
        let p = &cfg.metrics.exporter.prometheus;
        let m = crate::metrics::Metrics::new(
            &p.namespace,
            crate::metrics::Sources {
                deals: deals.clone(),
                retrieval: retrieval_deals.clone(),
                runner: runner.clone(),
                pieces: pieces.clone(),
            },
        );
        m.follow_escrow(
            chain.clone(),
            miners.clone(),
            interval_from_env("DROPLET_METRICS_INTERVAL", Duration::from_secs(30)),
        );
        let bound = crate::metrics::serve(&p.end_point, &p.path, m.clone()).await?;
        Some((m, bound))
    } else {
        None
    };

    let miners_for_banner = miners.list();
    crate::direct::tracker::track(direct.clone(), chain.clone(), leases.clone(), tracker_interval());

    // In pool mode, the miners (and jobs) this droplet comes to act for: at start, or when it
    // takes one over from a droplet that stopped or died.
    {
        let wanted_miners = miners.clone();
        let wanted: crate::lease::Wanted = Arc::new(move || {
            let mut names: Vec<String> = wanted_miners
                .list()
                .iter()
                .map(|(m, _)| crate::lease::miner_lease(m))
                .collect();
            names.push(crate::lease::REDEEMER.to_string());
            names
        });
        let (runner, retrieval_deals) = (runner.clone(), retrieval_deals.clone());
        let on_gain: crate::lease::OnGain = Arc::new(move |name: String| {
            let Some(miner) = name
                .strip_prefix("miner/")
                .and_then(|m| market_types::address::parse(m).ok())
            else {
                return;
            };
            if let Err(e) = runner.resume_miner(miner) {
                tracing::error!(%miner, error = %e, "resuming the miner's deals");
            }
            for record in retrieval_deals.list().unwrap_or_default() {
                if record.miner.0 == miner {
                    abandoned.close_if_abandoned(&record, "droplet restarted during the transfer");
                }
            }
        });
        leases.keep(wanted, on_gain).await?;
    }
    let api = Api {
        miners,
        asks,
        chain: chain.clone(),
        host: host.clone(),
        deals,
        runner,
        config: live.clone(),
        pieces: pieces.clone(),
        retrieval_deals,
        redeemer,
        transfers,
        events: events.clone(),
        indexer: ipni.as_ref().map(|r| r.indexer.clone()),
        direct,
    };
    // One namespace, served by one value through each of its traits.
    let mut module = RpcModule::new(());
    for part in [
        MarketMinersServer::into_rpc(api.clone()).remove_context(),
        MarketAsksServer::into_rpc(api.clone()).remove_context(),
        MarketDealsServer::into_rpc(api.clone()).remove_context(),
        MarketFundsServer::into_rpc(api.clone()).remove_context(),
        MarketSettingsServer::into_rpc(api.clone()).remove_context(),
        MarketPiecesServer::into_rpc(api.clone()).remove_context(),
        MarketRetrievalServer::into_rpc(api.clone()).remove_context(),
        market_proto::api::transfers::MarketTransfersServer::into_rpc(api.clone()).remove_context(),
        market_proto::api::indexer::MarketIndexerServer::into_rpc(api.clone()).remove_context(),
        market_proto::api::market_event::MarketEventServer::into_rpc(api.clone()).remove_context(),
        market_proto::api::direct_deal::MarketDirectDealsServer::into_rpc(api.clone()).remove_context(),
    ] {
        module.merge(part).context("building the API")?;
    }
    let table = MethodTable::new()
        .with("VENUS_MARKET", market_proto::api::market::METHODS)
        .with("VENUS_MARKET", market_proto::api::pieces::METHODS)
        .with("VENUS_MARKET", market_proto::api::retrieval::METHODS)
        .with("VENUS_MARKET", market_proto::api::transfers::METHODS)
        .with("VENUS_MARKET", market_proto::api::indexer::METHODS)
        .with("VENUS_MARKET", market_proto::api::market_event::METHODS)
        .with("VENUS_MARKET", market_proto::api::direct_deal::METHODS);
    market_proto::api::check_permissions(&module, &table)
        .map_err(|missing| anyhow::anyhow!("internal error: API methods without a permission entry: {missing:?}"))?;
    let auth: Arc<dyn Authenticator> = Arc::new(LocalThenRemote {
        secret: secret.clone(),
        remote: chain.auth.clone(),
    });
    let auth_for_resource = auth.clone();
    let ui_auth = auth.clone();
    let (stop, stop_handle) = jsonrpsee::server::stop_channel();
    // Failed calls counted per method when metrics are on.
    let observed = |e: Endpoint| match &metrics {
        Some((m, _)) => e.with_observer(m.rpc_observer()),
        None => e,
    };
    let router = axum::Router::new()
        .route(
            "/rpc/v0",
            observed(Endpoint::new(module.clone(), table.clone(), auth.clone(), stop.clone())).route(),
        )
        .route("/rpc/v1", observed(Endpoint::new(module, table, auth, stop)).route())
        .route("/healthcheck", axum::routing::get(|| async { "ok" }))
        .route(
            "/resource",
            axum::routing::get(crate::resource::get_resource)
                .put(crate::resource::put_resource)
                .with_state(crate::resource::ResourceState {
                    pieces: pieces.clone(),
                    auth: auth_for_resource,
                }),
        )
        .merge(crate::ui::router(std::sync::Arc::new(crate::ui::Ui {
            api,
            auth: ui_auth,
            metrics_url: metrics
                .as_ref()
                .map(|(_, bound)| format!("http://{bound}{}", cfg.metrics.exporter.prometheus.path)),
        })))
        .merge(match &metrics {
            Some((m, _)) => {
                let m = m.clone();
                crate::http::router(pieces.clone()).layer(axum::middleware::from_fn(move |req, next| {
                    m.clone().count_http(req, next)
                }))
            }
            None => crate::http::router(pieces.clone()),
        });
    let server = market_daemon::api_server::serve(&repo, &cfg.api.listen_address, &secret, router).await?;
    let bound = server.bound;

    println!(
        "droplet: network {}, API on {bound}, peer ID {}",
        chain.network,
        host.peer_id()
    );
    for a in host.listen_addrs() {
        println!("libp2p listening on {a}/p2p/{}", host.peer_id());
    }
    println!("web UI on http://{bound}/ui/");
    if let Some((_, bound)) = &metrics {
        println!("metrics on http://{bound}{}", cfg.metrics.exporter.prometheus.path);
    }
    if let Some(r) = &ipni {
        let announced: Vec<String> = r.announced_as.iter().map(|a| a.to_string()).collect();
        println!(
            "IPNI publisher on {} (announced as {})",
            r.publisher,
            announced.join(", ")
        );
    }
    for (m, _) in miners_for_banner {
        println!("serving miner {m}");
    }
    market_daemon::signal::shutdown().await;
    eprintln!("droplet: shutting down");
    let _ = stop_handle.stop();
    server.stop();
    leases.release();
    Ok(())
}

/// How often the tracker looks at the chain: droplet's 10 minutes is long on a devnet, so
/// `DROPLET_TRACKER_INTERVAL` (a Go duration) can shorten it.
fn tracker_interval() -> Duration {
    interval_from_env("DROPLET_TRACKER_INTERVAL", Duration::from_secs(600))
}

/// A period from the environment variable `name` (a Go duration), else `default`.
fn interval_from_env(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|s| market_types::units::parse_go_duration(&s).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(default)
}

/// The configured piece storage; with none configured, `<repo>/pieces` (added to the config).
fn piece_storage(repo: &Repo, live: &LiveConfig) -> Result<piece_store::store::PieceStorage> {
    let (mut fs, s3) = live.read(|c| (c.piece_storage.fs.clone(), c.piece_storage.s3.clone()));
    if fs.is_empty() && s3.is_empty() {
        let path = repo.root.join("pieces");
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        let default = FsStorage {
            name: "local".into(),
            read_only: false,
            path,
        };
        live.update(|c| c.piece_storage.fs.push(default.clone()))?;
        fs.push(default);
    }
    Ok(piece_store::store::PieceStorage::from_config(&fs, &s3)?)
}
