//! Storage miner actors and the power actor's CreateMiner: addresses and peer info, sector
//! pre-commit (deals checked and CommD recomputed from their pieces), prove-commit (any proof
//! bytes; deals activated through the market), and termination (deals slashed).

use std::collections::BTreeMap;

use market_types::actors::{
    BatchReturn, CreateMinerParams, CreateMinerReturn, FailCode, PreCommitSectorBatch2Params,
    ProveCommitAggregateParams, ProveCommitSectorParams, ProveCommitSectors3Params, SectorActivationManifest,
    TerminateSectorsParams, TerminateSectorsReturn, miner_method as more_methods, power_method,
};
use market_types::chain::{
    ChangeMultiaddrsParams, ChangePeerIdParams, SectorPreCommitInfo, SectorPreCommitOnChainInfo, miner_method,
};
use market_types::units::{ChainEpoch, DealId};
use market_types::{Address, Cid, TokenAmount, cbor};

use super::policy::{sector_size_of_seal_proof, window_post_proof_for};
use super::{ActorError, ActorId, ActorKind, Call, State, market, ret};

/// A proven sector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sector {
    pub deal_ids: Vec<DealId>,
    pub activation: ChainEpoch,
    pub expiration: ChainEpoch,
    pub unsealed_cid: Option<Cid>,
}

/// A storage miner actor's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miner {
    pub owner: ActorId,
    pub worker: ActorId,
    pub control: Vec<ActorId>,
    pub peer_id: Vec<u8>,
    pub multiaddrs: Vec<Vec<u8>>,
    pub sector_size: u64,
    pub window_post_proof_type: i64,
    pub precommits: BTreeMap<u64, SectorPreCommitOnChainInfo>,
    pub sectors: BTreeMap<u64, Sector>,
}

impl Miner {
    pub fn new(owner: ActorId, worker: ActorId, sector_size: u64) -> Result<Miner, ActorError> {
        let window_post_proof_type = window_post_proof_for(sector_size)
            .ok_or_else(|| ActorError::illegal_argument(format!("unsupported sector size {sector_size}")))?;
        Ok(Miner {
            owner,
            worker,
            control: Vec::new(),
            peer_id: Vec::new(),
            multiaddrs: Vec::new(),
            sector_size,
            window_post_proof_type,
            precommits: BTreeMap::new(),
            sectors: BTreeMap::new(),
        })
    }

    /// Owner, worker or a control address: who may act for the miner.
    pub fn is_controlling(&self, id: ActorId) -> bool {
        id == self.owner || id == self.worker || self.control.contains(&id)
    }

    pub fn raw_power(&self) -> u64 {
        self.sector_size * self.sectors.len() as u64
    }
}

pub(super) fn invoke(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    let me = call.receiver;
    let miner = st
        .miner(me)
        .ok_or_else(|| ActorError::illegal_state("not a miner"))?
        .clone();
    let controlling = || {
        if miner.is_controlling(call.caller) {
            Ok(())
        } else {
            Err(ActorError::forbidden(format!(
                "caller f0{} is not the owner, worker or a control address of f0{me}",
                call.caller
            )))
        }
    };
    match call.method {
        miner_method::CHANGE_PEER_ID => {
            controlling()?;
            let p: ChangePeerIdParams = call.params()?;
            if p.new_id.0.len() > 128 {
                return Err(ActorError::illegal_argument("peer ID is over 128 bytes"));
            }
            st.miner_mut(me).expect("miner").peer_id = p.new_id.0;
            Ok(Vec::new())
        }
        miner_method::CHANGE_MULTIADDRS => {
            controlling()?;
            let p: ChangeMultiaddrsParams = call.params()?;
            if p.new_multiaddrs.iter().any(|a| a.0.is_empty()) {
                return Err(ActorError::illegal_argument("invalid empty multiaddr"));
            }
            if p.new_multiaddrs.iter().map(|a| a.0.len()).sum::<usize>() > 1024 {
                return Err(ActorError::illegal_argument("multiaddrs are over 1024 bytes"));
            }
            st.miner_mut(me).expect("miner").multiaddrs = p.new_multiaddrs.into_iter().map(|a| a.0).collect();
            Ok(Vec::new())
        }
        miner_method::PRE_COMMIT_SECTOR_BATCH2 => {
            controlling()?;
            let p: PreCommitSectorBatch2Params = call.params()?;
            pre_commit(st, me, &miner, p.sectors)
        }
        more_methods::PROVE_COMMIT_SECTOR => {
            controlling()?;
            let p: ProveCommitSectorParams = call.params()?;
            prove_commit(st, me, &[p.sector_number])
        }
        more_methods::PROVE_COMMIT_AGGREGATE => {
            controlling()?;
            let p: ProveCommitAggregateParams = call.params()?;
            // More set bits than pre-committed sectors cannot all be provable.
            let sectors = p
                .sector_numbers
                .indices(miner.precommits.len() as u64)
                .map_err(|e| ActorError::illegal_argument(format!("sector numbers: {e}")))?;
            prove_commit(st, me, &sectors)
        }
        more_methods::PROVE_COMMIT_SECTORS3 => {
            controlling()?;
            let p: ProveCommitSectors3Params = call.params()?;
            prove_commit_sectors3(st, me, p)
        }
        miner_method::TERMINATE_SECTORS => {
            controlling()?;
            let p: TerminateSectorsParams = call.params()?;
            terminate(st, me, p)
        }
        m => Err(ActorError::unhandled(m)),
    }
}

