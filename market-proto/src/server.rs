//! Serving JSON-RPC the venus way: one HTTP port, endpoints such as `/rpc/v0` and `/rpc/v1`
//! answering both HTTP POST and WebSocket, `Authorization: Bearer <JWT>` (or `?token=`) on
//! every request, and a per-method permission check.
//!
//! A request without a token, or with one that does not verify, gets HTTP 401 (as venus's
//! `AuthMux` answers); a call whose token grants too little gets a JSON-RPC error with lotus's
//! text, `missing permission to invoke 'WalletSign' (need 'sign')`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, BatchEntryErr, MethodResponse, Notification, RpcServiceBuilder, RpcServiceT,
};
use jsonrpsee::server::{Methods, Server, ServerConfig, StopHandle};
use jsonrpsee::types::error::INVALID_PARAMS_CODE;
use jsonrpsee::types::{ErrorObjectOwned, Request as RpcRequest};
use tower::Service;

use crate::api::{HANDLER_ERROR, MethodTable};
use crate::jwt::{self, JwtPayload, Perm};

/// Who is calling, as established from the token; put into each call's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub perm: Perm,
}

/// Checks tokens.
pub trait Authenticator: Send + Sync + 'static {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<JwtPayload, String>>;
}

/// Tokens signed with a local HS256 secret.
#[derive(Clone)]
pub struct LocalSecret(pub Vec<u8>);

impl std::fmt::Debug for LocalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSecret(..)")
    }
}

impl Authenticator for LocalSecret {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<JwtPayload, String>> {
        Box::pin(async move { jwt::verify(&self.0, token).map_err(|e| e.to_string()) })
    }
}

/// How a call that failed failed (go-jsonrpc's three error counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// No such method.
    InvalidMethod,
    /// The request could not be taken: parameters, parse, permission.
    Request,
    /// The method ran and returned an error.
    Response,
}

impl CallFailure {
    fn of(code: i32) -> CallFailure {
        match code {
            jsonrpsee::types::error::METHOD_NOT_FOUND_CODE => CallFailure::InvalidMethod,
            INVALID_PARAMS_CODE
            | jsonrpsee::types::error::PARSE_ERROR_CODE
            | jsonrpsee::types::error::INVALID_REQUEST_CODE => CallFailure::Request,
            _ => CallFailure::Response,
        }
    }
}

/// Told of every call that fails: the method's name (as called) and how.
pub type CallObserver = Arc<dyn Fn(&str, CallFailure) + Send + Sync>;

/// Asked before each permitted call (by the method's full name): an error to answer instead
/// of running it. A test node uses it to make one method fail.
pub type CallFilter = Arc<dyn Fn(&str) -> Option<ErrorObjectOwned> + Send + Sync>;

/// One JSON-RPC endpoint: its methods, their permissions and who checks tokens.
pub struct Endpoint {
    methods: Methods,
    perms: Arc<MethodTable>,
    auth: Arc<dyn Authenticator>,
    stop: StopHandle,
    config: ServerConfig,
    observer: Option<CallObserver>,
    filter: Option<CallFilter>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("methods", &self.methods.method_names().count())
            .finish()
    }
}

impl Endpoint {
    pub fn new(
        methods: impl Into<Methods>,
        perms: MethodTable,
        auth: Arc<dyn Authenticator>,
        stop: StopHandle,
    ) -> Self {
        let config = ServerConfig::builder()
            .max_request_body_size(32 * 1024 * 1024)
            .max_response_body_size(256 * 1024 * 1024)
            .build();
        Endpoint {
            methods: methods.into(),
            perms: Arc::new(perms),
            auth,
            stop,
            config,
            observer: None,
            filter: None,
        }
    }

    /// Ask `filter` before each permitted call whether to answer an error instead.
    pub fn with_filter(mut self, filter: CallFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Report failed calls to `observer` (for metrics).
    pub fn with_observer(mut self, observer: CallObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// An axum route serving this endpoint (HTTP and WebSocket on the same path).
    pub fn route(self) -> axum::routing::MethodRouter {
        let this = Arc::new(self);
        axum::routing::any(serve).with_state(this)
    }
}

/// The token of a request: `Authorization: Bearer …` or the `token` query parameter.
pub fn request_token<B>(req: &axum::http::Request<B>) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token=").map(|t| t.to_string()))
    })
}

fn unauthorized(msg: &str) -> Response {
    (StatusCode::UNAUTHORIZED, format!("{msg}\n")).into_response()
}

