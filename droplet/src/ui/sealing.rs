//! The sealing hand-off: per miner, the published deals waiting for a sector, and each sector
//! with the deals assigned to it (offset, piece status, state), as the sealer
//! (`AssignDeals`/`GetDeals`) and the chain tracker left them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use market_types::states::StorageDealStatus as S;
use maud::html;

use super::Ui;
use super::deals::{error_page, state_badge};
use super::page::{Notice, bytes, page};
use crate::deals::record::DealRecord;

/// A miner's published deals waiting for a sector, and its sectors' deals.
type Miner<'a> = (Vec<&'a DealRecord>, BTreeMap<u64, Vec<&'a DealRecord>>);

/// Published deals not yet in a sector (the sealer may take them).
fn waiting(d: &DealRecord) -> bool {
    d.deal.sector.is_none() && matches!(d.status(), S::Staged | S::AwaitingPreCommit)
}

pub async fn show(State(ui): State<Arc<Ui>>, Query(n): Query<Notice>) -> Response {
    let deals = match ui.api.deals.read(|d| d.list()).await {
        Ok(d) => d,
        Err(e) => return error_page(&n, &e.to_string()),
    };
    let mut per_miner: BTreeMap<String, Miner<'_>> = BTreeMap::new();
    for (m, _) in ui.api.miners.list() {
        per_miner.entry(m.to_string()).or_default();
    }
    for d in &deals {
        let entry = per_miner.entry(d.proposal().provider.to_string()).or_default();
        if waiting(d) {
            entry.0.push(d);
        } else if let Some(s) = d.deal.sector
            && !d.status().is_terminal()
        {
            entry.1.entry(s).or_default().push(d);
        }
    }
    let body = html! {
        div #sealing data-live {
            @for (miner, (waiting, sectors)) in &per_miner {
                h2 { "Miner " (miner) }
                p.muted { (waiting.len()) " published deal(s) waiting for a sector, " (sectors.len()) " sector(s) with deals" }
                @if !waiting.is_empty() {
                    table.waiting {
                        thead { tr { th.num { "Deal ID" } th { "Piece" } th.num { "Size" } th { "State" } th.num { "Start epoch" } } }
                        tbody { @for d in waiting { tr {
                            td.num { @if let Some(i) = d.deal.deal_id { (i) } }
                            td.cid { a href={"/ui/deals/" (d.uuid)} { (d.proposal().piece_cid) } }
                            td.num { (bytes(d.proposal().piece_size.0)) }
                            td { (state_badge(d.status())) }
                            td.num { (d.proposal().start_epoch) }
                        } } }
                    }
                }
                @if !sectors.is_empty() {
                    table.sectors {
                        thead { tr { th.num { "Sector" } th.num { "Deal ID" } th { "Piece" } th.num { "Offset" } th.num { "Size" } th { "Piece status" } th { "State" } } }
                        tbody {
                            @for (sector, ds) in sectors {
                                @for d in ds { tr data-sector=(sector) {
                                    td.num { (sector) }
                                    td.num { @if let Some(i) = d.deal.deal_id { (i) } }
                                    td.cid { a href={"/ui/deals/" (d.uuid)} { (d.proposal().piece_cid) } }
                                    td.num { @if let Some(o) = d.deal.offset { (o) } }
                                    td.num { (bytes(d.proposal().piece_size.0)) }
                                    td { (d.deal.piece_status.name()) }
                                    td { (state_badge(d.status())) }
                                } }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Sealing hand-off", "/ui/sealing", &n, body).into_response()
}
