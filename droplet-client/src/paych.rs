//! The client's payment channels: created through the init actor, funded, split into lanes,
//! and paid from with vouchers for cumulative amounts. A channel's remaining funds are used
//! again by the next retrieval to the same provider: a chain message is sent only when they do
//! not cover what is asked (droplet adds funds for every retrieval).
//!
//! Records: `paych/<from>/<to>` → [`ChannelRecord`] (JSON), written before each message is
//! sent and after it lands.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use jsonrpsee::http_client::HttpClient;
use market_daemon::store::{Store, Table};
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::wallet::MsgMeta;
use market_proto::client::call_error;
use market_proto::messages::MessageSender;
use market_proto::signer::Signer;
use market_types::actors::{ExecParams, ExecReturn, INIT_ACTOR, PaychConstructorParams, init_method, paych_method};
use market_types::chain::{Message, SignedVoucher, TipSetKey};
use market_types::{Address, Bytes, TokenAmount, cbor};
use serde::{Deserialize, Serialize};

const CHANNELS: Table = Table("paych/");
/// Every voucher made or added, one a key: `<channel>/<lane:020>/<nonce:020>`. A channel's
/// record keeps only each lane's best, so that its size does not grow with the payments.
const VOUCHERS: Table = Table("paych-vouchers/");
/// Confidence (epochs) a channel message must have before its funds are used.
const CONFIDENCE: u64 = 1;

/// One outbound channel as this client keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelRecord {
    pub from: Json<Address>,
    pub to: Json<Address>,
    /// The robust (f2) address, once created.
    pub channel: Option<Json<Address>>,
    /// Funds the channel holds (what landed on chain).
    pub amount: Json<TokenAmount>,
    /// A create or add-funds message not yet landed.
    pub pending_msg: Option<Json<market_types::Cid>>,
    pub next_lane: u64,
    /// The best voucher of each lane (every voucher is kept apart, see [`VOUCHERS`]).
    pub vouchers: Vec<SignedVoucher>,
    /// Settle was sent: no more vouchers from this channel.
    pub settling: bool,
    /// How many vouchers were made or added in all.
    #[serde(default)]
    pub made: u64,
}

impl ChannelRecord {
    /// What the vouchers made so far promise: the highest amount on each lane, summed.
    pub fn promised(&self) -> TokenAmount {
        let mut best: std::collections::BTreeMap<u64, TokenAmount> = Default::default();
        for v in &self.vouchers {
            let e = best.entry(v.lane).or_default();
            if v.amount > *e {
                *e = v.amount.clone();
            }
        }
        best.into_values().fold(TokenAmount::default(), |a, b| a + b)
    }

    /// The best (highest nonce) voucher on `lane`.
    pub fn best_on_lane(&self, lane: u64) -> Option<&SignedVoucher> {
        self.vouchers.iter().filter(|v| v.lane == lane).max_by_key(|v| v.nonce)
    }

    /// By how much the channel's funds fall short of a voucher for the cumulative `amount`
    /// on `lane` (zero when they cover it).
    pub fn shortfall(&self, lane: u64, amount: &TokenAmount) -> TokenAmount {
        let before = self.best_on_lane(lane).map(|v| v.amount.clone()).unwrap_or_default();
        let after = &(&self.promised() - &before) + amount;
        if after > self.amount.0 {
            &after - &self.amount.0
        } else {
            TokenAmount::default()
        }
    }

    /// Funds not yet promised by any voucher.
    pub fn available(&self) -> TokenAmount {
        let p = self.promised();
        if self.amount.0 > p {
            &self.amount.0 - &p
        } else {
            TokenAmount::default()
        }
    }
}

/// How a channel was made ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readied {
    /// Its remaining funds cover the amount: no message.
    Reused,
    AddedFunds,
    Created,
}

/// The payment channel manager.
pub struct Paych {
    node: HttpClient,
    signer: Signer,
    sender: Arc<MessageSender>,
    store: Arc<Store>,
    /// One channel change at a time.
    serial: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Paych {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Paych")
    }
}

fn key(from: &Address, to: &Address) -> String {
    format!("{from}/{to}")
}

fn voucher_key(ch: &Address, lane: u64, nonce: u64) -> String {
    format!("{ch}/{lane:020}/{nonce:020}")
}

