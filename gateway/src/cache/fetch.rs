//! One flight's work: the lookup, and unless a fresh copy answers, the backend call (asking
//! whether the stored copy is still current, when it can be validated), then the store.

use std::{
    sync::Mutex,
    time::{Duration, SystemTime},
};

use axum::{
    body::{Body, HttpBody as _},
    response::Response,
};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::BodyExt;

use gateway_net::{client::PooledBody, relay::remove_hop_by_hop};

use gateway_http_cache::{
    CacheKey, Entry, Exchange, Freshness, Lookup, Scope, conditional, freshness,
    millis_since_epoch, now_ms, revalidate, select, vary,
};

use super::{
    flight::{CachedRequest, FlightResult},
    state::Cache,
};
use gateway_upstream::{Failure, Outbound, OutboundBody};

/// One flight: the lookup, and on a miss (or a stale copy) the backend call and the store.
/// `leader` names the request that runs it: an answer that may not be shared is its alone.
pub(super) async fn fetch(
    cache: Cache,
    key: CacheKey,
    request: CachedRequest,
    revalidate: bool,
    leader: u64,
) -> FlightResult {
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
    let mut validating = stale
        .as_ref()
        .filter(|entry| revalidate::has_validators(&entry.headers));
    let requested_at = SystemTime::now();
    let mut response = match send(&cache, &request, validating).await {
        Ok(response) => response,
        Err(failure) => return disconnected(&cache, stale, failure),
    };
    // A 304 that does not answer for the stored copy: asked again without conditions, so
    // that the client gets a whole answer (RFC 9111 §4.3.4).
    if response.status() == StatusCode::NOT_MODIFIED
        && validating.is_some_and(|entry| !revalidate::validates(entry, response.headers()))
    {
        validating = None;
        response = match send(&cache, &request, None).await {
            Ok(response) => response,
            Err(failure) => return disconnected(&cache, stale, failure),
        };
    }
    // RFC 5861's errors: what `stale-if-error` lets a stale copy answer for.
    let requested_window = request
        .asked
        .stale_if_error
        .value()
        .map(Duration::from_secs);
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
    // The whole flight waits for this body: it gets the upstream timeout too, so that one
    // delimited by the connection's close (RFC 9112 §6.3) on a connection kept open does
    // not hold every request of the key for ever.
    let collecting = collect_within(body, cache.args.cache_max_body);
    let body = match tokio::time::timeout(cache.calls.timeout, collecting).await {
        Ok(Collected::Whole(body)) => body,
        Ok(Collected::TooLarge(body)) => {
            let response = Response::from_parts(parts, body);
            return FlightResult::Unshared(Mutex::new(Some(response)));
        }
        Ok(Collected::Broken) => return disconnected(&cache, stale, Failure::Unreachable),
        Err(_) => return disconnected(&cache, stale, Failure::Timeout),
    };
    let exchange = Exchanged {
        request: &request,
        requested_at,
        received_at: SystemTime::now(),
    };
    let (status, headers, body) = match validating.filter(|_| not_modified) {
        // Still current: the stored body, with the 304's fields.
        Some(entry) => (
            entry.status,
            revalidate::freshened(&entry.headers, &parts.headers),
            entry.body.clone(),
        ),
        None => (parts.status, parts.headers, body),
    };
    let (entry, rules) = exchange.entry(status, headers, body);
    if rules.is_some() && redis_up {
        cache.insert(&key, &entry, others).await;
    }
    // What may not be stored for everyone is not handed to the flight's other requests.
    let private_to = rules
        .is_none_or(|rules| rules.scope != Scope::Public)
        .then_some(leader);
    if validating.is_some() && not_modified {
        FlightResult::Revalidated { entry, private_to }
    } else {
        FlightResult::Fetched {
            entry,
            redis_up,
            private_to,
        }
    }
}

/// The request to the backend: without the client's own conditions, which are answered
/// here from the complete response, and with the stored copy's validators when it has one
/// to validate.
async fn send(
    cache: &Cache,
    request: &CachedRequest,
    validating: Option<&Entry>,
) -> Result<http::Response<PooledBody>, Failure> {
    let mut headers = request.headers.clone();
    for name in &conditional::CLIENT_CONDITIONS {
        headers.remove(name);
    }
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
    cache.calls.send(&request.backend, outbound).await
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
async fn collect_within(mut body: PooledBody, limit: usize) -> Collected {
    // The client read the framing: a length it knows is exact.
    if body.size_hint().lower() > limit as u64 {
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
fn disconnected(cache: &Cache, stale: Option<Entry>, failure: Failure) -> FlightResult {
    let limit = cache.args.cache_stale_limit;
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
    requested_at: SystemTime,
    received_at: SystemTime,
}

impl Exchanged<'_> {
    /// The entry a response makes, and the rules it may be stored under (`None`: it may not).
    fn entry(
        &self,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    ) -> (Entry, Option<Freshness>) {
        let rules = freshness(&Exchange {
            status,
            response: &headers,
            authorized: self.request.headers.contains_key(header::AUTHORIZATION),
            user: self.request.user.is_some(),
            requested_at: self.requested_at,
            received_at: self.received_at,
            forced: self.request.forced,
        });
        let variant = vary::values_of(
            &self.request.headers,
            &vary::nominated(&headers).unwrap_or_default(),
        );
        let entry = Entry {
            status,
            headers,
            body,
            stored_at: millis_since_epoch(self.received_at),
            freshness: rules.unwrap_or_else(unstored),
            variant,
        };
        (entry, rules)
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
