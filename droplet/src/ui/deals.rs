//! Storage deals: the list (search, state and miner filters, live state) and a deal's page
//! (proposal, transfer, publish message, sector, its log of states); publish now, and fail a
//! deal that is not on chain yet (cancel, for an offline deal still waiting for its data).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use market_fsm::storage::provider::Event;
use market_types::states::StorageDealStatus as S;
use maud::{Markup, html};
use serde::Deserialize;

use super::Ui;
use super::page::{Notice, back, bytes, fil, page, short_state, utc};
use crate::deals::record::DealRecord;
use crate::deals::store::LogEntry;

/// At most this many rows in the list (the newest); the count says how many matched.
const MAX_ROWS: usize = 1000;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    miner: String,
}

/// The CSS class of a state's badge.
pub fn state_class(s: S) -> &'static str {
    match s {
        S::Active => "state good",
        s if s.is_terminal() => "state bad",
        _ => "state",
    }
}

pub fn state_badge(s: S) -> Markup {
    html! { span class=(state_class(s)) title=(s.name()) { (short_state(s.name())) } }
}

/// Whether the operator may fail the deal: not finished and not on chain (no publish message).
fn can_fail(d: &DealRecord) -> bool {
    !d.status().is_terminal() && d.deal.publish_msg.is_none() && d.deal.deal_id.is_none()
}

fn label_text(d: &DealRecord) -> String {
    match &d.proposal().label {
        market_types::label::DealLabel::String(s) => s.clone(),
        market_types::label::DealLabel::Bytes(b) => format!("0x{}", hex::encode(b)),
    }
}

/// Whether `d` matches the search words (each must appear in one of its identifiers).
fn matches(d: &DealRecord, q: &str) -> bool {
    let hay = [
        d.uuid.to_string(),
        d.proposal_cid.to_string(),
        d.proposal().piece_cid.to_string(),
        d.proposal().client.to_string(),
        d.data_root.to_string(),
        d.client_peer.clone(),
        label_text(d),
        d.deal.deal_id.map(|i| i.to_string()).unwrap_or_default(),
        d.deal.message.clone(),
    ]
    .join(" ")
    .to_lowercase();
    q.split_whitespace().all(|w| hay.contains(&w.to_lowercase()))
}

async fn all_deals(ui: &Ui) -> Result<Vec<DealRecord>, String> {
    ui.api.deals.read(|d| d.list()).await.map_err(|e| e.to_string())
}

pub async fn list(State(ui): State<Arc<Ui>>, Query(f): Query<Filters>, Query(n): Query<Notice>) -> Response {
    let mut deals = match all_deals(&ui).await {
        Ok(d) => d,
        Err(e) => return error_page(&n, &e),
    };
    deals.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.uuid.cmp(&b.uuid)));
    let mut states: Vec<S> = deals.iter().map(|d| d.status()).collect();
    states.sort_by_key(|s| s.code());
    states.dedup();
    let miners: Vec<String> = ui.api.miners.list().into_iter().map(|(m, _)| m.to_string()).collect();
    let total = deals.len();
    let shown: Vec<&DealRecord> = deals
        .iter()
        .filter(|d| f.state.is_empty() || d.status().name() == f.state)
        .filter(|d| f.miner.is_empty() || d.proposal().provider.to_string() == f.miner)
        .filter(|d| matches(d, &f.q))
        .collect();
    let pending: usize = ui.api.runner.pending().iter().map(|(_, d)| d.len()).sum();
    let body = html! {
        form.filters method="get" action="/ui/deals" {
            label { "Search" input type="search" name="q" value=(f.q) placeholder="CID, UUID, client, deal ID, label…"; }
            label { "State" select name="state" {
                option value="" { "any" }
                @for s in &states { option value=(s.name()) selected[f.state == s.name()] { (short_state(s.name())) } }
            } }
            label { "Miner" select name="miner" {
                option value="" { "any" }
                @for m in &miners { option value=(m) selected[&f.miner == m] { (m) } }
            } }
            button type="submit" { "Filter" }
        }
        form.row method="post" action="/ui/deals/publish-now" {
            span #publish-queue data-live { (pending) " deal(s) waiting in the publish queue" }
            button type="submit" { "Publish now" }
        }
        div #deals data-live {
            p.muted { (shown.len()) " of " (total) " deals" @if shown.len() > MAX_ROWS { ", the newest " (MAX_ROWS) " shown" } }
            table {
                thead { tr {
                    th { "Created (UTC)" } th { "Proposal" } th { "Miner" } th { "Client" }
                    th.num { "Size" } th { "State" } th.num { "Deal ID" } th { "Message" }
                } }
                tbody {
                    @for d in shown.iter().take(MAX_ROWS) {
                        tr data-proposal=(d.proposal_cid) {
                            td { (utc(d.created_at)) }
                            td.cid { a href={"/ui/deals/" (d.uuid)} { (d.proposal_cid) } }
                            td { (d.proposal().provider) }
                            td { (d.proposal().client) }
                            td.num { (bytes(d.proposal().piece_size.0)) }
                            td { (state_badge(d.status())) @if !d.deal.online { " " span.muted { "offline" } } }
                            td.num { @if let Some(id) = d.deal.deal_id { (id) } }
                            td { (d.deal.message) }
                        }
                    }
                }
            }
        }
    };
    page("Storage deals", "/ui/deals", &n, body).into_response()
}