fn pre_commit(
    st: &mut State,
    me: ActorId,
    miner: &Miner,
    sectors: Vec<SectorPreCommitInfo>,
) -> Result<Vec<u8>, ActorError> {
    if sectors.is_empty() {
        return Err(ActorError::illegal_argument("no sectors to pre-commit"));
    }
    let mut batch = std::collections::BTreeSet::new();
    let mut claimed: std::collections::BTreeSet<DealId> = miner
        .precommits
        .values()
        .flat_map(|p| p.info.deal_ids.iter().copied())
        .collect();
    for info in &sectors {
        let n = info.sector_number;
        if miner.precommits.contains_key(&n) || miner.sectors.contains_key(&n) || !batch.insert(n) {
            return Err(ActorError::illegal_argument(format!("sector {n} is already allocated")));
        }
        if sector_size_of_seal_proof(info.seal_proof) != Some(miner.sector_size) {
            return Err(ActorError::illegal_argument(format!(
                "seal proof {} does not match the miner's sector size {}",
                info.seal_proof, miner.sector_size
            )));
        }
        if info.expiration <= st.epoch {
            return Err(ActorError::illegal_argument(format!(
                "sector {n} expiration {} is not after the current epoch {}",
                info.expiration, st.epoch
            )));
        }
        for id in &info.deal_ids {
            if !claimed.insert(*id) {
                return Err(ActorError::illegal_argument(format!(
                    "deal {id} is already in a pre-committed sector"
                )));
            }
        }
        // Without deals the CommD is checked at prove-commit against the piece manifests
        // (direct data onboarding), or the sector is committed capacity.
        if info.deal_ids.is_empty() {
            continue;
        }
        let pieces = market::verify_deals_for_sector(st, me, &info.deal_ids, info.expiration, miner.sector_size)
            .map_err(|e| ActorError::illegal_argument(format!("sector {n}: {}", e.message)))?;
        let expected = unsealed_cid(&pieces, miner.sector_size)?;
        let given = match info.unsealed_cid {
            Some(c) => c,
            None => unsealed_cid(&[], miner.sector_size)?,
        };
        if given != expected {
            return Err(ActorError::illegal_argument(format!(
                "sector {n}: unsealed CID {given} does not match the deals' CommD {expected}"
            )));
        }
    }
    let epoch = st.epoch;
    let m = st.miner_mut(me).expect("miner");
    for info in sectors {
        m.precommits.insert(
            info.sector_number,
            SectorPreCommitOnChainInfo {
                info,
                pre_commit_deposit: TokenAmount::default(),
                pre_commit_epoch: epoch,
            },
        );
    }
    Ok(Vec::new())
}

/// CommD of a sector holding `pieces` in order (zero sector when empty).
fn unsealed_cid(pieces: &[(Cid, u64)], sector_size: u64) -> Result<Cid, ActorError> {
    let mut nodes = Vec::with_capacity(pieces.len());
    for (cid, size) in pieces {
        let node = piece_store::commp::commp_from_cid_v1(cid)
            .map_err(|e| ActorError::illegal_argument(format!("piece {cid}: {e}")))?;
        nodes.push((node, *size));
    }
    let commd = piece_store::commp::aggregate_commd(&nodes, sector_size)
        .map_err(|e| ActorError::illegal_argument(format!("computing CommD: {e}")))?;
    Ok(piece_store::commp::piece_cid_v1(&commd))
}

