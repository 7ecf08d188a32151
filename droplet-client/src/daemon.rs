//! `droplet-client run`: the client daemon: config (flags saved into it), store, libp2p host
//! and the `VENUS_MARKET_CLIENT` API on `/rpc/v0`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cid::Cid;
use jsonrpsee::RpcModule;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::http_client::HttpClient;
use market_p2p::{Host, HostConfig};
use market_proto::Json;
use market_proto::api::MethodTable;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::handler_error;
use market_proto::api::market::VersionInfo;
use market_proto::api::market_client::{
    ChannelAvailableFunds, ChannelInfo, DealInfo, ExportRef, FileRef, Import, ImportRes, METHODS, MarketClientServer,
    OutboundChannel, ProviderDealStatus, QueryOffer, RetrievalInfo, RetrievalOrder, RetrievalRes, StartDealParams,
    VoucherCreateResult,
};
use market_proto::api_info::ApiInfo;
use market_proto::messages::MessageSender;
use market_proto::server::{Authenticator, Endpoint, LocalSecret};
use market_proto::signer::{Signer, SignerType};
use market_types::boost::HttpRequest;
use market_types::chain::{Message, MsgLookup};
use market_types::storage::StorageAsk;
use market_types::{Address, TokenAmount};

use crate::config::ClientConfig;
use crate::deals::propose::Source;
use crate::deals::{ClientDealStore, ClientDeals};
use crate::imports::Imports;
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
    /// The base URL providers download online deals' data from (DealDataPublicURL).
    pub deal_data_url: Option<String>,
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
    set(&mut cfg.deal_data_public_url, &f.deal_data_url);
    let url = &cfg.deal_data_public_url;
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        bail!(
            "DealDataPublicURL {:?} must be an http:// or https:// URL",
            cfg.deal_data_public_url
        );
    }
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
    deals: Arc<ClientDeals>,
    imports: Imports,
    retrievals: crate::retrieval::Retrievals,
    paych: Arc<crate::paych::Paych>,
}

fn err(e: impl std::fmt::Display) -> jsonrpsee::types::ErrorObjectOwned {
    handler_error(e.to_string())
}

impl ClientApi {
    /// Fill the piece from the local import of the data root when the caller left it out.
    fn with_import(&self, params: &mut StartDealParams) -> Result<Option<market_proto::api::market_client::Import>> {
        let import = self.imports.by_root(&params.data.root.0)?;
        if let Some(i) = &import
            && params.data.piece_cid.is_none()
        {
            params.data.piece_cid = i.piece_cid.clone();
            params.data.piece_size = i.piece_size;
        }
        Ok(import)
    }
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

