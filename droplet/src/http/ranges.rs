//! What a `GET` or `HEAD` asks of a fixed representation (a piece, which never changes): its
//! conditional headers checked against the entity tag (RFC 9110 §13.2.2, in that order), then
//! its `Range` (§14). Ranges are parsed by `http-range-header`; a `Range` that does not parse
//! is ignored (the whole representation is sent, as the RFC allows), one that names no byte of
//! it or too many ranges gets 416, and ranges adding up to more than the whole get the whole.

use std::num::NonZeroUsize;
use std::ops::Range;

use axum::http::{HeaderMap, header};

/// How to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// 200, the whole representation.
    Whole,
    /// 206: one range (`Content-Range`), or several (`multipart/byteranges`); half-open, in
    /// the order asked.
    Ranges(Vec<Range<u64>>),
    /// 304: `If-None-Match` names the representation the client has.
    NotModified,
    /// 412: `If-Match` names another representation.
    PreconditionFailed,
    /// 416, with `Content-Range: bytes */<len>`.
    Unsatisfiable,
}

/// Whether `list` (an `If-Match`/`If-None-Match` value) names `etag`: `*`, or one of its
/// comma-separated entity tags. `weak` compares opaque tags only (If-None-Match); otherwise
/// a weak tag never matches (If-Match, If-Range).
fn names(list: &str, etag: &str, weak: bool) -> bool {
    let list = list.trim();
    if list == "*" {
        return true;
    }
    list.split(',').map(str::trim).any(|tag| match tag.strip_prefix("W/") {
        Some(opaque) => weak && opaque == etag,
        None => tag == etag,
    })
}

fn text<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or(""))
}

/// The plan for a request with `headers` for a representation of `len` bytes whose strong
/// entity tag is `etag` (quoted; none: conditional headers are not answered), serving at most
/// `max_ranges` ranges.
pub fn plan(headers: &HeaderMap, etag: Option<&str>, len: u64, max_ranges: NonZeroUsize) -> Plan {
    if let Some(etag) = etag {
        if let Some(list) = text(headers, &header::IF_MATCH)
            && !names(list, etag, false)
        {
            return Plan::PreconditionFailed;
        }
        if let Some(list) = text(headers, &header::IF_NONE_MATCH)
            && names(list, etag, true)
        {
            return Plan::NotModified;
        }
    }
    let Some(range) = text(headers, &header::RANGE) else {
        return Plan::Whole;
    };
    // A Range under an If-Range that does not name this representation (or is a date: there
    // is no Last-Modified to compare it with) is ignored.
    if let Some(validator) = text(headers, &header::IF_RANGE)
        && !etag.is_some_and(|e| names(validator, e, false) && validator.trim() != "*")
    {
        return Plan::Whole;
    }
    let parsed = match http_range_header::parse_range_header_with_max_ranges(range, max_ranges) {
        Ok(p) => p,
        Err(http_range_header::RangeUnsatisfiableError::Invalid(_)) => return Plan::Whole,
        Err(_) => return Plan::Unsatisfiable,
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.is_empty() => Plan::Whole,
        // More bytes than the whole (overlapping ranges): the whole, once, as Go's
        // `http.ServeContent` answers such a request.
        Ok(ranges)
            if ranges
                .iter()
                .map(|r| r.end() - r.start() + 1)
                .fold(0u64, u64::saturating_add)
                > len =>
        {
            Plan::Whole
        }
        Ok(ranges) => Plan::Ranges(
            ranges
                .into_iter()
                .map(|r| *r.start()..r.end().saturating_add(1))
                .collect(),
        ),
        Err(http_range_header::RangeUnsatisfiableError::Invalid(_)) => Plan::Whole,
        Err(_) => Plan::Unsatisfiable,
    }
}

