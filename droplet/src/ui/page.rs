//! The frame every page shares (navigation, notice, style, the live-refresh script) and the
//! small formatting helpers the pages use.

use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect};
use market_types::TokenAmount;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

/// The screens, in the navigation's order: (path, label).
const TABS: [(&str, &str); 7] = [
    ("/ui/", "Dashboard"),
    ("/ui/deals", "Storage deals"),
    ("/ui/retrievals", "Retrievals"),
    ("/ui/pieces", "Pieces"),
    ("/ui/funds", "Funds"),
    ("/ui/sealing", "Sealing"),
    ("/ui/settings", "Asks & settings"),
];

/// The one-line outcome of the last action, carried in the redirect's query.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    pub ok: Option<String>,
    #[serde(default)]
    pub err: Option<String>,
}

/// A page of the UI: navigation with `tab` current, the notice, then `body`.
pub fn page(title: &str, tab: &str, notice: &Notice, body: Markup) -> Html<String> {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · droplet" }
                link rel="stylesheet" href="/ui/assets/style.css";
                script src="/ui/assets/live.js" defer {}
            }
            body {
                nav {
                    span.brand { "droplet" }
                    @for (path, label) in TABS {
                        a href=(path) aria-current=[(path == tab).then_some("page")] { (label) }
                    }
                    form.logout method="post" action="/ui/logout" { button type="submit" { "Log out" } }
                }
                main {
                    h1 { (title) }
                    @if let Some(m) = &notice.ok { p.notice.ok role="status" { (m) } }
                    @if let Some(m) = &notice.err { p.notice.err role="alert" { (m) } }
                    (body)
                }
            }
        }
    };
    Html(doc.into_string())
}

/// A page without navigation (the login prompt).
pub fn bare_page(title: &str, body: Markup) -> Html<String> {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · droplet" }
                link rel="stylesheet" href="/ui/assets/style.css";
            }
            body { main { (body) } }
        }
    };
    Html(doc.into_string())
}

/// Back to `path` with the outcome as its notice.
pub fn back(path: &str, outcome: Result<String, String>) -> Redirect {
    let (key, text) = match outcome {
        Ok(t) => ("ok", t),
        Err(t) => ("err", t),
    };
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair(key, &text)
        .finish();
    Redirect::to(&format!("{path}?{q}"))
}

pub fn fil(a: &TokenAmount) -> String {
    market_types::units::format_fil(a)
}

/// A byte count as lotus prints sizes (`types.SizeStr`: "2 KiB", "1.5 GiB").
pub use market_types::units::format_size as bytes;

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn utc(secs: u64) -> String {
    market_types::units::rfc3339(secs)
        .replacen('T', " ", 1)
        .trim_end_matches('Z')
        .to_string()
}

/// A state name without its Go prefix ("StorageDealActive" → "Active").
pub fn short_state(name: &str) -> &str {
    name.strip_prefix("StorageDeal")
        .or_else(|| name.strip_prefix("DealStatus"))
        .unwrap_or(name)
}

pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE,
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
}

/// Every element with `data-live` and an `id` is replaced by the same element of a fresh copy
/// of the page every two seconds, while the tab is visible; nothing else is touched, so a form
/// being filled in keeps its input.
const SCRIPT: &str = r#""use strict";
async function refresh() {
  const live = document.querySelectorAll("[data-live][id]");
  if (!live.length || document.hidden) return;
  try {
    const r = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
    for (const el of live) {
      const n = fresh.getElementById(el.id);
      if (n && n.innerHTML !== el.innerHTML) el.innerHTML = n.innerHTML;
    }
    document.documentElement.dataset.refreshed = String(Date.now());
  } catch (_) { /* droplet restarting: try again next time */ }
}
setInterval(refresh, 2000);
"#;

const STYLE: &str = r#":root { --fg: #1d232b; --muted: #5f6b7a; --line: #dde3ea; --bg: #f6f8fa; --accent: #0b63c5; --ok: #17733a; --err: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
nav { display: flex; gap: 4px; align-items: center; padding: 0 16px; background: #14202e; }
nav a { color: #c9d6e3; text-decoration: none; padding: 12px 10px; }
nav a[aria-current="page"] { color: #fff; box-shadow: inset 0 -3px 0 #4aa3ff; }
nav .brand { color: #fff; font-weight: 700; margin-right: 16px; }
nav .logout { margin-left: auto; }
main { padding: 16px 24px 48px; max-width: 1400px; }
h1 { font-size: 22px; margin: 8px 0 16px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef2f6; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .cid { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; word-break: break-all; }
a { color: var(--accent); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
.card .big { font-size: 24px; font-weight: 600; }
.card .label { color: var(--muted); }
.notice { padding: 8px 12px; border-radius: 4px; }
.notice.ok { background: #e3f4e8; color: var(--ok); }
.notice.err { background: #fbe6e4; color: var(--err); }
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #e8edf3; white-space: nowrap; }
.state.good { background: #e3f4e8; color: var(--ok); }
.state.bad { background: #fbe6e4; color: var(--err); }
.muted { color: var(--muted); }
form.inline { display: inline; }
form.filters, form.row { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin: 8px 0 12px; }
label { display: inline-flex; flex-direction: column; gap: 2px; color: var(--muted); font-size: 12px; }
input, select { font: inherit; padding: 5px 8px; border: 1px solid #b9c3ce; border-radius: 4px; background: #fff; color: var(--fg); }
button { font: inherit; padding: 5px 12px; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
button.danger { background: #fff; color: var(--err); border-color: var(--err); }
nav button { background: transparent; border-color: #41556b; color: #c9d6e3; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background: #fff; border: 1px solid var(--line); padding: 12px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
progress { width: 240px; }
form.login { max-width: 460px; margin: 10vh auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 24px; display: flex; flex-direction: column; gap: 12px; }
form.login input { width: 100%; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_sizes_and_state_names_read_as_an_operator_expects() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_796_083_199), "2026-11-30 23:59:59");
        assert_eq!(bytes(2048), "2 KiB");
        assert_eq!(bytes(1536 * 1024 * 1024), "1.5 GiB");
        assert_eq!(bytes(100), "100 B");
        assert_eq!(short_state("StorageDealActive"), "Active");
        assert_eq!(short_state("DealStatusCompleted"), "Completed");
    }

    #[test]
    fn text_from_outside_is_escaped_in_pages() {
        let n = Notice {
            ok: None,
            err: Some("<script>alert(1)</script>".into()),
        };
        let Html(s) = page("<b>", "/ui/", &n, html! { (String::from("a & <i>")) });
        assert!(!s.contains("<script>alert"), "{s}");
        assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(s.contains("a &amp; &lt;i&gt;"));
        assert!(s.contains("<title>&lt;b&gt; · droplet</title>"));
    }
}
