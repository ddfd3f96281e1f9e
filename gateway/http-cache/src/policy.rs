//! Whether a response may be stored and for whom (RFC 9111 §3, §3.5), how long it stays
//! fresh (§4.2.1, §4.2.2) and how old it already is (§4.2.3), and when it may answer stale
//! (§4.2.4, RFC 5861).

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode, header};

use crate::{
    control::{Directives, Seconds},
    revalidate,
    rules::{Freshness, Scope},
    vary,
};

/// One exchange with the origin, as the cache judges it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    pub status: StatusCode,
    pub response: &'a HeaderMap,
    /// The request carried `Authorization`.
    pub authorized: bool,
    /// The gateway authenticated the caller as a user.
    pub user: bool,
    /// When the request was sent and the response received.
    pub requested_at: SystemTime,
    pub received_at: SystemTime,
    /// A lifetime the route's configuration forces, in place of the response's.
    pub forced: Option<Duration>,
}

/// Final statuses whose responses may be stored with a heuristic lifetime (RFC 9110 §15.1),
/// less 206, which this cache does not store.
fn heuristically_cacheable(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// The rules a response is stored under, or `None` when it may not be stored.
pub fn freshness(exchange: &Exchange<'_>) -> Option<Freshness> {
    let headers = exchange.response;
    let (directives, targeted) = Directives::of_response(headers);
    let status = exchange.status.as_u16();
    // Partial content and 304s are never stored whole. A response that sets a cookie is one
    // user's, whatever it says.
    // (A request's own `no-store` never reaches the cache: the proxy passes it by.)
    if directives.no_store
        || status < 200
        || status == 206
        || status == 304
        || headers.contains_key(header::SET_COOKIE)
        || vary::nominated(headers).is_none()
    {
        return None;
    }
    let shared_ok =
        directives.public || directives.s_maxage.is_present() || directives.must_revalidate;
    let scope = if directives.private {
        Scope::User
    } else if exchange.authorized && !shared_ok {
        // RFC 9111 §3.5: an answer to a request with credentials is not shared unless the
        // origin says so.
        Scope::User
    } else {
        Scope::Public
    };
    if scope == Scope::User && !exchange.user {
        return None;
    }
    let date = date(headers).unwrap_or(exchange.received_at);
    let explicit = explicit_lifetime(&directives, headers, date, targeted);
    let cacheable = heuristically_cacheable(exchange.status) || directives.public;
    // `no-cache`: stored, but validated with the origin before every use (§5.2.2.4).
    let lifetime = if directives.no_cache {
        Some(Duration::ZERO)
    } else {
        // A route's forced lifetime is for the answers a cache may keep by default: never
        // for an error the origin did not mark.
        let forced = exchange.forced.filter(|_| cacheable);
        forced
            .or(explicit)
            .or_else(|| cacheable.then(|| heuristic_lifetime(headers, date).unwrap_or_default()))
    }?;
    let seconds = |value: Seconds| value.value().map(Duration::from_secs);
    let stale_if_error = seconds(directives.stale_if_error);
    // Stale from the start, it is still worth keeping to validate, or to stand in for errors.
    let validators = revalidate::has_validators(headers);
    if lifetime.is_zero() && !validators && stale_if_error.is_none_or(|d| d.is_zero()) {
        return None;
    }
    Some(Freshness {
        lifetime,
        initial_age: initial_age(headers, date, exchange.requested_at, exchange.received_at),
        scope,
        stale_if_error,
        stale_while_revalidate: seconds(directives.stale_while_revalidate),
        revalidate_only: directives.forbids_stale(),
    })
}

/// §4.2.1: `s-maxage`, else `max-age`, else `Expires` less `Date`. An invalid value makes
/// the response stale at once; `Expires` is ignored under `CDN-Cache-Control`.
fn explicit_lifetime(
    directives: &Directives,
    headers: &HeaderMap,
    date: SystemTime,
    targeted: bool,
) -> Option<Duration> {
    for seconds in [directives.s_maxage, directives.max_age] {
        match seconds {
            Seconds::Valid(seconds) => return Some(Duration::from_secs(seconds)),
            Seconds::Invalid => return Some(Duration::ZERO),
            Seconds::Absent => {}
        }
    }
    if targeted {
        return None;
    }
    let mut expires = headers.get_all(header::EXPIRES).iter();
    let first = expires.next()?;
    // §5.3: an invalid date ("0" included), or two of them, mean already expired.
    let at = match (expires.next(), http_date(first.to_str().ok())) {
        (None, Some(at)) => at,
        _ => return Some(Duration::ZERO),
    };
    Some(at.duration_since(date).unwrap_or(Duration::ZERO))
}

/// §4.2.2: a tenth of the time since `Last-Modified`, and nothing without it.
fn heuristic_lifetime(headers: &HeaderMap, date: SystemTime) -> Option<Duration> {
    let modified = header_date(headers.get(header::LAST_MODIFIED))?;
    let since = date.duration_since(modified).ok()?;
    Some(since / 10)
}

/// §4.2.3: the response's age when it arrived, from `Age`, `Date` and the time it took.
fn initial_age(
    headers: &HeaderMap,
    date: SystemTime,
    requested_at: SystemTime,
    received_at: SystemTime,
) -> Duration {
    let age_value = headers
        .get(header::AGE)
        .and_then(|value| value.to_str().ok())
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .map_or(Duration::ZERO, |text| {
            Duration::from_secs(text.parse().unwrap_or(1 << 31))
        });
    let apparent_age = received_at.duration_since(date).unwrap_or(Duration::ZERO);
    let response_delay = received_at
        .duration_since(requested_at)
        .unwrap_or(Duration::ZERO);
    apparent_age.max(age_value + response_delay)
}

/// The response's `Date`, when there is one valid one.
fn date(headers: &HeaderMap) -> Option<SystemTime> {
    header_date(headers.get(header::DATE))
}

/// A field's HTTP-date (RFC 9110 §5.6.7), when it is one.
pub fn header_date(value: Option<&http::HeaderValue>) -> Option<SystemTime> {
    http_date(value?.to_str().ok())
}

/// An HTTP-date in any of its three forms, when `text` is one.
pub fn http_date(text: Option<&str>) -> Option<SystemTime> {
    httpdate::parse_http_date(text?.trim()).ok()
}
