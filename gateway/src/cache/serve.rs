//! A cacheable GET through the gateway, as in the seed's flow: one flight per key looks
//! Redis up and, on a miss, calls the backend (breaker, retries) and stores what RFC 9111
//! lets a shared cache store. A stale copy answers while it is refreshed, or for a failing
//! backend, as far as the origin's headers allow.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use shared::Problem;

use gateway_net::relay::relay;

use gateway_http_cache::{CacheKey, Directives, Entry, conditional, now_ms, select, vary};

use super::{
    fetch::fetch,
    flight::{CachedRequest, FlightResult},
    state::Cache,
    stats::{Outcome, X_CACHE},
};
use gateway_upstream::{Outbound, OutboundBody};

const X_CACHE_SOURCE: HeaderName = HeaderName::from_static("x-cache-source");

/// Answers `request` from the cache or the backend.
pub async fn serve(cache: &Cache, request: CachedRequest) -> Response {
    let key = CacheKey::new(
        &cache.entries,
        request.target.path(),
        request.target.query(),
        request.user,
    );
    // `Cache-Control: no-cache` from the client: skip the stored copy, refresh it.
    let asked = request.asked;
    let revalidate = asked.no_cache;
    // A fresh copy is found by a lookup shared only by the requests of this serving thread:
    // one shared across threads would wake each of its waiters from another thread. Anything
    // else joins the flight of every thread, which looks again before calling the backend.
    let looked_up = if revalidate {
        None
    } else {
        let (shared, looked_for) = (cache.clone(), key.clone());
        let lookup = async move { shared.lookup(&looked_for).await };
        cache.lookups.get().run(key.flight(), lookup).await
    };
    let now = now_ms();
    let found = looked_up
        .as_deref()
        .and_then(|found| select(found.entries(), &request.headers, now));
    let (mut response, outcome) = match found {
        Some(entry) if entry.is_fresh(now) && satisfies(entry, &asked, now) => {
            (from_stored(entry, now, &request.headers), Outcome::Hit)
        }
        Some(entry) if entry.may_answer_while_revalidating(now) => {
            refresh_in_background(cache, key, &request, entry);
            (from_stored(entry, now, &request.headers), Outcome::Stale)
        }
        Some(entry) if takes_stale(entry, &asked, now) => {
            (from_stored(entry, now, &request.headers), Outcome::Stale)
        }
        // `only-if-cached` and nothing stored that will do: never the backend (§5.2.1.7).
        _ if asked.only_if_cached => {
            return Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "not-cached",
                "Not in the cache",
            )
            .with_detail("The request asked for a stored answer only, and none will do.")
            .into_response();
        }
        // A fresh copy too old for the client's `max-age` or `min-fresh` is refreshed.
        found => {
            let refresh = revalidate || found.is_some_and(|entry| entry.is_fresh(now));
            match fly(cache, key, &request, refresh, &[]).await {
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
    cache.stats.record(outcome, request.started.elapsed());
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

/// Whether the client takes `entry` stale (`max-stale`, §5.2.1.2): within its limit, and
/// unless the origin forbade stale answers.
fn takes_stale(entry: &Entry, asked: &Directives, now: u64) -> bool {
    let within = asked.max_stale_any
        || asked
            .max_stale
            .value()
            .is_some_and(|limit| entry.staleness(now) <= Duration::from_secs(limit));
    within && !entry.is_fresh(now) && !entry.freshness.revalidate_only
}

/// Refreshes `key` from the backend without keeping anyone waiting, in the flight every
/// refresh of that key joins (`stale-while-revalidate`).
fn refresh_in_background(cache: &Cache, key: CacheKey, request: &CachedRequest, stale: &Entry) {
    let flight_key = flight_key(&key, true, &stale.variant);
    let work = fetch(cache.clone(), key, request.clone(), true, next_request_id());
    let flights = cache.flights.clone();
    tokio::spawn(async move {
        flights.run(&flight_key, work).await;
    });
}

/// The flight of `key`: a refresh apart from a lookup, each variant apart from the others.
fn flight_key(key: &CacheKey, revalidate: bool, variant: &[(String, String)]) -> String {
    let mut flight = key.flight().to_owned();
    if revalidate {
        flight.push_str("#revalidate");
    }
    for (name, value) in variant {
        flight.push_str(&format!("#{name}={value}"));
    }
    flight
}

/// A number for each request that starts a flight, to tell its leader from those joining it.
fn next_request_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The answer of the flight for `key`, joined or started: its lookup, and on a miss the
/// backend. `None` when the flight did not finish.
async fn fly(
    cache: &Cache,
    key: CacheKey,
    request: &CachedRequest,
    revalidate: bool,
    variant: &[(String, String)],
) -> Option<(Response, Outcome)> {
    let id = next_request_id();
    let flight_key = flight_key(&key, revalidate, variant);
    let work = fetch(cache.clone(), key.clone(), request.clone(), revalidate, id);
    let result = cache.flights.run(&flight_key, work).await?;
    // The flight answered another variant than this request's: one flight of its own.
    if variant.is_empty()
        && let Some(entry) = result.entry()
        && !vary::matches(entry, &request.headers)
    {
        let own = vary::nominated(&entry.headers)
            .map(|names| vary::values_of(&request.headers, &names))
            .filter(|own| !own.is_empty());
        return match own {
            Some(own) => Box::pin(fly(cache, key, request, revalidate, &own)).await,
            // `Vary: *`: an answer for no other request.
            None => Some((Box::pin(own_call(cache, request)).await, Outcome::Miss)),
        };
    }
    // Its answer was another request's alone (private, or not to be stored): one call of
    // this request's own.
    if !result.answers(id) {
        return Some((Box::pin(own_call(cache, request)).await, Outcome::Miss));
    }
    let now = now_ms();
    let asked = &request.headers;
    Some(match &*result {
        FlightResult::Hit(entry) => (from_stored(entry, now, asked), Outcome::Hit),
        // Validated by the backend: the stored body, served as a hit.
        FlightResult::Revalidated { entry, .. } => (from_stored(entry, now, asked), Outcome::Hit),
        // The origin's headers, untouched (its own `Age` included).
        FlightResult::Fetched {
            entry, redis_up, ..
        } => {
            let outcome = if *redis_up {
                Outcome::Miss
            } else {
                Outcome::Bypass
            };
            let response = respond(asked, entry.status, entry.headers.clone(), &entry.body);
            (response, outcome)
        }
        FlightResult::Stale { entry, failure } => {
            tracing::info!(
                service = request.backend.name,
                ?failure,
                "serving a stale copy"
            );
            (from_stored(entry, now, asked), Outcome::Stale)
        }
        FlightResult::Failed(failure) => (
            failure.into_response(request.backend.name, cache.calls.timeout),
            Outcome::Miss,
        ),
        FlightResult::Unshared(slot) => {
            let taken = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            let response = match taken {
                Some(response) => response,
                None => Box::pin(own_call(cache, request)).await,
            };
            (response, Outcome::Miss)
        }
    })
}

/// The response a stored entry makes at `now` for a request with `asked` headers: the
/// origin's headers with the entry's age.
fn from_stored(entry: &Entry, now: u64, asked: &HeaderMap) -> Response {
    respond(asked, entry.status, entry.client_headers(now), &entry.body)
}

/// A complete response as the client's conditions and range make it.
fn respond(asked: &HeaderMap, status: StatusCode, headers: HeaderMap, body: &Bytes) -> Response {
    let answer = conditional::answer(asked, status, headers, body.clone());
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    response
}

/// An uncached call of this request's own, for a response too big to share.
async fn own_call(cache: &Cache, request: &CachedRequest) -> Response {
    let outbound = Outbound {
        method: Method::GET,
        target: request.target.clone(),
        headers: request.headers.clone(),
        added: request.added.clone(),
        body: OutboundBody::Replayable(Bytes::new()),
        only: None,
    };
    match cache.calls.send(&request.backend, outbound).await {
        Ok(response) => relay(response),
        Err(failure) => failure.into_response(request.backend.name, cache.calls.timeout),
    }
}