#[cfg(test)]
// A plan's ranges are a list of ranges: `vec![0..10]` is one range, as meant.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    const TAG: &str = "\"baga6ea4seaq\"";

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), v.parse().expect("value"));
        }
        h
    }

    fn plan_of(pairs: &[(header::HeaderName, &str)]) -> Plan {
        plan(&headers(pairs), Some(TAG), 1000, NonZeroUsize::new(8).expect("n"))
    }

    #[test]
    fn ranges_read_as_http_says() {
        let r = |v: &str| plan_of(&[(header::RANGE, v)]);
        assert_eq!(plan_of(&[]), Plan::Whole);
        assert_eq!(r("bytes=0-99"), Plan::Ranges(vec![0..100]));
        assert_eq!(r("bytes=900-"), Plan::Ranges(vec![900..1000]));
        assert_eq!(r("bytes=-100"), Plan::Ranges(vec![900..1000]));
        assert_eq!(r("bytes=-5000"), Plan::Ranges(vec![0..1000]));
        assert_eq!(r("bytes=990-5000"), Plan::Ranges(vec![990..1000]));
        assert_eq!(r("bytes=0-1, 5-6"), Plan::Ranges(vec![0..2, 5..7]));
        assert_eq!(r("bytes=500-599,0-9"), Plan::Ranges(vec![500..600, 0..10]));
        // Overlapping ranges are served as asked, unless they add up to more than the whole:
        // then the whole, once.
        assert_eq!(r("bytes=0-10,5-20"), Plan::Ranges(vec![0..11, 5..21]));
        assert_eq!(r("bytes=0-599,400-999"), Plan::Whole);
        assert_eq!(r("bytes=0-999,0-999"), Plan::Whole);
        // More than one overlap: refused by the parser as abusive.
        assert_eq!(r("bytes=0-,-1000,100-"), Plan::Unsatisfiable);
        // Nothing of the representation, too many ranges: 416.
        assert_eq!(r("bytes=1000-"), Plan::Unsatisfiable);
        assert_eq!(r("bytes=5000-6000"), Plan::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Plan::Unsatisfiable);
        assert_eq!(
            r("bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16"),
            Plan::Unsatisfiable
        );
        // Not a byte range we can read: ignored.
        assert_eq!(r("items=0-1"), Plan::Whole);
        assert_eq!(r("bytes=5-2"), Plan::Whole);
        assert_eq!(r("bytes=abc"), Plan::Whole);
        assert_eq!(r("bytes=99999999999999999999999999999999999-"), Plan::Unsatisfiable);
    }

    #[test]
    fn conditions_come_before_the_range() {
        assert_eq!(plan_of(&[(header::IF_NONE_MATCH, TAG)]), Plan::NotModified);
        assert_eq!(
            plan_of(&[(header::IF_NONE_MATCH, &format!("\"other\", W/{TAG}"))]),
            Plan::NotModified
        );
        assert_eq!(plan_of(&[(header::IF_NONE_MATCH, "*")]), Plan::NotModified);
        assert_eq!(plan_of(&[(header::IF_NONE_MATCH, "\"other\"")]), Plan::Whole);
        assert_eq!(plan_of(&[(header::IF_MATCH, "\"other\"")]), Plan::PreconditionFailed);
        assert_eq!(
            plan_of(&[(header::IF_MATCH, &format!("W/{TAG}"))]),
            Plan::PreconditionFailed
        );
        assert_eq!(
            plan_of(&[(header::IF_MATCH, TAG), (header::RANGE, "bytes=0-9")]),
            Plan::Ranges(vec![0..10])
        );
        assert_eq!(
            plan_of(&[(header::IF_MATCH, "\"other\""), (header::IF_NONE_MATCH, TAG)]),
            Plan::PreconditionFailed
        );
    }

    #[test]
    fn if_range_keeps_the_range_only_for_this_representation() {
        let with = |v: &str| plan_of(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, v)]);
        assert_eq!(with(TAG), Plan::Ranges(vec![0..10]));
        assert_eq!(with("\"other\""), Plan::Whole);
        assert_eq!(with(&format!("W/{TAG}")), Plan::Whole);
        assert_eq!(with("Tue, 01 Dec 2026 00:00:00 GMT"), Plan::Whole);
    }

    #[test]
    fn without_an_entity_tag_conditions_are_not_answered() {
        let h = headers(&[(header::IF_NONE_MATCH, "*"), (header::RANGE, "bytes=0-9")]);
        assert_eq!(plan(&h, None, 100, NonZeroUsize::MIN), Plan::Ranges(vec![0..10]));
        let two = headers(&[(header::RANGE, "bytes=0-9,20-29")]);
        assert_eq!(plan(&two, None, 100, NonZeroUsize::MIN), Plan::Unsatisfiable);
    }
}
