//! The storage market actor (f05): escrow and locked balances, PublishStorageDeals with
//! every per-deal and message-level check of builtin-actors (rpc-and-anchors B.1–B.4),
//! activation, explicit settlement, synchronous slashing, and cron's activation timeout.

use std::collections::{BTreeMap, BTreeSet};

use market_types::actors::{BatchReturn, DealSettlementSummary, FailCode, SettleDealPaymentsReturn, exit_code};
use market_types::address::Protocol;
use market_types::chain::{
    BitField, ClientDealProposal, DealProposal, DealState, PublishStorageDealsParams, PublishStorageDealsReturn,
    SettleDealPaymentsParams, WithdrawBalanceParams, market_method,
};
use market_types::units::{ChainEpoch, DealId, PaddedPieceSize};
use market_types::{Address, BigInt, Cid, TokenAmount};

use super::policy::{DEAL_MAX_DURATION, DEAL_MAX_LABEL_SIZE, DEAL_MIN_DURATION, total_filecoin};
use super::{ActorError, ActorId, ActorKind, Call, State, ret};

/// FRC-42 numbers of the market's exported methods.
mod exported {
    pub const ADD_BALANCE: u64 = 822_473_126;
    pub const WITHDRAW_BALANCE: u64 = 2_280_458_852;
    pub const PUBLISH_STORAGE_DEALS: u64 = 2_236_929_350;
}

/// The market actor's tables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarketState {
    /// Published proposals, with client and provider as ID addresses.
    pub proposals: BTreeMap<DealId, DealProposal>,
    /// States of activated deals.
    pub states: BTreeMap<DealId, DealState>,
    /// CIDs of normalised proposals published and not yet activated or cleaned up.
    pub pending: BTreeSet<Cid>,
    pub escrow: BTreeMap<ActorId, TokenAmount>,
    pub locked: BTreeMap<ActorId, TokenAmount>,
    /// Deals cron must look at, by epoch.
    pub deals_by_epoch: BTreeMap<ChainEpoch, BTreeSet<DealId>>,
    pub next_deal_id: DealId,
    /// Verified deals' allocation IDs.
    pub deal_allocations: BTreeMap<DealId, u64>,
}

impl MarketState {
    pub fn escrow_of(&self, id: ActorId) -> TokenAmount {
        self.escrow.get(&id).cloned().unwrap_or_default()
    }

    pub fn locked_of(&self, id: ActorId) -> TokenAmount {
        self.locked.get(&id).cloned().unwrap_or_default()
    }

    /// A deal as `StateMarketStorageDeal` shows it: its proposal and its state (all −1 until
    /// activation).
    pub fn deal(&self, id: DealId) -> Option<(DealProposal, DealState)> {
        let p = self.proposals.get(&id)?;
        let s = self.states.get(&id).cloned().unwrap_or_else(DealState::unactivated);
        Some((p.clone(), s))
    }

    fn lock(&mut self, id: ActorId, amount: &TokenAmount) {
        *self.locked.entry(id).or_default() += amount;
    }

    fn unlock(&mut self, id: ActorId, amount: &TokenAmount) {
        let l = self.locked.entry(id).or_default();
        *l -= amount;
    }

    /// Moves `amount` of `from`'s locked escrow into `to`'s escrow.
    fn pay(&mut self, from: ActorId, to: ActorId, amount: &TokenAmount) {
        self.unlock(from, amount);
        *self.escrow.entry(from).or_default() -= amount;
        *self.escrow.entry(to).or_default() += amount;
    }

    fn remove_deal(&mut self, id: DealId) {
        if let Some(p) = self.proposals.remove(&id) {
            self.pending.remove(&p.cid());
        }
        self.states.remove(&id);
        self.deal_allocations.remove(&id);
    }
}

pub(super) fn invoke(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    match call.method {
        market_method::ADD_BALANCE | exported::ADD_BALANCE => add_balance(st, call),
        market_method::WITHDRAW_BALANCE | exported::WITHDRAW_BALANCE => withdraw_balance(st, call),
        market_method::PUBLISH_STORAGE_DEALS | exported::PUBLISH_STORAGE_DEALS => publish_storage_deals(st, call),
        market_method::SETTLE_DEAL_PAYMENTS => settle_deal_payments(st, call),
        m => Err(ActorError::unhandled(m)),
    }
}

