//! The market event stream for sealers (`VENUS_MARKET.ListenMarketEvent`,
//! `VENUS_MARKET.ResponseMarketEvent`): a sealer subscribes for a miner this droplet serves and
//! answers the requests it gets (see `crate::market_events`).

use jsonrpsee::core::{RpcResult, SubscriptionResult, async_trait};
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use market_proto::api::handler_error;
use market_proto::api::market_event::{MarketEventServer, MarketRegisterPolicy, ResponseEvent};

use super::Api;

#[async_trait]
impl MarketEventServer for Api {
    async fn listen_market_event(
        &self,
        pending: PendingSubscriptionSink,
        policy: MarketRegisterPolicy,
    ) -> SubscriptionResult {
        let miner = policy.miner.0;
        if !self.miners.contains(&miner) {
            pending
                .reject(handler_error(format!("miner {miner} is not served by this droplet")))
                .await;
            return Ok(());
        }
        let sink = pending.accept().await?;
        let (id, mut rx) = self.events.connect(miner);
        loop {
            tokio::select! {
                _ = sink.closed() => break,
                next = rx.recv() => {
                    let Some(ev) = next else { break };
                    let msg = SubscriptionMessage::from(serde_json::value::to_raw_value(&ev)?);
                    if sink.send(msg).await.is_err() {
                        break;
                    }
                }
            }
        }
        self.events.disconnect(&miner, &id);
        Ok(())
    }

    async fn response_market_event(&self, resp: ResponseEvent) -> RpcResult<()> {
        self.events.respond(resp).map_err(|e| handler_error(e.to_string()))
    }
}
