//! A trustless gateway request: `GET|HEAD /ipfs/{cid}[/path]?…` with its `Accept` header,
//! parsed as go-trustless-utils (`http/parse.go`) parses it, which is what lassie and frisbii
//! use, so what lassie sends is read as lassie means it:
//!
//! - the response format from `?format=car|raw` (which wins, IPIP-523) or the first usable
//!   `Accept` entry by `q` (`application/vnd.ipld.car`, `application/vnd.ipld.raw`, and
//!   `*/*` or `application/*` as CAR); CAR parameters `version=1`, `order=dfs|unk`, `dups=y|n`
//!   from `Accept` or from `car-version`, `car-order`, `car-dups` (which win); unspecified
//!   `dups` is `y`;
//! - `dag-scope=all|entity|block` (default `all`) and `entity-bytes=from:to` (inclusive, `*`
//!   the end, negatives from the end). As in go-trustless-utils a byte range narrows only the
//!   `entity` scope; with no `dag-scope` at all it implies `entity`, as the spec says;
//! - the path after the CID: percent-decoded segments, empty ones dropped (go-ipld-prime's
//!   `ParsePath`); `.` and `..` are names like any other, looked up in the DAG, so a path
//!   cannot leave it. Raw responses take no path.

use graphsync::Cid;

pub const MIME_CAR: &str = "application/vnd.ipld.car";
pub const MIME_RAW: &str = "application/vnd.ipld.raw";
/// go-trustless-utils' `ResponseCacheControlHeader`.
pub const CACHE_CONTROL: &str = "public, max-age=29030400, immutable";

/// Query parameters accepted at most (more: 400).
const MAX_PARAMS: usize = 256;

/// Path segments accepted at most (more: 400): each nests the selector two levels deeper, and
/// a selector nests at most 64 (graphsync's limit, as the message decoder's).
pub const MAX_SEGMENTS: usize = 28;

/// How much of the DAG at the end of the path a CAR response holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything under the terminus.
    All,
    /// The terminus as a UnixFS entity: a whole file, or a directory and its entries' blocks.
    Entity,
    /// The terminus block only.
    Block,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Entity => "entity",
            Scope::Block => "block",
        }
    }
}

/// `entity-bytes=from:to`: `to` inclusive, `None` for `*`; negatives count from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub from: i64,
    pub to: Option<i64>,
}

impl ByteRange {
    /// `0:*`, the whole entity: no range at all.
    pub fn is_default(&self) -> bool {
        self.from == 0 && self.to.is_none()
    }

    /// The half-open `[from, to)` of a selector's matcher (go-trustless-utils: `*` is
    /// `i64::MAX`, a non-negative `to` gains one).
    pub fn selector_bounds(&self) -> (i64, i64) {
        match self.to {
            None => (self.from, i64::MAX),
            Some(t) if t >= 0 => (self.from, t.saturating_add(1)),
            Some(t) => (self.from, t),
        }
    }
}

impl std::fmt::Display for ByteRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to {
            Some(t) => write!(f, "{}:{t}", self.from),
            None => write!(f, "{}:*", self.from),
        }
    }
}

/// The response a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A CARv1 in depth-first order; `dups`: a block repeated at each place the walk meets it.
    Car { dups: bool },
    /// The root block's bytes.
    Raw,
}

impl Format {
    /// The response `Content-Type` (go-trustless-utils' form; our order is always `dfs`).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Car { dups: true } => "application/vnd.ipld.car;version=1;order=dfs;dups=y",
            Format::Car { dups: false } => "application/vnd.ipld.car;version=1;order=dfs;dups=n",
            Format::Raw => MIME_RAW,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Car { .. } => ".car",
            Format::Raw => ".bin",
        }
    }
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub root: Cid,
    /// The path's segments, decoded.
    pub path: Vec<String>,
    pub scope: Scope,
    /// Set only where it narrows the response (the entity scope, not the whole entity).
    pub bytes: Option<ByteRange>,
    pub format: Format,
    /// `Content-Disposition`'s file name: `?filename=` or `<root>.car|.bin`.
    pub filename: String,
    /// The format was chosen by `Accept`, not `?format=` (the response names the URL that
    /// would choose it in `Content-Location`).
    pub negotiated: bool,
}

