//! Direct data onboarding on the devnet's actors: DataCap transferred to the verified registry
//! with allocation requests, allocations claimed by `ProveCommitSectors3` with piece
//! activation manifests, and claims' terms extended. Every rule is a test that a message
//! breaking it is refused with the real exit code, next to the good message passing.

mod common;

use devnet::state::{Applied, Builtin, State};
use market_crypto::Key;
use market_types::actors::{
    AllocationRequest, AllocationRequests, AllocationsResponse, BatchReturn, ClaimExtensionRequest, ClaimTerm,
    DATACAP_TOKEN_PRECISION, DataActivationNotification, ExtendClaimTermsParams, PieceActivationManifest,
    ProveCommitSectors3Params, SectorActivationManifest, TransferParams, TransferReturn, VerifiedAllocationKey,
    datacap_method, exit_code, miner_method as more_methods, verifreg_method,
};
use market_types::chain::{SectorPreCommitInfo, miner_method};
use market_types::{Address, BigInt, Bytes, Cid, TokenAmount, cbor};

const SECTOR_SIZE: u64 = 2048;
const TERM_MIN: i64 = 518_400;
const TERM_MAX: i64 = 1_500_000;
/// Sectors live this long after pre-commit: within [TERM_MIN, TERM_MAX].
const SECTOR_LIFE: i64 = 1_036_800;

fn piece_cid_of(seed: u8) -> Cid {
    let c = piece_store::commp::of_bytes(&[seed; 1000]).expect("commP");
    piece_store::commp::piece_cid_v1(&c.commp)
}

struct Net {
    st: State,
    client: Key,
    worker: Key,
    stranger: Key,
    miner: Address,
}

impl Net {
    fn new() -> Net {
        let common::ActorNet {
            mut st,
            client,
            worker,
            stranger,
            miner,
            ..
        } = common::actor_net(SECTOR_SIZE);
        let client_id = st.lookup_id(&client.address()).expect("client");
        st.verifreg.datacap.insert(client_id, BigInt::from(1u64 << 20));
        Net {
            st,
            client,
            worker,
            stranger,
            miner,
        }
    }

    fn send(&mut self, from: &Key, to: Address, method: u64, params: Vec<u8>) -> Applied {
        common::apply(&mut self.st, from, to, method, params, TokenAmount::default())
    }

    fn client_id(&self) -> u64 {
        self.st.lookup_id(&self.client.address()).expect("client")
    }

    fn miner_id(&self) -> u64 {
        self.st.lookup_id(&self.miner).expect("miner")
    }

    fn request(&self, seed: u8) -> AllocationRequest {
        AllocationRequest {
            provider: self.miner_id(),
            data: piece_cid_of(seed),
            size: 1024,
            term_min: TERM_MIN,
            term_max: TERM_MAX,
            expiration: self.st.epoch + 1000,
        }
    }

    /// The client transfers `bytes` of DataCap to the registry with `reqs`.
    fn transfer(&mut self, from: &Key, to: Address, bytes: u64, reqs: &AllocationRequests) -> Applied {
        let params = TransferParams {
            to,
            amount: TokenAmount::from_atto(BigInt::from(bytes) * BigInt::from(DATACAP_TOKEN_PRECISION)),
            operator_data: Bytes(cbor::to_vec(reqs)),
        };
        self.send(
            from,
            Address::new_id(Builtin::DataCap as u64),
            datacap_method::TRANSFER_EXPORTED,
            cbor::to_vec(&params),
        )
    }

    fn allocate(&mut self, reqs: Vec<AllocationRequest>) -> Result<Vec<u64>, (i64, String)> {
        let bytes = reqs.iter().map(|r| r.size).sum();
        let reqs = AllocationRequests {
            allocations: reqs,
            extensions: Vec::new(),
        };
        let client = self.client.clone();
        let a = self.transfer(&client, Address::new_id(6), bytes, &reqs);
        if a.receipt.exit_code != 0 {
            return Err((a.receipt.exit_code, a.error.unwrap_or_default()));
        }
        let ret: TransferReturn = cbor::from_slice(&a.receipt.return_data.0).expect("transfer return");
        let resp: AllocationsResponse = cbor::from_slice(&ret.recipient_data.0).expect("allocations response");
        Ok(resp.new_allocations)
    }