async fn serve(State(ep): State<Arc<Endpoint>>, mut req: Request) -> Response {
    let Some(token) = request_token(&req) else {
        return unauthorized("missing token: send 'Authorization: Bearer <token>'");
    };
    let payload = match ep.auth.verify(&token).await {
        Ok(p) => p,
        Err(e) => return unauthorized(&format!("token refused: {e}")),
    };
    let Some(perm) = payload.perm() else {
        return unauthorized(&format!("token grants unknown permission {:?}", payload.perm));
    };
    req.extensions_mut().insert(Caller {
        name: payload.name,
        perm,
    });
    let perms = ep.perms.clone();
    let observer = ep.observer.clone();
    let filter = ep.filter.clone();
    let rpc = RpcServiceBuilder::new().layer_fn(move |service| PermCheck {
        service,
        perms: perms.clone(),
        observer: observer.clone(),
        filter: filter.clone(),
    });
    let mut svc = Server::builder()
        .set_config(ep.config.clone())
        .set_rpc_middleware(rpc)
        .to_service_builder()
        .build(ep.methods.clone(), ep.stop.clone());
    match svc.call(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The per-call permission check (and the report of failed calls).
#[derive(Clone)]
struct PermCheck<S> {
    service: S,
    perms: Arc<MethodTable>,
    observer: Option<CallObserver>,
    filter: Option<CallFilter>,
}

impl<S> PermCheck<S> {
    /// The error to answer instead of running `method`: a permission or parameter-count
    /// denial, else the filter's.
    fn refusal(&self, method: &str, params: Option<&str>, ext: &axum::http::Extensions) -> Option<ErrorObjectOwned> {
        denial(&self.perms, method, params, ext).or_else(|| self.filter.as_ref().and_then(|f| f(method)))
    }
}

fn denial(
    table: &MethodTable,
    method: &str,
    params: Option<&str>,
    ext: &axum::http::Extensions,
) -> Option<ErrorObjectOwned> {
    let need = table.required(method);
    let have = ext.get::<Caller>().map(|c| c.perm);
    let short = method.rsplit('.').next().unwrap_or(method);
    if have.is_none_or(|h| h < need) {
        return Some(ErrorObjectOwned::owned(
            HANDLER_ERROR,
            format!("missing permission to invoke '{short}' (need '{need}')"),
            None::<()>,
        ));
    }
    let max = table.max_params(method)?;
    let given = params.map_or(0, param_count);
    (given > max).then(|| {
        ErrorObjectOwned::owned(
            INVALID_PARAMS_CODE,
            format!("wrong param count (method '{method}'): {given} != {max}"),
            None::<()>,
        )
    })
}

/// Positional parameters in a params value (an object counts as one; the method's own
/// decoding then refuses it).
fn param_count(raw: &str) -> usize {
    match serde_json::from_str::<Vec<&serde_json::value::RawValue>>(raw) {
        Ok(v) => v.len(),
        Err(_) => 1,
    }
}

impl<S> RpcServiceT for PermCheck<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            NotificationResponse = MethodResponse,
            BatchResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, req: RpcRequest<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let denied = self.refusal(req.method_name(), req.params().as_str(), req.extensions());
        let service = self.service.clone();
        let observer = self.observer.clone();
        let method = observer.as_ref().map(|_| req.method_name().to_string());
        async move {
            let resp = match denied {
                Some(err) => MethodResponse::error(req.id, err),
                None => service.call(req).await,
            };
            if let (Some(o), Some(m), Some(code)) = (&observer, &method, resp.as_error_code()) {
                o(m, CallFailure::of(code));
            }
            resp
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        for entry in batch.iter_mut() {
            let replace = match entry {
                Ok(BatchEntry::Call(req)) => self
                    .refusal(req.method_name(), req.params().as_str(), req.extensions())
                    .map(|e| (req.id.clone(), e)),
                _ => None,
            };
            if let Some((id, err)) = replace {
                *entry = Err(BatchEntryErr::new(id, err));
            }
        }
        // Notifications get no answer; drop those the caller may not send.
        let perms = self.perms.clone();
        let filtered: Vec<_> = batch
            .into_iter()
            .filter(|e| match e {
                Ok(BatchEntry::Notification(n)) => denial(
                    &perms,
                    n.method_name(),
                    n.params().as_ref().map(|p| p.get()),
                    n.extensions(),
                )
                .is_none(),
                _ => true,
            })
            .collect();
        self.service.batch(Batch::from(filtered))
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let denied = denial(
            &self.perms,
            n.method_name(),
            n.params().as_ref().map(|p| p.get()),
            n.extensions(),
        )
        .is_some();
        let service = self.service.clone();
        async move {
            if denied {
                MethodResponse::notification()
            } else {
                service.notification(n).await
            }
        }
    }
}