/// Why a request is refused; [`status`](Self::status) is the HTTP status to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("a CID is required: /ipfs/<cid>[/path]")]
    NoCid,
    #[error("{0:?} is not a CID")]
    BadCid(String),
    #[error("the path or query is not valid UTF-8 once percent-decoded")]
    BadEncoding,
    #[error("a path of more than {MAX_SEGMENTS} names is not served")]
    TooDeep,
    #[error("more than {MAX_PARAMS} query parameters")]
    TooLong,
    #[error("format={0:?} is not supported: ask for format=car or format=raw")]
    BadFormatParam(String),
    #[error("{param}={value:?} is not supported")]
    BadCarParam { param: &'static str, value: String },
    #[error(
        "neither an Accept header nor a format parameter: ask for application/vnd.ipld.car or \
         application/vnd.ipld.raw, or add ?format=car or ?format=raw"
    )]
    NoFormat,
    #[error(
        "no response type in Accept {0:?} is served: this gateway serves application/vnd.ipld.car \
         (version=1, order=dfs or unk, dups=y or n) and application/vnd.ipld.raw"
    )]
    NotAcceptable(String),
    #[error("a raw block response takes no path: ask for the block's own CID")]
    PathWithRaw,
    #[error("dag-scope={0:?} is not one of all, entity, block")]
    BadScope(String),
    #[error("entity-bytes={0:?} is not from:to (integers, to may be *)")]
    BadBytes(String),
    #[error("entity-bytes={0:?}: the start is after the end")]
    EmptyBytes(String),
    #[error(
        "filename={0:?}: the extension must be .car for a CAR or .bin for a raw block, without quotes, \
         backslashes or control characters"
    )]
    BadFilename(String),
}

impl RequestError {
    pub fn status(&self) -> u16 {
        match self {
            RequestError::NoCid => 404,
            RequestError::NotAcceptable(_) => 406,
            _ => 400,
        }
    }
}

/// One `Accept` entry that names a type served.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Accepted {
    raw: bool,
    dups: bool,
    quality: f32,
}

/// go-trustless-utils' `parseContentType` (lenient: `*/*` and `application/*` are CAR). An
/// entry with an unsupported CAR parameter is not usable.
fn parse_accept_entry(entry: &str) -> Option<Accepted> {
    let mut parts = entry.split(';');
    let mime = parts.next()?.trim();
    let car = match mime {
        MIME_CAR | "*/*" | "application/*" => true,
        MIME_RAW => false,
        _ => return None,
    };
    let mut out = Accepted {
        raw: !car,
        dups: true,
        quality: 1.0,
    };
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if mime == MIME_CAR {
            match (name, value) {
                ("dups", "y") => out.dups = true,
                ("dups", "n") => out.dups = false,
                ("dups", _) => return None,
                ("version", "1") => {}
                ("version", _) => return None,
                ("order", "dfs" | "unk") => {}
                ("order", _) => return None,
                _ => {}
            }
        }
        if name == "q" {
            let q: f32 = value.parse().ok()?;
            if !(0.0..=1.0).contains(&q) {
                return None;
            }
            out.quality = q;
        }
    }
    Some(out)
}

fn parse_accept(header: &str) -> Vec<Accepted> {
    let mut accepts: Vec<Accepted> = header.split(',').filter_map(parse_accept_entry).collect();
    accepts.sort_by(|a, b| b.quality.total_cmp(&a.quality));
    accepts
}

fn parse_bytes(value: &str) -> Result<ByteRange, RequestError> {
    let bad = || RequestError::BadBytes(value.to_string());
    let (from, to) = value.split_once(':').ok_or_else(bad)?;
    let from: i64 = from.parse().map_err(|_| bad())?;
    let to = match to {
        "*" => None,
        t => Some(t.parse::<i64>().map_err(|_| bad())?),
    };
    if let Some(t) = to
        && from >= 0
        && t >= 0
        && from > t
    {
        return Err(RequestError::EmptyBytes(value.to_string()));
    }
    Ok(ByteRange { from, to })
}

impl Request {
    /// Parse the part of a request's path after `/ipfs/` (as sent, percent-encoded), its query
    /// string and its `Accept` header.
    pub fn parse(path: &str, query: Option<&str>, accept: Option<&str>) -> Result<Request, RequestError> {
        let mut segments = Vec::new();
        for raw in path.split('/').filter(|s| !s.is_empty()) {
            // The CID and the names after it.
            if segments.len() > MAX_SEGMENTS {
                return Err(RequestError::TooDeep);
            }
            let decoded = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| RequestError::BadEncoding)?;
            segments.push(decoded.into_owned());
        }
        let mut segments = segments.into_iter();
        let root_text = segments.next().ok_or(RequestError::NoCid)?;
        let path: Vec<String> = segments.collect();

