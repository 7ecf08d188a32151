//! The chain's state and its state transition: actors, balances, and message execution
//! with the builtin actors' method numbers, parameter encodings, checks and exit codes.
//!
//! Pure: no IO, no clock. The chain (blocks, mpool, persistence) feeds it messages and
//! epochs; replaying the same messages from the same genesis gives the same state, which is
//! how the devnet restarts.
//!
//! Documented simplifications: proofs are not checked (any proof bytes pass); there is no
//! pledge, no window PoSt and no block reward; gas is a per-method schedule charged at a
//! fixed base fee and burnt.

pub mod market;
pub mod miner;
pub mod paych;
pub mod policy;
pub mod verifreg;

use std::collections::BTreeMap;

use market_types::actors::exit_code;
use market_types::address::Protocol;
use market_types::cbor::{self, Decode, Encode};
use market_types::chain::{Message, MessageReceipt, STORAGE_MARKET_ACTOR};
use market_types::units::ChainEpoch;
use market_types::{Address, BigInt, TokenAmount};

pub use self::market::MarketState;
pub use self::miner::Miner;
pub use self::policy::Policy;
pub use self::verifreg::VerifRegState;

/// An actor's ID (the number in `f0…`).
pub type ActorId = u64;

/// The builtin singleton actors, at their fixed IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Builtin {
    System = 0,
    Init = 1,
    Reward = 2,
    Cron = 3,
    Power = 4,
    Market = 5,
    VerifiedRegistry = 6,
    DataCap = 7,
    BurntFunds = 99,
}

impl Builtin {
    pub const ALL: [Builtin; 9] = [
        Builtin::System,
        Builtin::Init,
        Builtin::Reward,
        Builtin::Cron,
        Builtin::Power,
        Builtin::Market,
        Builtin::VerifiedRegistry,
        Builtin::DataCap,
        Builtin::BurntFunds,
    ];

    pub fn id(self) -> ActorId {
        self as ActorId
    }

    /// The actor's name in the builtin-actors manifest (`fil/<version>/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Builtin::System => "system",
            Builtin::Init => "init",
            Builtin::Reward => "reward",
            Builtin::Cron => "cron",
            Builtin::Power => "storagepower",
            Builtin::Market => "storagemarket",
            Builtin::VerifiedRegistry => "verifiedregistry",
            Builtin::DataCap => "datacap",
            Builtin::BurntFunds => "account",
        }
    }
}

/// What kind of actor lives at an ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorKind {
    Builtin(Builtin),
    /// An account: its key address (f1 or f3).
    Account {
        key: Address,
    },
    Miner(Box<Miner>),
    PaymentChannel(Box<paych::PaychState>),
}

impl ActorKind {
    /// The builtin-actors code name (`account`, `storageminer`, …).
    pub fn code_name(&self) -> &'static str {
        match self {
            ActorKind::Builtin(b) => b.name(),
            ActorKind::Account { .. } => "account",
            ActorKind::Miner(_) => "storageminer",
            ActorKind::PaymentChannel(_) => paych::CODE_NAME,
        }
    }
}

/// The devnet's code CID for an actor kind (by its manifest name): raw codec, identity hash of
/// `fil/16/<name>`, recognisable in a dump.
pub fn code_cid(name: &str) -> cid::Cid {
    let bytes = format!("fil/16/{name}");
    match cid::multihash::Multihash::<64>::wrap(0x00, bytes.as_bytes()) {
        Ok(mh) => cid::Cid::new_v1(0x55, mh),
        Err(_) => cid::Cid::default(),
    }
}

/// An actor: its kind, balance and nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub balance: TokenAmount,
    pub nonce: u64,
}

/// A method's failure: an exit code and a message for the receipt's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exit code {code}: {message}")]
pub struct ActorError {
    pub code: i64,
    pub message: String,
}

impl ActorError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ActorError {
            code,
            message: message.into(),
        }
    }
    pub fn illegal_argument(message: impl Into<String>) -> Self {
        Self::new(exit_code::USR_ILLEGAL_ARGUMENT, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(exit_code::USR_NOT_FOUND, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(exit_code::USR_FORBIDDEN, message)
    }
    pub fn insufficient_funds(message: impl Into<String>) -> Self {
        Self::new(exit_code::USR_INSUFFICIENT_FUNDS, message)
    }
    pub fn illegal_state(message: impl Into<String>) -> Self {
        Self::new(exit_code::USR_ILLEGAL_STATE, message)
    }
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(exit_code::USR_SERIALIZATION, message)
    }
    pub fn unhandled(method: u64) -> Self {
        Self::new(exit_code::USR_UNHANDLED_MESSAGE, format!("unhandled method {method}"))
    }
}

