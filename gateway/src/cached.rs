//! A cacheable GET through the gateway, as in the seed's flow: one flight per key looks
//! Redis up and, on a miss, calls the backend (breaker, retries) and stores what RFC 9111
//! lets a shared cache store. A stale copy answers while it is refreshed, or for a failing
//! backend, as far as the origin's headers allow.

use std::{
    sync::Mutex,
    time::{Duration, Instant, SystemTime},
};

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header, uri::PathAndQuery};
use http_body_util::BodyExt;
use shared::Problem;
use uuid::Uuid;

use crate::{
    cache::{
        CacheKey, Directives, Entry, Exchange, Freshness, Lookup, Scope,
        flight_result::FlightResult, freshness, millis_since_epoch, now_ms, stats::Outcome,
    },
    proxy::{X_CACHE, relay, remove_hop_by_hop},
    state::GatewayState,
    upstream::{Added, Backend, Outbound, OutboundBody},
};

const X_CACHE_SOURCE: HeaderName = HeaderName::from_static("x-cache-source");

/// A GET (or HEAD) on a cached route.
#[derive(Debug, Clone)]
pub struct CachedRequest {
    pub backend: Backend,
    pub head: bool,
    /// Path and query, as received.
    pub target: PathAndQuery,
    pub headers: HeaderMap,
    /// Fields forwarding adds after `headers`.
    pub added: Added,
    pub user: Option<Uuid>,
    /// The lifetime the route's configuration forces, if any.
    pub forced: Option<Duration>,
    pub started: Instant,
}

/// Answers `request` from the cache or the backend.
pub async fn serve(state: &GatewayState, request: CachedRequest) -> Response {
    let key = CacheKey::new(
        &state.cache.store,
        request.target.path(),
        request.target.query(),
        request.user,
    );
    // `Cache-Control: no-cache` from the client: skip the stored copy, refresh it.
    let asked = Directives::of(&request.headers);
    let revalidate = asked.no_cache;
    // A fresh copy is found by a lookup shared only by the requests of this serving thread:
    // one shared across threads would wake each of its waiters from another thread. Anything
    // else joins the flight of every thread, which looks again before calling the backend.
    let looked_up = if revalidate {
        None
    } else {
        let (cache, looked_for) = (state.cache.clone(), key.clone());
        let lookup = async move { cache.lookup(&looked_for).await };
        state.cache.lookups.get().run(key.flight(), lookup).await
    };
    let now = now_ms();
    let (mut response, outcome) = match looked_up.as_deref() {
        Some(Lookup::Fresh(entry)) if satisfies(entry, &asked, now) => {
            (from_stored(entry, now), Outcome::Hit)
        }
        Some(Lookup::Stale(entry)) if entry.may_answer_while_revalidating(now) => {
            refresh_in_background(state, key, &request);
            (from_stored(entry, now), Outcome::Stale)
        }
        // A fresh copy too old for the client's `max-age` or `min-fresh` is refreshed.
        found => {
            let refresh = revalidate || matches!(found, Some(Lookup::Fresh(_)));
            match fly(state, key, &request, refresh).await {
                Some(answer) => answer,
                None => return Problem::internal().into_response(),
            }
        }
    };
    let headers = response.headers_mut();
    headers.insert(X_CACHE, HeaderValue::from_static(outcome.as_str()));
    if outcome != Outcome::Bypass {
        headers.insert(X_CACHE_SOURCE, HeaderValue::from_static("Redis"));
    }
    state.cache.stats.record(outcome, request.started.elapsed());
    if request.head {
        *response.body_mut() = Body::empty();
    }
    response
}

/// Whether a fresh `entry` also meets the client's own limits (RFC 9111 §5.2.1): no older
/// than its `max-age`, fresh for at least its `min-fresh`.
fn satisfies(entry: &Entry, asked: &Directives, now: u64) -> bool {
    let age = entry.age(now);
    let old_enough = asked
        .max_age
        .value()
        .is_none_or(|limit| age <= Duration::from_secs(limit));
    let fresh_enough = asked.min_fresh.value().is_none_or(|limit| {
        entry.freshness.lifetime.saturating_sub(age) >= Duration::from_secs(limit)
    });
    old_enough && fresh_enough
}

/// Refreshes `key` from the backend without keeping anyone waiting, in the flight every
/// refresh of that key joins (`stale-while-revalidate`).
fn refresh_in_background(state: &GatewayState, key: CacheKey, request: &CachedRequest) {
    let flight_key = format!("{}#revalidate", key.flight());
    let work = fetch(state.clone(), key, request.clone(), true);
    let flights = state.cache.flights.clone();
    tokio::spawn(async move {
        flights.run(&flight_key, work).await;
    });
}

