//! Retrieval deals (graphsync, paid or free) with their live progress, and the payment
//! channels paying this provider.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use market_types::states::RetrievalDealStatus as R;
use maud::html;

use super::Ui;
use super::deals::error_page;
use super::page::{Notice, bytes, fil, page, short_state, utc};
use crate::retrieval::record::RecordExt;

const MAX_ROWS: usize = 1000;

pub async fn list(State(ui): State<Arc<Ui>>, Query(n): Query<Notice>) -> Response {
    let mut deals = match ui.api.retrieval_deals.list() {
        Ok(d) => d,
        Err(e) => return error_page(&n, &e.to_string()),
    };
    deals.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    let channels = ui.api.redeemer.inbound().await;
    let sent: u64 = deals.iter().map(|d| d.total_sent).sum();
    let body = html! {
        div #retrievals data-live {
            p.muted { (deals.len()) " retrieval deals, " (bytes(sent)) " sent over graphsync" }
            table {
                thead { tr {
                    th { "Created (UTC)" } th { "Client peer" } th.num { "ID" } th { "Payload" } th { "Piece" }
                    th { "State" } th.num { "Sent" } th.num { "Paid" } th { "Message" }
                } }
                tbody {
                    @for d in deals.iter().take(MAX_ROWS) {
                        @let st = d.status();
                        tr {
                            td { (utc(d.created_at)) }
                            td.cid { (d.receiver) }
                            td.num { (d.deal_proposal.id) }
                            td.cid { (d.deal_proposal.payload_cid) }
                            td.cid { a href={"/ui/pieces/" (d.piece_cid.0)} { (d.piece_cid.0) } }
                            td { span class=(match st { R::Completed => "state good", R::Errored | R::Rejected | R::Cancelled => "state bad", _ => "state" }) { (short_state(st.name())) } }
                            td.num { (bytes(d.total_sent)) }
                            td.num { (fil(&d.funds_received.0)) }
                            td { (d.message) }
                        }
                    }
                }
            }
        }
        h2 { "Payment channels paying this provider" }
        @match channels {
            Ok(chs) if chs.is_empty() => p.muted { "None yet." },
            Ok(chs) => table {
                thead { tr { th { "Channel" } th { "From" } th { "To" } th.num { "Lanes" } th.num { "Best vouchers" } th.num { "Submitted" } th.num { "Balance" } th { "Settling at" } } }
                tbody { @for c in &chs { tr {
                    td { (c.channel.0) } td { (c.from.0) } td { (c.to.0) } td.num { (c.lanes) }
                    td.num { (fil(&c.best.0)) } td.num { (fil(&c.submitted.0)) }
                    td.num { @if let Some(b) = &c.balance { (fil(&b.0)) } @else { span.muted { "collected" } } }
                    td { @if let Some(e) = c.settling_at { "epoch " (e) } }
                } } }
            },
            Err(e) => p.notice.err { "Reading the channels: " (e) },
        }
    };
    page("Retrieval deals", "/ui/retrievals", &n, body).into_response()
}