/// Why a message cannot go on chain at all (the mpool refuses it; no receipt).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageRejected {
    #[error("sender {0} has no actor on chain (send it funds first)")]
    UnknownSender(String),
    #[error("sender {0} is not an account actor and cannot send messages")]
    SenderNotAccount(String),
    #[error("nonce {got} for {from} is too low: the next nonce is {want}")]
    NonceTooLow { from: String, got: u64, want: u64 },
    #[error(
        "not enough funds in {from}: balance {balance} attoFIL, the message needs up to {needed} (value plus gas limit × fee cap)"
    )]
    NotEnoughFunds {
        from: String,
        balance: TokenAmount,
        needed: TokenAmount,
    },
    #[error("gas fee cap {fee_cap} is below the base fee {base_fee}")]
    FeeCapTooLow {
        fee_cap: TokenAmount,
        base_fee: TokenAmount,
    },
    #[error("gas limit {0} is not within 1 and the block gas limit")]
    BadGasLimit(i64),
    #[error("negative value")]
    NegativeValue,
    #[error("bad signature: {0}")]
    BadSignature(String),
}

/// The outcome of applying one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub receipt: MessageReceipt,
    /// The failure's message, for logs and `StateSearchMsg`'s error text.
    pub error: Option<String>,
}

/// The whole chain state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub epoch: ChainEpoch,
    pub policy: Policy,
    pub network_name: String,
    actors: BTreeMap<ActorId, Actor>,
    /// Key (f1/f3) and robust (f2) addresses of actors, to their IDs.
    addresses: BTreeMap<Address, ActorId>,
    next_actor_id: ActorId,
    pub market: MarketState,
    pub verifreg: VerifRegState,
}

/// The first ID given to a non-builtin actor.
pub const FIRST_NON_SINGLETON_ID: ActorId = 1000;

impl State {
    /// An empty chain at epoch 0 with the builtin actors and `policy`.
    pub fn new(network_name: &str, policy: Policy) -> State {
        let mut actors = BTreeMap::new();
        for b in Builtin::ALL {
            actors.insert(
                b.id(),
                Actor {
                    kind: ActorKind::Builtin(b),
                    balance: TokenAmount::default(),
                    nonce: 0,
                },
            );
        }
        State {
            epoch: 0,
            policy,
            network_name: network_name.to_string(),
            actors,
            addresses: BTreeMap::new(),
            next_actor_id: FIRST_NON_SINGLETON_ID,
            market: MarketState::default(),
            verifreg: VerifRegState::default(),
        }
    }

    // ------------------------------------------------------------ lookups

    pub fn actor(&self, id: ActorId) -> Option<&Actor> {
        self.actors.get(&id)
    }

    pub fn actors(&self) -> impl Iterator<Item = (ActorId, &Actor)> {
        self.actors.iter().map(|(id, a)| (*id, a))
    }

    /// The ID an address names, if it names an actor.
    pub fn lookup_id(&self, addr: &Address) -> Option<ActorId> {
        match addr.protocol() {
            Protocol::ID => {
                let id = addr.id().ok()?;
                self.actors.contains_key(&id).then_some(id)
            }
            _ => self.addresses.get(addr).copied(),
        }
    }

    /// The key address behind an account (`StateAccountKey`).
    pub fn account_key(&self, addr: &Address) -> Option<Address> {
        match addr.protocol() {
            Protocol::Secp256k1 | Protocol::BLS => Some(*addr),
            _ => match &self.actors.get(&self.lookup_id(addr)?)?.kind {
                ActorKind::Account { key } => Some(*key),
                _ => None,
            },
        }
    }

    /// The robust (key or f2) address of an actor, if it has one.
    pub fn robust_address(&self, id: ActorId) -> Option<Address> {
        self.addresses.iter().find(|(_, v)| **v == id).map(|(k, _)| *k)
    }

