//! droplet's web UI: server-rendered pages under `/ui/` on the API's listener, behind the API's
//! token. The browser hands the token over once (the login form, or `?token=` in a link) and
//! keeps it in an HttpOnly, SameSite=Strict cookie scoped to `/ui`; every request is checked
//! against the same authenticator as the JSON-RPC API. Pages read droplet's own stores and
//! call the API's handlers, so a page shows what `droplet ... list` shows; the parts of a page
//! that change (`data-live`) are refreshed in place every two seconds by a few lines of script.
//! Actions are POST forms (Post/Redirect/Get with a one-line notice) and need an admin token.

mod auth;
mod dashboard;
mod deals;
mod form;
mod funds;
mod page;
mod pieces;
mod retrievals;
mod sealing;
mod settings;

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use market_proto::server::Authenticator;

use crate::api::Api;

/// What the pages read and act on.
pub struct Ui {
    pub api: Api,
    pub auth: Arc<dyn Authenticator>,
    /// Where the Prometheus metrics are served, when `[Metrics] Enabled`.
    pub metrics_url: Option<String>,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ui")
    }
}

/// The UI's routes, to merge into the API's router.
pub fn router(ui: Arc<Ui>) -> Router {
    let pages = Router::new()
        .route("/ui/", get(dashboard::show))
        .route("/ui/deals", get(deals::list))
        .route("/ui/deals/publish-now", post(deals::publish_now))
        .route("/ui/deals/{id}", get(deals::show))
        .route("/ui/deals/{id}/fail", post(deals::fail))
        .route("/ui/deals/{id}/resume", post(deals::resume))
        .route("/ui/retrievals", get(retrievals::list))
        .route("/ui/pieces", get(pieces::list))
        .route("/ui/pieces/{cid}", get(pieces::show))
        .route("/ui/pieces/{cid}/reindex", post(pieces::reindex))
        .route("/ui/funds", get(funds::show))
        .route("/ui/funds/add", post(funds::add))
        .route("/ui/funds/withdraw", post(funds::withdraw))
        .route("/ui/sealing", get(sealing::show))
        .route("/ui/settings", get(settings::show))
        .route("/ui/settings/ask", post(settings::set_ask))
        .route("/ui/settings/retrieval-ask", post(settings::set_retrieval_ask))
        .route("/ui/settings/switches", post(settings::set_switches))
        .route("/ui/logout", post(auth::logout))
        .layer(axum::middleware::from_fn_with_state(ui.clone(), auth::require))
        .with_state(ui.clone());
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/login", get(auth::login_form).post(auth::login))
        .route("/ui/assets/style.css", get(page::style))
        .route("/ui/assets/live.js", get(page::script))
        .with_state(ui)
        .merge(pages)
}
