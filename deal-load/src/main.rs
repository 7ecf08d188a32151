//! `droplet-deal-load`: the deal intake bench's load. Many libp2p clients (each its own host,
//! peer ID and connection) propose valid offline deals over `/fil/storage/mk/1.2.1` to one
//! droplet, each with a number of proposals in flight; every proposal is signed by a client
//! that exists on chain, for a distinct piece, at a price the ask takes. It reports the
//! accepted deals per second, the proposal-to-answer latency (p50, p99) and every proposal
//! not answered, and, beside them, how fast one core verifies the same signatures: the bound
//! the intake cannot beat. The last line is `RESULT <json>` for `cargo xtask bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use cid::Cid;
use cid::multihash::Multihash;
use clap::Parser;
use futures::StreamExt;
use market_crypto::{Key, KeyInfo};
use market_p2p::{Frame, Host, HostConfig, Multiaddr, StreamProtocol, protocols};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_types::boost::{DealParams, DealResponse, Transfer};
use market_types::chain::{ClientDealProposal, DealProposal, TipSetKey};
use market_types::label::DealLabel;
use market_types::units::PaddedPieceSize;
use market_types::{TokenAmount, Uuid, cbor};

#[derive(Debug, Parser)]
#[command(
    name = "droplet-deal-load",
    about = "Propose many offline deals to one droplet at once and measure its intake"
)]
struct Args {
    /// The chain node's API (`token:multiaddr`), for the head and the collateral bounds.
    #[arg(long)]
    node: String,
    /// droplet's libp2p address with its peer ID (`/ip4/…/tcp/…/p2p/…`).
    #[arg(long)]
    provider: Multiaddr,
    /// The miner the deals are for.
    #[arg(long, default_value = "t01000")]
    miner: String,
    /// The client's key as `lotus wallet export` prints it (the client must exist on chain).
    #[arg(long)]
    key: String,
    /// libp2p clients, each with its own connection.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Proposals in flight per client.
    #[arg(long, default_value_t = 32)]
    in_flight: usize,
    /// Proposals in all.
    #[arg(long, default_value_t = 2000)]
    deals: usize,
    /// The padded piece size of every deal.
    #[arg(long, default_value_t = 2048)]
    piece_size: u64,
    /// Seconds a proposal may take before it counts as unanswered.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// A distinct piece CID (commP prefix) and data root for deal `i` of run `run`.
fn piece_and_root(run: &[u8; 16], i: u64) -> Result<(Cid, Cid)> {
    let mut d = [0u8; 32];
    d[..16].copy_from_slice(run);
    d[16..24].copy_from_slice(&i.to_le_bytes());
    // A field element, as commP is: the top two bits clear.
    d[31] &= 0x3f;
    let piece = Cid::new_v1(0xf101, Multihash::wrap(0x1012, &d)?);
    let root = Cid::new_v1(0x55, Multihash::wrap(0x12, &d)?);
    Ok((piece, root))
}

/// What one proposal came to.
enum Outcome {
    Accepted(Duration),
    Rejected(Duration, String),
    /// No answer: the stream was closed or reset, or it timed out.
    Unanswered(String),
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(args))
}

