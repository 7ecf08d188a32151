//! Serving a daemon's API: bind the `[API] ListenAddress`, serve the router, and write the
//! `api` and `token` files the CLI reads once the port is known.

use std::net::SocketAddr;

use market_proto::api_info::{multiaddr_of, socket_addr};

use crate::repo::{Repo, RepoError};

/// Why the API could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("[API] ListenAddress {addr:?}: {reason}")]
    Address { addr: String, reason: String },
    #[error("listening on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A running API server.
#[derive(Debug)]
pub struct ApiServer {
    pub bound: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Serve `router` on `listen` (a multiaddr) and write `<repo>/api` and `<repo>/token`.
pub async fn serve(repo: &Repo, listen: &str, secret: &[u8], router: axum::Router) -> Result<ApiServer, ServeError> {
    let addr = socket_addr(listen).map_err(|e| ServeError::Address {
        addr: listen.to_string(),
        reason: e.to_string(),
    })?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "API server stopped");
        }
    });
    repo.write_api_files(&multiaddr_of(bound), secret)?;
    Ok(ApiServer { bound, task })
}

/// Log to stderr, filtered by `RUST_LOG` (info by default, libp2p's chatter at warn).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,libp2p=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}
