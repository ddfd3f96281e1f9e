//! `GET /stats/cache`: the seed's cache panel, from the counters and Redis's memory.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa::ToSchema;

use super::state::Cache;

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
pub async fn get_cache_stats(State(cache): State<Cache>) -> Json<CachePanel> {
    Json(cache_panel(&cache).await)
}

/// The cache's numbers, and Redis's memory.
pub async fn cache_panel(cache: &Cache) -> CachePanel {
    let stats = &cache.stats;
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let (hits, misses, stale) = (load(&stats.hits), load(&stats.misses), load(&stats.stale));
    let requests = hits + misses + stale;
    let info = cache
        .store()
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
