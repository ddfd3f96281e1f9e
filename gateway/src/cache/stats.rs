//! How the cache answered, counted in this process since it started, for `X-Cache`, the
//! metrics and the cache panel.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use http::HeaderName;

/// How a cacheable request was answered, for the counters and `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
    Stale,
    Bypass,
}

impl Outcome {
    /// The `X-Cache` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Stale => "STALE",
            Self::Bypass => "BYPASS",
        }
    }
}

/// The header that tells how the cache answered a request: [`Outcome::as_str`].
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// Counters of the cache's answers.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub(super) hits: AtomicU64,
    pub(super) misses: AtomicU64,
    pub(super) stale: AtomicU64,
    pub(super) bypass: AtomicU64,
    pub(super) hit_micros: AtomicU64,
    pub(super) miss_micros: AtomicU64,
    pub(super) invalidated: AtomicU64,
}

impl CacheStats {
    /// Counts one answer that took `elapsed`.
    pub fn record(&self, outcome: Outcome, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let (count, total) = match outcome {
            Outcome::Hit => (&self.hits, Some(&self.hit_micros)),
            Outcome::Miss => (&self.misses, Some(&self.miss_micros)),
            Outcome::Stale => (&self.stale, None),
            Outcome::Bypass => (&self.bypass, None),
        };
        count.fetch_add(1, Ordering::Relaxed);
        if let Some(total) = total {
            total.fetch_add(micros, Ordering::Relaxed);
        }
        metrics::counter!("gateway_cache_requests_total", "result" => outcome.as_str())
            .increment(1);
        metrics::histogram!("gateway_cache_duration_seconds", "result" => outcome.as_str())
            .record(elapsed.as_secs_f64());
    }

    /// Counts entries dropped by writes.
    pub fn invalidated(&self, entries: u64) {
        self.invalidated.fetch_add(entries, Ordering::Relaxed);
    }
}
