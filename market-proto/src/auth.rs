//! sophon-auth's REST API (not JSON-RPC) as droplet uses it, and token checking that tries
//! the local secret first and sophon-auth second, as venus's `AuthMux` does.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;

use crate::api_info::{ApiInfoError, http_base};
use crate::jwt::{self, JwtPayload};
use crate::server::Authenticator;

/// Why a sophon-auth call failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Address(#[from] ApiInfoError),
    #[error("sophon-auth at {url}: {reason}")]
    Call { url: String, reason: String },
}

/// A sophon-auth client.
#[derive(Debug, Clone)]
pub struct AuthClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct UserOut {
    name: String,
}

impl AuthClient {
    /// `url` is a URL or a multiaddr; `token` authorises our own calls.
    pub fn new(url: &str, token: &str) -> Result<Self, AuthError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| AuthError::Call {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(AuthClient {
            base: http_base(url)?,
            token: token.to_string(),
            http,
        })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<T, AuthError> {
        let fail = |reason: String| AuthError::Call {
            url: url.to_string(),
            reason,
        };
        let resp = req
            .bearer_auth(&self.token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            return Err(fail(format!("HTTP {status}: {msg}")));
        }
        serde_json::from_slice(&body).map_err(|e| fail(format!("unexpected answer: {e}")))
    }

    /// `POST /verify`: who a token belongs to and what it may do.
    pub async fn verify(&self, token: &str) -> Result<JwtPayload, AuthError> {
        let url = format!("{}/verify", self.base);
        self.call(self.http.post(&url).json(&serde_json::json!({ "Token": token })), &url)
            .await
    }

    /// `GET /user/miner/exist`: whether `user` may act for `miner`.
    pub async fn miner_exists_in_user(&self, miner: &str, user: &str) -> Result<bool, AuthError> {
        let url = format!("{}/user/miner/exist", self.base);
        self.call(self.http.get(&url).query(&[("miner", miner), ("user", user)]), &url)
            .await
    }

    /// `GET /user/signer`: the users bound to a signer address (the gateway's accounts).
    pub async fn users_by_signer(&self, signer: &str) -> Result<Vec<String>, AuthError> {
        let url = format!("{}/user/signer", self.base);
        let users: Vec<UserOut> = self
            .call(self.http.get(&url).query(&[("signer", signer)]), &url)
            .await?;
        Ok(users.into_iter().map(|u| u.name).collect())
    }
}

/// The local secret first, then sophon-auth when one is configured.
#[derive(Debug, Clone)]
pub struct LocalThenRemote {
    pub secret: Vec<u8>,
    pub remote: Option<AuthClient>,
}

impl Authenticator for LocalThenRemote {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<JwtPayload, String>> {
        Box::pin(async move {
            match jwt::verify(&self.secret, token) {
                Ok(p) => Ok(p),
                Err(local) => match &self.remote {
                    Some(r) => r.verify(token).await.map_err(|e| e.to_string()),
                    None => Err(local.to_string()),
                },
            }
        })
    }
}