fn add_balance(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    let addr: Address = call.params()?;
    if !call.value.is_positive() {
        return Err(ActorError::illegal_argument(format!(
            "balance to add must be greater than zero was: {}",
            call.value.atto()
        )));
    }
    let nominal = escrow_holder(st, &addr)?;
    *st.market.escrow.entry(nominal).or_default() += &call.value;
    Ok(Vec::new())
}

/// Resolves the address an escrow entry is for: an account or a miner.
fn escrow_holder(st: &mut State, addr: &Address) -> Result<ActorId, ActorError> {
    let id = match st.lookup_id(addr) {
        Some(id) => id,
        None if matches!(addr.protocol(), Protocol::Secp256k1 | Protocol::BLS) => st.ensure_account(addr)?,
        None => {
            return Err(ActorError::illegal_argument(format!(
                "failed to resolve address {addr}"
            )));
        }
    };
    match st.actor(id).map(|a| &a.kind) {
        Some(ActorKind::Account { .. }) | Some(ActorKind::Miner(_)) => Ok(id),
        _ => Err(ActorError::illegal_argument(format!(
            "{addr} is neither an account nor a miner"
        ))),
    }
}

fn withdraw_balance(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    let p: WithdrawBalanceParams = call.params()?;
    if p.amount.is_negative() {
        return Err(ActorError::illegal_argument(format!(
            "negative amount {}",
            p.amount.atto()
        )));
    }
    let nominal = st
        .lookup_id(&p.provider_or_client_address)
        .ok_or_else(|| ActorError::illegal_argument(format!("failed to resolve {}", p.provider_or_client_address)))?;
    let recipient = match st.miner(nominal) {
        Some(m) => {
            if call.caller != m.owner && call.caller != m.worker {
                return Err(ActorError::forbidden(format!(
                    "caller f0{} is neither the owner nor the worker of miner f0{nominal}",
                    call.caller
                )));
            }
            m.owner
        }
        None => {
            if call.caller != nominal {
                return Err(ActorError::forbidden(format!(
                    "caller f0{} may not withdraw the escrow of f0{nominal}",
                    call.caller
                )));
            }
            nominal
        }
    };
    let available = &st.market.escrow_of(nominal) - &st.market.locked_of(nominal);
    let amount = p.amount.min(available.max(TokenAmount::default()));
    *st.market.escrow.entry(nominal).or_default() -= &amount;
    st.transfer(super::Builtin::Market.id(), recipient, &amount)?;
    Ok(ret(&amount))
}

/// Why one proposal of a batch was left out.
fn validate_deal(
    st: &State,
    deal: &ClientDealProposal,
    provider: ActorId,
    network_raw_power: &BigInt,
) -> Result<(ActorId, ActorId), String> {
    let p = &deal.proposal;
    // Signature: the client's account checks it over the proposal's CBOR.
    let key = st
        .account_key(&p.client)
        .ok_or_else(|| format!("client {} is not an account with a key", p.client))?;
    market_crypto::verify(&deal.client_signature, &key, &p.signing_bytes())
        .map_err(|e| format!("client signature: {e}"))?;
    if p.label.len() > DEAL_MAX_LABEL_SIZE {
        return Err(format!(
            "deal label can be at most {DEAL_MAX_LABEL_SIZE} bytes, is {}",
            p.label.len()
        ));
    }
    PaddedPieceSize(p.piece_size.0)
        .validate()
        .map_err(|e| format!("proposal piece size is invalid: {e}"))?;
    if piece_store::commp::commp_from_cid_v1(&p.piece_cid).is_err() {
        return Err(format!("proposal PieceCID {} is not a piece CID", p.piece_cid));
    }
    if p.end_epoch <= p.start_epoch {
        return Err("proposal end before proposal start".into());
    }
    if st.epoch > p.start_epoch {
        return Err(format!(
            "proposal start epoch {} has already elapsed at {}",
            p.start_epoch, st.epoch
        ));
    }
    let duration = p.duration();
    if !(DEAL_MIN_DURATION..=DEAL_MAX_DURATION).contains(&duration) {
        return Err(format!(
            "deal duration {duration} out of bounds [{DEAL_MIN_DURATION}, {DEAL_MAX_DURATION}]"
        ));
    }
    let max = total_filecoin();
    if p.storage_price_per_epoch.is_negative() || p.storage_price_per_epoch > max {
        return Err("storage price out of bounds".into());
    }
    let (min_pc, max_pc) = st.policy.provider_collateral_bounds(p.piece_size.0, network_raw_power);
    if p.provider_collateral < min_pc || p.provider_collateral > max_pc {
        return Err(format!(
            "provider collateral {} out of bounds [{}, {}]",
            p.provider_collateral.atto(),
            min_pc.atto(),
            max_pc.atto()
        ));
    }
    if p.client_collateral.is_negative() || p.client_collateral > max {
        return Err("client collateral out of bounds".into());
    }
    // Stateful: the provider of every deal is the batch's provider; the client resolves.
    let deal_provider = st
        .lookup_id(&p.provider)
        .ok_or_else(|| format!("provider {} not found", p.provider))?;
    if deal_provider != provider {
        return Err(format!(
            "deal provider {} is not the batch's provider f0{provider}",
            p.provider
        ));
    }
    let client = st
        .lookup_id(&p.client)
        .ok_or_else(|| format!("client {} not found", p.client))?;
    Ok((client, provider))
}