pub async fn show(State(ui): State<Arc<Ui>>, Path(id): Path<String>, Query(n): Query<Notice>) -> Response {
    let key = id.clone();
    let found = ui
        .api
        .deals
        .read(move |d| {
            let Some(rec) = d.find(&key)? else { return Ok(None) };
            let log = d.log_of(&rec.uuid)?;
            Ok(Some((rec, log)))
        })
        .await;
    let (d, log) = match found {
        Ok(Some(x)) => x,
        Ok(None) => {
            let body = html! { p { "No deal " code { (id) } " here. " a href="/ui/deals" { "All deals" } } };
            return (StatusCode::NOT_FOUND, page("No such deal", "/ui/deals", &n, body)).into_response();
        }
        Err(e) => return error_page(&n, &e.to_string()),
    };
    let p = d.proposal();
    let size = d.transfer.size.max(1);
    let body = html! {
        div #deal data-live {
            dl.facts {
                dt { "State" } dd #deal-state { (state_badge(d.status())) }
                @if !d.deal.message.is_empty() { dt { "Message" } dd { (d.deal.message) } }
                dt { "UUID" } dd.cid { (d.uuid) }
                dt { "Proposal CID" } dd.cid { (d.proposal_cid) }
                dt { "Miner" } dd { (p.provider) }
                dt { "Client" } dd { (p.client) " " span.muted { "peer " (d.client_peer) } }
                dt { "Piece" } dd.cid { a href={"/ui/pieces/" (p.piece_cid)} { (p.piece_cid) } " (" (bytes(p.piece_size.0)) ")" }
                dt { "Payload root" } dd.cid { (d.data_root) }
                dt { "Label" } dd.cid { (label_text(&d)) }
                dt { "Epochs" } dd { (p.start_epoch) " → " (p.end_epoch) " (" (p.end_epoch - p.start_epoch) " epochs)" }
                dt { "Price per epoch" } dd { (fil(&p.storage_price_per_epoch)) }
                dt { "Collateral" } dd { "provider " (fil(&p.provider_collateral)) ", client " (fil(&p.client_collateral)) }
                dt { "Verified (FIL+)" } dd { (if p.verified_deal { "yes" } else { "no" }) }
                dt { "Fast retrieval" } dd { (if d.fast_retrieval { "yes" } else { "no" }) }
                dt { "Transfer" } dd {
                    @if d.deal.online {
                        (d.transfer.transfer_type) ": "
                        progress max=(size) value=(d.deal.transferred.min(size)) {}
                        " " (bytes(d.deal.transferred)) " of " (bytes(d.transfer.size))
                        @if d.deal.transfer_attempts > 0 { span.muted { " (attempt " (d.deal.transfer_attempts + 1) ")" } }
                    } @else {
                        "offline (data imported by hand)"
                    }
                }
                dt { "Funds reserved" } dd { (fil(&d.deal.funds_reserved)) }
                dt { "Publish message" } dd.cid { @if let Some(m) = d.deal.publish_msg { (m) } @else { span.muted { "not sent" } } }
                dt { "Deal ID" } dd { @if let Some(i) = d.deal.deal_id { (i) } @else { span.muted { "not published" } } }
                dt { "Sector" } dd {
                    @if let Some(s) = d.deal.sector { (s) @if let Some(o) = d.deal.offset { span.muted { " offset " (o) } } }
                    @else { span.muted { "not assigned" } }
                    " · piece " (d.deal.piece_status.name())
                }
                dt { "Created / updated" } dd { (utc(d.created_at)) " / " (utc(d.updated_at)) }
            }
            h2 { "State log" }
            (log_table(&log))
        }
        @if d.status() == S::Publish {
            form.row method="post" action="/ui/deals/publish-now" { button type="submit" { "Publish now" } }
        }
        @if d.status() == S::ProviderTransferAwaitRestart {
            form.row method="post" action={"/ui/deals/" (d.uuid) "/resume"} {
                span { "The download stopped (" (d.deal.message) ") and waits before trying again." }
                button type="submit" { "Retry the download now" }
            }
        }
        @if can_fail(&d) {
            h2 { (if d.deal.online { "Fail this deal" } else { "Cancel this offline deal" }) }
            form.row method="post" action={"/ui/deals/" (d.uuid) "/fail"} {
                label { "Reason (the client sees it)" input type="text" name="reason" size="50" required; }
                button.danger type="submit" { (if d.deal.online { "Fail deal" } else { "Cancel deal" }) }
            }
        }
    };
    page(&format!("Deal {}", d.uuid), "/ui/deals", &n, body).into_response()
}

