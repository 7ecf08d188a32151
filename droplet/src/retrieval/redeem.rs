//! Redeeming what retrievals earned: the best voucher of each lane submitted on chain
//! (`UpdateChannelState`, from the payee) before the channel settles, then `Collect` once it
//! has settled; by hand (`droplet paych …`) and automatically: a channel the payer settles is
//! redeemed before its settling epoch and collected after it.

use std::sync::Arc;
use std::time::Duration;

use market_proto::Json;
use market_proto::api::retrieval::InboundChannel;
use market_types::actors::{UpdateChannelStateParams, paych_method};
use market_types::chain::Message;
use market_types::{Address, Bytes, Cid, TokenAmount, cbor};

use super::vouchers::{LaneVoucher, Vouchers};
use crate::chain::Chain;

/// Why redeeming failed.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("no vouchers from payment channel {0}")]
    Unknown(Address),
    #[error("{0}")]
    Chain(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[derive(Debug, Clone)]
pub struct Redeemer {
    pub vouchers: Vouchers,
    pub chain: Arc<Chain>,
}

fn chain_err(e: impl std::fmt::Display) -> RedeemError {
    RedeemError::Chain(e.to_string())
}

impl Redeemer {
    fn lanes(&self, ch: &Address) -> Result<Vec<LaneVoucher>, RedeemError> {
        let lanes = self.vouchers.of_channel(ch)?;
        if lanes.is_empty() {
            return Err(RedeemError::Unknown(*ch));
        }
        Ok(lanes)
    }

    /// The payee's key address (messages to the channel come from it).
    async fn payee(&self, lanes: &[LaneVoucher]) -> Result<Address, RedeemError> {
        self.chain.account_key(&lanes[0].to.0).await.map_err(chain_err)
    }

    async fn send(&self, from: Address, ch: &Address, method: u64, params: Vec<u8>) -> Result<Cid, RedeemError> {
        let msg = Message::to_send(from, *ch, method, params, TokenAmount::default());
        let id = self.chain.sender.push(msg).await.map_err(chain_err)?;
        let lookup = self
            .chain
            .sender
            .wait(&id, 1, &self.chain.node)
            .await
            .map_err(chain_err)?;
        if lookup.receipt.exit_code != 0 {
            return Err(RedeemError::Chain(format!(
                "message {id} to payment channel {ch} failed with exit code {}",
                lookup.receipt.exit_code
            )));
        }
        Ok(id)
    }

    /// Submit each lane's best voucher not yet on chain.
    pub async fn submit(&self, ch: &Address) -> Result<Vec<Cid>, RedeemError> {
        let lanes = self.lanes(ch)?;
        let payee = self.payee(&lanes).await?;
        let mut sent = Vec::new();
        for mut lane in lanes {
            if lane.voucher.nonce <= lane.submitted_nonce {
                continue;
            }
            let params = cbor::to_vec(&UpdateChannelStateParams {
                sv: lane.voucher.clone(),
                secret: Bytes(Vec::new()),
            });
            let id = self.send(payee, ch, paych_method::UPDATE_CHANNEL_STATE, params).await?;
            lane.submitted_nonce = lane.voucher.nonce;
            self.vouchers.save(&lane)?;
            tracing::info!(channel = %ch, lane = lane.voucher.lane, amount = %lane.voucher.amount.atto(), "voucher redeemed");
            sent.push(id);
        }
        Ok(sent)
    }

    pub async fn settle(&self, ch: &Address) -> Result<Cid, RedeemError> {
        let lanes = self.lanes(ch)?;
        let payee = self.payee(&lanes).await?;
        self.send(payee, ch, paych_method::SETTLE, Vec::new()).await
    }

    pub async fn collect(&self, ch: &Address) -> Result<Cid, RedeemError> {
        let lanes = self.lanes(ch)?;
        let payee = self.payee(&lanes).await?;
        self.send(payee, ch, paych_method::COLLECT, Vec::new()).await
    }

    /// Every channel this provider holds vouchers of.
    pub async fn inbound(&self) -> Result<Vec<InboundChannel>, RedeemError> {
        let mut by_channel: std::collections::BTreeMap<String, Vec<LaneVoucher>> = Default::default();
        for v in self.vouchers.list()? {
            by_channel.entry(v.channel.0.to_string()).or_default().push(v);
        }
        let mut out = Vec::new();
        for lanes in by_channel.into_values() {
            let ch = lanes[0].channel.0;
            let sum =
                |f: &dyn Fn(&LaneVoucher) -> TokenAmount| lanes.iter().fold(TokenAmount::default(), |a, l| a + f(l));
            let chain = self.vouchers.channel_state(&ch).await.ok();
            out.push(InboundChannel {
                channel: Json(ch),
                from: lanes[0].from.clone(),
                to: lanes[0].to.clone(),
                lanes: lanes.len() as u64,
                best: Json(sum(&|l| l.voucher.amount.clone())),
                submitted: Json(sum(&|l| {
                    if l.submitted_nonce >= l.voucher.nonce {
                        l.voucher.amount.clone()
                    } else {
                        TokenAmount::default()
                    }
                })),
                balance: chain.as_ref().map(|(_, b)| Json(b.clone())),
                settling_at: chain.map(|(s, _)| s.settling_at),
            });
        }
        Ok(out)
    }

    /// Watch inbound channels every `every`: a settling channel gets its vouchers submitted
    /// before its settling epoch, and is collected after it.
    /// When droplets share a database, only the one holding the redeemer's lease does this.
    pub fn start(self, every: Duration, leases: std::sync::Arc<crate::lease::Leases>) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if !leases.runs(crate::lease::REDEEMER) {
                    continue;
                }
                if let Err(e) = self.sweep().await {
                    tracing::warn!("redeeming payment channels: {e}");
                }
            }
        });
    }

    async fn sweep(&self) -> Result<(), RedeemError> {
        let head = self.chain.head_height().await.map_err(chain_err)?;
        for c in self.inbound().await? {
            let (Some(settling_at), Some(_)) = (c.settling_at, c.balance) else {
                continue; // gone: collected
            };
            if settling_at == 0 {
                continue;
            }
            let ch = c.channel.0;
            if head < settling_at {
                if c.submitted != c.best {
                    self.submit(&ch).await?;
                }
            } else if let Err(e) = self.collect(&ch).await {
                tracing::info!(channel = %ch, "collect: {e}");
            } else {
                tracing::info!(channel = %ch, "payment channel collected");
            }
        }
        Ok(())
    }
}
