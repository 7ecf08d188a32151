//! `VENUS_MARKET.Indexer*`, over [`crate::indexprovider::Indexer`].

use std::sync::Arc;

use cid::Cid;
use jsonrpsee::core::{RpcResult, async_trait};
use market_proto::Json;
use market_proto::api::indexer::MarketIndexerServer;
use market_types::{Address, Bytes};

use super::{Api, fail};
use crate::indexprovider::{Indexer, Put};

impl Api {
    fn indexer(&self) -> RpcResult<&Arc<Indexer>> {
        self.indexer.as_ref().ok_or_else(|| {
            fail(
                "the index provider is disabled: set [CommonProvider.IndexProvider] Enable = true (with its \
                 HttpPublisher and Announce settings) and restart",
            )
        })
    }
}

#[async_trait]
impl MarketIndexerServer for Api {
    async fn indexer_announce_all_deals(&self, miner: Json<Address>) -> RpcResult<()> {
        let ix = self.indexer()?;
        if !self.miners.contains(&miner.0) {
            return Err(fail(format!(
                "miner {} is not served by this droplet (see `droplet actor list`)",
                miner.0
            )));
        }
        let n = ix.reconcile(Some(miner.0)).await.map_err(fail)?;
        tracing::info!(miner = %miner.0, published = n, "IPNI: announced all deals");
        Ok(())
    }

    async fn indexer_list_multihashes(&self, context_id: Json<Bytes>) -> RpcResult<Vec<Json<Bytes>>> {
        let ix = self.indexer()?;
        Ok(ix
            .multihashes(&context_id.0.0)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|m| Json(Bytes(m)))
            .collect())
    }

    async fn indexer_announce_latest(&self) -> RpcResult<Option<Json<Cid>>> {
        Ok(Some(Json(self.indexer()?.announce_latest().await.map_err(fail)?)))
    }

    async fn indexer_announce_latest_http(&self, urls: Option<Vec<String>>) -> RpcResult<Option<Json<Cid>>> {
        let ix = self.indexer()?;
        Ok(Some(Json(
            ix.announce_to(&urls.unwrap_or_default()).await.map_err(fail)?,
        )))
    }

    async fn indexer_announce_deal_removed(&self, context_id: Json<Bytes>) -> RpcResult<Json<Cid>> {
        let ix = self.indexer()?;
        // A deal UUID names the deal; the chain knows it by its proposal CID.
        let d = ix.deal_for(&context_id.0.0).await.map_err(fail)?;
        let c = ix.remove(d.context_id, true).await.map_err(fail)?;
        ix.announce_new().await;
        Ok(Json(c))
    }

    async fn indexer_announce_deal(&self, context_id: Json<Bytes>) -> RpcResult<Option<Json<Cid>>> {
        let ix = self.indexer()?;
        let d = ix.deal_for(&context_id.0.0).await.map_err(fail)?;
        match ix.put(d, true).await.map_err(fail)? {
            Put::Published(c) => {
                ix.announce_new().await;
                Ok(Some(Json(c)))
            }
            Put::AlreadyAdvertised | Put::Withdrawn => Ok(None),
        }
    }
}