    /// Pre-commits sector `n` (no deals) for pieces `pieces`.
    fn precommit(&mut self, n: u64, pieces: &[(Cid, u64)]) {
        let nodes: Vec<_> = pieces
            .iter()
            .map(|(c, s)| (piece_store::commp::commp_from_cid_v1(c).expect("piece"), *s))
            .collect();
        let commd = piece_store::commp::aggregate_commd(&nodes, SECTOR_SIZE).expect("commd");
        let unsealed = piece_store::commp::piece_cid_v1(&commd);
        let info = SectorPreCommitInfo {
            seal_proof: 5,
            sector_number: n,
            sealed_cid: unsealed,
            seal_rand_epoch: self.st.epoch - 1,
            deal_ids: Vec::new(),
            expiration: self.st.epoch + SECTOR_LIFE,
            unsealed_cid: Some(unsealed),
        };
        let (worker, miner) = (self.worker.clone(), self.miner);
        let a = self.send(
            &worker,
            miner,
            miner_method::PRE_COMMIT_SECTOR_BATCH2,
            cbor::to_vec(&market_types::actors::PreCommitSectorBatch2Params { sectors: vec![info] }),
        );
        assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    }

    fn piece(&self, seed: u8, allocation: Option<u64>) -> PieceActivationManifest {
        PieceActivationManifest {
            cid: piece_cid_of(seed),
            size: 1024,
            verified_allocation_key: allocation.map(|id| VerifiedAllocationKey {
                client: self.client_id(),
                id,
            }),
            notify: Vec::new(),
        }
    }

    fn prove3(&mut self, sectors: Vec<SectorActivationManifest>, require: bool) -> Applied {
        let proofs = sectors.iter().map(|_| Bytes(vec![0xaa; 192])).collect();
        let params = ProveCommitSectors3Params {
            sector_activations: sectors,
            sector_proofs: proofs,
            aggregate_proof: Bytes(Vec::new()),
            aggregate_proof_type: None,
            require_activation_success: require,
            require_notification_success: true,
        };
        let (worker, miner) = (self.worker.clone(), self.miner);
        self.send(
            &worker,
            miner,
            more_methods::PROVE_COMMIT_SECTORS3,
            cbor::to_vec(&params),
        )
    }
}

#[test]
fn a_datacap_transfer_to_the_registry_creates_allocations_and_spends_the_datacap() {
    let mut n = Net::new();
    let reqs = vec![n.request(1), n.request(2)];
    let ids = n.allocate(reqs.clone()).expect("allocated");
    assert_eq!(ids.len(), 2);
    let client = n.client_id();
    assert_eq!(n.st.verifreg.datacap_of(client), BigInt::from((1u64 << 20) - 2048));
    for (id, r) in ids.iter().zip(&reqs) {
        let a = &n.st.verifreg.allocations[id];
        assert_eq!(
            (a.client, a.provider, a.data, a.size),
            (client, r.provider, r.data, r.size)
        );
        assert_eq!(
            (a.term_min, a.term_max, a.expiration),
            (r.term_min, r.term_max, r.expiration)
        );
    }
}

/// Changes a good request into one that breaks a rule.
type Breaker = Box<dyn Fn(&mut AllocationRequest)>;

#[test]
fn each_allocation_rule_refuses_the_whole_transfer() {
    let mut n = Net::new();
    let epoch = n.st.epoch;
    let stranger_id = n.st.lookup_id(&n.stranger.address()).expect("stranger");
    let cases: Vec<(&str, Breaker)> = vec![
        ("under 256 bytes", Box::new(|r| r.size = 128)),
        ("term min under 180 days", Box::new(|r| r.term_min = TERM_MIN - 1)),
        ("term max over 5 years", Box::new(|r| r.term_max = 5 * 365 * 2880 + 1)),
        ("term min over term max", Box::new(|r| r.term_max = r.term_min - 1)),
        ("expired", Box::new(move |r| r.expiration = epoch - 1)),
        (
            "expiring past 60 days",
            Box::new(move |r| r.expiration = epoch + 60 * 2880 + 1),
        ),
        ("not a miner", Box::new(move |r| r.provider = stranger_id)),
    ];
    for (what, break_it) in cases {
        let mut bad = n.request(2);
        break_it(&mut bad);
        let before = n.st.verifreg.clone();
        let err = n.allocate(vec![n.request(1), bad]).expect_err(what);
        assert_eq!(err.0, exit_code::USR_ILLEGAL_ARGUMENT, "{what}: {}", err.1);
        assert_eq!(n.st.verifreg, before, "{what}: nothing allocated, no DataCap spent");
    }
    // The sizes must add up to the amount exactly.
    let reqs = AllocationRequests {
        allocations: vec![n.request(1)],
        extensions: Vec::new(),
    };
    let client = n.client.clone();
    let a = n.transfer(&client, Address::new_id(6), 2048, &reqs);
    assert_eq!(a.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT, "{:?}", a.error);
    // Only to the registry.
    let to_miner = n.miner;
    let a = n.transfer(&client, to_miner, 1024, &reqs);
    assert_eq!(a.receipt.exit_code, exit_code::USR_FORBIDDEN, "{:?}", a.error);
    // Not more than the client holds.
    let big: Vec<_> = (0..3u8)
        .map(|i| AllocationRequest {
            size: 512 << 10,
            ..n.request(i)
        })
        .collect();
    let err = n.allocate(big).expect_err("over the DataCap");
    assert_eq!(err.0, exit_code::USR_INSUFFICIENT_FUNDS, "{}", err.1);
    // The good transfer passes.
    assert!(n.allocate(vec![n.request(1)]).is_ok());
}

