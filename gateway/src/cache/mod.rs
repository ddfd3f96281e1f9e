//! The response cache in Redis: an RFC 9111 shared cache. GETs are looked up, misses
//! fetched once (single-flight) and stored for as long as the origin's headers say (or a
//! route's configured lifetime); a stale copy answers while it is refreshed
//! (`stale-while-revalidate`), for a failing origin (`stale-if-error`), or, unless the origin
//! forbade it, when the origin cannot be reached. Writes through the gateway drop the entries
//! of the resource and its collection.

pub(crate) mod conditional;
mod control;
mod entry;
mod flight;
pub(crate) mod invalidation;
mod key;
mod policy;
pub(crate) mod purge;
pub(crate) mod revalidate;
#[cfg(test)]
mod rfc_tests;
pub(crate) mod stats;
pub(crate) mod vary;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use clap::{ArgAction, Args};
use gateway_net::per_runtime::PerRuntime;
use http::Method;
use redis::Script;

pub use self::{
    control::Directives,
    entry::{Entry, millis_since_epoch, now_ms},
    flight::Flights,
    key::CacheKey,
    policy::{Exchange, Freshness, Scope, freshness},
    purge::purge_cache,
    stats::{CachePanel, CacheStats, cache_panel, get_cache_stats},
};
use crate::{
    routes::{RouteTable, parse_table},
    store::Store,
};

/// The header that tells how the cache answered a request (`HIT`, `MISS`, `STALE`, `BYPASS`).
pub const X_CACHE: http::HeaderName = http::HeaderName::from_static("x-cache");

/// Authentication answers, payments and live tracking are never cached; health neither.
pub const DEFAULT_CACHE_TTLS: &str =
    "/auth=0s, /payments=0s, /tracking=0s, GET /*/health=0s, GET /*/ready=0s";

/// How GET responses are cached.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Whether GET responses are cached at all.
    #[arg(long = "cache", env = "CACHE", default_value_t = true, action = ArgAction::Set)]
    pub cache_enabled: bool,
    /// Lifetimes forced per route, in place of what the origin's headers say:
    /// `/prefix=DURATION` or `METHOD /pattern=DURATION`, comma-separated, first match wins;
    /// `0s` turns the cache off for the route (no lookup at all). Routes not listed follow
    /// the origin's headers alone.
    #[arg(long, env = "CACHE_TTLS", default_value = DEFAULT_CACHE_TTLS, value_parser = parse_cache_ttls)]
    pub cache_ttls: CacheTtls,
    /// How long past its lifetime a copy may answer when the backend cannot be reached (or its
    /// breaker is open) and the origin gave no `stale-if-error`; never for a response marked
    /// `must-revalidate`, `proxy-revalidate` or `s-maxage`.
    #[arg(long, env = "CACHE_STALE_LIMIT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub cache_stale_limit: Duration,
    /// Largest response body stored.
    #[arg(long, env = "CACHE_MAX_BODY", default_value_t = 1024 * 1024)]
    pub cache_max_body: usize,
}

/// Route -> lifetime.
#[derive(Debug, Clone)]
pub struct CacheTtls(pub RouteTable<Duration>);

fn parse_cache_ttls(text: &str) -> Result<CacheTtls, String> {
    // `/prefix=ttl` is short for `* /prefix/**=ttl`.
    let expanded: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((prefix, ttl)) if prefix.starts_with('/') => {
                format!("* {}/**={ttl}", prefix.trim_end_matches('/'))
            }
            _ => entry.to_owned(),
        })
        .collect();
    parse_table(&expanded.join(","), |ttl| {
        humantime::parse_duration(ttl).map_err(|err| err.to_string())
    })
    .map(CacheTtls)
}

/// How a route is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteCache {
    /// The lifetime configuration forces on its responses, if any.
    pub forced: Option<Duration>,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// Every variant stored for the key, the caller's own and the shared ones.
    Found(Vec<Entry>),
    Miss,
    /// Redis did not answer: the request bypasses the cache.
    Unavailable,
}

impl Lookup {
    /// What was found (nothing when Redis did not answer).
    pub fn entries(&self) -> &[Entry] {
        match self {
            Self::Found(entries) => entries,
            Self::Miss | Self::Unavailable => &[],
        }
    }
}

