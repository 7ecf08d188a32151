//! The verified registry (f06) and datacap (f07): a root key that adds verifiers, verifiers
//! that grant clients datacap, datacap balances (in bytes), and the allocations verified deals
//! create when published.

use std::collections::BTreeMap;

use market_types::actors::{
    AllocationRequest, AllocationRequests, AllocationsResponse, BatchReturn, DATACAP_TOKEN_PRECISION,
    ExtendClaimTermsParams, FailCode, MAXIMUM_VERIFIED_ALLOCATION_EXPIRATION, MAXIMUM_VERIFIED_ALLOCATION_TERM,
    MINIMUM_VERIFIED_ALLOCATION_TERM, TransferParams, TransferReturn, VerifiedAllocationKey, VerifierParams,
    datacap_method, exit_code, verifreg_method,
};
use market_types::chain::DealProposal;
use market_types::units::{ChainEpoch, EPOCHS_IN_DAY};
use market_types::{BigInt, Bytes, Cid, TokenAmount, cbor};

use super::{ActorError, ActorId, ActorKind, Call, State, ret};

/// Longest term an allocation may ask for: five years.
const MAX_TERM: ChainEpoch = 5 * 365 * EPOCHS_IN_DAY;
/// Extra term over the deal's duration an allocation allows: 90 days.
const TERM_EXTENSION: ChainEpoch = 90 * EPOCHS_IN_DAY;
/// Longest an allocation waits to be claimed: 60 days.
const MAX_ALLOCATION_EXPIRATION: ChainEpoch = 60 * EPOCHS_IN_DAY;

/// A datacap allocation made for a verified deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub client: ActorId,
    pub provider: ActorId,
    pub data: Cid,
    pub size: u64,
    pub term_min: ChainEpoch,
    pub term_max: ChainEpoch,
    pub expiration: ChainEpoch,
}

/// The verified registry's and datacap actor's tables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifRegState {
    /// The account allowed to add verifiers.
    pub root_key: Option<ActorId>,
    /// Verifiers and the datacap they may still grant.
    pub verifiers: BTreeMap<ActorId, BigInt>,
    /// Clients' datacap, in bytes.
    pub datacap: BTreeMap<ActorId, BigInt>,
    pub allocations: BTreeMap<u64, Allocation>,
    pub next_allocation_id: u64,
    /// Allocations claimed by the sectors holding their data, under the allocation's ID.
    pub claims: BTreeMap<u64, Claim>,
}

/// An allocation claimed: the data is in `sector` of `provider` from `term_start`, and the
/// provider earns for it until at most `term_start + term_max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub provider: ActorId,
    pub client: ActorId,
    pub data: Cid,
    pub size: u64,
    pub term_min: ChainEpoch,
    pub term_max: ChainEpoch,
    pub term_start: ChainEpoch,
    pub sector: u64,
}

impl Allocation {
    /// As `StateGetAllocation` answers it.
    pub fn to_wire(&self) -> market_types::actors::Allocation {
        market_types::actors::Allocation {
            client: self.client,
            provider: self.provider,
            data: self.data,
            size: self.size,
            term_min: self.term_min,
            term_max: self.term_max,
            expiration: self.expiration,
        }
    }
}

impl Claim {
    /// As `StateGetClaim` answers it.
    pub fn to_wire(&self) -> market_types::actors::Claim {
        market_types::actors::Claim {
            provider: self.provider,
            client: self.client,
            data: self.data,
            size: self.size,
            term_min: self.term_min,
            term_max: self.term_max,
            term_start: self.term_start,
            sector: self.sector,
        }
    }
}

/// The smallest allocation: 256 bytes, as builtin-actors built for small (2 KiB) sectors,
/// which the devnet offers (1 MiB on mainnet).
pub const MINIMUM_ALLOCATION_SIZE: u64 = 256;

impl VerifRegState {
    /// A client's datacap (zero when it has none).
    pub fn datacap_of(&self, id: ActorId) -> BigInt {
        self.datacap.get(&id).cloned().unwrap_or_default()
    }