#[test]
fn prove_commit_sectors3_claims_the_allocations_of_its_pieces() {
    let mut n = Net::new();
    let ids = n.allocate(vec![n.request(1), n.request(2)]).expect("allocated");
    n.precommit(7, &[(piece_cid_of(1), 1024), (piece_cid_of(2), 1024)]);
    let manifest = SectorActivationManifest {
        sector_number: 7,
        pieces: vec![n.piece(1, Some(ids[0])), n.piece(2, Some(ids[1]))],
    };
    let a = n.prove3(vec![manifest], true);
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    let ret: BatchReturn = cbor::from_slice(&a.receipt.return_data.0).expect("batch return");
    assert_eq!((ret.success_count, ret.fail_codes.len()), (1, 0));
    let epoch = n.st.epoch;
    for (id, seed) in ids.iter().zip([1u8, 2]) {
        assert!(
            !n.st.verifreg.allocations.contains_key(id),
            "claimed allocations are gone"
        );
        let c = &n.st.verifreg.claims[id];
        assert_eq!(
            (c.provider, c.client, c.data, c.size),
            (n.miner_id(), n.client_id(), piece_cid_of(seed), 1024)
        );
        assert_eq!((c.term_start, c.sector, c.term_max), (epoch, 7, TERM_MAX));
    }
    let miner = n.st.miner(n.miner_id()).expect("miner");
    assert!(miner.sectors.contains_key(&7) && !miner.precommits.contains_key(&7));
}

#[test]
fn each_claim_rule_refuses_its_sector() {
    let mut n = Net::new();
    let ids = n.allocate(vec![n.request(1)]).expect("allocated");
    n.precommit(1, &[(piece_cid_of(1), 1024)]);
    let good = n.piece(1, Some(ids[0]));
    let sector = |pieces: Vec<PieceActivationManifest>| SectorActivationManifest {
        sector_number: 1,
        pieces,
    };
    // Pieces that do not give the pre-committed CommD: 16.
    let a = n.prove3(vec![sector(vec![n.piece(2, None)])], true);
    assert_eq!(a.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT, "{:?}", a.error);
    // Another client's key, or an allocation that does not exist.
    let mut other = good.clone();
    other.verified_allocation_key = Some(VerifiedAllocationKey {
        client: n.client_id() + 100,
        id: ids[0],
    });
    let a = n.prove3(vec![sector(vec![other])], true);
    assert_eq!(a.receipt.exit_code, exit_code::USR_FORBIDDEN, "{:?}", a.error);
    let mut missing = good.clone();
    missing.verified_allocation_key = Some(VerifiedAllocationKey {
        client: n.client_id(),
        id: 999,
    });
    let a = n.prove3(vec![sector(vec![missing])], true);
    assert_eq!(a.receipt.exit_code, exit_code::USR_NOT_FOUND, "{:?}", a.error);
    // Proofs: one per sector or an aggregate, not neither.
    let (worker, miner) = (n.worker.clone(), n.miner);
    let params = ProveCommitSectors3Params {
        sector_activations: vec![sector(vec![good.clone()])],
        sector_proofs: Vec::new(),
        aggregate_proof: Bytes(Vec::new()),
        aggregate_proof_type: None,
        require_activation_success: true,
        require_notification_success: true,
    };
    let a = n.send(
        &worker,
        miner,
        more_methods::PROVE_COMMIT_SECTORS3,
        cbor::to_vec(&params),
    );
    assert_eq!(a.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT, "{:?}", a.error);
    // Only the market can be notified.
    let mut notify = good.clone();
    notify.notify = vec![DataActivationNotification {
        address: n.stranger.address(),
        payload: Bytes(cbor::to_vec(&0u64)),
    }];
    let a = n.prove3(vec![sector(vec![notify])], true);
    assert_eq!(a.receipt.exit_code, exit_code::USR_ILLEGAL_ARGUMENT, "{:?}", a.error);
    assert!(
        n.st.verifreg.claims.is_empty(),
        "nothing was claimed by the refused messages"
    );

    // A sector whose life is outside the allocation's terms: refused, and without
    // RequireActivationSuccess the batch reports it alongside a good sector.
    let short = n
        .allocate(vec![AllocationRequest {
            term_max: TERM_MIN,
            ..n.request(3)
        }])
        .expect("allocated");
    n.precommit(2, &[(piece_cid_of(3), 1024)]);
    let a = n.prove3(
        vec![
            sector(vec![good.clone()]),
            SectorActivationManifest {
                sector_number: 2,
                pieces: vec![n.piece(3, Some(short[0]))],
            },
        ],
        false,
    );
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    let ret: BatchReturn = cbor::from_slice(&a.receipt.return_data.0).expect("batch return");
    assert_eq!(ret.success_count, 1);
    assert_eq!(
        (ret.fail_codes[0].idx, ret.fail_codes[0].code),
        (1, exit_code::USR_FORBIDDEN as u64)
    );
    assert!(n.st.verifreg.claims.contains_key(&ids[0]));
    assert!(
        n.st.verifreg.allocations.contains_key(&short[0]),
        "the refused sector claimed nothing"
    );

    // An allocation past its expiration cannot be claimed.
    let late = n.allocate(vec![n.request(4)]).expect("allocated");
    n.precommit(3, &[(piece_cid_of(4), 1024)]);
    let expiration = n.st.verifreg.allocations[&late[0]].expiration;
    n.st.advance_to(expiration + 1);
    let a = n.prove3(
        vec![SectorActivationManifest {
            sector_number: 3,
            pieces: vec![n.piece(4, Some(late[0]))],
        }],
        true,
    );
    assert_eq!(a.receipt.exit_code, exit_code::USR_FORBIDDEN, "{:?}", a.error);
}

