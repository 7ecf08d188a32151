//! `TOKEN:MULTIADDR` API-info strings and how venus turns an address into a URL
//! (`venus-shared/api/api_info.go`).
//!
//! `/ip4/127.0.0.1/tcp/1234` becomes `ws://127.0.0.1:1234/rpc/v1`; a trailing `/http`,
//! `/https`, `/ws` or `/wss` picks the scheme, `/version/vN` overrides the API version, and a
//! plain `http://host:port` URL gets `/rpc/<ver>` appended.

/// A parsed API-info string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiInfo {
    pub token: String,
    pub addr: String,
}

/// Why an address could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiInfoError {
    #[error("empty API address")]
    Empty,
    #[error("unsupported address {addr:?}: {reason}")]
    Unsupported { addr: String, reason: String },
}

impl ApiInfo {
    /// Split `TOKEN:ADDR` the way both venus and lotus agree on: no token when the string
    /// starts with `/` (a bare multiaddr) or when what follows the first colon starts with
    /// `//` (a bare URL).
    pub fn parse(s: &str) -> ApiInfo {
        let s = s.trim();
        if s.starts_with('/') {
            return ApiInfo {
                token: String::new(),
                addr: s.to_string(),
            };
        }
        match s.split_once(':') {
            Some((_, rest)) if rest.starts_with("//") => ApiInfo {
                token: String::new(),
                addr: s.to_string(),
            },
            Some((token, rest)) => ApiInfo {
                token: token.to_string(),
                addr: rest.to_string(),
            },
            None => ApiInfo {
                token: String::new(),
                addr: s.to_string(),
            },
        }
    }

    /// The `TOKEN:ADDR` form (just `ADDR` with no token).
    pub fn to_string_form(&self) -> String {
        if self.token.is_empty() {
            self.addr.clone()
        } else {
            format!("{}:{}", self.token, self.addr)
        }
    }

    /// The URL to dial for API version `version` (`"v0"`, `"v1"`).
    pub fn url(&self, version: &str) -> Result<String, ApiInfoError> {
        dial_url(&self.addr, version)
    }
}

/// Turn a multiaddr or URL into the URL of its JSON-RPC endpoint.
pub fn dial_url(addr: &str, version: &str) -> Result<String, ApiInfoError> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Err(ApiInfoError::Empty);
    }
    if !addr.starts_with('/') {
        let base = addr.trim_end_matches('/');
        if !base.contains("://") {
            return Err(unsupported(
                addr,
                "expected a multiaddr (/ip4/…/tcp/…) or a URL with a scheme",
            ));
        }
        // A URL that already names a path is used as it is.
        let after_scheme = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
        return Ok(if after_scheme.contains('/') {
            base.to_string()
        } else {
            format!("{base}/rpc/{version}")
        });
    }
    let parts: Vec<&str> = addr.split('/').skip(1).collect();
    let mut host = None;
    let mut port = None;
    let mut scheme = "ws";
    let mut version = version.to_string();
    let mut i = 0;
    while i < parts.len() {
        let proto = parts[i];
        let value = parts.get(i + 1).copied();
        match proto {
            "ip4" | "dns" | "dns4" | "dns6" => {
                host = Some(value.ok_or_else(|| unsupported(addr, "missing host"))?.to_string());
                i += 2;
            }
            "ip6" => {
                host = Some(format!("[{}]", value.ok_or_else(|| unsupported(addr, "missing host"))?));
                i += 2;
            }
            "tcp" => {
                let p = value.ok_or_else(|| unsupported(addr, "missing port"))?;
                port = Some(
                    p.parse::<u16>()
                        .map_err(|_| unsupported(addr, "port is not a number"))?,
                );
                i += 2;
            }
            "http" | "https" | "ws" | "wss" => {
                scheme = match proto {
                    "http" => "http",
                    "https" => "https",
                    "ws" => "ws",
                    _ => "wss",
                };
                i += 1;
            }
            "tls" => {
                scheme = if scheme == "http" { "https" } else { "wss" };
                i += 1;
            }
            "version" => {
                version = value.ok_or_else(|| unsupported(addr, "missing version"))?.to_string();
                i += 2;
            }
            "" => i += 1,
            other => return Err(unsupported(addr, &format!("unknown protocol {other:?}"))),
        }
    }
    let host = host.ok_or_else(|| unsupported(addr, "no /ip4, /ip6 or /dns host"))?;
    let port = port.ok_or_else(|| unsupported(addr, "no /tcp port"))?;
    Ok(format!("{scheme}://{host}:{port}/rpc/{version}"))
}