impl Paych {
    pub fn new(node: HttpClient, signer: Signer, sender: Arc<MessageSender>, store: Arc<Store>) -> Self {
        Paych {
            node,
            signer,
            sender,
            store,
            serial: tokio::sync::Mutex::new(()),
        }
    }

    fn load(&self, from: &Address, to: &Address) -> Result<Option<ChannelRecord>> {
        Ok(self.store.get_json(CHANNELS, &key(from, to))?)
    }

    fn save(&self, r: &ChannelRecord) -> Result<()> {
        Ok(self.store.put_json(CHANNELS, &key(&r.from.0, &r.to.0), r)?)
    }

    /// Keep `sv` as its lane's best in `r` and, in the same write, the record and the voucher
    /// under its own key; durable before it returns (the write waits for the disk on a
    /// blocking thread: a paid retrieval makes a voucher every interval while its blocks go
    /// on arriving).
    async fn save_with_voucher(&self, r: &mut ChannelRecord, sv: &SignedVoucher) -> Result<()> {
        r.vouchers.retain(|v| v.lane != sv.lane);
        r.vouchers.push(sv.clone());
        r.vouchers.sort_by_key(|v| v.lane);
        r.made += 1;
        let mut batch = market_daemon::store::Batch::default();
        batch.put_json(VOUCHERS, &voucher_key(&sv.channel_addr, sv.lane, sv.nonce), sv);
        batch.put_json(CHANNELS, &key(&r.from.0, &r.to.0), &*r);
        Ok(self.store.write_off_runtime(batch, true).await?)
    }

    /// Every voucher of `ch` made or added, by lane then nonce.
    pub fn vouchers(&self, ch: &Address) -> Result<Vec<SignedVoucher>> {
        let mut out = Vec::new();
        for (k, raw) in self.store.scan_raw(VOUCHERS, &format!("{ch}/"))? {
            out.push(serde_json::from_slice(&raw).with_context(|| format!("voucher {k}"))?);
        }
        Ok(out)
    }

    pub fn list(&self) -> Result<Vec<ChannelRecord>> {
        Ok(self.store.list_json(CHANNELS)?)
    }

    /// The record of channel `ch`.
    pub fn by_channel(&self, ch: &Address) -> Result<ChannelRecord> {
        self.list()?
            .into_iter()
            .find(|r| r.channel.as_ref().is_some_and(|c| c.0 == *ch))
            .ok_or_else(|| anyhow!("no payment channel {ch} from this client"))
    }

    /// A channel from `from` to `to` with at least `amount` not yet promised: the existing
    /// one if its funds cover it, else funds are added (or the channel created) on chain.
    pub async fn get_or_create(
        &self,
        from: &Address,
        to: &Address,
        amount: &TokenAmount,
        on_message: impl Fn(Readied),
    ) -> Result<(Address, Readied)> {
        let _g = self.serial.lock().await;
        let mut r = match self.load(from, to)? {
            Some(r) if !r.settling => r,
            _ => ChannelRecord {
                from: Json(*from),
                to: Json(*to),
                channel: None,
                amount: Json(TokenAmount::default()),
                pending_msg: None,
                next_lane: 0,
                vouchers: Vec::new(),
                settling: false,
                made: 0,
            },
        };
        if let Some(pending) = r.pending_msg.clone() {
            // A message sent before a restart: wait for it first.
            self.land(&mut r, &pending.0).await?;
        }
        if let Some(ch) = &r.channel
            && r.available() >= *amount
        {
            return Ok((ch.0, Readied::Reused));
        }
        let (msg, how) = match &r.channel {
            Some(ch) => {
                let more = amount - &r.available();
                (Message::to_send(*from, ch.0, 0, Vec::new(), more), Readied::AddedFunds)
            }
            None => (self.create_message(from, to, amount).await?, Readied::Created),
        };
        on_message(how);
        let id = self
            .sender
            .push(msg)
            .await
            .context("sending the payment channel message")?;
        r.pending_msg = Some(Json(id));
        self.save(&r)?;
        self.land(&mut r, &id).await?;
        let ch = r
            .channel
            .as_ref()
            .map(|c| c.0)
            .ok_or_else(|| anyhow!("the channel was not created"))?;
        Ok((ch, how))
    }

