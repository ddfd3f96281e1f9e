//! A cacheable GET through the gateway, as in the seed's flow: one flight per key looks
//! Redis up and, on a miss, calls the backend (breaker, retries) and stores what may be
//! stored. An expired copy answers when the backend fails or its breaker is open.

use std::{sync::Mutex, time::Instant};

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
        CacheKey, Directives, Entry, Lookup, Scope, flight_result::FlightResult, now_ms,
        stats::Outcome, storable,
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
    pub ttl: std::time::Duration,
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
    let revalidate = Directives::of(&request.headers).no_cache;
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
    let (mut response, outcome) = match looked_up.as_deref() {
        Some(Lookup::Fresh(entry)) => (from_stored(entry, now_ms()), Outcome::Hit),
        _ => match fly(state, key, &request, revalidate).await {
            Some(answer) => answer,
            None => return Problem::internal().into_response(),
        },
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
        FlightResult::Fetched {
            entry,
            stored,
            redis_up,
        } => {
            let headers = if *stored {
                entry.client_headers(now)
            } else {
                entry.headers.clone()
            };
            let outcome = if *redis_up {
                Outcome::Miss
            } else {
                Outcome::Bypass
            };
            (from_entry(entry, headers), outcome)
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

/// The response a stored entry makes at `now`: its headers with its age and remaining
/// lifetime.
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
    let response = match state.caller.send(&request.backend, outbound).await {
        Ok(response) => response,
        Err(failure) => {
            return match stale {
                Some(entry) => FlightResult::Stale {
                    entry,
                    failure: Some(failure),
                },
                None => FlightResult::Failed(failure),
            };
        }
    };
    if response.status().is_server_error()
        && let Some(entry) = stale
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
    remove_hop_by_hop(&mut parts.headers);
    let keep = storable(
        parts.status,
        &parts.headers,
        request.ttl,
        request.user.is_some(),
    )
    .filter(|_| redis_up);
    let (ttl, scope) = keep.unwrap_or((std::time::Duration::ZERO, Scope::Public));
    let entry = Entry {
        status: parts.status,
        headers: parts.headers,
        body,
        stored_at: now_ms(),
        ttl,
        scope,
    };
    let stored = keep.is_some() && cache.insert(&key, &entry).await;
    FlightResult::Fetched {
        entry,
        stored,
        redis_up,
    }
}