/// Sector `n`'s pre-commitment and the miner's sector size, once its challenge delay is over.
fn provable(st: &State, me: ActorId, n: u64) -> Result<(SectorPreCommitOnChainInfo, u64), ActorError> {
    let miner = st.miner(me).expect("miner");
    let pc = miner
        .precommits
        .get(&n)
        .cloned()
        .ok_or_else(|| ActorError::not_found(format!("no pre-commitment for sector {n}")))?;
    if st.epoch < pc.pre_commit_epoch + st.policy.pre_commit_challenge_delay {
        return Err(ActorError::forbidden(format!(
            "sector {n} cannot be proven before epoch {}",
            pc.pre_commit_epoch + st.policy.pre_commit_challenge_delay
        )));
    }
    Ok((pc, miner.sector_size))
}

fn prove_commit(st: &mut State, me: ActorId, numbers: &[u64]) -> Result<Vec<u8>, ActorError> {
    if numbers.is_empty() {
        return Err(ActorError::illegal_argument("no sectors to prove"));
    }
    for &n in numbers {
        let (pc, sector_size) = provable(st, me, n)?;
        market::activate_deals(st, me, n, &pc.info.deal_ids, pc.info.expiration, sector_size)?;
        let epoch = st.epoch;
        let m = st.miner_mut(me).expect("miner");
        m.precommits.remove(&n);
        m.sectors.insert(
            n,
            Sector {
                deal_ids: pc.info.deal_ids.clone(),
                activation: epoch,
                expiration: pc.info.expiration,
                unsealed_cid: pc.info.unsealed_cid,
            },
        );
    }
    Ok(Vec::new())
}

/// `ProveCommitSectors3`: sectors proven with the manifest of their pieces. The pieces must
/// give the pre-committed CommD; a piece with an allocation key claims that allocation (the
/// verified registry's rules); a piece notifying the market activates the deal in its payload.
/// A sector that fails is left out (its code in the return) unless every one must succeed.
fn prove_commit_sectors3(st: &mut State, me: ActorId, p: ProveCommitSectors3Params) -> Result<Vec<u8>, ActorError> {
    if p.sector_activations.is_empty() {
        return Err(ActorError::illegal_argument("no sectors to prove"));
    }
    let aggregate = !p.aggregate_proof.0.is_empty();
    if aggregate != p.sector_proofs.is_empty() {
        return Err(ActorError::illegal_argument(
            "give either one proof per sector or an aggregate proof, not both or neither",
        ));
    }
    if !aggregate && p.sector_proofs.len() != p.sector_activations.len() {
        return Err(ActorError::illegal_argument(format!(
            "{} proofs for {} sectors",
            p.sector_proofs.len(),
            p.sector_activations.len()
        )));
    }
    let mut fail_codes = Vec::new();
    for (i, m) in p.sector_activations.iter().enumerate() {
        let before = st.clone();
        if let Err(e) = activate_sector(st, me, m) {
            if p.require_activation_success {
                return Err(e);
            }
            *st = before;
            fail_codes.push(FailCode {
                idx: i as u64,
                code: e.code as u64,
            });
        }
    }
    let success_count = (p.sector_activations.len() - fail_codes.len()) as u64;
    if success_count == 0 {
        return Err(ActorError::illegal_argument("no sector could be activated"));
    }
    Ok(ret(&BatchReturn {
        success_count,
        fail_codes,
    }))
}