    /// Takes a verified deal's datacap from its client and records the allocation.
    pub(super) fn allocate(
        &mut self,
        client: ActorId,
        provider: ActorId,
        p: &DealProposal,
        epoch: ChainEpoch,
    ) -> Result<u64, ActorError> {
        let size = BigInt::from(p.piece_size.0);
        let balance = self.datacap_of(client);
        if balance < size {
            return Err(ActorError::illegal_state(format!(
                "client f0{client} has {balance} bytes of datacap, the deal needs {size}"
            )));
        }
        self.datacap.insert(client, balance - size);
        let id = self.next_allocation_id;
        self.next_allocation_id += 1;
        let term_min = p.duration();
        self.allocations.insert(
            id,
            Allocation {
                client,
                provider,
                data: p.piece_cid,
                size: p.piece_size.0,
                term_min,
                term_max: (term_min + TERM_EXTENSION).min(MAX_TERM),
                expiration: p.start_epoch.min(epoch + MAX_ALLOCATION_EXPIRATION),
            },
        );
        Ok(id)
    }
}

pub(super) fn invoke(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    match call.method {
        verifreg_method::ADD_VERIFIER => {
            if st.verifreg.root_key != Some(call.caller) {
                return Err(ActorError::forbidden(format!(
                    "caller f0{} is not the verified registry's root key",
                    call.caller
                )));
            }
            let p: VerifierParams = call.params()?;
            let id = account_id(st, &p)?;
            if p.allowance.sign() != market_types::bigint::Sign::Plus {
                return Err(ActorError::illegal_argument("allowance must be positive"));
            }
            st.verifreg.verifiers.insert(id, p.allowance);
            Ok(Vec::new())
        }
        verifreg_method::ADD_VERIFIED_CLIENT => {
            let p: VerifierParams = call.params()?;
            let left = st
                .verifreg
                .verifiers
                .get(&call.caller)
                .cloned()
                .ok_or_else(|| ActorError::not_found(format!("f0{} is not a verifier", call.caller)))?;
            if p.allowance.sign() != market_types::bigint::Sign::Plus {
                return Err(ActorError::illegal_argument("allowance must be positive"));
            }
            if p.allowance > left {
                return Err(ActorError::illegal_argument(format!(
                    "verifier f0{} has {left} bytes left to grant, not {}",
                    call.caller, p.allowance
                )));
            }
            let client = account_id(st, &p)?;
            if st.verifreg.verifiers.contains_key(&client) || st.verifreg.root_key == Some(client) {
                return Err(ActorError::illegal_argument(
                    "a verifier or the root key cannot be a verified client",
                ));
            }
            st.verifreg.verifiers.insert(call.caller, left - &p.allowance);
            *st.verifreg.datacap.entry(client).or_default() += p.allowance;
            Ok(Vec::new())
        }
        verifreg_method::EXTEND_CLAIM_TERMS => extend_claim_terms(st, call),
        m => Err(ActorError::unhandled(m)),
    }
}

