//! The dashboard: the numbers the metrics endpoint exports, read from the same sources (deals
//! per state per miner, the publish queue, retrievals and bytes served, funds per miner), live.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use market_types::states::StorageDealStatus as S;
use maud::html;

use super::Ui;
use super::deals::{error_page, state_badge};
use super::page::{Notice, bytes, fil, page};
use crate::chain::DealChain;

pub async fn show(State(ui): State<Arc<Ui>>, Query(n): Query<Notice>) -> Response {
    let deals = match ui.api.deals.read(|d| d.list()).await {
        Ok(d) => d,
        Err(e) => return error_page(&n, &e.to_string()),
    };
    let retrievals = ui.api.retrieval_deals.list().unwrap_or_default();
    let mut per_state: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for d in &deals {
        *per_state
            .entry((d.proposal().provider.to_string(), d.status().code()))
            .or_default() += 1;
    }
    let count = |f: &dyn Fn(S) -> bool| deals.iter().filter(|d| f(d.status())).count();
    let active = count(&|s| s == S::Active);
    let failed = count(&|s| s.is_terminal() && s != S::Active && s != S::Expired);
    let in_flight = count(&|s| !s.is_terminal() && s != S::Active);
    let queue: Vec<(String, usize)> = ui
        .api
        .runner
        .pending()
        .into_iter()
        .map(|(m, d)| (m.to_string(), d.len()))
        .collect();
    let mut funds = Vec::new();
    for (miner, _) in ui.api.miners.list() {
        let b = ui.api.chain.market_balance(&miner).await.ok();
        funds.push((miner, b, ui.api.runner.reserved(&miner)));
    }
    let sent: u64 = retrievals.iter().map(|r| r.total_sent).sum();
    let body = html! {
        div #dashboard data-live {
            div.cards {
                div.card { div.big #active-deals { (active) } div.label { "active storage deals" } }
                div.card { div.big { (in_flight) } div.label { "deals in progress" } }
                div.card { div.big { (failed) } div.label { "failed or rejected" } }
                div.card { div.big { (queue.iter().map(|q| q.1).sum::<usize>()) } div.label { "waiting to be published" } }
                div.card { div.big { (retrievals.len()) } div.label { "retrieval deals" } }
                div.card { div.big { (bytes(sent)) } div.label { "served over graphsync" } }
            }
            h2 { "Storage deals per state" }
            table #per-state {
                thead { tr { th { "Miner" } th { "State" } th.num { "Deals" } } }
                tbody { @for ((miner, code), n) in &per_state { tr {
                    td { (miner) }
                    td { @if let Some(s) = S::from_u64(*code) { (state_badge(s)) } }
                    td.num { (n) }
                } } }
            }
            h2 { "Funds per miner" }
            table {
                thead { tr { th { "Miner" } th.num { "Escrow" } th.num { "Locked" } th.num { "Reserved" } } }
                tbody { @for (miner, b, reserved) in &funds { tr {
                    td { (miner) }
                    @if let Some(b) = b { td.num { (fil(&b.escrow)) } td.num { (fil(&b.locked)) } }
                    @else { td.muted colspan="2" { "chain not reachable" } }
                    td.num { (fil(reserved)) }
                } } }
            }
        }
        @if let Some(url) = &ui.metrics_url {
            p.muted { "Prometheus metrics: " a href=(url) { (url) } }
        }
    };
    page("Dashboard", "/ui/", &n, body).into_response()
}