#[test]
fn claims_terms_are_extended_by_their_client_within_the_rules() {
    let mut n = Net::new();
    let ids = n.allocate(vec![n.request(1)]).expect("allocated");
    n.precommit(1, &[(piece_cid_of(1), 1024)]);
    let a = n.prove3(
        vec![SectorActivationManifest {
            sector_number: 1,
            pieces: vec![n.piece(1, Some(ids[0]))],
        }],
        true,
    );
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    let provider = n.miner_id();
    let term = |claim_id, term_max| ClaimTerm {
        provider,
        claim_id,
        term_max,
    };
    let params = ExtendClaimTermsParams {
        terms: vec![
            term(ids[0], TERM_MAX + 1000),    // good
            term(999, TERM_MAX + 1000),       // no such claim: 17
            term(ids[0], TERM_MAX),           // shorter than now (after the first): 16
            term(ids[0], 5 * 365 * 2880 + 1), // over five years: 16
        ],
    };
    let client = n.client.clone();
    let a = n.send(
        &client,
        Address::new_id(6),
        verifreg_method::EXTEND_CLAIM_TERMS,
        cbor::to_vec(&params),
    );
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    let ret: BatchReturn = cbor::from_slice(&a.receipt.return_data.0).expect("batch return");
    assert_eq!(ret.success_count, 1);
    let codes: Vec<_> = ret.fail_codes.iter().map(|f| (f.idx, f.code as i64)).collect();
    assert_eq!(
        codes,
        vec![
            (1, exit_code::USR_NOT_FOUND),
            (2, exit_code::USR_ILLEGAL_ARGUMENT),
            (3, exit_code::USR_ILLEGAL_ARGUMENT)
        ]
    );
    assert_eq!(n.st.verifreg.claims[&ids[0]].term_max, TERM_MAX + 1000);
    // Only the claim's client: 18 for anyone else.
    let stranger = n.stranger.clone();
    let a = n.send(
        &stranger,
        Address::new_id(6),
        verifreg_method::EXTEND_CLAIM_TERMS,
        cbor::to_vec(&ExtendClaimTermsParams {
            terms: vec![term(ids[0], TERM_MAX + 2000)],
        }),
    );
    let ret: BatchReturn = cbor::from_slice(&a.receipt.return_data.0).expect("batch return");
    assert_eq!(ret.fail_codes[0].code as i64, exit_code::USR_FORBIDDEN);
    // Any client may extend with DataCap, paying the claim's size.
    let reqs = AllocationRequests {
        allocations: Vec::new(),
        extensions: vec![ClaimExtensionRequest {
            provider,
            claim: ids[0],
            term_max: TERM_MAX + 5000,
        }],
    };
    let a = n.transfer(&client, Address::new_id(6), 1024, &reqs);
    assert_eq!(a.receipt.exit_code, 0, "{:?}", a.error);
    assert_eq!(n.st.verifreg.claims[&ids[0]].term_max, TERM_MAX + 5000);
}