fn log_table(log: &[LogEntry]) -> Markup {
    html! {
        table #deal-log {
            thead { tr { th { "When (UTC)" } th { "State" } th { "Message" } } }
            tbody {
                @for e in log {
                    tr {
                        td { (utc(e.at / 1000)) }
                        td { @if let Some(s) = S::from_u64(e.state) { (state_badge(s)) } @else { (e.state) } }
                        td { (e.message) }
                    }
                }
            }
        }
    }
}

pub async fn publish_now(State(ui): State<Arc<Ui>>) -> Response {
    let n: usize = ui.api.runner.pending().iter().map(|(_, d)| d.len()).sum();
    ui.api.runner.publish_now().await;
    back("/ui/deals", Ok(format!("publishing {n} deal(s) now"))).into_response()
}

#[derive(Debug, Deserialize)]
pub struct FailForm {
    reason: String,
}

pub async fn fail(State(ui): State<Arc<Ui>>, Path(id): Path<String>, Form(f): Form<FailForm>) -> Response {
    let page_of = format!("/ui/deals/{id}");
    let key = id.clone();
    let d = match ui.api.deals.read(move |d| d.find(&key)).await {
        Ok(Some(d)) => d,
        Ok(None) => return back("/ui/deals", Err(format!("no deal {id}"))).into_response(),
        Err(e) => return back(&page_of, Err(e.to_string())).into_response(),
    };
    if !can_fail(&d) {
        return back(
            &page_of,
            Err(format!(
                "a deal in {} cannot be failed here: it is finished or already on chain",
                d.status().name()
            )),
        )
        .into_response();
    }
    let reason = f.reason.trim();
    let reason = if reason.is_empty() { "no reason given" } else { reason };
    tracing::warn!(uuid = %d.uuid, reason, "deal failed by the operator in the UI");
    let outcome = ui
        .api
        .runner
        .event(d.uuid, Event::Errored(format!("failed by the provider: {reason}")))
        .await
        .map(|after| format!("the deal is now {}", after.status().name()))
        .map_err(|e| e.to_string());
    back(&format!("/ui/deals/{}", d.uuid), outcome).into_response()
}

pub async fn resume(State(ui): State<Arc<Ui>>, Path(id): Path<String>) -> Response {
    let key = id.clone();
    let d = match ui.api.deals.read(move |d| d.find(&key)).await {
        Ok(Some(d)) => d,
        Ok(None) => return back("/ui/deals", Err(format!("no deal {id}"))).into_response(),
        Err(e) => return back(&format!("/ui/deals/{id}"), Err(e.to_string())).into_response(),
    };
    let outcome = if ui.api.runner.resume_transfer_now(&d.uuid) {
        Ok("the download is being tried again now".to_string())
    } else {
        Err(format!(
            "the deal is in {}, not waiting to retry its download",
            d.status().name()
        ))
    };
    back(&format!("/ui/deals/{}", d.uuid), outcome).into_response()
}

pub fn error_page(n: &Notice, e: &str) -> Response {
    let body = html! { p.notice.err { "Reading droplet's store failed: " (e) } };
    (StatusCode::INTERNAL_SERVER_ERROR, page("Error", "/ui/", n, body)).into_response()
}