fn publish_storage_deals(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    let params: PublishStorageDealsParams = call.params()?;
    let first = params
        .deals
        .first()
        .ok_or_else(|| ActorError::illegal_argument("empty deals parameter"))?;
    let provider = st.lookup_id(&first.proposal.provider).ok_or_else(|| {
        ActorError::not_found(format!(
            "failed to resolve provider address {}",
            first.proposal.provider
        ))
    })?;
    let miner = st
        .miner(provider)
        .ok_or_else(|| ActorError::illegal_argument(format!("{} is not a storage miner", first.proposal.provider)))?;
    if !miner.is_controlling(call.caller) {
        return Err(ActorError::forbidden(format!(
            "caller f0{} is not a controlling address of provider f0{provider}",
            call.caller
        )));
    }

    // Cumulative requirements within this batch, per client and for the provider.
    let mut client_lockup: BTreeMap<ActorId, TokenAmount> = BTreeMap::new();
    let mut provider_lockup = TokenAmount::default();
    let mut datacap_used: BTreeMap<ActorId, BigInt> = BTreeMap::new();
    let mut seen: BTreeSet<Cid> = BTreeSet::new();
    let mut valid: Vec<(usize, ActorId, DealProposal)> = Vec::new();

    let network_raw_power = st.network_raw_power();
    for (i, deal) in params.deals.iter().enumerate() {
        let (client, provider) = match validate_deal(st, deal, provider, &network_raw_power) {
            Ok(ids) => ids,
            Err(reason) => {
                tracing::info!(deal = i, %reason, "invalid deal in PublishStorageDeals");
                continue;
            }
        };
        let p = &deal.proposal;
        let client_need = &client_lockup.get(&client).cloned().unwrap_or_default() + &p.client_balance_requirement();
        if &st.market.locked_of(client) + &client_need > st.market.escrow_of(client) {
            tracing::info!(deal = i, "client balance does not cover the deal");
            continue;
        }
        let provider_need = &provider_lockup + &p.provider_collateral;
        if &st.market.locked_of(provider) + &provider_need > st.market.escrow_of(provider) {
            tracing::info!(deal = i, "provider balance does not cover the deal");
            continue;
        }
        let mut normalized = p.clone();
        normalized.client = Address::new_id(client);
        normalized.provider = Address::new_id(provider);
        let cid = normalized.cid();
        if st.market.pending.contains(&cid) || seen.contains(&cid) {
            tracing::info!(deal = i, "duplicate deal proposal");
            continue;
        }
        if p.verified_deal {
            let used = datacap_used.get(&client).cloned().unwrap_or_default();
            let need = &used + &BigInt::from(p.piece_size.0);
            if st.verifreg.datacap_of(client) < need {
                tracing::info!(deal = i, "client has not enough datacap for a verified deal");
                continue;
            }
            datacap_used.insert(client, need);
        }
        client_lockup.insert(client, client_need);
        provider_lockup = provider_need;
        seen.insert(cid);
        valid.push((i, client, normalized));
    }

    if valid.is_empty() {
        return Err(ActorError::illegal_argument("All deal proposals invalid"));
    }

    let mut ids = Vec::with_capacity(valid.len());
    let mut indices = Vec::with_capacity(valid.len());
    for (i, client, proposal) in valid {
        let id = st.market.next_deal_id;
        st.market.next_deal_id += 1;
        st.market.lock(client, &proposal.client_balance_requirement());
        st.market.lock(provider, &proposal.provider_collateral);
        st.market.pending.insert(proposal.cid());
        if proposal.verified_deal {
            let allocation = st.verifreg.allocate(client, provider, &proposal, st.epoch)?;
            st.market.deal_allocations.insert(id, allocation);
        }
        let when = st.policy.next_update_epoch(id, proposal.start_epoch);
        st.market.deals_by_epoch.entry(when).or_default().insert(id);
        st.market.proposals.insert(id, proposal);
        ids.push(id);
        indices.push(i as u64);
    }
    Ok(ret(&PublishStorageDealsReturn {
        ids,
        valid_deals: BitField::from_indices(indices),
    }))
}

