//! Pieces: every piece the index knows or a stored deal needs, with its index state; a check of
//! each piece's data in piece storage (all at once on the list, always on a piece's page); and
//! rebuilding a piece's index from piece storage.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cid::Cid;
use maud::{Markup, html};
use piece_store::index::PieceRecord;
use serde::Deserialize;

use super::Ui;
use super::deals::{error_page, state_badge};
use super::page::{Notice, back, bytes, page};
use crate::deals::record::DealRecord;
use crate::pieces::has_stored_piece;

/// A piece as the list shows it.
struct Row {
    piece: Cid,
    record: Option<PieceRecord>,
    /// Deals of this droplet whose data is this piece and should be in piece storage.
    stored_deals: usize,
}

/// What a check of a piece found.
enum Data {
    Present { store: String, size: u64 },
    Missing,
    Unreadable(String),
}

async fn data_of(ui: &Ui, piece: &Cid) -> Data {
    match ui.api.pieces.storage().locate(&piece.to_string()).await {
        Ok(l) => Data::Present {
            store: l.store,
            size: l.size,
        },
        Err(piece_store::store::StoreError::NotFound { .. }) => Data::Missing,
        Err(e) => Data::Unreadable(e.to_string()),
    }
}

fn data_cell(d: &Data) -> Markup {
    match d {
        Data::Present { store, size } => {
            html! { span.state.good { "present" } " " span.muted { (store) ", " (bytes(*size)) } }
        }
        Data::Missing => html! { span.state.bad { "missing" } },
        Data::Unreadable(e) => html! { span.state.bad { "unreadable" } " " span.muted { (e) } },
    }
}

fn index_cell(r: &Option<PieceRecord>, needed: bool) -> Markup {
    match r {
        Some(r) if r.indexed => html! { span.state.good { "indexed" } " " span.muted { (r.block_count) " blocks" } },
        Some(_) => html! { span.state.bad { "incomplete" } },
        None if needed => html! { span.state.bad { "missing" } },
        None => html! { span.muted { "none" } },
    }
}

async fn rows(ui: &Ui) -> Result<(Vec<Row>, Vec<DealRecord>), String> {
    let deals = ui.api.deals.read(|d| d.list()).await.map_err(|e| e.to_string())?;
    let pieces_of = ui.api.pieces.clone();
    let pieces = tokio::task::spawn_blocking(move || {
        let index = pieces_of.index();
        let mut out = BTreeMap::new();
        for p in index.pieces()? {
            out.insert(p, index.piece(&p)?);
        }
        Ok::<_, piece_store::index::IndexError>(out)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let mut by_piece: BTreeMap<Cid, Row> = pieces
        .into_iter()
        .map(|(piece, record)| {
            (
                piece,
                Row {
                    piece,
                    record,
                    stored_deals: 0,
                },
            )
        })
        .collect();
    for d in deals.iter().filter(|d| has_stored_piece(d.status())) {
        let piece = d.proposal().piece_cid;
        by_piece
            .entry(piece)
            .or_insert(Row {
                piece,
                record: None,
                stored_deals: 0,
            })
            .stored_deals += 1;
    }
    Ok((by_piece.into_values().collect(), deals))
}

#[derive(Debug, Default, Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    check: Option<String>,
}

pub async fn list(State(ui): State<Arc<Ui>>, Query(c): Query<CheckQuery>, Query(n): Query<Notice>) -> Response {
    let (rows, _) = match rows(&ui).await {
        Ok(r) => r,
        Err(e) => return error_page(&n, &e),
    };
    let checked = if c.check.is_some() {
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(Some(data_of(&ui, &r.piece).await));
        }
        out
    } else {
        rows.iter().map(|_| None).collect()
    };
    let problems = checked
        .iter()
        .zip(&rows)
        .filter(|(d, r)| {
            matches!(d, Some(Data::Missing | Data::Unreadable(_)))
                || (r.stored_deals > 0 && !r.record.as_ref().is_some_and(|x| x.indexed))
        })
        .count();
    let body = html! {
        form.row method="get" action="/ui/pieces" {
            input type="hidden" name="check" value="1";
            button type="submit" { "Check every piece's data" }
            @if c.check.is_some() {
                span #check-result { (rows.len()) " pieces checked, " (problems) " with missing data or index" }
            }
        }
        table #pieces {
            thead { tr { th { "Piece" } th.num { "Deals" } th { "Index" } th { "Stores" } th { "Data" } } }
            tbody {
                @for (r, d) in rows.iter().zip(&checked) {
                    tr data-piece=(r.piece) {
                        td.cid { a href={"/ui/pieces/" (r.piece)} { (r.piece) } }
                        td.num { (r.record.as_ref().map(|x| x.deals.len()).unwrap_or(0).max(r.stored_deals)) }
                        td { (index_cell(&r.record, r.stored_deals > 0)) }
                        td { @if let Some(x) = &r.record { (x.locations.join(", ")) } }
                        td { @if let Some(d) = d { (data_cell(d)) } @else { span.muted { "not checked" } } }
                    }
                }
            }
        }
    };
    page("Pieces", "/ui/pieces", &n, body).into_response()
}