/// The stored answer for `request` among `entries`: a fresh variant that matches it, else
/// the youngest stale one.
pub fn select<'a>(entries: &'a [Entry], request: &http::HeaderMap, now: u64) -> Option<&'a Entry> {
    let matching = || entries.iter().filter(|entry| vary::matches(entry, request));
    matching()
        .find(|entry| entry.is_fresh(now))
        .or_else(|| matching().min_by_key(|entry| entry.age(now)))
}

/// The cache: settings, Redis, the flights and the statistics.
#[derive(Debug, Clone)]
pub struct Cache {
    pub args: Arc<CacheArgs>,
    pub store: Store,
    /// Lookups in flight, shared by the requests of one serving thread.
    pub lookups: PerRuntime<Flights<Lookup>>,
    /// Lookups and backend calls in flight, shared by every request.
    pub flights: Arc<Flights<flight_result::FlightResult>>,
    pub stats: Arc<CacheStats>,
    invalidate: Arc<Script>,
}

pub mod flight_result {
    //! What one flight produced, shared by everyone who joined it.

    use std::sync::Mutex;

    use axum::response::Response;

    use super::Entry;
    use crate::upstream::Failure;

    /// The outcome of one lookup-and-fetch.
    #[derive(Debug)]
    pub enum FlightResult {
        /// A fresh entry was in Redis.
        Hit(Entry),
        /// A stored entry the backend said is still current (304), freshened.
        /// `private_to`: the one request it may answer, when it may not be shared.
        Revalidated {
            entry: Entry,
            private_to: Option<u64>,
        },
        /// Fetched from the backend and buffered (and stored, when it may be).
        Fetched {
            entry: Entry,
            redis_up: bool,
            private_to: Option<u64>,
        },
        /// The backend failed; this expired copy answers instead.
        Stale {
            entry: Entry,
            failure: Option<Failure>,
        },
        /// The backend failed and nothing was cached.
        Failed(Failure),
        /// Too big or unbounded to share: the first taker streams it, the others fetch their
        /// own.
        Unshared(Mutex<Option<Response>>),
    }

    impl FlightResult {
        /// The response it answers with, when it is a whole one.
        pub fn entry(&self) -> Option<&Entry> {
            match self {
                Self::Hit(entry)
                | Self::Revalidated { entry, .. }
                | Self::Fetched { entry, .. }
                | Self::Stale { entry, .. } => Some(entry),
                Self::Failed(_) | Self::Unshared(_) => None,
            }
        }

        /// Whether request `id` may take its answer.
        pub fn answers(&self, id: u64) -> bool {
            match self {
                Self::Revalidated { private_to, .. } | Self::Fetched { private_to, .. } => {
                    private_to.is_none_or(|leader| leader == id)
                }
                _ => true,
            }
        }
    }
}

impl Cache {
    /// A cache for `args` in `store`.
    pub fn new(args: CacheArgs, store: Store) -> Self {
        Self {
            args: Arc::new(args),
            store,
            lookups: PerRuntime::default(),
            flights: Arc::default(),
            stats: Arc::default(),
            invalidate: Arc::new(Script::new(INVALIDATE)),
        }
    }

    /// How a response to `method path` is cached, `None` when it is not.
    pub fn route(&self, method: &Method, path: &str) -> Option<RouteCache> {
        if !self.args.cache_enabled || !matches!(*method, Method::GET | Method::HEAD) {
            return None;
        }
        // HEAD is answered from GET's entries.
        match self.args.cache_ttls.0.find(&Method::GET, path) {
            Some(forced) if forced.is_zero() => None,
            forced => Some(RouteCache {
                forced: forced.copied(),
            }),
        }
    }

    /// Looks `key` up: the caller's own variants and the shared ones.
    pub async fn lookup(&self, key: &CacheKey) -> Lookup {
        let mut keys = vec![key.public.clone()];
        keys.extend(key.user.clone());
        let found = self
            .store
            .run("cache lookup", move |mut connection| async move {
                redis::cmd("MGET")
                    .arg(&keys)
                    .query_async::<Vec<Option<Vec<u8>>>>(&mut connection)
                    .await
            })
            .await;
        let Some(found) = found else {
            return Lookup::Unavailable;
        };
        let entries: Vec<Entry> = found
            .into_iter()
            .flatten()
            .filter_map(|bytes| vary::decode(&Bytes::from(bytes)))
            .flatten()
            .collect();
        if entries.is_empty() {
            Lookup::Miss
        } else {
            Lookup::Found(entries)
        }
    }

