//! Vouchers clients pay retrievals with: each checked against the chain's payment channel
//! (its payee is the miner's payment address, it is not settling, the payer signed it, the
//! lane's nonce and amount move forward, all lanes together stay within the channel's
//! balance) and kept, the best per lane, so that they can be redeemed on chain
//! (`UpdateChannelState`) before the channel settles.
//!
//! Records: `paych-in/<channel>/<lane, 20 digits>` → [`LaneVoucher`] (JSON).
//!
//! A paid retrieval brings a voucher every payment interval (a thousand for 1 GiB paid by the
//! MiB), each checked while the transfer waits: what cannot change is read from the chain
//! once (an address's ID, an account's key), and a channel's state is read again after
//! [`CHANNEL_STATE_FOR`], or at once when a voucher asks for more than the balance read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use market_proto::Json;
use market_proto::api::full_node::{FullNodeClient, PaychStateView};
use market_types::chain::{SignedVoucher, TipSetKey};
use market_types::{Address, TokenAmount};
use serde::{Deserialize, Serialize};

use crate::chain::Chain;
use crate::store::{Batch, Store, StoreError, Table};

const VOUCHERS: Table = Table("paych-in/");

/// The best voucher on one lane of an inbound channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaneVoucher {
    pub channel: Json<Address>,
    /// The payee (our payment address) and payer, as the chain names them (ID addresses).
    pub to: Json<Address>,
    pub from: Json<Address>,
    pub voucher: SignedVoucher,
    /// Submitted on chain (by `UpdateChannelState`) with this nonce.
    pub submitted_nonce: u64,
}