/// The plain HTTP base URL of an address (for REST services such as sophon-auth).
pub fn http_base(addr: &str) -> Result<String, ApiInfoError> {
    let url = dial_url(addr, "v0")?;
    let url = url.strip_suffix("/rpc/v0").unwrap_or(&url).to_string();
    Ok(url.replacen("ws://", "http://", 1).replacen("wss://", "https://", 1))
}

fn unsupported(addr: &str, reason: &str) -> ApiInfoError {
    ApiInfoError::Unsupported {
        addr: addr.to_string(),
        reason: reason.to_string(),
    }
}

/// The socket address of a listen multiaddr such as `/ip4/127.0.0.1/tcp/41235` (a trailing
/// `/http` or `/ws` is allowed).
pub fn socket_addr(addr: &str) -> Result<std::net::SocketAddr, ApiInfoError> {
    let url = dial_url(addr, "v0")?;
    let host_port = url
        .split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or(""))
        .unwrap_or("");
    host_port
        .parse()
        .map_err(|_| unsupported(addr, "expected /ip4/<ip>/tcp/<port> or /ip6/<ip>/tcp/<port>"))
}

/// The multiaddr of a bound socket, as written to an `api` file.
pub fn multiaddr_of(addr: std::net::SocketAddr) -> String {
    match addr {
        std::net::SocketAddr::V4(a) => format!("/ip4/{}/tcp/{}", a.ip(), a.port()),
        std::net::SocketAddr::V6(a) => format!("/ip6/{}/tcp/{}", a.ip(), a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_token_and_address() {
        let a = ApiInfo::parse("eyJh.eyJu.sig:/ip4/127.0.0.1/tcp/1234/http");
        assert_eq!(a.token, "eyJh.eyJu.sig");
        assert_eq!(a.addr, "/ip4/127.0.0.1/tcp/1234/http");
        assert_eq!(a.to_string_form(), "eyJh.eyJu.sig:/ip4/127.0.0.1/tcp/1234/http");
        assert_eq!(ApiInfo::parse("/ip4/1.2.3.4/tcp/1").token, "");
        assert_eq!(ApiInfo::parse("http://h:1").addr, "http://h:1");
        assert_eq!(ApiInfo::parse("tok:http://h:1").addr, "http://h:1");
    }

    #[test]
    fn urls_as_venus_builds_them() {
        assert_eq!(
            dial_url("/ip4/127.0.0.1/tcp/1234", "v1").as_deref(),
            Ok("ws://127.0.0.1:1234/rpc/v1")
        );
        assert_eq!(
            dial_url("/ip4/127.0.0.1/tcp/1234/http", "v0").as_deref(),
            Ok("http://127.0.0.1:1234/rpc/v0")
        );
        assert_eq!(
            dial_url("/dns/node/tcp/443/wss", "v1").as_deref(),
            Ok("wss://node:443/rpc/v1")
        );
        assert_eq!(
            dial_url("/ip4/1.2.3.4/tcp/9/http/version/v2", "v1").as_deref(),
            Ok("http://1.2.3.4:9/rpc/v2")
        );
        assert_eq!(
            dial_url("/ip6/::1/tcp/9/http", "v1").as_deref(),
            Ok("http://[::1]:9/rpc/v1")
        );
        assert_eq!(dial_url("http://h:1/", "v1").as_deref(), Ok("http://h:1/rpc/v1"));
        assert_eq!(dial_url("http://h:1/rpc/v0", "v1").as_deref(), Ok("http://h:1/rpc/v0"));
        assert_eq!(
            http_base("/ip4/127.0.0.1/tcp/8989").as_deref(),
            Ok("http://127.0.0.1:8989")
        );
        assert!(dial_url("/ip4/1.2.3.4", "v1").is_err());
        assert!(dial_url("/ip4/1.2.3.4/tcp/x", "v1").is_err());
        assert!(dial_url("/udp/1", "v1").is_err());
        assert!(dial_url("localhost:1", "v1").is_err());
        assert_eq!(dial_url("", "v1"), Err(ApiInfoError::Empty));
    }

    #[test]
    fn listen_addresses_to_sockets_and_back() {
        let a = socket_addr("/ip4/127.0.0.1/tcp/41235").expect("ip4");
        assert_eq!(a.to_string(), "127.0.0.1:41235");
        assert_eq!(multiaddr_of(a), "/ip4/127.0.0.1/tcp/41235");
        assert_eq!(socket_addr("/ip4/127.0.0.1/tcp/41231/ws").expect("ws").port(), 41231);
        assert_eq!(
            multiaddr_of(socket_addr("/ip6/::1/tcp/5").expect("ip6")),
            "/ip6/::1/tcp/5"
        );
        assert!(
            socket_addr("/dns/localhost/tcp/1").is_err(),
            "a listen address needs an IP"
        );
        assert!(socket_addr("/ip4/127.0.0.1").is_err());
    }
}