/// Checks that `deal_ids` may go into a sector of `miner` expiring at `expiration` (at
/// pre-commit and again at activation).
pub(super) fn verify_deals_for_sector(
    st: &State,
    miner: ActorId,
    deal_ids: &[DealId],
    expiration: ChainEpoch,
    sector_size: u64,
) -> Result<Vec<(Cid, u64)>, ActorError> {
    let mut seen = BTreeSet::new();
    let mut pieces = Vec::new();
    let mut total = 0u64;
    for &id in deal_ids {
        if !seen.insert(id) {
            return Err(ActorError::illegal_argument(format!("deal {id} listed twice")));
        }
        let p = st
            .market
            .proposals
            .get(&id)
            .ok_or_else(|| ActorError::not_found(format!("no such deal {id}")))?;
        if p.provider != Address::new_id(miner) {
            return Err(ActorError::forbidden(format!(
                "deal {id} has provider {}, not f0{miner}",
                p.provider
            )));
        }
        if st.epoch > p.start_epoch {
            return Err(ActorError::new(
                exit_code::EX_DEAL_EXPIRED,
                format!("deal {id} start epoch {} has passed", p.start_epoch),
            ));
        }
        if p.end_epoch > expiration {
            return Err(ActorError::illegal_argument(format!(
                "deal {id} ends at {} after the sector expires at {expiration}",
                p.end_epoch
            )));
        }
        if st.market.states.contains_key(&id) {
            return Err(ActorError::illegal_argument(format!("deal {id} is already activated")));
        }
        total += p.piece_size.0;
        pieces.push((p.piece_cid, p.piece_size.0));
    }
    if total > sector_size {
        return Err(ActorError::illegal_argument(format!(
            "deals total {total} bytes, more than the sector size {sector_size}"
        )));
    }
    Ok(pieces)
}

/// Activates the deals of a proven sector (BatchActivateDeals for one sector).
pub(super) fn activate_deals(
    st: &mut State,
    miner: ActorId,
    sector_number: u64,
    deal_ids: &[DealId],
    expiration: ChainEpoch,
    sector_size: u64,
) -> Result<(), ActorError> {
    verify_deals_for_sector(st, miner, deal_ids, expiration, sector_size)?;
    for &id in deal_ids {
        let cid = st.market.proposals[&id].cid();
        if !st.market.pending.contains(&cid) {
            return Err(ActorError::illegal_state(format!("deal {id} is not pending")));
        }
    }
    for &id in deal_ids {
        st.market.states.insert(
            id,
            DealState {
                sector_number,
                sector_start_epoch: st.epoch,
                last_updated_epoch: -1,
                slash_epoch: -1,
            },
        );
    }
    Ok(())
}

/// Pays the provider for an active deal up to `until` (capped at its end).
fn settle_payment(st: &mut State, id: DealId, until: ChainEpoch) -> TokenAmount {
    let (Some(p), Some(s)) = (
        st.market.proposals.get(&id).cloned(),
        st.market.states.get(&id).cloned(),
    ) else {
        return TokenAmount::default();
    };
    // Payment accrues from the deal's start epoch (not from activation).
    let from = p.start_epoch.max(s.last_updated_epoch);
    let to = until.min(p.end_epoch);
    if to <= from {
        return TokenAmount::default();
    }
    let payment = p.storage_price_per_epoch.clone() * (to - from);
    let (client, provider) = (id_of(&p.client), id_of(&p.provider));
    st.market.pay(client, provider, &payment);
    if let Some(s) = st.market.states.get_mut(&id) {
        s.last_updated_epoch = to;
    }
    payment
}

fn id_of(addr: &Address) -> ActorId {
    addr.id().expect("stored proposals carry ID addresses")
}