fn activate_sector(st: &mut State, me: ActorId, m: &SectorActivationManifest) -> Result<(), ActorError> {
    let n = m.sector_number;
    let (pc, sector_size) = provable(st, me, n)?;
    if !pc.info.deal_ids.is_empty() {
        return Err(ActorError::illegal_argument(format!(
            "sector {n} was pre-committed with deal IDs; prove it with ProveCommitSector"
        )));
    }
    let pieces: Vec<(Cid, u64)> = m.pieces.iter().map(|p| (p.cid, p.size)).collect();
    let expected = unsealed_cid(&pieces, sector_size)?;
    let given = match pc.info.unsealed_cid {
        Some(c) => c,
        None => unsealed_cid(&[], sector_size)?,
    };
    if given != expected {
        return Err(ActorError::illegal_argument(format!(
            "sector {n}: the pieces' CommD {expected} is not the pre-committed {given}"
        )));
    }
    let mut deal_ids = Vec::new();
    for piece in &m.pieces {
        if let Some(key) = &piece.verified_allocation_key {
            super::verifreg::claim_allocation(st, me, n, pc.info.expiration, key, &piece.cid, piece.size)?;
        }
        for note in &piece.notify {
            if st.lookup_id(&note.address) != Some(super::Builtin::Market as ActorId) {
                return Err(ActorError::illegal_argument(format!(
                    "sector {n}: only the market (f05) can be notified, not {}",
                    note.address
                )));
            }
            let id: DealId = cbor::from_slice(&note.payload.0)
                .map_err(|e| ActorError::serialization(format!("sector {n}: a market notification's deal ID: {e}")))?;
            let deal_piece = st.market.proposals.get(&id).map(|d| d.piece_cid);
            if deal_piece != Some(piece.cid) {
                return Err(ActorError::illegal_argument(format!(
                    "sector {n}: deal {id} is not for piece {}",
                    piece.cid
                )));
            }
            deal_ids.push(id);
        }
    }
    if !deal_ids.is_empty() {
        market::activate_deals(st, me, n, &deal_ids, pc.info.expiration, sector_size)?;
    }
    let epoch = st.epoch;
    let m = st.miner_mut(me).expect("miner");
    m.precommits.remove(&n);
    m.sectors.insert(
        n,
        Sector {
            deal_ids,
            activation: epoch,
            expiration: pc.info.expiration,
            unsealed_cid: pc.info.unsealed_cid,
        },
    );
    Ok(())
}

fn terminate(st: &mut State, me: ActorId, p: TerminateSectorsParams) -> Result<Vec<u8>, ActorError> {
    // Only live sectors can be terminated: that bounds how many bits are expanded in all.
    let live = st.miner(me).map_or(0, |m| m.sectors.len() as u64);
    let mut numbers = Vec::new();
    for t in &p.terminations {
        let left = live.saturating_sub(numbers.len() as u64);
        numbers.extend(
            t.sectors
                .indices(left)
                .map_err(|e| ActorError::illegal_argument(format!("more sectors to terminate than live ones: {e}")))?,
        );
    }
    for n in numbers {
        let sector = st
            .miner_mut(me)
            .expect("miner")
            .sectors
            .remove(&n)
            .ok_or_else(|| ActorError::not_found(format!("sector {n} is not a live sector of f0{me}")))?;
        market::on_sectors_terminate(st, &sector.deal_ids)?;
    }
    Ok(ret(&TerminateSectorsReturn { done: true }))
}

/// The power actor: CreateMiner.
pub(super) fn invoke_power(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    if call.method != power_method::CREATE_MINER {
        return Err(ActorError::unhandled(call.method));
    }
    let p: CreateMinerParams = call.params()?;
    let account = |st: &State, a: &Address| -> Result<ActorId, ActorError> {
        let id = st
            .lookup_id(a)
            .ok_or_else(|| ActorError::illegal_argument(format!("address {a} not found")))?;
        match st.actor(id).map(|x| &x.kind) {
            Some(ActorKind::Account { .. }) => Ok(id),
            _ => Err(ActorError::illegal_argument(format!("{a} is not an account"))),
        }
    };
    let owner = account(st, &p.owner)?;
    let worker = account(st, &p.worker)?;
    let sector_size = sector_size_of_seal_proof(p.window_post_proof_type)
        .filter(|size| window_post_proof_for(*size) == Some(p.window_post_proof_type))
        .ok_or_else(|| {
            ActorError::illegal_argument(format!(
                "unsupported window PoSt proof type {}",
                p.window_post_proof_type
            ))
        })?;
    let mut miner = Miner::new(owner, worker, sector_size)?;
    miner.peer_id = p.peer.0;
    miner.multiaddrs = p.multiaddrs.into_iter().map(|a| a.0).collect();
    let seed = cbor::to_vec(&(Address::new_id(call.caller), st.nonce(&Address::new_id(call.caller))));
    let (id, robust) = st.create_miner(miner, &seed);
    st.transfer(call.receiver, id, &call.value)?;
    Ok(ret(&CreateMinerReturn {
        id_address: Address::new_id(id),
        robust_address: robust,
    }))
}
