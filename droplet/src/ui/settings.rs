//! Asks and per-miner settings: each miner's signed storage ask and retrieval ask (set here as
//! `droplet storage ask set` / `retrieval ask set` do), and the deal switches of its provider
//! settings (saved to config.toml, as the `storage-deals`/`retrieval-deals` commands do).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use market_types::retrieval::RetrievalAsk;
use market_types::units::{PaddedPieceSize, format_fil_unitless, format_go_duration, parse_size};
use market_types::{Address, BigInt, TokenAmount};
use maud::{Markup, html};
use serde::Deserialize;

use super::Ui;
use super::form::{amount, served};
use super::page::{Notice, back, bytes, fil, page};
use crate::asks::{ASK_DURATION_EPOCHS, AskTerms};

const GIB: u64 = 1 << 30;

/// The switches of a miner's provider settings: (form field, label, value).
fn switches(p: &crate::config::ProviderConfig) -> [(&'static str, &'static str, bool); 6] {
    [
        (
            "online_storage",
            "Online storage deals",
            p.consider_online_storage_deals,
        ),
        (
            "offline_storage",
            "Offline storage deals",
            p.consider_offline_storage_deals,
        ),
        (
            "verified_storage",
            "Verified (FIL+) storage deals",
            p.consider_verified_storage_deals,
        ),
        (
            "unverified_storage",
            "Unverified storage deals",
            p.consider_unverified_storage_deals,
        ),
        (
            "online_retrieval",
            "Online retrieval deals",
            p.consider_online_retrieval_deals,
        ),
        (
            "offline_retrieval",
            "Offline retrieval deals",
            p.consider_offline_retrieval_deals,
        ),
    ]
}

fn per_gib(r: &RetrievalAsk) -> TokenAmount {
    TokenAmount::from_atto(r.price_per_byte.atto() * BigInt::from(GIB))
}

fn miner_section(ui: &Ui, miner: &Address) -> Markup {
    let ask = ui.api.asks.get(miner).map(|o| o.and_then(|s| s.ask));
    let rask = ui.api.asks.get_retrieval(miner);
    let current = rask.as_ref().ok().and_then(|r| r.as_ref());
    let policy = ui.api.config.policy(Some(miner));
    let p = &policy.settings;
    html! {
        section.miner data-miner=(miner) {
            h2 { "Miner " (miner) }
            h3 { "Storage ask" }
            @match &ask {
                Ok(Some(a)) => dl.facts.ask {
                    dt { "Price per GiB per epoch" } dd.price { (fil(&a.price)) }
                    dt { "Verified price" } dd { (fil(&a.verified_price)) }
                    dt { "Piece sizes" } dd { (bytes(a.min_piece_size.0)) " to " (bytes(a.max_piece_size.0)) }
                    dt { "Sequence, expiry" } dd { (a.seq_no) ", epoch " (a.expiry) }
                },
                Ok(None) => p.muted { "No ask set: clients cannot make deals with this miner." },
                Err(e) => p.notice.err { (e) },
            }
            form.row.set-ask method="post" action="/ui/settings/ask" {
                input type="hidden" name="miner" value=(miner);
                label { "Price (FIL/GiB/epoch)" input type="text" name="price" required
                    value=(ask.as_ref().ok().and_then(|a| a.as_ref()).map(|a| format_fil_unitless(&a.price)).unwrap_or_default()); }
                label { "Verified price" input type="text" name="verified_price" required
                    value=(ask.as_ref().ok().and_then(|a| a.as_ref()).map(|a| format_fil_unitless(&a.verified_price)).unwrap_or_default()); }
                label { "Min piece size" input type="text" name="min_piece_size"
                    value=(ask.as_ref().ok().and_then(|a| a.as_ref()).map(|a| a.min_piece_size.0.to_string()).unwrap_or_else(|| "256B".into())); }
                label { "Max piece size (0: sector size)" input type="text" name="max_piece_size"
                    value=(ask.as_ref().ok().and_then(|a| a.as_ref()).map(|a| a.max_piece_size.0.to_string()).unwrap_or_else(|| "0".into())); }
                button type="submit" { "Set storage ask" }
            }
            h3 { "Retrieval ask" }
            @match &rask {
                Ok(Some(r)) => dl.facts {
                    dt { "Price per GiB" } dd { (fil(&per_gib(r))) }
                    dt { "Unseal price" } dd { (fil(&r.unseal_price)) }
                    dt { "Payment interval" } dd { (bytes(r.payment_interval)) " (+" (bytes(r.payment_interval_increase)) " each)" }
                },
                Ok(None) => p.muted { "No retrieval ask set: retrievals are free." },
                Err(e) => p.notice.err { (e) },
            }
            form.row method="post" action="/ui/settings/retrieval-ask" {
                input type="hidden" name="miner" value=(miner);
                label { "Price (FIL/GiB)" input type="text" name="price" required placeholder="0"
                    value=[current.map(|r| format_fil_unitless(&per_gib(r)))]; }
                label { "Unseal price" input type="text" name="unseal_price" required placeholder="0"
                    value=[current.map(|r| format_fil_unitless(&r.unseal_price))]; }
                label { "Payment interval" input type="text" name="payment_interval"
                    value=(current.map(|r| r.payment_interval.to_string()).unwrap_or_else(|| "1MiB".into())); }
                label { "Interval increase" input type="text" name="payment_interval_increase"
                    value=(current.map(|r| r.payment_interval_increase.to_string()).unwrap_or_else(|| "1MiB".into())); }
                button type="submit" { "Set retrieval ask" }
            }
            h3 { "Deals this miner considers" }
            form.row method="post" action="/ui/settings/switches" {
                input type="hidden" name="miner" value=(miner);
                @for (field, label, on) in switches(p) {
                    label.switch { (label) input type="checkbox" name=(field) value="on" checked[on]; }
                }
                button type="submit" { "Save" }
            }
            dl.facts {
                dt { "Publish period" } dd { (format_go_duration(p.publish_msg_period.0)) }
                dt { "Deals per publish message" } dd { (p.max_deals_per_publish_msg) }
                dt { "Max start delay" } dd { (format_go_duration(p.max_deal_start_delay.0)) }
                dt { "Expected seal duration" } dd { (format_go_duration(p.expected_seal_duration.0)) }
                dt { "Storage filter" } dd { @if p.filter.is_empty() { span.muted { "none" } } @else { code { (p.filter) } } }
            }
        }
    }
}