/// The DataCap actor (f07): `Transfer` to the verified registry with allocation requests.
/// DataCap is held in bytes; the token amount is bytes × 10^18 and must be whole bytes. The
/// requests are all-or-nothing, and their sizes must add up to the amount exactly.
pub(super) fn invoke_datacap(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    if call.method != datacap_method::TRANSFER_EXPORTED {
        return Err(ActorError::unhandled(call.method));
    }
    let p: TransferParams = call.params()?;
    if st.lookup_id(&p.to) != Some(super::Builtin::VerifiedRegistry as ActorId) {
        return Err(ActorError::forbidden(format!(
            "DataCap moves only to or from the verified registry (f06), not to {}",
            p.to
        )));
    }
    let precision = BigInt::from(DATACAP_TOKEN_PRECISION);
    let atto = p.amount.atto().clone();
    if atto.sign() == market_types::bigint::Sign::Minus {
        return Err(ActorError::illegal_argument("a transfer amount cannot be negative"));
    }
    if &atto % &precision != BigInt::from(0u8) {
        return Err(ActorError::illegal_argument(format!(
            "amount {atto} is not a whole number of bytes of DataCap (units of 10^18)"
        )));
    }
    let bytes = &atto / &precision;
    let client = call.caller;
    let balance = st.verifreg.datacap_of(client);
    if balance < bytes {
        return Err(ActorError::insufficient_funds(format!(
            "f0{client} has {balance} bytes of DataCap, the transfer needs {bytes}"
        )));
    }
    let reqs: AllocationRequests = cbor::from_slice(&p.operator_data.0)
        .map_err(|e| ActorError::serialization(format!("operator data is not AllocationRequests: {e}")))?;
    let epoch = st.epoch;
    let mut total = BigInt::from(0u8);
    for (i, a) in reqs.allocations.iter().enumerate() {
        validate_allocation(st, a, epoch).map_err(|e| ActorError::illegal_argument(format!("allocation {i}: {e}")))?;
        total += BigInt::from(a.size);
    }
    let mut extended = Vec::with_capacity(reqs.extensions.len());
    for (i, x) in reqs.extensions.iter().enumerate() {
        let claim = st
            .verifreg
            .claims
            .get(&x.claim)
            .filter(|c| c.provider == x.provider)
            .ok_or_else(|| {
                ActorError::illegal_argument(format!("extension {i}: no claim {} of f0{}", x.claim, x.provider))
            })?;
        if x.term_max > MAXIMUM_VERIFIED_ALLOCATION_TERM || x.term_max < claim.term_max {
            return Err(ActorError::illegal_argument(format!(
                "extension {i}: term max {} must be between the claim's {} and {MAXIMUM_VERIFIED_ALLOCATION_TERM}",
                x.term_max, claim.term_max
            )));
        }
        if claim.term_start + claim.term_max < epoch {
            return Err(ActorError::illegal_argument(format!(
                "extension {i}: claim {} has ended",
                x.claim
            )));
        }
        total += BigInt::from(claim.size);
        extended.push((x.claim, x.term_max));
    }
    if total != bytes {
        return Err(ActorError::illegal_argument(format!(
            "the requests add up to {total} bytes, the transfer carries {bytes}; they must be equal"
        )));
    }
    st.verifreg.datacap.insert(client, balance - &bytes);
    let mut new_allocations = Vec::with_capacity(reqs.allocations.len());
    for a in &reqs.allocations {
        let id = st.verifreg.next_allocation_id;
        st.verifreg.next_allocation_id += 1;
        st.verifreg.allocations.insert(
            id,
            Allocation {
                client,
                provider: a.provider,
                data: a.data,
                size: a.size,
                term_min: a.term_min,
                term_max: a.term_max,
                expiration: a.expiration,
            },
        );
        new_allocations.push(id);
    }
    for (claim, term_max) in extended {
        if let Some(c) = st.verifreg.claims.get_mut(&claim) {
            c.term_max = term_max;
        }
    }
    let all_ok = |n: usize| BatchReturn {
        success_count: n as u64,
        fail_codes: Vec::new(),
    };
    let response = AllocationsResponse {
        allocation_results: all_ok(reqs.allocations.len()),
        extension_results: all_ok(reqs.extensions.len()),
        new_allocations,
    };
    let held: u64 = st.verifreg.allocations.values().map(|a| a.size).sum();
    Ok(ret(&TransferReturn {
        from_balance: TokenAmount::from_atto(st.verifreg.datacap_of(client) * &precision),
        to_balance: TokenAmount::from_atto(BigInt::from(held) * &precision),
        recipient_data: Bytes(cbor::to_vec(&response)),
    }))
}

/// builtin-actors' `validate_new_allocation`.
fn validate_allocation(st: &State, a: &AllocationRequest, epoch: ChainEpoch) -> Result<(), String> {
    if a.size < MINIMUM_ALLOCATION_SIZE {
        return Err(format!(
            "size {} is under the minimum {MINIMUM_ALLOCATION_SIZE}",
            a.size
        ));
    }
    if a.term_min < MINIMUM_VERIFIED_ALLOCATION_TERM {
        return Err(format!(
            "term min {} is under the minimum {MINIMUM_VERIFIED_ALLOCATION_TERM}",
            a.term_min
        ));
    }
    if a.term_max > MAXIMUM_VERIFIED_ALLOCATION_TERM {
        return Err(format!(
            "term max {} is over the maximum {MAXIMUM_VERIFIED_ALLOCATION_TERM}",
            a.term_max
        ));
    }
    if a.term_min > a.term_max {
        return Err(format!("term min {} is over term max {}", a.term_min, a.term_max));
    }
    if a.expiration < epoch || a.expiration > epoch + MAXIMUM_VERIFIED_ALLOCATION_EXPIRATION {
        return Err(format!(
            "expiration {} must be between the current epoch {epoch} and {}",
            a.expiration,
            epoch + MAXIMUM_VERIFIED_ALLOCATION_EXPIRATION
        ));
    }
    if st.miner(a.provider).is_none() {
        return Err(format!("provider f0{} is not a miner", a.provider));
    }
    Ok(())
}