    /// Stores `entry` under `key` beside the other variants found there (`others`), for the
    /// longest any of them may serve, and files it under the tags of its path so that writes
    /// can find it. Whether Redis took it.
    pub async fn insert(&self, key: &CacheKey, entry: &Entry, others: &[Entry]) -> bool {
        let Some(redis_key) = key.for_scope(entry.freshness.scope).map(str::to_owned) else {
            return false;
        };
        let variants = vary::with(others, entry);
        let keep = variants
            .iter()
            .map(|variant| variant.keep_for(self.args.cache_stale_limit))
            .max()
            .unwrap_or_default();
        let keep = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut tags = vec![
            key::exact_tag(&self.store, &key.path),
            key::tree_tag(&self.store, &key.path),
        ];
        tags.extend(key::ancestors(&key.path).map(|ancestor| key::tree_tag(&self.store, ancestor)));
        let bytes = vary::encode(&variants);
        self.store
            .run("cache store", move |mut connection| async move {
                let mut pipe = redis::pipe();
                pipe.cmd("SET")
                    .arg(&redis_key)
                    .arg(bytes.as_ref())
                    .arg("PX")
                    .arg(keep)
                    .ignore();
                for tag in &tags {
                    pipe.cmd("SADD").arg(tag).arg(&redis_key).ignore();
                    pipe.cmd("PEXPIRE").arg(tag).arg(keep).arg("GT").ignore();
                    pipe.cmd("PEXPIRE").arg(tag).arg(keep).arg("NX").ignore();
                }
                pipe.query_async::<()>(&mut connection).await
            })
            .await
            .is_some()
    }

    /// Drops what a successful write to `path` makes stale: a POST, its own path and its
    /// ancestors (the collections it appears in); other writes, everything at or below the
    /// path too.
    pub async fn invalidate(&self, method: &Method, path: &str) {
        if !self.args.cache_enabled {
            return;
        }
        let mut tags: Vec<String> = key::ancestors(path)
            .map(|ancestor| key::exact_tag(&self.store, ancestor))
            .collect();
        tags.push(if *method == Method::POST {
            key::exact_tag(&self.store, path)
        } else {
            key::tree_tag(&self.store, path)
        });
        let script = self.invalidate.clone();
        let dropped = self
            .store
            .run("cache invalidate", move |mut connection| async move {
                let mut invocation = script.prepare_invoke();
                for tag in &tags {
                    invocation.key(tag);
                }
                invocation.invoke_async::<u64>(&mut connection).await
            })
            .await;
        if let Some(dropped) = dropped {
            tracing::debug!(path, dropped, "cache entries invalidated");
            self.stats.invalidated(dropped);
        }
    }
}

/// Deletes every entry listed in the tag sets `KEYS`, and the sets; answers how many entries
/// went. (Entry keys are not declared to Redis: the cache is meant for one Redis, not a
/// cluster.)
const INVALIDATE: &str = r"
local dropped = 0
for _, tag in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', tag)
  for i = 1, #members, 500 do
    dropped = dropped + redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
  end
  redis.call('DEL', tag)
end
return dropped
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_patterns_both_set_route_lifetimes() {
        let ttls = parse_cache_ttls("/orders=0s, GET /restaurants/*/menu=60s, /restaurants=5m")
            .expect("parses");
        assert_eq!(
            ttls.0.find(&Method::GET, "/orders/1"),
            Some(&Duration::ZERO)
        );
        assert_eq!(
            ttls.0.find(&Method::GET, "/restaurants/1/menu"),
            Some(&Duration::from_secs(60))
        );
        assert_eq!(
            ttls.0.find(&Method::GET, "/restaurants"),
            Some(&Duration::from_secs(300))
        );
        assert!(parse_cache_ttls("/orders=soon").is_err());
        parse_cache_ttls(DEFAULT_CACHE_TTLS).expect("the defaults parse");
    }
}