/// A deal published and not activated by its start epoch: the client gets its funds back,
/// the provider's collateral is burnt, the deal disappears.
fn time_out(st: &mut State, id: DealId) -> Result<(), ActorError> {
    let Some(p) = st.market.proposals.get(&id).cloned() else {
        return Ok(());
    };
    let (client, provider) = (id_of(&p.client), id_of(&p.provider));
    st.market.unlock(client, &p.client_balance_requirement());
    st.market.unlock(provider, &p.provider_collateral);
    *st.market.escrow.entry(provider).or_default() -= &p.provider_collateral;
    st.burn_from_market(&p.provider_collateral)?;
    st.market.remove_deal(id);
    Ok(())
}

/// A deal past its end: both collaterals unlocked, the deal removed.
fn complete(st: &mut State, id: DealId) {
    let Some(p) = st.market.proposals.get(&id).cloned() else {
        return;
    };
    st.market.unlock(id_of(&p.client), &p.client_collateral);
    st.market.unlock(id_of(&p.provider), &p.provider_collateral);
    st.market.remove_deal(id);
}

fn settle_deal_payments(st: &mut State, call: &Call<'_>) -> Result<Vec<u8>, ActorError> {
    let p: SettleDealPaymentsParams = call.params()?;
    // More set bits than deals ever published cannot all be deals: refuse before expanding.
    let ids = p
        .deals
        .indices(st.market.next_deal_id)
        .map_err(|e| ActorError::illegal_argument(format!("deal bitfield: {e}")))?;
    let mut fail_codes = Vec::new();
    let mut settlements = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let Some(proposal) = st.market.proposals.get(&id).cloned() else {
            fail_codes.push(FailCode {
                idx: i as u64,
                code: exit_code::USR_NOT_FOUND as u64,
            });
            continue;
        };
        if !st.market.states.contains_key(&id) {
            if st.epoch > proposal.start_epoch {
                time_out(st, id)?;
                settlements.push(DealSettlementSummary {
                    payment: TokenAmount::default(),
                    completed: true,
                });
            } else {
                fail_codes.push(FailCode {
                    idx: i as u64,
                    code: exit_code::USR_ILLEGAL_ARGUMENT as u64,
                });
            }
            continue;
        }
        let payment = settle_payment(st, id, st.epoch);
        let completed = st.epoch >= proposal.end_epoch;
        if completed {
            complete(st, id);
        }
        settlements.push(DealSettlementSummary { payment, completed });
    }
    Ok(ret(&SettleDealPaymentsReturn {
        results: BatchReturn {
            success_count: settlements.len() as u64,
            fail_codes,
        },
        settlements,
    }))
}

/// Synchronous slashing of a terminated sector's deals (OnMinerSectorsTerminate): each deal
/// not yet ended is paid up to now, the client's remaining funds unlock, the provider's
/// collateral burns, and the deal is removed.
pub(super) fn on_sectors_terminate(st: &mut State, deal_ids: &[DealId]) -> Result<(), ActorError> {
    for &id in deal_ids {
        let Some(p) = st.market.proposals.get(&id).cloned() else {
            continue;
        };
        if p.end_epoch <= st.epoch {
            continue;
        }
        settle_payment(st, id, st.epoch);
        let paid_until = st
            .market
            .states
            .get(&id)
            .map_or(p.start_epoch, |s| s.last_updated_epoch.max(p.start_epoch));
        let remaining_fee = p.storage_price_per_epoch.clone() * (p.end_epoch - paid_until).max(0);
        st.market
            .unlock(id_of(&p.client), &(&remaining_fee + &p.client_collateral));
        let provider = id_of(&p.provider);
        st.market.unlock(provider, &p.provider_collateral);
        *st.market.escrow.entry(provider).or_default() -= &p.provider_collateral;
        st.burn_from_market(&p.provider_collateral)?;
        st.market.remove_deal(id);
    }
    Ok(())
}

/// Cron for the epochs up to and including `through`: visits every deal scheduled then. An activated deal leaves the
/// pending set (payment is explicit, by settlement); one never activated times out.
pub(super) fn cron(st: &mut State, through: ChainEpoch) {
    let due: Vec<ChainEpoch> = st.market.deals_by_epoch.range(..=through).map(|(e, _)| *e).collect();
    for epoch in due {
        let ids = st.market.deals_by_epoch.remove(&epoch).unwrap_or_default();
        for id in ids {
            let Some(p) = st.market.proposals.get(&id).cloned() else {
                continue;
            };
            if st.market.states.contains_key(&id) {
                st.market.pending.remove(&p.cid());
            } else if let Err(e) = time_out(st, id) {
                tracing::error!(deal = id, error = %e, "cron could not time out a deal");
            }
        }
    }
}
