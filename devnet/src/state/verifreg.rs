//! The verified registry (f06) and datacap (f07): a root key that adds verifiers, verifiers
//! that grant clients datacap, datacap balances (in bytes), and the allocations verified deals
//! create when published.

use std::collections::BTreeMap;

use market_types::actors::{VerifierParams, verifreg_method};
use market_types::chain::DealProposal;
use market_types::units::{ChainEpoch, EPOCHS_IN_DAY};
use market_types::{BigInt, Cid};

use super::{ActorError, ActorId, ActorKind, Call, State};

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
}

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
        m => Err(ActorError::unhandled(m)),
    }
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
