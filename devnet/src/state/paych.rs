//! Payment channels: the init actor's `Exec` that creates them (f2 addresses derived as the
//! FVM derives them) and the payment channel actor with builtin-actors' rules, in their order
//! and with their exit codes: the constructor, `UpdateChannelState` (the other party's
//! signature over the voucher's signing bytes, time locks, secret, lanes, nonces, merges,
//! funds, minimum settle height), `Settle` and its delay, `Collect`.

use std::collections::BTreeMap;

use market_types::actors::paych::{ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED, MAX_LANE, MAX_SECRET_SIZE};
use market_types::actors::{
    ExecParams, ExecReturn, LaneState, PaychConstructorParams, UpdateChannelStateParams, paych_method,
};
use market_types::address::Protocol;
use market_types::chain::Message;
use market_types::units::ChainEpoch;
use market_types::{Address, TokenAmount, cbor};

use super::{ActorError, ActorId, ActorKind, Builtin, Call, State, ret};

/// A payment channel's state (builtin-actors `paych::State`, lanes as a map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaychState {
    pub from: ActorId,
    pub to: ActorId,
    /// What `Collect` pays `to`.
    pub to_send: TokenAmount,
    /// 0 until `Settle`.
    pub settling_at: ChainEpoch,
    pub min_settle_height: ChainEpoch,
    pub lanes: BTreeMap<u64, LaneState>,
}

/// The code name of payment channels in the actors manifest.
pub const CODE_NAME: &str = "paymentchannel";

/// The robust address of the `n`th actor a message creates (ref-fvm
/// `next_actor_address`): blake2b-160 of the origin's CBOR address, the message nonce and `n`.
pub fn actor_address(origin: &Address, nonce: u64, n: u64) -> Address {
    let mut seed = cbor::to_vec(&market_types::Bytes(origin.to_bytes()));
    seed.extend_from_slice(&nonce.to_be_bytes());
    seed.extend_from_slice(&n.to_be_bytes());
    Address::new_actor(&seed)
}

/// Init `Exec` (method 2): create a payment channel from the message's value. Other actors
/// are refused as the devnet does not run them.
pub fn exec(
    state: &mut State,
    call: &Call,
    msg: &Message,
    is_paych_code: impl Fn(&cid::Cid) -> bool,
) -> Result<Vec<u8>, ActorError> {
    if call.method != market_types::actors::init_method::EXEC {
        return Err(ActorError::unhandled(call.method));
    }
    let params: ExecParams = call.params()?;
    if !is_paych_code(&params.code_cid) {
        return Err(ActorError::forbidden(format!(
            "called type {} cannot exec actor type {}: this devnet creates payment channels only",
            Builtin::Init.name(),
            params.code_cid
        )));
    }
    let ctor: PaychConstructorParams = cbor::from_slice(&params.constructor_params.0)
        .map_err(|e| ActorError::serialization(format!("constructor parameters: {e}")))?;
    let robust = actor_address(&msg.from, msg.nonce, 0);
    if state.lookup_id(&robust).is_some() {
        return Err(ActorError::forbidden(format!("actor address {robust} already exists")));
    }
    let to = resolve_account(state, &ctor.to)?;
    let from = resolve_account(state, &ctor.from)?;
    let id = state.new_actor(ActorKind::PaymentChannel(Box::new(PaychState {
        from,
        to,
        to_send: TokenAmount::default(),
        settling_at: 0,
        min_settle_height: 0,
        lanes: BTreeMap::new(),
    })));
    state.addresses.insert(robust, id);
    state.transfer(Builtin::Init.id(), id, &call.value)?;
    Ok(ret(&ExecReturn {
        id_address: Address::new_id(id),
        robust_address: robust,
    }))
}