/// Why a voucher is refused.
#[derive(Debug, thiserror::Error)]
pub enum VoucherError {
    #[error("the payment carries no voucher")]
    Missing,
    #[error("the voucher is for channel {voucher}, the payment names {payment}")]
    WrongChannel { voucher: Address, payment: Address },
    #[error("this deal is paid through channel {deal}, not {payment}")]
    OtherChannel { deal: Address, payment: Address },
    #[error("vouchers with {0} are not accepted")]
    Unsupported(&'static str),
    #[error("reading payment channel {channel}: {reason}")]
    Chain { channel: Address, reason: String },
    #[error("payment channel {channel} pays {to}, not this miner's payment address {ours}")]
    NotOurs {
        channel: Address,
        to: Address,
        ours: Address,
    },
    #[error("payment channel {0} is settling")]
    Settling(Address),
    #[error("the voucher's signature is not the channel's payer's: {0}")]
    Signature(String),
    #[error("voucher nonce {nonce} on lane {lane} is not above the last one ({last})")]
    OldNonce { lane: u64, nonce: u64, last: u64 },
    #[error("voucher amount {amount} on lane {lane} is not above the last one ({last})")]
    NoIncrease { lane: u64, amount: String, last: String },
    #[error("the channel's vouchers would promise {promised} attoFIL, it holds {balance}")]
    Overdrawn { promised: String, balance: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A voucher that passed the checks: what it adds, and the lane's new best to keep (none
/// when it is the lane's best already, sent again, as a client does after a restart).
#[derive(Debug, Clone)]
pub struct Checked {
    pub delta: TokenAmount,
    pub keep: Option<LaneVoucher>,
}

impl Checked {
    /// Add the lane's new best, if any, to `batch` (written with the deal it pays for).
    pub fn keep_in(&self, batch: &mut Batch) {
        if let Some(v) = &self.keep {
            batch.put_json(VOUCHERS, &key(&v.channel.0, v.voucher.lane), v);
        }
    }
}

/// How long a channel's state read from the chain is used for checking vouchers. Before a
/// settle takes effect the settle delay passes (12 hours on mainnet), and until then a
/// channel's funds only grow; a voucher over the balance read makes it read again.
pub const CHANNEL_STATE_FOR: Duration = Duration::from_secs(5);

/// Chain facts the checks use again.
#[derive(Debug, Default)]
struct ChainCache {
    /// Address → its ID address; ID address → its account key.
    ids: HashMap<Address, Address>,
    keys: HashMap<Address, Address>,
    channels: HashMap<Address, (Instant, PaychStateView, TokenAmount)>,
}

/// The inbound voucher table, and the checks.
#[derive(Debug, Clone)]
pub struct Vouchers {
    store: Arc<Store>,
    chain: Arc<Chain>,
    cache: Arc<Mutex<ChainCache>>,
}

fn key(ch: &Address, lane: u64) -> String {
    format!("{ch}/{lane:020}")
}

impl Vouchers {
    pub fn new(store: Arc<Store>, chain: Arc<Chain>) -> Self {
        Vouchers {
            store,
            chain,
            cache: Arc::default(),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ChainCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The best voucher of each lane of `ch`.
    pub fn of_channel(&self, ch: &Address) -> Result<Vec<LaneVoucher>, StoreError> {
        self.store
            .scan_raw(VOUCHERS, &format!("{ch}/"))?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    key: format!("{}{k}", VOUCHERS.0),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    pub fn list(&self) -> Result<Vec<LaneVoucher>, StoreError> {
        self.store.list_json(VOUCHERS)
    }

    pub fn save(&self, v: &LaneVoucher) -> Result<(), StoreError> {
        self.store.put_json(VOUCHERS, &key(&v.channel.0, v.voucher.lane), v)
    }

    /// The channel's state on chain now, and its balance.
    pub async fn channel_state(&self, ch: &Address) -> Result<(PaychStateView, TokenAmount), VoucherError> {
        let chain_err = |reason: String| VoucherError::Chain { channel: *ch, reason };
        let state = self
            .chain
            .node
            .state_read_state(Json(*ch), Json(TipSetKey::empty()))
            .await
            .map_err(|e| chain_err(e.to_string()))?;
        let view: PaychStateView = serde_json::from_value(state.state).map_err(|e| chain_err(e.to_string()))?;
        Ok((view, state.balance.0))
    }

    /// [`Self::channel_state`], as read within [`CHANNEL_STATE_FOR`] unless `fresh`.
    async fn recent_channel_state(
        &self,
        ch: &Address,
        fresh: bool,
    ) -> Result<(PaychStateView, TokenAmount), VoucherError> {
        if !fresh
            && let Some((at, state, balance)) = self.cache().channels.get(ch)
            && at.elapsed() < CHANNEL_STATE_FOR
        {
            return Ok((state.clone(), balance.clone()));
        }
        let (state, balance) = self.channel_state(ch).await?;
        let mut cache = self.cache();
        // Only channels read recently are kept: clients name the channels.
        cache.channels.retain(|_, (at, ..)| at.elapsed() < CHANNEL_STATE_FOR);
        cache
            .channels
            .insert(*ch, (Instant::now(), state.clone(), balance.clone()));
        Ok((state, balance))
    }

    async fn id_of(&self, a: &Address) -> Result<Address, VoucherError> {
        if let Some(id) = self.cache().ids.get(a) {
            return Ok(*id);
        }
        let id = self
            .chain
            .node
            .state_lookup_id(Json(*a), Json(TipSetKey::empty()))
            .await
            .map(|a| a.0)
            .map_err(|e| VoucherError::Chain {
                channel: *a,
                reason: e.to_string(),
            })?;
        self.cache().ids.insert(*a, id);
        Ok(id)
    }

    async fn key_of(&self, a: &Address) -> Result<Address, VoucherError> {
        if let Some(key) = self.cache().keys.get(a) {
            return Ok(*key);
        }
        let key = self
            .chain
            .account_key(a)
            .await
            .map_err(|e| VoucherError::Signature(e.to_string()))?;
        self.cache().keys.insert(*a, key);
        Ok(key)
    }

    /// Check `sv` (paid through `payment_channel` to `payee`): what it adds over the lane's
    /// previous best, and the record to keep ([`Checked::keep_in`]). The lane's best sent
    /// again adds nothing and is not an error (as lotus' `AddVoucherInbound`).
    pub async fn check(
        &self,
        payment_channel: &Address,
        sv: Option<&SignedVoucher>,
        payee: &Address,
    ) -> Result<Checked, VoucherError> {
        let sv = sv.ok_or(VoucherError::Missing)?;
        if sv.channel_addr != *payment_channel {
            return Err(VoucherError::WrongChannel {
                voucher: sv.channel_addr,
                payment: *payment_channel,
            });
        }
        if sv.extra.is_some() {
            return Err(VoucherError::Unsupported("extra verification"));
        }
        if sv.time_lock_min != 0 || sv.time_lock_max != 0 {
            return Err(VoucherError::Unsupported("time locks"));
        }
        if !sv.secret_hash.0.is_empty() {
            return Err(VoucherError::Unsupported("a secret"));
        }
        if !sv.merges.is_empty() {
            return Err(VoucherError::Unsupported("lane merges"));
        }
        let ch = *payment_channel;
        let (state, mut balance) = self.recent_channel_state(&ch, false).await?;
        let ours = self.id_of(payee).await?;
        if state.to.0 != ours {
            return Err(VoucherError::NotOurs {
                channel: ch,
                to: state.to.0,
                ours: *payee,
            });
        }
        if state.settling_at != 0 {
            return Err(VoucherError::Settling(ch));
        }
        let payer = self.key_of(&state.from.0).await?;
        let sig = sv
            .signature
            .as_ref()
            .ok_or_else(|| VoucherError::Signature("the voucher is not signed".into()))?;
        market_crypto::verify(sig, &payer, &sv.signing_bytes()).map_err(|e| VoucherError::Signature(e.to_string()))?;
        let lanes = self.of_channel(&ch)?;
        let previous = lanes.iter().find(|l| l.voucher.lane == sv.lane);
        let last_amount = previous.map(|p| p.voucher.amount.clone()).unwrap_or_default();
        if let Some(p) = previous {
            // The lane's best sent again (after a restart), or an older voucher arriving
            // after a newer one (each payment travels on a stream of its own, so two sent
            // back to back may be taken in either order): nothing to add.
            let superseded = sv.nonce < p.voucher.nonce && sv.amount <= p.voucher.amount;
            if p.voucher == *sv || superseded {
                return Ok(Checked {
                    delta: TokenAmount::default(),
                    keep: None,
                });
            }
            if sv.nonce <= p.voucher.nonce {
                return Err(VoucherError::OldNonce {
                    lane: sv.lane,
                    nonce: sv.nonce,
                    last: p.voucher.nonce,
                });
            }
            if sv.amount <= p.voucher.amount {
                return Err(VoucherError::NoIncrease {
                    lane: sv.lane,
                    amount: sv.amount.atto().to_string(),
                    last: p.voucher.amount.atto().to_string(),
                });
            }
        }
        let others: TokenAmount = lanes
            .iter()
            .filter(|l| l.voucher.lane != sv.lane)
            .fold(TokenAmount::default(), |a, l| a + &l.voucher.amount);
        let promised = others + &sv.amount;
        if promised > balance {
            // Funds may have been added since the state was read.
            let (now, fresh_balance) = self.recent_channel_state(&ch, true).await?;
            if now.settling_at != 0 {
                return Err(VoucherError::Settling(ch));
            }
            balance = fresh_balance;
        }
        if promised > balance {
            return Err(VoucherError::Overdrawn {
                promised: promised.atto().to_string(),
                balance: balance.atto().to_string(),
            });
        }
        Ok(Checked {
            delta: &sv.amount - &last_amount,
            keep: Some(LaneVoucher {
                channel: Json(ch),
                to: state.to,
                from: state.from,
                voucher: sv.clone(),
                submitted_nonce: previous.map_or(0, |p| p.submitted_nonce),
            }),
        })
    }
}