        let mut params: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if params.len() == MAX_PARAMS {
                return Err(RequestError::TooLong);
            }
            params.push((k.into_owned(), v.into_owned()));
        }
        // Go's `Query().Get`: the first value of a name.
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());

        // The format: ?format= wins over Accept (IPIP-523); then the CAR parameters.
        let format_param = match param("format") {
            None | Some("") => None,
            Some(f @ ("car" | "raw")) => Some(f),
            Some(other) => return Err(RequestError::BadFormatParam(other.to_string())),
        };
        let car_order = param("car-order").filter(|v| !v.is_empty());
        if let Some(v) = car_order
            && !matches!(v, "dfs" | "unk")
        {
            return Err(RequestError::BadCarParam {
                param: "car-order",
                value: v.to_string(),
            });
        }
        let car_dups = match param("car-dups").filter(|v| !v.is_empty()) {
            None => None,
            Some("y") => Some(true),
            Some("n") => Some(false),
            Some(v) => {
                return Err(RequestError::BadCarParam {
                    param: "car-dups",
                    value: v.to_string(),
                });
            }
        };
        if let Some(v) = param("car-version").filter(|v| !v.is_empty())
            && v != "1"
        {
            return Err(RequestError::BadCarParam {
                param: "car-version",
                value: v.to_string(),
            });
        }
        let accepts = accept.filter(|a| !a.trim().is_empty()).map(parse_accept);
        let (mut format, negotiated) = match (format_param, &accepts) {
            (Some("raw"), _) => (Format::Raw, false),
            (Some(_), accepts) => {
                let dups = accepts.iter().flatten().find(|a| !a.raw).is_none_or(|a| a.dups);
                (Format::Car { dups }, false)
            }
            (None, Some(accepts)) => match accepts.first() {
                Some(a) if a.raw => (Format::Raw, true),
                Some(a) => (Format::Car { dups: a.dups }, true),
                None => return Err(RequestError::NotAcceptable(accept.unwrap_or("").to_string())),
            },
            (None, None) => return Err(RequestError::NoFormat),
        };
        if let (Format::Car { dups }, Some(d)) = (&mut format, car_dups) {
            *dups = d;
        }

        if let Some(name) = param("filename") {
            let ok = match format {
                Format::Car { .. } => name.ends_with(".car"),
                Format::Raw => name.ends_with(".bin"),
            };
            if !ok || name.chars().any(|c| c.is_control() || c == '"' || c == '\\') {
                return Err(RequestError::BadFilename(name.to_string()));
            }
        }
        let root = Cid::try_from(root_text.as_str()).map_err(|_| RequestError::BadCid(root_text.clone()))?;

        let (scope, bytes) = match format {
            Format::Raw => {
                if !path.is_empty() {
                    return Err(RequestError::PathWithRaw);
                }
                (Scope::Block, None)
            }
            Format::Car { .. } => {
                let scope = match param("dag-scope") {
                    None => None,
                    Some("all") => Some(Scope::All),
                    Some("entity") => Some(Scope::Entity),
                    Some("block") => Some(Scope::Block),
                    Some(other) => return Err(RequestError::BadScope(other.to_string())),
                };
                let bytes = param("entity-bytes").map(parse_bytes).transpose()?;
                // A byte range implies the entity scope (the spec) when no scope is named;
                // with another scope named it narrows nothing (go-trustless-utils).
                let scope = scope.unwrap_or(if bytes.is_some() { Scope::Entity } else { Scope::All });
                let bytes = bytes.filter(|b| scope == Scope::Entity && !b.is_default());
                (scope, bytes)
            }
        };
        let filename = match param("filename") {
            Some(name) => name.to_string(),
            None => format!("{root}{}", format.extension()),
        };
        Ok(Request {
            root,
            path,
            scope,
            bytes,
            format,
            filename,
            negotiated,
        })
    }

    /// The path and query a client sends for this request (go-trustless-utils' `UrlPath`
    /// after `/ipfs/{root}`): the escaped path, `dag-scope` always, `entity-bytes` when set.
    pub fn url_path(&self) -> String {
        let mut out = format!("/ipfs/{}", self.root);
        for segment in &self.path {
            out.push('/');
            out.extend(percent_encoding::utf8_percent_encode(segment, PATH_SEGMENT));
        }
        out.push_str("?dag-scope=");
        out.push_str(self.scope.as_str());
        if let Some(b) = &self.bytes {
            out.push_str("&entity-bytes=");
            out.push_str(&b.to_string());
        }
        out
    }

    /// A weak entity tag that differs for each root, path, scope, byte range and `dups`
    /// (`W/"<root>.car.<hash>"`, as go-trustless-utils forms it); a raw block's is strong.
    pub fn etag(&self) -> String {
        use multihash_codetable::{Code, MultihashDigest};
        let Format::Car { dups } = self.format else {
            return format!("\"{}.raw\"", self.root);
        };
        let mut key = format!("/ipfs/{}", self.root);
        for segment in &self.path {
            key.push('/');
            key.push_str(segment);
        }
        key.push_str("\0scope=");
        key.push_str(self.scope.as_str());
        if let Some(b) = &self.bytes {
            key.push_str("\0range=");
            key.push_str(&b.to_string());
        }
        if dups {
            key.push_str("\0dups=y");
        }
        let digest = Code::Sha2_256.digest(key.as_bytes());
        let short: String = digest.digest()[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("W/\"{}.car.{short}\"", self.root)
    }
}

