//! Connection strings: droplet's `[Mysql] ConnectionString` is a Go MySQL DSN
//! (`user:password@tcp(127.0.0.1:3306)/droplet?charset=utf8mb4&parseTime=True&loc=Local`);
//! URLs (`mysql://`, `mariadb://`, `postgres://`, `postgresql://`) work too. Each becomes the
//! URL sqlx connects with, and a form without the password for logs.

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL or MariaDB.
    MySql,
    Postgres,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::MySql => "MySQL",
            Dialect::Postgres => "PostgreSQL",
        }
    }
}

/// A parsed connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    pub dialect: Dialect,
    /// What sqlx connects with.
    pub url: String,
    /// The same without the password.
    pub shown: String,
}

/// Why a connection string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    #[error("the connection string is empty")]
    Empty,
    #[error(
        "{0:?} is neither a URL (mysql://, postgres://) nor a Go MySQL DSN \
         (user:password@tcp(host:port)/database)"
    )]
    Shape(String),
    #[error("the connection string names no database (…/database)")]
    NoDatabase,
    #[error("network {0:?}: use tcp(host:port) or unix(/path/to/socket)")]
    Network(String),
    #[error(
        "parameter {name}={value}: {reason} (the parameters understood are charset, collation, parseTime, loc, \
         allowNativePasswords and tls=false)"
    )]
    Param {
        name: String,
        value: String,
        reason: &'static str,
    },
    #[error("{0}")]
    Url(String),
}

/// Parse a connection string.
pub fn parse(s: &str) -> Result<Dsn, DsnError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(DsnError::Empty);
    }
    let Some((scheme, _)) = s.split_once("://") else {
        return go_mysql(s);
    };
    let (dialect, scheme) = match scheme.to_ascii_lowercase().as_str() {
        "mysql" | "mariadb" => (Dialect::MySql, "mysql"),
        "postgres" | "postgresql" => (Dialect::Postgres, "postgres"),
        _ => return Err(DsnError::Shape(s.to_string())),
    };
    let mut url = url::Url::parse(s).map_err(|e| DsnError::Url(format!("{s:?}: {e}")))?;
    url.set_scheme(scheme)
        .map_err(|()| DsnError::Url(format!("{s:?}: the scheme cannot be {scheme}")))?;
    if url.path().trim_start_matches('/').is_empty() {
        return Err(DsnError::NoDatabase);
    }
    Ok(finish(dialect, url))
}

fn finish(dialect: Dialect, url: url::Url) -> Dsn {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    Dsn {
        dialect,
        url: url.to_string(),
        shown: shown.to_string(),
    }
}

/// `[user[:password]@][net[(addr)]]/dbname[?param=value&…]`, as go-sql-driver/mysql reads it:
/// the database follows the last `/`, the user the last `@` before it.
fn go_mysql(s: &str) -> Result<Dsn, DsnError> {
    let (main, params) = s.split_once('?').unwrap_or((s, ""));
    let Some(slash) = main.rfind('/') else {
        return Err(DsnError::Shape(s.to_string()));
    };
    let (before, db) = (&main[..slash], &main[slash + 1..]);
    if db.is_empty() {
        return Err(DsnError::NoDatabase);
    }
    let (user_part, net_part) = match before.rfind('@') {
        Some(at) => (&before[..at], &before[at + 1..]),
        None => ("", before),
    };
    let (user, password) = match user_part.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (user_part, None),
    };
    let (net, addr) = match net_part.split_once('(') {
        Some((net, rest)) => {
            let Some(addr) = rest.strip_suffix(')') else {
                return Err(DsnError::Shape(s.to_string()));
            };
            (net, addr)
        }
        None => (net_part, ""),
    };
    let mut url = url::Url::parse("mysql://localhost/").map_err(|e| DsnError::Url(e.to_string()))?;
    let mut socket = None;
    match net {
        "" | "tcp" | "tcp6" => {
            let addr = if addr.is_empty() { "127.0.0.1:3306" } else { addr };
            // Go writes an IPv6 host in brackets, so the port follows the last `:`.
            let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "3306"));
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port: u16 = port
                .parse()
                .map_err(|_| DsnError::Shape(format!("{s}: port {port:?} is not a number")))?;
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_string()
            };
            url.set_host(Some(&host))
                .map_err(|e| DsnError::Url(format!("{s}: host {host:?}: {e}")))?;
            let _ = url.set_port(Some(port));
        }
        "unix" => {
            if addr.is_empty() {
                return Err(DsnError::Network("unix()".into()));
            }
            socket = Some(addr);
        }
        other => return Err(DsnError::Network(other.to_string())),
    }
    if !user.is_empty() {
        let _ = url.set_username(user);
    }
    if let Some(p) = password {
        let _ = url.set_password(Some(p));
    }
    url.set_path(db);
    {
        let mut q = url.query_pairs_mut();
        if let Some(sock) = socket {
            q.append_pair("socket", sock);
        }
        for pair in params.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            check_param(name, value)?;
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    Ok(finish(Dialect::MySql, url))
}