    async fn client_stateless_deal(&self, mut params: StartDealParams) -> RpcResult<Json<cid::Cid>> {
        self.with_import(&mut params)
            .map_err(|e| handler_error(format!("{e:#}")))?;
        self.deals
            .propose(&params, Source::Offline)
            .await
            .map(|(c, _)| Json(c))
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_batch_deal(
        &self,
        params: Vec<StartDealParams>,
    ) -> RpcResult<market_proto::api::market_client::DealResults> {
        use market_proto::api::market_client::{DealResult, DealResults};
        let mut results = Vec::with_capacity(params.len());
        for p in params {
            let outcome = if p.data.transfer_type != "manual" {
                Err(anyhow::anyhow!(
                    "a batch deal is offline: its transfer type must be manual, not {:?}",
                    p.data.transfer_type
                ))
            } else if !p.epoch_price.0.is_zero() {
                Err(anyhow::anyhow!(
                    "a batch deal's price must be 0 (verified data is free to store)"
                ))
            } else if p.data.piece_cid.is_none() {
                Err(anyhow::anyhow!(
                    "a batch deal needs its piece CID and size (from the manifest)"
                ))
            } else {
                // In a task of its own: a caller that goes away (a batch command stopped half
                // way) does not cut a proposal off between storing it and hearing the answer.
                let deals = self.deals.clone();
                tokio::spawn(async move { deals.propose(&p, Source::Offline).await })
                    .await
                    .unwrap_or_else(|e| Err(anyhow::anyhow!("the proposal stopped: {e}")))
            };
            results.push(match outcome {
                Ok((cid, _)) => DealResult {
                    proposal_cid: Some(Json(cid)),
                    message: String::new(),
                },
                Err(e) => DealResult {
                    proposal_cid: None,
                    message: format!("{e:#}"),
                },
            });
        }
        Ok(DealResults { results })
    }

    async fn client_start_deal(&self, mut params: StartDealParams) -> RpcResult<Json<cid::Cid>> {
        let import = self
            .with_import(&mut params)
            .map_err(|e| handler_error(format!("{e:#}")))?;
        let source = if !params.http_url.is_empty() {
            let size = match (&import, params.transfer_size) {
                (_, n) if n > 0 => n,
                (Some(i), _) => i.car_size,
                (None, _) => {
                    return Err(handler_error(
                        "give the CAR's byte size (--car-size) for data that is not imported here",
                    ));
                }
            };
            let headers = (!params.http_headers.is_empty()).then(|| params.http_headers.clone());
            Source::Url {
                request: HttpRequest {
                    url: params.http_url.clone(),
                    headers,
                },
                size,
            }
        } else {
            let Some(i) = import else {
                return Err(handler_error(format!(
                    "data {} is not imported here: run `droplet-client data import` first, or give --http-url",
                    params.data.root.0
                )));
            };
            Source::Served {
                path: i.car_path,
                size: i.car_size,
            }
        };
        self.deals
            .propose(&params, source)
            .await
            .map(|(c, _)| Json(c))
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_list_deals(&self) -> RpcResult<Vec<DealInfo>> {
        Ok(self.deals.deals.list().map_err(err)?.iter().map(|d| d.info()).collect())
    }

    async fn client_get_verified_deal_distribution(
        &self,
        providers: Vec<market_proto::api::market::MinerOrCommon>,
        client: market_proto::api::market::MinerOrCommon,
    ) -> RpcResult<market_proto::api::market_client::DealDistribution> {
        use market_fsm::storage::distribution::{DealShare, Distribution};
        use market_proto::api::market_client::{DealDistribution, ProviderDistribution, ReplicaDistribution};
        let shares: Vec<DealShare> = self
            .deals
            .deals
            .list()
            .map_err(err)?
            .iter()
            .filter(|d| !d.status().is_terminal() && d.proposal.0.proposal.verified_deal)
            .map(|d| {
                let p = &d.proposal.0.proposal;
                DealShare {
                    client: p.client,
                    provider: p.provider,
                    piece: p.piece_cid,
                    size: p.piece_size.0,
                }
            })
            .collect();
        let dist = Distribution::of(&shares);
        let provider_json =
            |a: &market_types::Address, s: &market_fsm::storage::distribution::ProviderShare| ProviderDistribution {
                provider: Json(*a),
                total: s.total,
                uniq: s.uniq,
                uniq_pieces: s.pieces.clone(),
                duplication_percentage: s.duplication(),
            };
        let wanted: Vec<market_types::Address> = providers.iter().filter_map(|p| p.0).collect();
        Ok(DealDistribution {
            providers_distribution: dist
                .providers
                .iter()
                .filter(|(a, _)| wanted.contains(a))
                .map(|(a, s)| provider_json(a, s))
                .collect(),
            replicas_distribution: client
                .0
                .and_then(|c| dist.clients.get(&c).map(|s| (c, s)))
                .map(|(c, s)| ReplicaDistribution {
                    client: Json(c),
                    total: s.total,
                    uniq: s.uniq,
                    duplication_percentage: s.duplication(),
                    replicas_percentage: s.providers.keys().map(|p| (p.to_string(), s.share_at(p))).collect(),
                    replicas_distribution: s.providers.iter().map(|(a, p)| provider_json(a, p)).collect(),
                })
                .into_iter()
                .collect(),
        })
    }

    async fn client_list_offline_deals(&self) -> RpcResult<Vec<DealInfo>> {
        Ok(self
            .deals
            .deals
            .list()
            .map_err(err)?
            .iter()
            .filter(|d| !d.online)
            .map(|d| d.info())
            .collect())
    }

    async fn client_get_deal_info(&self, proposal: Json<cid::Cid>) -> RpcResult<DealInfo> {
        self.deals
            .deals
            .by_proposal_cid(&proposal.0)
            .map_err(err)?
            .map(|d| d.info())
            .ok_or_else(|| handler_error(format!("deal {} not found", proposal.0)))
    }

    async fn client_import(&self, file: FileRef) -> RpcResult<ImportRes> {
        let imports = self.imports.clone();
        let import = tokio::task::spawn_blocking(move || imports.import(std::path::Path::new(&file.path), file.is_car))
            .await
            .map_err(err)?
            .map_err(|e| handler_error(format!("{e:#}")))?;
        Ok(ImportRes {
            root: import.root.unwrap_or(Json(cid::Cid::default())),
            import_id: import.key,
        })
    }

    async fn client_list_imports(&self) -> RpcResult<Vec<Import>> {
        self.imports.list().map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_remove_import(&self, id: u64) -> RpcResult<()> {
        self.imports.remove(id).map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn default_address(&self) -> RpcResult<Json<Address>> {
        self.default_address
            .map(Json)
            .ok_or_else(|| handler_error("no default address: start the daemon with --addr"))
    }

    async fn client_deal_status_from_provider(&self, proposal: Json<Cid>) -> RpcResult<ProviderDealStatus> {
        let d = self
            .deals
            .deals
            .by_proposal_cid(&proposal.0)
            .map_err(err)?
            .ok_or_else(|| handler_error(format!("deal {} not found", proposal.0)))?;
        let st = crate::deals::wire::query_status(&self.deals, &d).await.map_err(|e| {
            handler_error(format!(
                "asking {} for the deal's status: {e:#}",
                d.proposal.0.proposal.provider
            ))
        })?;
        if let Some(answer) = st.unknown {
            return Err(handler_error(format!(
                "{} has no status for the deal: {answer}",
                d.proposal.0.proposal.provider
            )));
        }
        Ok(ProviderDealStatus {
            deal_uuid: d.uuid.0.to_string(),
            proposal_cid: Json(d.proposal_cid.0),
            provider: Json(d.proposal.0.proposal.provider),
            protocol: d.protocol.clone(),
            status: st.provider_state,
            message: st.failed.clone().unwrap_or(st.message),
            failed: st.failed.is_some(),
            deal_id: st.deal_id,
            publish_cid: st.publish_cid.map(Json),
            transfer_size: st.transfer_size,
            bytes_received: st.bytes_received,
        })
    }

    async fn market_add_balance(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Json<Cid>> {
        let msg = Message::add_balance(wallet.0, addr.0, amount.0);
        self.deals.sender.push(msg).await.map(Json).map_err(err)
    }

    async fn market_get_reserved(&self, addr: Json<Address>) -> RpcResult<Json<TokenAmount>> {
        Ok(Json(self.deals.reserved(&addr.0)))
    }

    async fn market_reserve_funds(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Option<Json<Cid>>> {
        self.deals
            .reserve_manual(wallet.0, addr.0, amount.0)
            .await
            .map(|c| c.map(Json))
            .map_err(|e| handler_error(e.to_string()))
    }

    async fn market_release_funds(&self, addr: Json<Address>, amount: Json<TokenAmount>) -> RpcResult<()> {
        self.deals
            .release_manual(addr.0, &amount.0)
            .map_err(|e| handler_error(format!("saving the reservation: {e}")))
    }

    async fn market_withdraw(
        &self,
        wallet: Json<Address>,
        addr: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<Json<Cid>> {
        let msg = Message::withdraw_balance(wallet.0, addr.0, amount.0);
        self.deals.sender.push(msg).await.map(Json).map_err(err)
    }

    async fn messager_push_message(
        &self,
        msg: Json<market_types::chain::Message>,
        spec: Option<market_types::chain::MessageSendSpec>,
    ) -> RpcResult<Json<Cid>> {
        let max_fee = spec.map(|s| s.max_fee).filter(|f| !f.is_zero());
        self.deals
            .sender
            .push_capped(msg.0, max_fee)
            .await
            .map(Json)
            .map_err(err)
    }

    async fn messager_wait_message(&self, id: Json<Cid>, confidence: u64) -> RpcResult<Json<MsgLookup>> {
        self.deals
            .sender
            .wait(&id.0, confidence, &self.node)
            .await
            .map(Json)
            .map_err(err)
    }

    async fn client_miner_query_offer(
        &self,
        miner: Json<Address>,
        root: Json<Cid>,
        piece: Option<Json<Cid>>,
    ) -> RpcResult<QueryOffer> {
        crate::retrieval::query::query_offer(&self.host, &self.node, &miner.0, &root.0, piece.map(|p| p.0))
            .await
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_retrieve(&self, order: RetrievalOrder) -> RpcResult<RetrievalRes> {
        self.retrievals
            .retrieve(order)
            .await
            .map(|deal_id| RetrievalRes { deal_id })
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_retrieve_wait(&self, deal_id: u64) -> RpcResult<()> {
        self.retrievals
            .wait(deal_id)
            .await
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_retrieval_log(&self, deal_id: u64, from: Option<usize>) -> RpcResult<Vec<RetrievalInfo>> {
        self.retrievals
            .log(deal_id, from.unwrap_or(0))
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_list_retrievals(&self) -> RpcResult<Vec<RetrievalInfo>> {
        self.retrievals.list().map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_cancel_retrieval_deal(&self, deal_id: u64) -> RpcResult<()> {
        self.retrievals
            .cancel(deal_id)
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn client_export(&self, export: ExportRef, file: FileRef) -> RpcResult<()> {
        let r = self.retrievals.clone();
        tokio::task::spawn_blocking(move || {
            r.export(
                export.deal_id,
                &export.root.0,
                std::path::Path::new(&file.path),
                file.is_car,
            )
        })
        .await
        .map_err(err)?
        .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn paych_get(
        &self,
        from: Json<Address>,
        to: Json<Address>,
        amount: Json<TokenAmount>,
    ) -> RpcResult<ChannelInfo> {
        let (ch, _) = self
            .paych
            .get_or_create(&from.0, &to.0, &amount.0, |_| {})
            .await
            .map_err(|e| handler_error(format!("{e:#}")))?;
        Ok(ChannelInfo {
            channel: Json(ch),
            wait_sentinel: None,
        })
    }

    async fn paych_list(&self) -> RpcResult<Vec<OutboundChannel>> {
        let list = self.paych.list().map_err(|e| handler_error(format!("{e:#}")))?;
        Ok(list
            .into_iter()
            .map(|r| OutboundChannel {
                channel: r.channel.clone(),
                from: r.from.clone(),
                to: r.to.clone(),
                amount: r.amount.clone(),
                promised: Json(r.promised()),
                lanes: r.next_lane,
                vouchers: r.made.max(r.vouchers.len() as u64),
                settling: r.settling,
            })
            .collect())
    }

    async fn paych_voucher_list(&self, channel: Json<Address>) -> RpcResult<Vec<market_types::chain::SignedVoucher>> {
        self.paych
            .vouchers(&channel.0)
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn paych_available_funds(&self, channel: Json<Address>) -> RpcResult<ChannelAvailableFunds> {
        let r = self
            .paych
            .by_channel(&channel.0)
            .map_err(|e| handler_error(format!("{e:#}")))?;
        let zero = || Json(TokenAmount::default());
        Ok(ChannelAvailableFunds {
            channel: r.channel.clone(),
            from: r.from.clone(),
            to: r.to.clone(),
            confirmed_amt: r.amount.clone(),
            pending_amt: zero(),
            non_reserved_amt: Json(r.available()),
            pending_available_amt: zero(),
            pending_wait_sentinel: r.pending_msg.clone(),
            queued_amt: zero(),
            voucher_reedeemed_amt: Json(r.promised()),
        })
    }

    async fn paych_voucher_create(
        &self,
        channel: Json<Address>,
        amount: Json<TokenAmount>,
        lane: u64,
    ) -> RpcResult<VoucherCreateResult> {
        let r = self
            .paych
            .by_channel(&channel.0)
            .map_err(|e| handler_error(format!("{e:#}")))?;
        let shortfall = r.shortfall(lane, &amount.0);
        if !shortfall.is_zero() {
            return Ok(VoucherCreateResult {
                voucher: None,
                shortfall: Json(shortfall),
            });
        }
        let v = self
            .paych
            .create_voucher(&channel.0, lane, &amount.0)
            .await
            .map_err(|e| handler_error(format!("{e:#}")))?;
        Ok(VoucherCreateResult {
            voucher: Some(v),
            shortfall: Json(TokenAmount::default()),
        })
    }

    async fn paych_voucher_check_valid(
        &self,
        channel: Json<Address>,
        voucher: market_types::chain::SignedVoucher,
    ) -> RpcResult<()> {
        self.paych
            .check_voucher(&channel.0, &voucher)
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn paych_voucher_add(
        &self,
        channel: Json<Address>,
        voucher: market_types::chain::SignedVoucher,
        proof: Option<String>,
        min_delta: Json<TokenAmount>,
    ) -> RpcResult<Json<TokenAmount>> {
        if proof.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(handler_error("vouchers with a proof are not supported"));
        }
        let delta = self
            .paych
            .add_voucher(&channel.0, &voucher)
            .await
            .map_err(|e| handler_error(format!("{e:#}")))?;
        if delta < min_delta.0 {
            return Err(handler_error(format!(
                "the voucher adds {} attoFIL, less than the {} asked",
                delta.atto(),
                min_delta.0.atto()
            )));
        }
        Ok(Json(delta))
    }

    async fn paych_settle(&self, channel: Json<Address>) -> RpcResult<Json<Cid>> {
        self.paych
            .settle(&channel.0)
            .await
            .map(Json)
            .map_err(|e| handler_error(format!("{e:#}")))
    }

    async fn paych_collect(&self, channel: Json<Address>) -> RpcResult<Json<Cid>> {
        self.paych
            .collect(&channel.0)
            .await
            .map(Json)
            .map_err(|e| handler_error(format!("{e:#}")))
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
    if let Some((section, key, reason)) = cfg.metrics.refusal() {
        bail!("{section} {key}: {reason}");
    }
    repo.generate_secrets(&mut cfg.api, &mut cfg.libp2p)?;
    cfg.save(&repo.config_path())?;
    // One daemon per repo: the store's lock says so.
    let store = Arc::new(market_daemon::store::Store::open(&repo.db_path())?);

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
    let deals = Arc::new(ClientDeals::new(
        host.clone(),
        node.clone(),
        signer,
        Arc::new(sender),
        ClientDealStore::new(store.clone()),
    ));
    deals.fail_interrupted().await;
    let transfers = data_transfer::DataTransfer::with_control(
        host.stream_control(),
        host.peer_id(),
        Arc::new(graphsync::MemoryStore::default()),
        Arc::new(data_transfer::provider::ServesNothing),
        graphsync::net::Config::default(),
    )
    .context("starting graphsync and data-transfer")?;
    let paych = Arc::new(crate::paych::Paych::new(
        node.clone(),
        deals.signer.clone(),
        deals.sender.clone(),
        store.clone(),
    ));
    let retrievals = crate::retrieval::Retrievals::new(
        host.clone(),
        node.clone(),
        transfers,
        paych.clone(),
        crate::retrieval::record::RetrievalStore::new(store.clone()),
        repo.root.join("retrievals"),
    )?;
    let api = ClientApi {
        host: host.clone(),
        node,
        default_address,
        deals: deals.clone(),
        imports: Imports::new(store.clone(), repo.root.join("imports")),
        retrievals,
        paych,
    };
    let mut module = RpcModule::new(());
    module
        .merge(MarketClientServer::into_rpc(api))
        .context("building the API")?;
    let table = MethodTable::new().with("VENUS_MARKET_CLIENT", METHODS);
    let auth: Arc<dyn Authenticator> = Arc::new(LocalSecret(secret.clone()));
    let (stop, stop_handle) = jsonrpsee::server::stop_channel();
    let router = axum::Router::new()
        .route("/rpc/v0", Endpoint::new(module, table, auth, stop).route())
        .merge(crate::deals::serve::router(deals.clone()));
    let server = market_daemon::api_server::serve(&repo, &cfg.api.listen_address, &secret, router).await?;
    let bound = server.bound;
    let base = match cfg.deal_data_public_url.trim_end_matches('/') {
        "" => {
            if bound.ip().is_unspecified() {
                tracing::warn!(%bound, "the API listens on every interface: set DealDataPublicURL to the address providers should download online deals' data from");
            }
            format!("http://{bound}")
        }
        url => url.to_string(),
    };
    let _ = deals.serve_base.set(base);
    crate::deals::track::start(deals.clone(), crate::deals::track::interval());
    let metrics = if cfg.metrics.enabled {
        let p = &cfg.metrics.exporter.prometheus;
        let sources = crate::metrics::Sources {
            deals: ClientDealStore::new(store.clone()),
            retrievals: crate::retrieval::record::RetrievalStore::new(store.clone()),
            imports: Imports::new(store.clone(), repo.root.join("imports")),
        };
        let bound =
            market_daemon::metrics::serve(&p.end_point, &p.path, crate::metrics::render(&p.namespace, sources)).await?;
        Some(format!("http://{bound}{}", p.path))
    } else {
        None
    };
    println!(
        "droplet-client: network {network}, API on {bound}, peer ID {}",
        host.peer_id()
    );
    if let Some(url) = metrics {
        println!("metrics on {url}");
    }
    market_daemon::signal::shutdown().await;
    eprintln!("droplet-client: shutting down");
    let _ = stop_handle.stop();
    server.stop();
    Ok(())
}