/// `ExtendClaimTerms` by the claims' client: each term on its own (16 for a bad term, 17 for
/// a missing claim, 18 when the caller is not the claim's client).
fn extend_claim_terms(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    let p: ExtendClaimTermsParams = call.params()?;
    let mut fail_codes = Vec::new();
    let mut ok = 0u64;
    for (i, t) in p.terms.iter().enumerate() {
        let code = match st
            .verifreg
            .claims
            .get_mut(&t.claim_id)
            .filter(|c| c.provider == t.provider)
        {
            None => Some(exit_code::USR_NOT_FOUND),
            Some(c) if c.client != call.caller => Some(exit_code::USR_FORBIDDEN),
            Some(c) if t.term_max > MAXIMUM_VERIFIED_ALLOCATION_TERM || t.term_max < c.term_max => {
                Some(exit_code::USR_ILLEGAL_ARGUMENT)
            }
            Some(c) => {
                c.term_max = t.term_max;
                None
            }
        };
        match code {
            Some(code) => fail_codes.push(FailCode {
                idx: i as u64,
                code: code as u64,
            }),
            None => ok += 1,
        }
    }
    Ok(ret(&BatchReturn {
        success_count: ok,
        fail_codes,
    }))
}

/// Claims `key`'s allocation for a piece of `cid` and `size` in `sector` of `provider`
/// expiring at `sector_expiration`, now (builtin-actors' `can_claim_alloc`).
pub(super) fn claim_allocation(
    st: &mut State,
    provider: ActorId,
    sector: u64,
    sector_expiration: ChainEpoch,
    key: &VerifiedAllocationKey,
    cid: &Cid,
    size: u64,
) -> Result<(), ActorError> {
    let epoch = st.epoch;
    let a = st
        .verifreg
        .allocations
        .get(&key.id)
        .cloned()
        .ok_or_else(|| ActorError::not_found(format!("no allocation {}", key.id)))?;
    let refuse = |why: String| Err(ActorError::forbidden(format!("allocation {}: {why}", key.id)));
    if a.client != key.client || a.provider != provider {
        return refuse(format!(
            "it is f0{}'s for f0{}, not f0{}'s for f0{provider}",
            a.client, a.provider, key.client
        ));
    }
    if a.data != *cid || a.size != size {
        return refuse(format!("it is for {} of {} bytes, not {cid} of {size}", a.data, a.size));
    }
    if epoch > a.expiration {
        return refuse(format!("it expired at epoch {}", a.expiration));
    }
    let term = sector_expiration - epoch;
    if term < a.term_min || term > a.term_max {
        return refuse(format!(
            "the sector's remaining life {term} is outside the allocation's terms {}..={}",
            a.term_min, a.term_max
        ));
    }
    st.verifreg.allocations.remove(&key.id);
    st.verifreg.claims.insert(
        key.id,
        Claim {
            provider,
            client: a.client,
            data: a.data,
            size: a.size,
            term_min: a.term_min,
            term_max: a.term_max,
            term_start: epoch,
            sector,
        },
    );
    Ok(())
}

fn account_id(st: &mut State, p: &VerifierParams) -> Result<ActorId, ActorError> {
    let id = match st.lookup_id(&p.address) {
        Some(id) => id,
        None => st.ensure_account(&p.address)?,
    };
    match st.actor(id).map(|a| &a.kind) {
        Some(ActorKind::Account { .. }) => Ok(id),
        _ => Err(ActorError::illegal_argument(format!("{} is not an account", p.address))),
    }
}