pub async fn show(State(ui): State<Arc<Ui>>, Path(cid): Path<String>, Query(n): Query<Notice>) -> Response {
    let Ok(piece) = cid.parse::<Cid>() else {
        let body = html! { p { code { (cid) } " is not a CID." } };
        return (StatusCode::BAD_REQUEST, page("Not a piece CID", "/ui/pieces", &n, body)).into_response();
    };
    let (rows, deals) = match rows(&ui).await {
        Ok(r) => r,
        Err(e) => return error_page(&n, &e),
    };
    let Some(row) = rows.into_iter().find(|r| r.piece == piece) else {
        let body = html! { p { "droplet knows no piece " code { (piece) } "." } };
        return (StatusCode::NOT_FOUND, page("No such piece", "/ui/pieces", &n, body)).into_response();
    };
    let data = data_of(&ui, &piece).await;
    let its_deals: Vec<&DealRecord> = deals.iter().filter(|d| d.proposal().piece_cid == piece).collect();
    let body = html! {
        dl.facts {
            dt { "Piece CID" } dd.cid { (piece) }
            dt { "Data in piece storage" } dd #piece-data { (data_cell(&data)) }
            dt { "Block index" } dd #piece-index { (index_cell(&row.record, row.stored_deals > 0)) }
            @if let Some(r) = &row.record {
                dt { "Indexed CAR size" } dd { (bytes(r.car_size)) }
                dt { "Stores" } dd { (r.locations.join(", ")) }
            }
        }
        form.row method="post" action={"/ui/pieces/" (piece) "/reindex"} {
            button type="submit" { "Rebuild the index from piece storage" }
        }
        h2 { "Deals" }
        table {
            thead { tr { th { "Proposal" } th { "Miner" } th { "State" } th.num { "Deal ID" } th.num { "Sector" } th.num { "Offset" } } }
            tbody {
                @for d in &its_deals {
                    tr {
                        td.cid { a href={"/ui/deals/" (d.uuid)} { (d.proposal_cid) } }
                        td { (d.proposal().provider) }
                        td { (state_badge(d.status())) }
                        td.num { @if let Some(i) = d.deal.deal_id { (i) } }
                        td.num { @if let Some(s) = d.deal.sector { (s) } }
                        td.num { @if let Some(o) = d.deal.offset { (o) } }
                    }
                }
            }
        }
    };
    page("Piece", "/ui/pieces", &n, body).into_response()
}

pub async fn reindex(State(ui): State<Arc<Ui>>, Path(cid): Path<String>) -> Response {
    let Ok(piece) = cid.parse::<Cid>() else {
        return back("/ui/pieces", Err(format!("{cid:?} is not a CID"))).into_response();
    };
    let deals: Vec<DealRecord> = match ui.api.deals.read(|d| d.list()).await {
        Ok(d) => d.into_iter().filter(|d| has_stored_piece(d.status())).collect(),
        Err(e) => return back(&format!("/ui/pieces/{piece}"), Err(e.to_string())).into_response(),
    };
    let outcome = ui
        .api
        .pieces
        .rebuild_index(&piece, &deals)
        .await
        .map(|n| format!("indexed {n} blocks from piece storage"))
        .map_err(|e| format!("rebuilding the index: {e}"));
    back(&format!("/ui/pieces/{piece}"), outcome).into_response()
}
