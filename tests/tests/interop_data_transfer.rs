//! lassie v0.25.0 (go-data-transfer v2 rc8, go-graphsync v0.18, `--protocols graphsync`, pinned
//! to the provider) retrieves from a test provider built on our graphsync and data-transfer
//! crates with a test block source: lassie's deal proposal is validated and answered
//! (Accepted, then Completed) the way a free retrieval provider answers, and lassie verifies
//! every block of the DAG against the selector walk before writing its CAR.

use std::collections::HashSet;
use std::sync::Arc;

use cid::Cid;
use data_transfer::DataTransfer;
use data_transfer::message::TypedVoucher;
use data_transfer::provider::{PullChannel, ValidationResult, Validator};
use graphsync::MemoryStore;
use graphsync::net::Config;
use graphsync::testing::dag::DagBuilder;
use graphsync::testing::swarm::{drive, host};
use market_types::ipld::RawCbor;
use market_types::retrieval::{
    RetrievalDealProposal, RetrievalDealResponse, VOUCHER_DEAL_PROPOSAL, VOUCHER_DEAL_RESPONSE,
};
use tests::gopeers;

/// Free retrievals only: a proposal with no price is accepted (status 6), a priced one is
/// refused (status 9, Rejected); a finished transfer is Completed (status 15).
struct FreeRetrieval;

fn deal_response(id: u64, status: u64, message: &str) -> Option<TypedVoucher> {
    Some(TypedVoucher {
        kind: VOUCHER_DEAL_RESPONSE.into(),
        node: RawCbor::from_value(&RetrievalDealResponse {
            id,
            status,
            message: message.into(),
            payment_owed: Default::default(),
        }),
    })
}

fn proposal(channel: &PullChannel) -> Option<RetrievalDealProposal> {
    (channel.voucher.kind == VOUCHER_DEAL_PROPOSAL)
        .then(|| channel.voucher.node.decode().ok())
        .flatten()
}

impl Validator for FreeRetrieval {
    fn validate_pull(&self, channel: &PullChannel, _restart: bool) -> ValidationResult {
        let Some(p) = proposal(channel) else {
            return ValidationResult::default();
        };
        let free = p.params.price_per_byte.is_zero() && p.params.unseal_price.is_zero();
        ValidationResult {
            accepted: free && p.payload_cid == channel.root,
            result: if free {
                deal_response(p.id, 6, "")
            } else {
                deal_response(p.id, 9, "only free retrievals here")
            },
            force_pause: false,
            data_limit: 0,
        }
    }
    fn validate_voucher(&self, _: &PullChannel, _: &TypedVoucher) -> ValidationResult {
        ValidationResult::default()
    }
    fn completed(&self, channel: &PullChannel) -> Option<TypedVoucher> {
        deal_response(proposal(channel)?.id, 15, "")
    }
}

/// The CIDs of a CARv1's blocks.
fn car_cids(car: &[u8]) -> Vec<Cid> {
    let mut rest = car;
    let mut out = Vec::new();
    let mut first = true;
    while !rest.is_empty() {
        let (len, after) = unsigned_varint::decode::usize(rest).expect("section length");
        let (section, next) = after.split_at(len);
        rest = next;
        if std::mem::take(&mut first) {
            continue; // the header
        }
        let mut reader = std::io::Cursor::new(section);
        out.push(Cid::read_bytes(&mut reader).expect("cid"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lassie_retrieves_over_graphsync_from_a_provider_built_on_our_crates() {
    let mut b = DagBuilder::new(201);
    let root = b.file(5 << 20, 256 << 10, 7);
    let dag = b.finish(root);
    let (peer, addr, swarm) = host().await;
    let _provider = DataTransfer::new(
        swarm.behaviour(),
        peer,
        Arc::new(MemoryStore::from_blocks(dag.blocks.clone())),
        Arc::new(FreeRetrieval),
        Config::default(),
    )
    .expect("provider");
    drive(swarm, None);

    let dir = tempfile::tempdir().expect("tempdir");
    let out_car = dir.path().join("out.car");
    let out = tokio::process::Command::new(gopeers::binary("lassie"))
        .args([
            "fetch",
            "--protocols",
            "graphsync",
            "--providers",
            &format!("{addr}+graphsync"),
            "--global-timeout",
            "60s",
            "-o",
        ])
        .arg(&out_car)
        .arg(root.to_string())
        .current_dir(dir.path())
        .output()
        .await
        .expect("run lassie");
    assert!(
        out.status.success(),
        "lassie failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let car = std::fs::read(&out_car).expect("lassie's CAR");
    let got: HashSet<Cid> = car_cids(&car).into_iter().collect();
    let want: HashSet<Cid> = dag.blocks.keys().copied().collect();
    assert_eq!(got, want, "lassie's CAR holds exactly the DAG's blocks");
}
