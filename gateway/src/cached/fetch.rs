//! One flight's work: the lookup, and unless a fresh copy answers, the backend call (asking
//! whether the stored copy is still current, when it can be validated), then the store.

use std::{
    sync::Mutex,
    time::{Duration, SystemTime},
};

use axum::{body::Body, response::Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::BodyExt;

use super::CachedRequest;
use crate::{
    cache::{
        CacheKey, Directives, Entry, Exchange, Freshness, Lookup, Scope, conditional,
        flight_result::FlightResult, freshness, millis_since_epoch, now_ms, revalidate, select,
        vary,
    },
    client::PooledBody,
    proxy::remove_hop_by_hop,
    state::GatewayState,
    upstream::{Failure, Outbound, OutboundBody},
};

/// One flight: the lookup, and on a miss (or a stale copy) the backend call and the store.
pub(super) async fn fetch(
    state: GatewayState,
    key: CacheKey,
    request: CachedRequest,
    revalidate: bool,
) -> FlightResult {
    let cache = &state.cache;
    let found = cache.lookup(&key).await;
    let redis_up = !matches!(found, Lookup::Unavailable);
    let others = found.entries();
    let stale = select(others, &request.headers, now_ms()).cloned();
    if let Some(entry) = stale
        .as_ref()
        .filter(|e| !revalidate && e.is_fresh(now_ms()))
    {
        return FlightResult::Hit(entry.clone());
    }
    // The client's own conditions are answered here, from the complete response; the
    // stored copy's validators ask the backend whether it is still current.
    let mut headers = request.headers.clone();
    for name in &conditional::CLIENT_CONDITIONS {
        headers.remove(name);
    }
    let validating = stale
        .as_ref()
        .filter(|entry| revalidate::has_validators(&entry.headers));
    if let Some(entry) = validating {
        headers.extend(revalidate::conditions(entry));
    }
    let outbound = Outbound {
        method: Method::GET,
        target: request.target.clone(),
        headers,
        added: request.added.clone(),
        body: OutboundBody::Replayable(Bytes::new()),
        only: None,
    };
    let requested_at = SystemTime::now();
    let response = match state.caller.send(&request.backend, outbound).await {
        Ok(response) => response,
        Err(failure) => return disconnected(&state, stale, failure),
    };
    let asked = Directives::of(&request.headers);
    // RFC 5861's errors: what `stale-if-error` lets a stale copy answer for.
    let requested_window = asked.stale_if_error.value().map(Duration::from_secs);
    if matches!(response.status().as_u16(), 500 | 502 | 503 | 504)
        && let Some(entry) = stale
            .clone()
            .filter(|entry| entry.may_answer_for_error(now_ms(), requested_window))
    {
        return FlightResult::Stale {
            entry,
            failure: None,
        };
    }
    let not_modified = response.status() == StatusCode::NOT_MODIFIED;
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    let declared = declared_length(&parts.headers);
    // The whole flight waits for this body: it gets the upstream timeout too, so that one
    // delimited by the connection's close (RFC 9112 §6.3) on a connection kept open does
    // not hold every request of the key for ever.
    let collecting = collect_within(body, declared, cache.args.cache_max_body);
    let body = match tokio::time::timeout(state.caller.timeout, collecting).await {
        Ok(Collected::Whole(body)) => body,
        Ok(Collected::TooLarge(body)) => {
            let response = Response::from_parts(parts, body);
            return FlightResult::Unshared(Mutex::new(Some(response)));
        }
        Ok(Collected::Broken) => return disconnected(&state, stale, Failure::Unreachable),
        Err(_) => return disconnected(&state, stale, Failure::Timeout),
    };
    let exchange = Exchanged {
        request: &request,
        asked: &asked,
        requested_at,
        received_at: SystemTime::now(),
        redis_up,
    };
    if let Some(entry) =
        validating.filter(|e| not_modified && revalidate::validates(e, &parts.headers))
    {
        // Still current: the stored body, with the 304's fields.
        let headers = revalidate::freshened(&entry.headers, &parts.headers);
        let (entry, storable) = exchange.entry(entry.status, headers, entry.body.clone());
        if storable {
            state.cache.insert(&key, &entry, others).await;
        }
        return FlightResult::Revalidated(entry);
    }
    let (entry, storable) = exchange.entry(parts.status, parts.headers, body);
    if storable {
        state.cache.insert(&key, &entry, others).await;
    }
    FlightResult::Fetched { entry, redis_up }
}

/// The `Content-Length` declared, a list of one value repeated included (RFC 9112 §6.3).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|value| value.trim().parse::<u64>().ok());
    let first = values.next()??;
    values.all(|value| value == Some(first)).then_some(first)
}

/// A body read up to a limit.
enum Collected {
    Whole(Bytes),
    /// Over the limit: what was read, followed by the rest as it comes.
    TooLarge(Body),
    /// The connection failed before the end.
    Broken,
}

/// Reads `body` whole if it is no larger than `limit`, however it is framed (a length, or
/// chunks, RFC 9112 §6); a larger one is handed on as a stream without reading further.
async fn collect_within(mut body: PooledBody, declared: Option<u64>, limit: usize) -> Collected {
    if declared.is_some_and(|length| length > limit as u64) {
        return Collected::TooLarge(Body::new(body));
    }
    let mut read = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Collected::Broken;
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers: not kept
        };
        read.extend_from_slice(&data);
        if read.len() > limit {
            let head = futures::stream::once(std::future::ready(Ok(read.freeze())));
            return Collected::TooLarge(Body::from_stream(head.chain(body.into_data_stream())));
        }
    }
    Collected::Whole(read.freeze())
}

/// The backend could not be reached, timed out or its breaker is open: a stale copy answers
/// if the origin allows it.
fn disconnected(state: &GatewayState, stale: Option<Entry>, failure: Failure) -> FlightResult {
    let limit = state.cache.args.cache_stale_limit;
    match stale.filter(|entry| entry.may_answer_disconnected(now_ms(), limit)) {
        Some(entry) => FlightResult::Stale {
            entry,
            failure: Some(failure),
        },
        None => FlightResult::Failed(failure),
    }
}

/// What the cache knows of one exchange with the backend.
struct Exchanged<'a> {
    request: &'a CachedRequest,
    asked: &'a Directives,
    requested_at: SystemTime,
    received_at: SystemTime,
    redis_up: bool,
}

impl Exchanged<'_> {
    /// The entry a response makes, with the rules it is stored under; and whether it may be.
    fn entry(&self, status: StatusCode, headers: HeaderMap, body: Bytes) -> (Entry, bool) {
        let kept = freshness(&Exchange {
            status,
            response: &headers,
            request: self.asked,
            authorized: self.request.headers.contains_key(header::AUTHORIZATION),
            user: self.request.user.is_some(),
            requested_at: self.requested_at,
            received_at: self.received_at,
            forced: self.request.forced,
        })
        .filter(|_| self.redis_up);
        let variant = vary::values_of(
            &self.request.headers,
            &vary::nominated(&headers).unwrap_or_default(),
        );
        let entry = Entry {
            status,
            headers,
            body,
            stored_at: millis_since_epoch(self.received_at),
            freshness: kept.unwrap_or_else(unstored),
            variant,
        };
        (entry, kept.is_some())
    }
}

/// The rules of a response that is not stored.
fn unstored() -> Freshness {
    Freshness {
        lifetime: Duration::ZERO,
        initial_age: Duration::ZERO,
        scope: Scope::Public,
        stale_if_error: None,
        stale_while_revalidate: None,
        revalidate_only: true,
    }
}
