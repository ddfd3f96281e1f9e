//! The cache's state: its settings, Redis, the flights in the air, the statistics and the
//! rules of its backend calls; and what it asks of the cache's rules for one route or one key.

use std::{sync::Arc, time::Duration};

use gateway_http_cache::{CacheKey, Entry, Flights, Lookup};
use gateway_net::per_runtime::PerRuntime;
use gateway_upstream::CallPolicy;
use http::Method;

use super::{args::CacheArgs, entries::RedisEntries, flight::FlightResult, stats::CacheStats};
use crate::store::Store;

/// How a route is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteCache {
    /// The lifetime configuration forces on its responses, if any.
    pub forced: Option<Duration>,
}

/// The cache: settings, Redis, the flights and the statistics.
#[derive(Debug, Clone)]
pub struct Cache {
    pub args: Arc<CacheArgs>,
    /// Where the entries are kept.
    pub entries: RedisEntries,
    /// Lookups in flight, shared by the requests of one serving thread.
    pub lookups: PerRuntime<Flights<Lookup>>,
    /// Lookups and backend calls in flight, shared by every request.
    pub flights: Arc<Flights<FlightResult>>,
    pub stats: Arc<CacheStats>,
    /// How a miss calls the backend.
    pub calls: CallPolicy,
}

impl Cache {
    /// A cache for `args` in `store`, calling backends on a miss as `calls` says.
    pub fn new(args: CacheArgs, store: Store, calls: CallPolicy) -> Self {
        Self {
            args: Arc::new(args),
            entries: RedisEntries::new(store),
            lookups: PerRuntime::default(),
            flights: Arc::default(),
            stats: Arc::default(),
            calls,
        }
    }

    /// The Redis the entries are kept in, for what the cache's rules do not cover (the
    /// purge, the memory figure).
    pub fn store(&self) -> &Store {
        self.entries.store()
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
        gateway_http_cache::lookup(&self.entries, key).await
    }

    /// Stores `entry` under `key` beside the other variants found there (`others`). Whether
    /// Redis took it.
    pub async fn insert(&self, key: &CacheKey, entry: &Entry, others: &[Entry]) -> bool {
        gateway_http_cache::insert(
            &self.entries,
            key,
            entry,
            others,
            self.args.cache_stale_limit,
        )
        .await
    }

    /// Drops what a successful write to `path` makes stale, and counts it.
    pub async fn invalidate(&self, method: &Method, path: &str) {
        if !self.args.cache_enabled {
            return;
        }
        if let Some(dropped) = gateway_http_cache::invalidate(&self.entries, method, path).await {
            tracing::debug!(path, dropped, "cache entries invalidated");
            self.stats.invalidated(dropped);
        }
    }
}