    async fn create_message(&self, from: &Address, to: &Address, amount: &TokenAmount) -> Result<Message> {
        let nv = self
            .node
            .state_network_version(Json(TipSetKey::empty()))
            .await
            .map_err(call_error)?;
        let codes = self.node.state_actor_code_cids(nv).await.map_err(call_error)?;
        let code = codes
            .get("paymentchannel")
            .ok_or_else(|| anyhow!("the node knows no payment channel actor code at network version {nv}"))?
            .0;
        let params = ExecParams {
            code_cid: code,
            constructor_params: Bytes(cbor::to_vec(&PaychConstructorParams { from: *from, to: *to })),
        };
        Ok(Message::to_send(
            *from,
            Address::new_id(INIT_ACTOR),
            init_method::EXEC,
            cbor::to_vec(&params),
            amount.clone(),
        ))
    }

    /// Wait for the channel message `id` and record its effect.
    async fn land(&self, r: &mut ChannelRecord, id: &market_types::Cid) -> Result<()> {
        let lookup = self
            .sender
            .wait(id, CONFIDENCE, &self.node)
            .await
            .context("waiting for the payment channel message")?;
        r.pending_msg = None;
        if lookup.receipt.exit_code != 0 {
            self.save(r)?;
            bail!(
                "the payment channel message failed with exit code {}",
                lookup.receipt.exit_code
            );
        }
        let msg = self
            .node
            .chain_get_message(Json(lookup.message))
            .await
            .map_err(call_error)?
            .0;
        if r.channel.is_none() {
            let ret: ExecReturn = cbor::from_slice(&lookup.receipt.return_data.0).context("decoding Exec's return")?;
            r.channel = Some(Json(ret.robust_address));
        }
        r.amount = Json(&r.amount.0 + &msg.value);
        self.save(r)
    }

    /// A new lane on `ch`.
    pub async fn allocate_lane(&self, ch: &Address) -> Result<u64> {
        let _g = self.serial.lock().await;
        let mut r = self.by_channel(ch)?;
        let lane = r.next_lane;
        r.next_lane += 1;
        self.save(&r)?;
        Ok(lane)
    }

    /// The last voucher made on `ch`'s `lane` (the one paying the most), if any.
    pub fn best_voucher(&self, ch: &Address, lane: u64) -> Result<Option<SignedVoucher>> {
        let r = self.by_channel(ch)?;
        Ok(r.vouchers
            .into_iter()
            .filter(|v| v.lane == lane)
            .max_by_key(|v| v.nonce))
    }

    /// A voucher paying the cumulative `amount` on `ch`'s `lane`: the lane's last voucher if it
    /// already pays that much (made before a send that failed, so sent again rather than
    /// refused), else a new one ([`Self::create_voucher`]).
    pub async fn voucher_paying(&self, ch: &Address, lane: u64, amount: &TokenAmount) -> Result<SignedVoucher> {
        if let Some(best) = self.best_voucher(ch, lane)?
            && best.amount >= *amount
        {
            return Ok(best);
        }
        self.create_voucher(ch, lane, amount).await
    }

    /// A voucher on `ch`'s `lane` for the cumulative `amount`, signed by the channel's payer;
    /// refused when the channel's funds do not cover it.
    pub async fn create_voucher(&self, ch: &Address, lane: u64, amount: &TokenAmount) -> Result<SignedVoucher> {
        let _g = self.serial.lock().await;
        let mut r = self.by_channel(ch)?;
        if r.settling {
            bail!("payment channel {ch} is settling: no more vouchers");
        }
        let on_lane = r.vouchers.iter().filter(|v| v.lane == lane);
        let nonce = on_lane.clone().map(|v| v.nonce).max().unwrap_or(0) + 1;
        let before = on_lane.map(|v| v.amount.clone()).max().unwrap_or_default();
        if *amount <= before && nonce > 1 {
            bail!("lane {lane} of {ch} already pays {} attoFIL", before.atto());
        }
        let short = r.shortfall(lane, amount);
        if !short.is_zero() {
            bail!(
                "payment channel {ch} holds {} attoFIL, {} short of a voucher for {} on lane {lane}; add funds",
                r.amount.0.atto(),
                short.atto(),
                amount.atto()
            );
        }
        let mut sv = SignedVoucher {
            channel_addr: *ch,
            time_lock_min: 0,
            time_lock_max: 0,
            secret_hash: Bytes(Vec::new()),
            extra: None,
            lane,
            nonce,
            amount: amount.clone(),
            min_settle_height: 0,
            merges: Vec::new(),
            signature: None,
        };
        let sig = self
            .signer
            .sign(&r.from.0, &sv.signing_bytes(), MsgMeta::new("signedvoucher"))
            .await
            .context("signing the voucher")?;
        sv.signature = Some(sig);
        self.save_with_voucher(&mut r, &sv).await?;
        Ok(sv)
    }

