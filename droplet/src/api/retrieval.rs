//! `VENUS_MARKET`'s retrieval deal methods over the deal records.

use jsonrpsee::core::{RpcResult, async_trait};
use market_proto::Json;
use market_proto::api::handler_error;
use market_proto::api::retrieval::{
    InboundChannel, MarketRetrievalServer, RetrievalDeal, RetrievalDealQueryParams, RetrievalDealStatistic,
};
use market_types::Address;
use market_types::chain::SignedVoucher;
use market_types::states::RetrievalDealStatus as S;

use super::{Api, fail};
use crate::retrieval::record::RecordExt;

fn failed(s: S) -> bool {
    matches!(
        s,
        S::Errored | S::Rejected | S::Cancelled | S::DealNotFound | S::Failing
    )
}

#[async_trait]
impl MarketRetrievalServer for Api {
    async fn market_list_retrieval_deals(&self, q: RetrievalDealQueryParams) -> RpcResult<Vec<RetrievalDeal>> {
        let mut deals = self.retrieval_deals.list().map_err(fail)?;
        deals.retain(|d| {
            (q.receiver.is_empty() || d.receiver == q.receiver)
                && q.payload_cid
                    .as_ref()
                    .is_none_or(|c| c.0 == d.deal_proposal.payload_cid)
                && q.status.is_none_or(|s| s == d.status)
                && !(q.discard_failed_deal && failed(d.status()))
        });
        deals.sort_by_key(|d| std::cmp::Reverse(d.created_at));
        let start = (q.page.offset as usize).min(deals.len());
        let mut page = deals.split_off(start);
        if q.page.limit > 0 {
            page.truncate(q.page.limit as usize);
        }
        Ok(page)
    }

    async fn market_get_retrieval_deal(&self, receiver: String, deal_id: u64) -> RpcResult<RetrievalDeal> {
        self.retrieval_deals
            .get(&receiver, deal_id)
            .map_err(fail)?
            .ok_or_else(|| handler_error(format!("no retrieval deal {deal_id} from {receiver}")))
    }

    async fn get_retrieval_deal_statistic(&self, miner: Option<Json<Address>>) -> RpcResult<RetrievalDealStatistic> {
        let mut out = RetrievalDealStatistic::default();
        for d in self.retrieval_deals.list().map_err(fail)? {
            if miner
                .as_ref()
                .is_some_and(|m| m.0 != d.miner.0 && m.0 != Address::new_id(0))
            {
                continue;
            }
            *out.deals_status.entry(d.status().name().to_string()).or_default() += 1;
        }
        Ok(out)
    }

    async fn market_set_retrieval_payment_address(&self, miner: Json<Address>, addr: Json<Address>) -> RpcResult<()> {
        if !self.miners.contains(&miner.0) {
            return Err(handler_error(format!("{} is not a miner this droplet serves", miner.0)));
        }
        use market_types::address::Protocol;
        if !matches!(addr.0.protocol(), Protocol::Secp256k1 | Protocol::BLS) {
            return Err(handler_error(format!(
                "{} is not a key address: payments go to an account whose key the signer holds",
                addr.0
            )));
        }
        let held = self.chain.signer.has(&addr.0).await.map_err(fail)?;
        if !held {
            return Err(handler_error(format!(
                "the signer does not hold the key of {}: vouchers paid to it could not be redeemed",
                addr.0
            )));
        }
        let text = addr.0.to_string();
        self.set_setting(market_proto::api::market::MinerOrCommon(Some(miner.0)), |p| {
            p.retrieval_payment_address = text
        })
    }

    async fn paych_voucher_list(&self, channel: Json<Address>) -> RpcResult<Vec<SignedVoucher>> {
        Ok(self
            .redeemer
            .vouchers
            .of_channel(&channel.0)
            .map_err(fail)?
            .into_iter()
            .map(|l| l.voucher)
            .collect())
    }

    async fn paych_inbound_list(&self) -> RpcResult<Vec<InboundChannel>> {
        self.redeemer.inbound().await.map_err(fail)
    }

    async fn paych_submit_vouchers(&self, channel: Json<Address>) -> RpcResult<Vec<Json<market_types::Cid>>> {
        Ok(self
            .redeemer
            .submit(&channel.0)
            .await
            .map_err(fail)?
            .into_iter()
            .map(Json)
            .collect())
    }

    async fn paych_settle(&self, channel: Json<Address>) -> RpcResult<Json<market_types::Cid>> {
        self.redeemer.settle(&channel.0).await.map(Json).map_err(fail)
    }

    async fn paych_collect(&self, channel: Json<Address>) -> RpcResult<Json<market_types::Cid>> {
        self.redeemer.collect(&channel.0).await.map(Json).map_err(fail)
    }
}