/// An account's ID: a key address not yet on chain gets its account (as a send to it does);
/// anything but an account is refused.
fn resolve_account(state: &mut State, raw: &Address) -> Result<ActorId, ActorError> {
    let id = match raw.protocol() {
        Protocol::Secp256k1 | Protocol::BLS => state.ensure_account(raw)?,
        _ => state
            .lookup_id(raw)
            .ok_or_else(|| ActorError::illegal_state(format!("failed to resolve address {raw} to ID")))?,
    };
    match state.actor(id).map(|a| &a.kind) {
        Some(ActorKind::Account { .. }) => Ok(id),
        Some(k) => Err(ActorError::forbidden(format!(
            "actor {raw} must be an account, was {}",
            k.code_name()
        ))),
        None => Err(ActorError::illegal_argument(format!("no code for address {raw}"))),
    }
}

fn channel(state: &State, id: ActorId) -> Result<PaychState, ActorError> {
    match state.actor(id).map(|a| &a.kind) {
        Some(ActorKind::PaymentChannel(p)) => Ok((**p).clone()),
        _ => Err(ActorError::illegal_state(format!("f0{id} is not a payment channel"))),
    }
}

fn save(state: &mut State, id: ActorId, st: PaychState) {
    if let Some(a) = state.actors.get_mut(&id) {
        a.kind = ActorKind::PaymentChannel(Box::new(st));
    }
}

fn caller_is_party(call: &Call, st: &PaychState) -> Result<(), ActorError> {
    if call.caller == st.from || call.caller == st.to {
        Ok(())
    } else {
        Err(ActorError::forbidden(format!(
            "caller f0{} is not one of the channel's parties (f0{}, f0{})",
            call.caller, st.from, st.to
        )))
    }
}

/// A payment channel's methods.
pub fn invoke(state: &mut State, call: &Call) -> Result<Vec<u8>, ActorError> {
    match call.method {
        paych_method::CONSTRUCTOR => Err(ActorError::forbidden(
            "only the init actor may construct a payment channel",
        )),
        paych_method::UPDATE_CHANNEL_STATE => update_channel_state(state, call),
        paych_method::SETTLE => settle(state, call),
        paych_method::COLLECT => collect(state, call),
        m => Err(ActorError::unhandled(m)),
    }
}