/// What `url.PathEscape` escapes in a segment: everything but unreserved characters and
/// the sub-delimiters, `:` and `@`.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    const LASSIE_ACCEPT: &str = "application/vnd.ipld.car;version=1;order=dfs;dups=y";

    fn parse(path: &str, query: &str, accept: Option<&str>) -> Result<Request, RequestError> {
        Request::parse(path, Some(query), accept)
    }

    #[test]
    fn lassies_requests_read_as_lassie_means_them() {
        let r = parse(
            &format!("{ROOT}/a%20b/c"),
            "dag-scope=entity&entity-bytes=10:-1",
            Some(LASSIE_ACCEPT),
        )
        .expect("parse");
        assert_eq!(r.root.to_string(), ROOT);
        assert_eq!(r.path, vec!["a b".to_string(), "c".to_string()]);
        assert_eq!(r.scope, Scope::Entity);
        assert_eq!(r.bytes, Some(ByteRange { from: 10, to: Some(-1) }));
        assert_eq!(r.format, Format::Car { dups: true });
        assert!(r.negotiated);
        assert_eq!(r.filename, format!("{ROOT}.car"));
        assert_eq!(
            r.url_path(),
            format!("/ipfs/{ROOT}/a%20b/c?dag-scope=entity&entity-bytes=10:-1")
        );
        // The range narrows only the entity scope; alone it implies it.
        let all = parse(ROOT, "dag-scope=all&entity-bytes=0:9", Some(LASSIE_ACCEPT)).expect("parse");
        assert_eq!((all.scope, all.bytes), (Scope::All, None));
        let implied = parse(ROOT, "entity-bytes=0:9", Some(LASSIE_ACCEPT)).expect("parse");
        assert_eq!(implied.scope, Scope::Entity);
        assert_eq!(implied.bytes.map(|b| b.selector_bounds()), Some((0, 10)));
        let whole = parse(ROOT, "dag-scope=entity&entity-bytes=0:*", Some(LASSIE_ACCEPT)).expect("parse");
        assert_eq!(whole.bytes, None);
    }

    #[test]
    fn format_param_wins_and_car_params_override_accept() {
        let r = parse(ROOT, "format=raw", Some(LASSIE_ACCEPT)).expect("parse");
        assert_eq!((r.format, r.negotiated), (Format::Raw, false));
        assert_eq!(r.filename, format!("{ROOT}.bin"));
        let r = parse(ROOT, "format=car", Some("application/vnd.ipld.car;dups=n")).expect("parse");
        assert_eq!(r.format, Format::Car { dups: false });
        let r = parse(ROOT, "format=car&car-dups=y", Some("application/vnd.ipld.car;dups=n")).expect("parse");
        assert_eq!(r.format, Format::Car { dups: true });
        let r = parse(ROOT, "", Some("text/html, application/vnd.ipld.raw;q=0.5, */*;q=0.9")).expect("parse");
        assert_eq!(r.format, Format::Car { dups: true }, "*/* at 0.9 beats raw at 0.5");
        assert_eq!(parse(ROOT, "", Some(MIME_RAW)).expect("parse").format, Format::Raw);
    }

    #[test]
    fn refusals_carry_the_status_the_spec_names() {
        let status =
            |path: &str, query: &str, accept: Option<&str>| parse(path, query, accept).expect_err("refused").status();
        assert_eq!(status("", "", Some(LASSIE_ACCEPT)), 404);
        assert_eq!(status("///", "", Some(LASSIE_ACCEPT)), 404);
        assert_eq!(status("not-a-cid", "", Some(LASSIE_ACCEPT)), 400);
        assert_eq!(status(ROOT, "", None), 400);
        assert_eq!(status(ROOT, "", Some("text/html")), 406);
        assert_eq!(status(ROOT, "", Some("application/vnd.ipld.car;version=2")), 406);
        assert_eq!(status(ROOT, "", Some("application/vnd.ipld.car;order=bfs")), 406);
        assert_eq!(status(ROOT, "format=dag-json", None), 400);
        assert_eq!(status(ROOT, "format=car&car-version=2", None), 400);
        assert_eq!(status(ROOT, "format=car&car-dups=maybe", None), 400);
        assert_eq!(status(&format!("{ROOT}/x"), "format=raw", None), 400);
        assert_eq!(status(ROOT, "format=car&dag-scope=everything", None), 400);
        assert_eq!(status(ROOT, "format=car&entity-bytes=5", None), 400);
        assert_eq!(status(ROOT, "format=car&entity-bytes=a:b", None), 400);
        assert_eq!(status(ROOT, "format=car&entity-bytes=9:3", None), 400);
        assert_eq!(
            status(ROOT, "format=car&entity-bytes=99999999999999999999:*", None),
            400
        );
        assert_eq!(status(ROOT, "format=car&filename=x.bin", None), 400);
        assert_eq!(
            status(ROOT, "format=car&filename=a%0d%0aSet-Cookie:%20x.car", None),
            400
        );
        assert_eq!(status(ROOT, "format=car&filename=a%22.car", None), 400);
        assert_eq!(status(&format!("{ROOT}/%ff"), "format=car", None), 400);
        let deep = format!("{ROOT}{}", "/a".repeat(MAX_SEGMENTS + 1));
        assert_eq!(status(&deep, "format=car", None), 400);
        // The deepest path accepted still makes a selector that parses, for every scope.
        let deepest = format!("{ROOT}{}", "/a".repeat(MAX_SEGMENTS));
        for query in [
            "format=car",
            "format=car&dag-scope=entity&entity-bytes=1:-1",
            "format=car&dag-scope=entity",
        ] {
            let r = parse(&deepest, query, None).expect("the deepest path");
            crate::selector::selector(&r).expect("its selector parses");
        }
        let many = "a=1&".repeat(MAX_PARAMS + 1);
        assert_eq!(status(ROOT, &format!("{many}format=car"), None), 400);
        // Negative ranges and an end before a negative start are left to the entity's length.
        assert!(parse(ROOT, "format=car&entity-bytes=-10:*", None).is_ok());
        assert!(parse(ROOT, "format=car&entity-bytes=5:-2", None).is_ok());
    }

    #[test]
    fn etags_differ_by_scope_range_and_dups() {
        let tag = |query: &str, accept: &str| parse(ROOT, query, Some(accept)).expect("parse").etag();
        let all = tag("dag-scope=all", LASSIE_ACCEPT);
        assert!(all.starts_with(&format!("W/\"{ROOT}.car.")), "{all}");
        assert_ne!(all, tag("dag-scope=entity", LASSIE_ACCEPT));
        assert_ne!(
            tag("dag-scope=entity&entity-bytes=0:9", LASSIE_ACCEPT),
            tag("dag-scope=entity&entity-bytes=0:10", LASSIE_ACCEPT)
        );
        assert_ne!(all, tag("dag-scope=all", "application/vnd.ipld.car;dups=n"));
        assert_eq!(all, tag("dag-scope=all", LASSIE_ACCEPT));
        assert_eq!(tag("", MIME_RAW), format!("\"{ROOT}.raw\""));
    }
}