/// The Go driver's parameters we take: those about how Go decodes values (our records are
/// bytes, so they change nothing here), the character set (sqlx always talks utf8mb4) and no
/// TLS. Anything else would be silently dropped, so it is refused.
fn check_param(name: &str, value: &str) -> Result<(), DsnError> {
    let refuse = |reason| {
        Err(DsnError::Param {
            name: name.to_string(),
            value: value.to_string(),
            reason,
        })
    };
    match name {
        "parseTime" | "loc" | "collation" | "allowNativePasswords" => Ok(()),
        "charset" => match value
            .split(',')
            .any(|c| c.eq_ignore_ascii_case("utf8mb4") || c.eq_ignore_ascii_case("utf8"))
        {
            true => Ok(()),
            false => refuse("this droplet talks utf8mb4 to the database"),
        },
        "tls" => match value {
            "false" | "" => Ok(()),
            _ => refuse("TLS to the database is not built in; reach it over a trusted network or a tunnel"),
        },
        _ => refuse("not supported by this droplet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn droplets_go_dsn_becomes_a_mysql_url() {
        let d =
            parse("root:s3cr@t@tcp(127.0.0.1:3307)/droplet?charset=utf8mb4&parseTime=True&loc=Local").expect("parses");
        assert_eq!(d.dialect, Dialect::MySql);
        assert_eq!(d.url, "mysql://root:s3cr%40t@127.0.0.1:3307/droplet");
        assert_eq!(d.shown, "mysql://root:***@127.0.0.1:3307/droplet");
        let d = parse("u@/db").expect("parses");
        assert_eq!(d.url, "mysql://u@127.0.0.1:3306/db");
        let d = parse("u:p@unix(/run/mysqld/mysqld.sock)/db").expect("parses");
        assert_eq!(d.url, "mysql://u:p@localhost/db?socket=%2Frun%2Fmysqld%2Fmysqld.sock");
        let d = parse("u:p@tcp([::1]:3306)/db").expect("parses");
        assert_eq!(d.url, "mysql://u:p@[::1]:3306/db");
    }

    #[test]
    fn urls_are_taken_as_they_are() {
        let d = parse("postgresql://market:pw@127.0.0.1:5432/droplet").expect("parses");
        assert_eq!(d.dialect, Dialect::Postgres);
        assert_eq!(d.url, "postgres://market:pw@127.0.0.1:5432/droplet");
        assert_eq!(d.shown, "postgres://market:***@127.0.0.1:5432/droplet");
        let d = parse("mariadb://root@localhost:3306/m").expect("parses");
        assert_eq!(
            (d.dialect, d.url.as_str()),
            (Dialect::MySql, "mysql://root@localhost:3306/m")
        );
    }

    #[test]
    fn what_would_be_dropped_or_misread_is_refused() {
        assert_eq!(parse("  "), Err(DsnError::Empty));
        assert_eq!(parse("root@tcp(127.0.0.1:3306)/"), Err(DsnError::NoDatabase));
        assert_eq!(parse("postgres://h/"), Err(DsnError::NoDatabase));
        assert!(matches!(parse("root@udp(h:1)/db"), Err(DsnError::Network(_))));
        assert!(matches!(parse("sqlite://x.db"), Err(DsnError::Shape(_))));
        assert!(matches!(parse("droplet"), Err(DsnError::Shape(_))));
        assert!(matches!(parse("u@tcp(h:1)/db?tls=true"), Err(DsnError::Param { .. })));
        assert!(matches!(
            parse("u@tcp(h:1)/db?charset=latin1"),
            Err(DsnError::Param { .. })
        ));
        assert!(matches!(
            parse("u@tcp(h:1)/db?readTimeout=1s"),
            Err(DsnError::Param { .. })
        ));
        assert!(matches!(parse("u@tcp(h:x)/db"), Err(DsnError::Shape(_))));
    }
}