pub async fn show(State(ui): State<Arc<Ui>>, Query(n): Query<Notice>) -> Response {
    let miners = ui.api.miners.list();
    let body = html! {
        @if miners.is_empty() { p.muted { "This droplet serves no miner yet (" code { "droplet actor add" } ")." } }
        @for (m, _) in &miners { (miner_section(&ui, m)) }
    };
    page("Asks and settings", "/ui/settings", &n, body).into_response()
}

fn size(s: &str, what: &str) -> Result<u64, String> {
    parse_size(s.trim()).map_err(|e| format!("{what}: {e}"))
}

#[derive(Debug, Deserialize)]
pub struct AskForm {
    miner: String,
    price: String,
    verified_price: String,
    #[serde(default)]
    min_piece_size: String,
    #[serde(default)]
    max_piece_size: String,
}

pub async fn set_ask(State(ui): State<Arc<Ui>>, Form(f): Form<AskForm>) -> Response {
    let outcome = async {
        let miner = served(&ui, &f.miner)?;
        let or = |s: &str, d: &'static str| {
            if s.trim().is_empty() {
                d.to_string()
            } else {
                s.to_string()
            }
        };
        let terms = AskTerms {
            price: amount(&f.price, "price")?,
            verified_price: amount(&f.verified_price, "verified price")?,
            duration: ASK_DURATION_EPOCHS,
            min_piece_size: PaddedPieceSize(size(&or(&f.min_piece_size, "256B"), "min piece size")?),
            max_piece_size: PaddedPieceSize(size(&or(&f.max_piece_size, "0"), "max piece size")?),
        };
        let signed = ui.api.asks.set(&miner, terms).await.map_err(|e| e.to_string())?;
        Ok(match signed.ask {
            Some(a) => format!(
                "storage ask of {miner} set: {} per GiB per epoch (sequence {})",
                fil(&a.price),
                a.seq_no
            ),
            None => format!("storage ask of {miner} set"),
        })
    }
    .await;
    back("/ui/settings", outcome).into_response()
}

#[derive(Debug, Deserialize)]
pub struct RetrievalAskForm {
    miner: String,
    price: String,
    unseal_price: String,
    payment_interval: String,
    payment_interval_increase: String,
}

pub async fn set_retrieval_ask(State(ui): State<Arc<Ui>>, Form(f): Form<RetrievalAskForm>) -> Response {
    let outcome = (|| {
        let miner = served(&ui, &f.miner)?;
        let per_gib = amount(&f.price, "price")?;
        let ask = RetrievalAsk {
            price_per_byte: TokenAmount::from_atto(per_gib.atto() / BigInt::from(GIB)),
            unseal_price: amount(&f.unseal_price, "unseal price")?,
            payment_interval: size(&f.payment_interval, "payment interval")?,
            payment_interval_increase: size(&f.payment_interval_increase, "payment interval increase")?,
        };
        ui.api.asks.set_retrieval(&miner, &ask).map_err(|e| e.to_string())?;
        Ok(format!("retrieval ask of {miner} set"))
    })();
    back("/ui/settings", outcome).into_response()
}

/// The switches form: a box left unticked is absent from the form.
#[derive(Debug, Deserialize)]
pub struct SwitchesForm {
    miner: String,
    online_storage: Option<String>,
    offline_storage: Option<String>,
    verified_storage: Option<String>,
    unverified_storage: Option<String>,
    online_retrieval: Option<String>,
    offline_retrieval: Option<String>,
}

pub async fn set_switches(State(ui): State<Arc<Ui>>, Form(f): Form<SwitchesForm>) -> Response {
    let outcome = (|| {
        let miner = served(&ui, &f.miner)?;
        // One change to config.toml, as one write.
        ui.api
            .config
            .update(|c| {
                c.update_provider(Some(&miner), |p| {
                    p.consider_online_storage_deals = f.online_storage.is_some();
                    p.consider_offline_storage_deals = f.offline_storage.is_some();
                    p.consider_verified_storage_deals = f.verified_storage.is_some();
                    p.consider_unverified_storage_deals = f.unverified_storage.is_some();
                    p.consider_online_retrieval_deals = f.online_retrieval.is_some();
                    p.consider_offline_retrieval_deals = f.offline_retrieval.is_some();
                })
            })
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(format!("settings of {miner} saved"))
    })();
    back("/ui/settings", outcome).into_response()
}
