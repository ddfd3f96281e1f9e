//! One flight through the cache: what it is asked (a cacheable request) and what it
//! produced, shared by every request that joined it.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::response::Response;
use gateway_http_cache::{Directives, Entry};
use http::{HeaderMap, uri::PathAndQuery};
use uuid::Uuid;

use gateway_upstream::{Added, Backend, Failure};

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

/// A GET (or HEAD) on a cached route.
#[derive(Debug, Clone)]
pub struct CachedRequest {
    pub backend: Backend,
    pub head: bool,
    /// Path and query, as received.
    pub target: PathAndQuery,
    pub headers: HeaderMap,
    /// Its `Cache-Control` directives, read once.
    pub asked: Directives,
    /// Fields forwarding adds after `headers`.
    pub added: Added,
    pub user: Option<Uuid>,
    /// The lifetime the route's configuration forces, if any.
    pub forced: Option<Duration>,
    pub started: Instant,
}