    pub fn miner(&self, id: ActorId) -> Option<&Miner> {
        match &self.actors.get(&id)?.kind {
            ActorKind::Miner(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn miner_mut(&mut self, id: ActorId) -> Option<&mut Miner> {
        match &mut self.actors.get_mut(&id)?.kind {
            ActorKind::Miner(m) => Some(m),
            _ => None,
        }
    }

    pub fn miners(&self) -> impl Iterator<Item = (ActorId, &Miner)> {
        self.actors.iter().filter_map(|(id, a)| match &a.kind {
            ActorKind::Miner(m) => Some((*id, m.as_ref())),
            _ => None,
        })
    }

    pub fn balance(&self, addr: &Address) -> TokenAmount {
        self.lookup_id(addr)
            .and_then(|id| self.actors.get(&id))
            .map(|a| a.balance.clone())
            .unwrap_or_default()
    }

    pub fn nonce(&self, addr: &Address) -> u64 {
        self.lookup_id(addr)
            .and_then(|id| self.actors.get(&id))
            .map_or(0, |a| a.nonce)
    }

    /// Raw byte power of the whole network.
    pub fn network_raw_power(&self) -> BigInt {
        self.miners().map(|(_, m)| BigInt::from(m.raw_power())).sum()
    }

    // ------------------------------------------------------------ genesis helpers

    /// Creates (or finds) the account of a key address, as a send to it does.
    pub fn ensure_account(&mut self, key: &Address) -> Result<ActorId, ActorError> {
        if let Some(id) = self.lookup_id(key) {
            return Ok(id);
        }
        match key.protocol() {
            Protocol::Secp256k1 | Protocol::BLS => {
                let id = self.new_actor(ActorKind::Account { key: *key });
                self.addresses.insert(*key, id);
                Ok(id)
            }
            _ => Err(ActorError::new(
                exit_code::SYS_INVALID_RECEIVER,
                format!("{key} does not name an actor and is not a key address"),
            )),
        }
    }

    fn new_actor(&mut self, kind: ActorKind) -> ActorId {
        let id = self.next_actor_id;
        self.next_actor_id += 1;
        self.actors.insert(
            id,
            Actor {
                kind,
                balance: TokenAmount::default(),
                nonce: 0,
            },
        );
        id
    }

    /// Deletes actor `id`, its balance going to `beneficiary` (builtin-actors `delete_actor`).
    pub(crate) fn delete_actor(&mut self, id: ActorId, beneficiary: ActorId) -> Result<(), ActorError> {
        let balance = self.actors.get(&id).map(|a| a.balance.clone()).unwrap_or_default();
        self.transfer(id, beneficiary, &balance)?;
        self.actors.remove(&id);
        self.addresses.retain(|_, v| *v != id);
        Ok(())
    }

    /// A payment channel's state.
    pub fn paych(&self, id: ActorId) -> Option<&paych::PaychState> {
        match &self.actors.get(&id)?.kind {
            ActorKind::PaymentChannel(p) => Some(p),
            _ => None,
        }
    }

    /// Mints `amount` into an actor (genesis allocations).
    pub fn mint(&mut self, id: ActorId, amount: &TokenAmount) {
        if let Some(a) = self.actors.get_mut(&id) {
            a.balance += amount;
        }
    }

    /// Creates a miner actor with a robust f2 address derived from `seed` (as the init
    /// actor derives one from the creating message).
    pub fn create_miner(&mut self, miner: Miner, seed: &[u8]) -> (ActorId, Address) {
        let id = self.new_actor(ActorKind::Miner(Box::new(miner)));
        let robust = Address::new_actor(seed);
        self.addresses.insert(robust, id);
        (id, robust)
    }

    /// Sets `n` actor IDs aside (genesis gives its miners t01000, t01001, … before creating
    /// their owners' accounts, as lotus's genesis does) and returns the first.
    pub fn reserve_ids(&mut self, n: u64) -> ActorId {
        let first = self.next_actor_id;
        self.next_actor_id += n;
        first
    }

    /// Creates a miner at an ID set aside by [`State::reserve_ids`].
    pub fn create_miner_at(&mut self, id: ActorId, miner: Miner, seed: &[u8]) -> Result<Address, ActorError> {
        if id >= self.next_actor_id || self.actors.contains_key(&id) || id < FIRST_NON_SINGLETON_ID {
            return Err(ActorError::illegal_argument(format!("actor ID {id} was not set aside")));
        }
        self.actors.insert(
            id,
            Actor {
                kind: ActorKind::Miner(Box::new(miner)),
                balance: TokenAmount::default(),
                nonce: 0,
            },
        );
        let robust = Address::new_actor(seed);
        self.addresses.insert(robust, id);
        Ok(robust)
    }

    // ------------------------------------------------------------ transfers

    pub(crate) fn transfer(&mut self, from: ActorId, to: ActorId, amount: &TokenAmount) -> Result<(), ActorError> {
        if amount.is_zero() {
            return Ok(());
        }
        if amount.is_negative() {
            return Err(ActorError::illegal_argument("negative transfer"));
        }
        let src = self
            .actors
            .get_mut(&from)
            .ok_or_else(|| ActorError::not_found(format!("actor f0{from} not found")))?;
        if &src.balance < amount {
            return Err(ActorError::new(
                exit_code::SYS_INSUFFICIENT_FUNDS,
                format!("f0{from} has {} attoFIL, cannot send {amount}", src.balance.atto()),
            ));
        }
        src.balance -= amount;
        self.actors
            .get_mut(&to)
            .ok_or_else(|| ActorError::not_found(format!("actor f0{to} not found")))?
            .balance += amount;
        Ok(())
    }

    /// Moves funds from the market actor to the burnt-funds actor.
    pub(crate) fn burn_from_market(&mut self, amount: &TokenAmount) -> Result<(), ActorError> {
        self.transfer(STORAGE_MARKET_ACTOR, Builtin::BurntFunds.id(), amount)
    }

    // ------------------------------------------------------------ messages

    /// The checks the mpool makes before a message may be included: sender, nonce (not below
    /// the next one), funds for value and the gas limit at the fee cap, gas values.
    pub fn check_message(&self, msg: &Message) -> Result<(), MessageRejected> {
        let from = msg.from.to_string();
        let id = self
            .lookup_id(&msg.from)
            .ok_or_else(|| MessageRejected::UnknownSender(from.clone()))?;
        let actor = &self.actors[&id];
        if !matches!(actor.kind, ActorKind::Account { .. }) {
            return Err(MessageRejected::SenderNotAccount(from));
        }
        if msg.nonce < actor.nonce {
            return Err(MessageRejected::NonceTooLow {
                from,
                got: msg.nonce,
                want: actor.nonce,
            });
        }
        if msg.value.is_negative() {
            return Err(MessageRejected::NegativeValue);
        }
        if msg.gas_limit <= 0 || msg.gas_limit > policy::BLOCK_GAS_LIMIT {
            return Err(MessageRejected::BadGasLimit(msg.gas_limit));
        }
        if msg.gas_fee_cap < self.policy.base_fee {
            return Err(MessageRejected::FeeCapTooLow {
                fee_cap: msg.gas_fee_cap.clone(),
                base_fee: self.policy.base_fee.clone(),
            });
        }
        let needed = &msg.value + &(msg.gas_fee_cap.clone() * msg.gas_limit);
        if actor.balance < needed {
            return Err(MessageRejected::NotEnoughFunds {
                from,
                balance: actor.balance.clone(),
                needed,
            });
        }
        Ok(())
    }

    /// Gas a message uses: a per-method schedule (no VM here), enough to make limits and
    /// fees behave like the real chain's.
    pub fn gas_used(&self, msg: &Message) -> i64 {
        let base = 1_500_000 + 1_300 * msg.params.0.len() as i64;
        let per_item = match msg.method {
            0 => 0,
            m if m == market_types::chain::market_method::PUBLISH_STORAGE_DEALS => {
                // `[[deal, …]]`: the inner array header gives the count without decoding deals.
                let mut d = cbor::Decoder::new(&msg.params.0);
                let deals = d
                    .array(1)
                    .and_then(|_| d.array(cbor::MAX_ARRAY_LEN))
                    .map_or(1, |n| n.max(1) as i64);
                25_000_000 * deals
            }
            _ => 8_000_000,
        };
        base + per_item
    }

    /// Applies a message accepted by [`State::check_message`] with the right nonce.
    /// Failures roll back everything but the nonce and the gas charge, as on chain. A sender
    /// that is not an account (a message that skipped the checks, say from a corrupt store)
    /// gets `SYS_SENDER_INVALID` and changes nothing.
    pub fn apply_message(&mut self, msg: &Message) -> Applied {
        let gas_used = self.gas_used(msg);
        let sender = self
            .lookup_id(&msg.from)
            .filter(|id| matches!(self.actors[id].kind, ActorKind::Account { .. }));
        let Some(from) = sender else {
            return Applied {
                receipt: MessageReceipt {
                    exit_code: exit_code::SYS_SENDER_INVALID,
                    return_data: market_types::Bytes(Vec::new()),
                    gas_used: 0,
                    events_root: None,
                },
                error: Some(format!("sender {} is not an account on chain", msg.from)),
            };
        };
        // Charge gas: used gas at the base fee, plus the premium on the whole limit.
        let premium = msg.gas_premium.clone().min(&msg.gas_fee_cap - &self.policy.base_fee);
        let charged_gas = gas_used.min(msg.gas_limit);
        let fee = &(self.policy.base_fee.clone() * charged_gas) + &(premium * msg.gas_limit);
        {
            let sender = self.actors.get_mut(&from).expect("sender resolved above");
            sender.nonce += 1;
            let fee = fee.clone().min(sender.balance.clone());
            sender.balance -= &fee;
        }
        self.mint(Builtin::BurntFunds.id(), &fee);
        let receipt = |code: i64, ret: Vec<u8>| MessageReceipt {
            exit_code: code,
            return_data: market_types::Bytes(ret),
            gas_used: charged_gas,
            events_root: None,
        };
        if gas_used > msg.gas_limit {
            return Applied {
                receipt: receipt(exit_code::SYS_OUT_OF_GAS, Vec::new()),
                error: Some(format!("out of gas: needs {gas_used}, limit {}", msg.gas_limit)),
            };
        }
        let before = self.clone();
        match self.invoke(from, msg) {
            Ok(ret) => Applied {
                receipt: receipt(exit_code::OK, ret),
                error: None,
            },
            Err(e) => {
                *self = before;
                Applied {
                    receipt: receipt(e.code, Vec::new()),
                    error: Some(e.message),
                }
            }
        }
    }

    fn invoke(&mut self, from: ActorId, msg: &Message) -> Result<Vec<u8>, ActorError> {
        let to = match self.lookup_id(&msg.to) {
            Some(id) => id,
            None => self.ensure_account(&msg.to)?,
        };
        self.transfer(from, to, &msg.value)?;
        if msg.method == 0 {
            return Ok(Vec::new());
        }
        let call = Call {
            caller: from,
            receiver: to,
            value: msg.value.clone(),
            method: msg.method,
            params: &msg.params.0,
        };
        match self.actors[&to].kind.clone() {
            ActorKind::Builtin(Builtin::Market) => market::invoke(self, &call),
            ActorKind::Builtin(Builtin::Power) => miner::invoke_power(self, &call),
            ActorKind::Builtin(Builtin::VerifiedRegistry) => verifreg::invoke(self, &call),
            ActorKind::Builtin(Builtin::DataCap) => verifreg::invoke_datacap(self, &call),
            ActorKind::Miner(_) => miner::invoke(self, &call),
            ActorKind::Builtin(Builtin::Init) => {
                let paych_code = code_cid(paych::CODE_NAME);
                paych::exec(self, &call, msg, |c| *c == paych_code)
            }
            ActorKind::PaymentChannel(_) => paych::invoke(self, &call),
            _ => Err(ActorError::unhandled(msg.method)),
        }
    }

    /// Starts epoch `epoch` (later epochs between are null rounds): cron runs for every
    /// epoch before it that has not been ended yet. Messages of `epoch` come next, then
    /// [`State::end_epoch`].
    pub fn advance_to(&mut self, epoch: ChainEpoch) {
        if epoch <= self.epoch {
            return;
        }
        market::cron(self, epoch - 1);
        self.epoch = epoch;
    }

    /// Ends the current epoch: cron runs after its messages, as on chain.
    pub fn end_epoch(&mut self) {
        market::cron(self, self.epoch);
    }
}

/// One method call: who calls whom with what.
#[derive(Debug)]
pub struct Call<'a> {
    pub caller: ActorId,
    pub receiver: ActorId,
    pub value: TokenAmount,
    pub method: u64,
    pub params: &'a [u8],
}

impl Call<'_> {
    pub fn params<T: Decode>(&self) -> Result<T, ActorError> {
        cbor::from_slice(self.params)
            .map_err(|e| ActorError::serialization(format!("method {} parameters: {e}", self.method)))
    }
}

/// CBOR of a method's return value.
pub fn ret<T: Encode>(v: &T) -> Vec<u8> {
    cbor::to_vec(v)
}
