//! `GET /stats/cache`: the seed's cache panel. Counted in this process since it started.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use axum::{Json, extract::State};
use http::HeaderName;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::GatewayState;

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
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    bypass: AtomicU64,
    hit_micros: AtomicU64,
    miss_micros: AtomicU64,
    invalidated: AtomicU64,
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

/// The cache panel.
#[derive(Debug, Serialize, ToSchema)]
pub struct CachePanel {
    /// Requests that went through the cache (hits, misses and stale answers).
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    pub stale: u64,
    /// Cacheable requests answered without the cache (Redis unavailable).
    pub bypassed: u64,
    /// Hits in percent of requests, one decimal.
    pub hit_rate_percent: f64,
    pub avg_hit_latency_ms: f64,
    pub avg_miss_latency_ms: f64,
    /// Entries dropped by writes through the gateway.
    pub invalidated: u64,
    /// Redis's `used_memory`, when it answers.
    pub redis_memory_bytes: Option<u64>,
    /// Redis's `used_memory_human`.
    pub redis_memory_human: Option<String>,
}

#[allow(clippy::cast_precision_loss)] // counters far below 2^52
fn ratio(part: u64, whole: u64, scale: f64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * scale / whole as f64).round() / 10.0
    }
}

/// Requests, hits, misses, hit rate, average hit and miss latency, Redis memory.
#[utoipa::path(get, path = "/stats/cache", tag = "statistics",
    responses((status = 200, description = "The cache panel", body = CachePanel)))]
pub async fn get_cache_stats(State(state): State<GatewayState>) -> Json<CachePanel> {
    Json(cache_panel(&state).await)
}

/// The cache's numbers, and Redis's memory.
pub async fn cache_panel(state: &GatewayState) -> CachePanel {
    let stats = &state.cache.stats;
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let (hits, misses, stale) = (load(&stats.hits), load(&stats.misses), load(&stats.stale));
    let requests = hits + misses + stale;
    let info = state
        .cache
        .store
        .run("cache stats", |mut connection| async move {
            redis::cmd("INFO")
                .arg("memory")
                .query_async::<String>(&mut connection)
                .await
        })
        .await
        .unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|value| value.trim().to_owned())
    };
    CachePanel {
        requests,
        hits,
        misses,
        stale,
        bypassed: load(&stats.bypass),
        hit_rate_percent: ratio(hits, requests, 1000.0),
        avg_hit_latency_ms: ratio(load(&stats.hit_micros), hits, 0.01),
        avg_miss_latency_ms: ratio(load(&stats.miss_micros), misses, 0.01),
        invalidated: load(&stats.invalidated),
        redis_memory_bytes: field("used_memory").and_then(|value| value.parse().ok()),
        redis_memory_human: field("used_memory_human"),
    }
}