/// The answer of the flight for `key`, joined or started: its lookup, and on a miss the
/// backend. `None` when the flight did not finish.
async fn fly(
    state: &GatewayState,
    key: CacheKey,
    request: &CachedRequest,
    revalidate: bool,
) -> Option<(Response, Outcome)> {
    let flight_key = if revalidate {
        format!("{}#revalidate", key.flight())
    } else {
        key.flight().to_owned()
    };
    let work = fetch(state.clone(), key, request.clone(), revalidate);
    let result = state.cache.flights.run(&flight_key, work).await?;
    let now = now_ms();
    Some(match &*result {
        FlightResult::Hit(entry) => (from_stored(entry, now), Outcome::Hit),
        // The origin's headers, untouched (its own `Age` included).
        FlightResult::Fetched { entry, redis_up } => {
            let outcome = if *redis_up {
                Outcome::Miss
            } else {
                Outcome::Bypass
            };
            (from_entry(entry, entry.headers.clone()), outcome)
        }
        FlightResult::Stale { entry, failure } => {
            tracing::info!(
                service = request.backend.name,
                ?failure,
                "serving a stale copy"
            );
            (from_stored(entry, now), Outcome::Stale)
        }
        FlightResult::Failed(failure) => (
            failure.into_response(request.backend.name, state.caller.timeout),
            Outcome::Miss,
        ),
        FlightResult::Unshared(slot) => {
            let taken = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            let response = match taken {
                Some(response) => relay(response),
                None => own_call(state, request).await,
            };
            (response, Outcome::Miss)
        }
    })
}

/// The response a stored entry makes at `now`: the origin's headers with the entry's age.
fn from_stored(entry: &Entry, now: u64) -> Response {
    from_entry(entry, entry.client_headers(now))
}

/// The response an entry makes, with `headers`.
fn from_entry(entry: &Entry, headers: HeaderMap) -> Response {
    let mut response = Response::new(Body::from(entry.body.clone()));
    *response.status_mut() = entry.status;
    *response.headers_mut() = headers;
    response
}

/// An uncached call of this request's own, for a response too big to share.
async fn own_call(state: &GatewayState, request: &CachedRequest) -> Response {
    let outbound = Outbound {
        method: Method::GET,
        target: request.target.clone(),
        headers: request.headers.clone(),
        added: request.added.clone(),
        body: OutboundBody::Replayable(Bytes::new()),
        only: None,
    };
    match state.caller.send(&request.backend, outbound).await {
        Ok(response) => relay(response),
        Err(failure) => failure.into_response(request.backend.name, state.caller.timeout),
    }
}

/// One flight: the lookup, and on a miss the backend call and the store.
async fn fetch(
    state: GatewayState,
    key: CacheKey,
    request: CachedRequest,
    revalidate: bool,
) -> FlightResult {
    let cache = &state.cache;
    let asked = Directives::of(&request.headers);
    let authorized = request.headers.contains_key(header::AUTHORIZATION);
    let (stale, redis_up) = match cache.lookup(&key).await {
        Lookup::Fresh(entry) if !revalidate => return FlightResult::Hit(entry),
        Lookup::Fresh(entry) | Lookup::Stale(entry) => (Some(entry), true),
        Lookup::Miss => (None, true),
        Lookup::Unavailable => (None, false),
    };
    let outbound = Outbound {
        method: Method::GET,
        target: request.target,
        headers: request.headers,
        added: request.added,
        body: OutboundBody::Replayable(Bytes::new()),
        only: None,
    };
    let requested_at = SystemTime::now();
    let response = match state.caller.send(&request.backend, outbound).await {
        Ok(response) => response,
        Err(failure) => {
            // Unreachable, timed out or its breaker open: the cache is disconnected.
            let limit = cache.args.cache_stale_limit;
            return match stale.filter(|entry| entry.may_answer_disconnected(now_ms(), limit)) {
                Some(entry) => FlightResult::Stale {
                    entry,
                    failure: Some(failure),
                },
                None => FlightResult::Failed(failure),
            };
        }
    };
    // RFC 5861's errors: what `stale-if-error` lets a stale copy answer for.
    let requested_window = asked.stale_if_error.value().map(Duration::from_secs);
    if matches!(response.status().as_u16(), 500 | 502 | 503 | 504)
        && let Some(entry) =
            stale.filter(|entry| entry.may_answer_for_error(now_ms(), requested_window))
    {
        return FlightResult::Stale {
            entry,
            failure: None,
        };
    }
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if length.is_none_or(|length| length > cache.args.cache_max_body) {
        return FlightResult::Unshared(Mutex::new(Some(response)));
    }
    let (mut parts, body) = response.into_parts();
    let Ok(body) = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
    else {
        return FlightResult::Failed(crate::upstream::Failure::Unreachable);
    };
    let received_at = SystemTime::now();
    remove_hop_by_hop(&mut parts.headers);
    let keep = freshness(&Exchange {
        status: parts.status,
        response: &parts.headers,
        request: &asked,
        authorized,
        user: request.user.is_some(),
        requested_at,
        received_at,
        forced: request.forced,
    })
    .filter(|_| redis_up);
    let entry = Entry {
        status: parts.status,
        headers: parts.headers,
        body,
        stored_at: millis_since_epoch(received_at),
        freshness: keep.unwrap_or(Freshness {
            lifetime: Duration::ZERO,
            initial_age: Duration::ZERO,
            scope: Scope::Public,
            stale_if_error: None,
            stale_while_revalidate: None,
            revalidate_only: true,
        }),
    };
    if keep.is_some() {
        cache.insert(&key, &entry).await;
    }
    FlightResult::Fetched { entry, redis_up }
}