async fn run(a: Args) -> Result<()> {
    if a.clients == 0 || a.in_flight == 0 || a.deals == 0 {
        bail!("--clients, --in-flight and --deals must be at least 1");
    }
    let peer = match a.provider.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(p)) => p,
        _ => bail!("--provider {} does not end in /p2p/<peer ID>", a.provider),
    };
    let miner = market_types::address::parse(&a.miner).map_err(|e| anyhow!("--miner {}: {e}", a.miner))?;
    let key = Key::from_info(&KeyInfo::parse(&a.key).context("--key")?).context("--key")?;
    let client = key.address();
    let info = market_proto::api_info::ApiInfo::parse(&a.node);
    let node = market_proto::client::http(&info, "v1", Duration::from_secs(30)).map_err(|e| anyhow!("--node: {e}"))?;
    let tsk = || Json(TipSetKey::empty());
    let head = node.chain_head().await.context("ChainHead")?.0.height();
    let bounds = node
        .state_deal_provider_collateral_bounds(a.piece_size, false, tsk())
        .await
        .context("StateDealProviderCollateralBounds")?
        .0;

    // Every proposal signed before the clock starts: signing is the clients' cost.
    let run_id = *Uuid::new_v4().as_bytes();
    let start_epoch = head + 10_000;
    let protocol = StreamProtocol::new(protocols::DEAL_1_2_1);
    let mut frames = Vec::with_capacity(a.deals);
    let mut signed = Vec::with_capacity(a.deals);
    for i in 0..a.deals as u64 {
        let (piece_cid, root) = piece_and_root(&run_id, i)?;
        let proposal = DealProposal {
            piece_cid,
            piece_size: PaddedPieceSize(a.piece_size),
            verified_deal: false,
            client,
            provider: miner,
            label: DealLabel::String(String::new()),
            start_epoch,
            end_epoch: start_epoch + 520_000,
            storage_price_per_epoch: TokenAmount::default(),
            provider_collateral: bounds.min.clone(),
            client_collateral: TokenAmount::default(),
        };
        let bytes = proposal.signing_bytes();
        let client_signature = key.sign(&bytes);
        signed.push((client_signature.clone(), bytes));
        let params = DealParams {
            deal_uuid: Uuid::new_v4(),
            transfer: Transfer::offline(),
            is_offline: true,
            deal_data_root: root,
            skip_ipni_announce: true,
            client_deal_proposal: ClientDealProposal {
                proposal,
                client_signature,
            },
            remove_unsealed_copy: false,
        };
        frames.push(Frame::new(protocol.clone(), cbor::to_vec(&params)));
    }

    // The bound: one core verifying the same signatures, one after the other.
    let sample = signed.len().min(2000);
    let t = Instant::now();
    for (sig, bytes) in &signed[..sample] {
        market_crypto::verify(sig, &client, bytes).map_err(|e| anyhow!("a signature of ours does not verify: {e}"))?;
    }
    let verify_rate = sample as f64 / t.elapsed().as_secs_f64();
    drop(signed);

    let mut hosts = Vec::with_capacity(a.clients);
    for i in 0..a.clients {
        let host = Host::start(
            HostConfig {
                keypair: market_p2p::identity::Keypair::generate_ed25519(),
                listen: Vec::new(),
                announce: Vec::new(),
                agent: format!("droplet-deal-load/{i}"),
                request_timeout: Duration::from_secs(a.timeout),
            },
            Default::default(),
        )
        .await?;
        host.connect(peer, vec![a.provider.clone()])
            .await
            .with_context(|| format!("client {i} connecting to {}", a.provider))?;
        hosts.push(host);
    }

    let mut per_client: Vec<Vec<Frame>> = (0..a.clients).map(|_| Vec::new()).collect();
    for (i, f) in frames.into_iter().enumerate() {
        per_client[i % a.clients].push(f);
    }
    let addrs = Arc::new(vec![a.provider.clone()]);
    let started = Instant::now();
    let started_unix = unix_secs();
    let tasks = hosts.into_iter().zip(per_client).map(|(host, frames)| {
        let addrs = addrs.clone();
        let in_flight = a.in_flight;
        tokio::spawn(async move {
            futures::stream::iter(frames)
                .map(|f| {
                    let (host, addrs) = (host.clone(), addrs.clone());
                    async move {
                        let t = Instant::now();
                        match host.request(peer, addrs.to_vec(), f).await {
                            Ok(answer) => match cbor::from_slice::<DealResponse>(&answer.bytes) {
                                Ok(r) if r.accepted => Outcome::Accepted(t.elapsed()),
                                Ok(r) => Outcome::Rejected(t.elapsed(), r.message),
                                Err(e) => Outcome::Unanswered(format!("an answer that does not decode: {e}")),
                            },
                            Err(e) => Outcome::Unanswered(e.to_string()),
                        }
                    }
                })
                .buffer_unordered(in_flight)
                .collect::<Vec<Outcome>>()
                .await
        })
    });
    let mut outcomes = Vec::with_capacity(a.deals);
    for t in futures::future::join_all(tasks).await {
        outcomes.extend(t?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ended_unix = unix_secs();

    let mut latencies = Vec::new();
    let (mut accepted, mut rejected, mut unanswered) = (0usize, 0usize, 0usize);
    let (mut first_rejection, mut first_failure) = (None, None);
    for o in outcomes {
        match o {
            Outcome::Accepted(d) => {
                accepted += 1;
                latencies.push(d);
            }
            Outcome::Rejected(d, why) => {
                rejected += 1;
                latencies.push(d);
                first_rejection.get_or_insert(why);
            }
            Outcome::Unanswered(why) => {
                unanswered += 1;
                first_failure.get_or_insert(why);
            }
        }
    }
    latencies.sort();
    let rate = accepted as f64 / elapsed;
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    println!(
        "{} proposals from {} clients, {} in flight each: {accepted} accepted, {rejected} rejected, {unanswered} unanswered in {elapsed:.2} s",
        a.deals, a.clients, a.in_flight
    );
    println!("  {rate:.0} deals/s accepted, latency p50 {p50:.1} ms, p99 {p99:.1} ms");
    println!(
        "  one core verifies {verify_rate:.0} of these signatures/s: the intake is {:.2}x that bound",
        rate / verify_rate
    );
    if let Some(why) = &first_rejection {
        println!("  first rejection: {why}");
    }
    if let Some(why) = &first_failure {
        println!("  first unanswered: {why}");
    }
    let result = serde_json::json!({
        "deals": a.deals,
        "clients": a.clients,
        "in_flight": a.in_flight,
        "accepted": accepted,
        "rejected": rejected,
        "unanswered": unanswered,
        "seconds": elapsed,
        // When the proposals started and stopped going out, for loads run side by side.
        "started_unix_s": started_unix,
        "ended_unix_s": ended_unix,
        "deals_per_s": rate,
        "p50_ms": p50,
        "p99_ms": p99,
        "verify_per_s": verify_rate,
        "first_rejection": first_rejection,
        "first_unanswered": first_failure,
    });
    println!("RESULT {result}");
    Ok(())
}

/// Now, in seconds since the Unix epoch.
fn unix_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