    /// Whether `sv` is a valid voucher of our channel `ch`: its channel, signed by the
    /// channel's payer, its lane's nonce not behind the vouchers known, and the channel's
    /// funds covering every lane's best with it.
    pub fn check_voucher(&self, ch: &Address, sv: &SignedVoucher) -> Result<()> {
        if sv.channel_addr != *ch {
            bail!("the voucher is for channel {}, not {ch}", sv.channel_addr);
        }
        if !sv.merges.is_empty() {
            bail!("vouchers with lane merges are not supported");
        }
        let r = self.by_channel(ch)?;
        if r.settling {
            bail!("payment channel {ch} is settling");
        }
        let sig = sv
            .signature
            .as_ref()
            .ok_or_else(|| anyhow!("the voucher is not signed"))?;
        market_crypto::verify(sig, &r.from.0, &sv.signing_bytes())
            .map_err(|e| anyhow!("the voucher is not signed by the channel's payer {}: {e}", r.from.0))?;
        if let Some(best) = r.best_on_lane(sv.lane) {
            let same = best == sv;
            if sv.nonce < best.nonce || (sv.nonce == best.nonce && !same) {
                bail!(
                    "voucher nonce {} on lane {} is behind the lane's best ({})",
                    sv.nonce,
                    sv.lane,
                    best.nonce
                );
            }
        }
        let short = r.shortfall(sv.lane, &sv.amount);
        if !short.is_zero() {
            bail!(
                "not enough funds in channel {ch} to cover the voucher: {} attoFIL short",
                short.atto()
            );
        }
        Ok(())
    }

    /// Keep a valid voucher of `ch` (made elsewhere with the payer's key); what it adds over
    /// its lane's best. The lane's best again adds nothing.
    pub async fn add_voucher(&self, ch: &Address, sv: &SignedVoucher) -> Result<TokenAmount> {
        let _g = self.serial.lock().await;
        self.check_voucher(ch, sv)?;
        let mut r = self.by_channel(ch)?;
        let before = r.best_on_lane(sv.lane).cloned();
        if before.as_ref() == Some(sv) {
            return Ok(TokenAmount::default());
        }
        let before = before.map(|v| v.amount).unwrap_or_default();
        if sv.amount < before {
            bail!("the voucher pays less than lane {}'s best", sv.lane);
        }
        r.next_lane = r.next_lane.max(sv.lane.saturating_add(1));
        self.save_with_voucher(&mut r, sv).await?;
        Ok(&sv.amount - &before)
    }

    /// Settle `ch` (the payer's side): no more vouchers; `collect` after the settle delay.
    pub async fn settle(&self, ch: &Address) -> Result<market_types::Cid> {
        let _g = self.serial.lock().await;
        let mut r = self.by_channel(ch)?;
        let id = self
            .sender
            .push(Message::to_send(
                r.from.0,
                *ch,
                paych_method::SETTLE,
                Vec::new(),
                TokenAmount::default(),
            ))
            .await?;
        r.settling = true;
        self.save(&r)?;
        Ok(id)
    }

    /// Collect `ch` once settled: the payee's share to it, the rest back to the payer.
    pub async fn collect(&self, ch: &Address) -> Result<market_types::Cid> {
        let r = self.by_channel(ch)?;
        Ok(self
            .sender
            .push(Message::to_send(
                r.from.0,
                *ch,
                paych_method::COLLECT,
                Vec::new(),
                TokenAmount::default(),
            ))
            .await?)
    }
}