fn update_channel_state(state: &mut State, call: &Call) -> Result<Vec<u8>, ActorError> {
    let mut st = channel(state, call.receiver)?;
    caller_is_party(call, &st)?;
    let signer = if call.caller == st.from { st.to } else { st.from };
    let params: UpdateChannelStateParams = call.params()?;
    let sv = params.sv;
    let sig = sv
        .signature
        .as_ref()
        .ok_or_else(|| ActorError::illegal_argument("voucher has no signature"))?;
    if st.settling_at != 0 && state.epoch >= st.settling_at {
        return Err(ActorError::new(
            ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED,
            "no vouchers can be processed after settling at epoch",
        ));
    }
    if params.secret.0.len() > MAX_SECRET_SIZE {
        return Err(ActorError::illegal_argument("secret must be at most 256 bytes long"));
    }
    let key = state
        .account_key(&Address::new_id(signer))
        .ok_or_else(|| ActorError::illegal_argument(format!("signer f0{signer} has no key")))?;
    market_crypto::verify(sig, &key, &sv.signing_bytes())
        .map_err(|e| ActorError::illegal_argument(format!("voucher signature invalid: {e}")))?;
    let channel_id = state.lookup_id(&sv.channel_addr).ok_or_else(|| {
        ActorError::illegal_argument(format!(
            "voucher payment channel address {} does not resolve to an ID address",
            sv.channel_addr
        ))
    })?;
    if channel_id != call.receiver {
        return Err(ActorError::illegal_argument(format!(
            "voucher payment channel address f0{channel_id} does not match receiver f0{}",
            call.receiver
        )));
    }
    if state.epoch < sv.time_lock_min {
        return Err(ActorError::illegal_argument("cannot use this voucher yet"));
    }
    if sv.time_lock_max != 0 && state.epoch > sv.time_lock_max {
        return Err(ActorError::illegal_argument("this voucher has expired"));
    }
    if sv.amount.is_negative() {
        return Err(ActorError::illegal_argument(format!(
            "voucher amount must be non-negative, was {}",
            sv.amount.atto()
        )));
    }
    if !sv.secret_hash.0.is_empty() {
        let hashed = blake2b_simd::Params::new().hash_length(32).hash(&params.secret.0);
        if hashed.as_bytes() != sv.secret_hash.0.as_slice() {
            return Err(ActorError::illegal_argument("incorrect secret"));
        }
    }
    if let Some(extra) = &sv.extra {
        // The devnet runs no actor a voucher could ask to verify it.
        return Err(ActorError::illegal_argument(format!(
            "spend voucher verification failed: method {} of {} cannot be called on this devnet",
            extra.method, extra.actor
        )));
    }
    if sv.lane > MAX_LANE {
        return Err(ActorError::illegal_argument("maximum lane ID is 2^63-1"));
    }
    let mut lane = match st.lanes.get(&sv.lane) {
        Some(l) if l.nonce >= sv.nonce => {
            return Err(ActorError::illegal_argument(format!(
                "voucher has an outdated nonce, existing: {}, voucher: {}, cannot redeem",
                l.nonce, sv.nonce
            )));
        }
        Some(l) => l.clone(),
        None => LaneState {
            redeemed: TokenAmount::default(),
            nonce: 0,
        },
    };
    let mut redeemed_from_others = TokenAmount::default();
    for merge in &sv.merges {
        if merge.lane == sv.lane {
            return Err(ActorError::illegal_argument(
                "voucher cannot merge lanes into its own lane",
            ));
        }
        if merge.lane > MAX_LANE {
            return Err(ActorError::illegal_argument("maximum lane ID is 2^63-1"));
        }
        let other = st.lanes.get_mut(&merge.lane).ok_or_else(|| {
            ActorError::illegal_argument(format!("voucher specifies invalid merge lane {}", merge.lane))
        })?;
        if other.nonce >= merge.nonce {
            return Err(ActorError::illegal_argument(
                "merged lane in voucher has outdated nonce, cannot redeem",
            ));
        }
        redeemed_from_others += &other.redeemed;
        other.nonce = merge.nonce;
    }
    lane.nonce = sv.nonce;
    let delta = &sv.amount - &(redeemed_from_others + &lane.redeemed);
    lane.redeemed = sv.amount.clone();
    let new_to_send = delta + &st.to_send;
    if new_to_send.is_negative() {
        return Err(ActorError::illegal_argument(
            "voucher would leave channel balance negative",
        ));
    }
    let balance = state
        .actor(call.receiver)
        .map(|a| a.balance.clone())
        .unwrap_or_default();
    if new_to_send > balance {
        return Err(ActorError::illegal_argument(
            "not enough funds in channel to cover voucher",
        ));
    }
    st.to_send = new_to_send;
    if sv.min_settle_height != 0 {
        if st.settling_at != 0 && st.settling_at < sv.min_settle_height {
            st.settling_at = sv.min_settle_height;
        }
        if st.min_settle_height < sv.min_settle_height {
            st.min_settle_height = sv.min_settle_height;
        }
    }
    st.lanes.insert(sv.lane, lane);
    save(state, call.receiver, st);
    Ok(Vec::new())
}

fn settle(state: &mut State, call: &Call) -> Result<Vec<u8>, ActorError> {
    let mut st = channel(state, call.receiver)?;
    caller_is_party(call, &st)?;
    if st.settling_at != 0 {
        return Err(ActorError::illegal_state("channel already settling"));
    }
    st.settling_at = (state.epoch + state.policy.paych_settle_delay).max(st.min_settle_height);
    save(state, call.receiver, st);
    Ok(Vec::new())
}

fn collect(state: &mut State, call: &Call) -> Result<Vec<u8>, ActorError> {
    let st = channel(state, call.receiver)?;
    caller_is_party(call, &st)?;
    if st.settling_at == 0 || state.epoch < st.settling_at {
        return Err(ActorError::forbidden("payment channel not settling or settled"));
    }
    state
        .transfer(call.receiver, st.to, &st.to_send)
        .map_err(|e| ActorError::new(e.code, format!("Failed to send funds to `to` address: {}", e.message)))?;
    state.delete_actor(call.receiver, st.from)?;
    Ok(Vec::new())
}
