//! The UI's session: the API token kept in a cookie, checked on every request like the API's
//! `Authorization` header. Viewing needs any valid token; an action needs an admin one, and a
//! form posted from another origin is refused.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use market_proto::jwt::Perm;
use maud::html;
use serde::Deserialize;

use super::Ui;
use super::page::{back, bare_page};

const COOKIE: &str = "droplet_ui_token";

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict")
}

/// A path to go back to after logging in: one of the UI's own, nothing else.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/ui/") && !next.starts_with("//") && !next.contains("://") && !next.contains('\\') {
        next
    } else {
        "/ui/"
    }
}

/// The login prompt (status 401), with why the last token was refused.
fn prompt(next: &str, refused: Option<&str>) -> Response {
    let body = html! {
        form.login method="post" action="/ui/login" {
            h1 { "droplet" }
            p { "Paste an API token of this droplet (" code { "droplet auth api-info --perm admin" } " prints one; a read token can look but not act)." }
            @if let Some(why) = refused {
                p.notice.err role="alert" { "Token refused: " (why) }
            }
            input type="hidden" name="next" value=(safe_next(next));
            label { "API token " input #token type="password" name="token" autocomplete="off" required; }
            button type="submit" { "Log in" }
        }
    };
    (StatusCode::UNAUTHORIZED, bare_page("Log in", body)).into_response()
}

/// Check the token a request carries: any valid token may look, only an admin one may act.
pub async fn require(State(ui): State<Arc<Ui>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    // A link carrying the token (`?token=`): take it into the cookie and drop it from the URL.
    let from_query = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(token) = from_query {
        return match ui.auth.verify(&token).await {
            Ok(_) => {
                let rest: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(
                        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                            .filter(|(k, _)| k != "token"),
                    )
                    .finish();
                let to = if rest.is_empty() {
                    path
                } else {
                    format!("{path}?{rest}")
                };
                ([(header::SET_COOKIE, set_cookie(&token))], Redirect::to(&to)).into_response()
            }
            Err(e) => prompt(&path, Some(&e)),
        };
    }
    let Some(token) = cookie_token(req.headers()) else {
        return prompt(&path, None);
    };
    let claims = match ui.auth.verify(&token).await {
        Ok(c) => c,
        Err(e) => return prompt(&path, Some(&e)),
    };
    let admin = claims.perm() == Some(Perm::Admin);
    if req.method() == Method::POST {
        if !same_origin(req.headers()) {
            return (StatusCode::FORBIDDEN, "a form posted from another site is refused\n").into_response();
        }
        if !admin {
            let referer = req
                .headers()
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| {
                    r.find("/ui/")
                        .map(|i| r[i..].split('?').next().unwrap_or("/ui/").to_string())
                })
                .unwrap_or_else(|| "/ui/".into());
            return back(
                safe_next(&referer),
                Err(format!("this needs an admin token; yours grants {:?}", claims.perm)),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// A POST must come from a page of this same host (browsers send `Origin` with every POST).
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, h)| h == host),
        (Some(_), None) => false,
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

pub async fn login_form(Query(q): Query<NextQuery>) -> Response {
    prompt(&q.next, None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

pub async fn login(State(ui): State<Arc<Ui>>, Form(f): Form<LoginForm>) -> Response {
    let token = f.token.trim();
    match ui.auth.verify(token).await {
        Ok(_) => (
            [(header::SET_COOKIE, set_cookie(token))],
            Redirect::to(safe_next(&f.next)),
        )
            .into_response(),
        Err(e) => prompt(&f.next, Some(&e)),
    }
}

pub async fn logout() -> Response {
    let mut r = Redirect::to("/ui/login").into_response();
    if let Ok(v) = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0").parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_after_login_stays_in_the_ui() {
        assert_eq!(safe_next("/ui/deals?state=x"), "/ui/deals?state=x");
        for bad in [
            "//evil.example/ui/",
            "https://evil.example/ui/",
            "/rpc/v0",
            "",
            "/ui/\\evil",
            "/\\/x",
        ] {
            assert_eq!(safe_next(bad), "/ui/", "{bad}");
        }
    }

    #[test]
    fn the_cookie_is_found_among_others_and_origins_are_compared_with_the_host() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; droplet_ui_token=abc.def.ghi; b=2".parse().expect("header"),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some("abc.def.ghi"));
        assert_eq!(cookie_token(&HeaderMap::new()), None);
        h.insert(header::HOST, "127.0.0.1:1234".parse().expect("header"));
        assert!(same_origin(&h), "no Origin: a same-site form of an older browser");
        h.insert(header::ORIGIN, "http://127.0.0.1:1234".parse().expect("header"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:9999".parse().expect("header"));
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, "null".parse().expect("header"));
        assert!(!same_origin(&h));
    }
}
