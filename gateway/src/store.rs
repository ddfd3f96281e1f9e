//! The gateway's Redis: every call bounded by a short timeout, and after a failure Redis is
//! left alone for a moment, so that an outage costs each request nothing instead of a timeout.
//! Callers fall back (cache BYPASS, in-process rate limit) when a call answers `None`.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::redis::Redis;
use redis::{RedisResult, aio::ConnectionManager};
use tokio::time::Instant;

/// How long Redis is skipped after a failed call.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Redis with a key prefix, a per-call timeout and an outage latch. Cloning shares all three.
#[derive(Debug, Clone)]
pub struct Store {
    redis: Redis,
    prefix: Arc<str>,
    timeout: Duration,
    health: Arc<Health>,
}

#[derive(Debug)]
struct Health {
    epoch: Instant,
    /// Milliseconds since `epoch` before which Redis is not tried.
    paused_until: AtomicU64,
    down: AtomicBool,
}

impl Store {
    /// A store on `redis` whose keys start with `prefix:`.
    pub fn new(redis: Redis, prefix: &str, timeout: Duration) -> Self {
        // Up until a call fails: the gauge reads 1 from the start rather than appearing
        // only after a first outage.
        metrics::gauge!("gateway_redis_up").set(1.0);
        Self {
            redis,
            prefix: prefix.into(),
            timeout,
            health: Arc::new(Health {
                epoch: Instant::now(),
                paused_until: AtomicU64::new(0),
                down: AtomicBool::new(false),
            }),
        }
    }

    /// `prefix:` followed by `parts` joined with `:`.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = String::with_capacity(64);
        key.push_str(&self.prefix);
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// The key prefix, with its colon.
    pub fn namespace(&self) -> String {
        format!("{}:", self.prefix)
    }

    /// Runs `call` on a connection, or answers `None` when Redis is paused, fails or is slow.
    #[tracing::instrument(name = "redis", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = what))]
    pub async fn run<T, F, Fut>(&self, what: &'static str, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.elapsed_ms() < self.health.paused_until.load(Ordering::Relaxed) {
            return None;
        }
        let attempt = async {
            let connection = self.redis.connection().await?;
            call(connection).await
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(value)) => {
                if self.health.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis answers again");
                    metrics::gauge!("gateway_redis_up").set(1.0);
                }
                Some(value)
            }
            Ok(Err(err)) => {
                self.failed(what, &err.to_string());
                None
            }
            Err(_) => {
                self.failed(what, "timed out");
                None
            }
        }
    }

    fn failed(&self, what: &'static str, error: &str) {
        let until = self.elapsed_ms() + u64::try_from(PAUSE_AFTER_FAILURE.as_millis()).unwrap_or(0);
        self.health.paused_until.store(until, Ordering::Relaxed);
        metrics::counter!("gateway_redis_failures_total", "call" => what).increment(1);
        if !self.health.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(call = what, error, "redis unavailable; falling back");
            metrics::gauge!("gateway_redis_up").set(0.0);
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.health.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}
