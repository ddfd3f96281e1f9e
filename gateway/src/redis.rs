//! Redis: a connection manager per runtime, created on first use and re-established by its
//! driver.
//!
//! One per runtime rather than one for the process: a connection's driver is a task of the
//! runtime that made it, so a command sent from another serving thread would wake that
//! thread and be woken back (see [`gateway_net::per_runtime`]), and a connection made on a runtime
//! that has ended would be dead.

use std::time::Duration;

use redis::{
    Client, RedisError,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::sync::OnceCell;

use gateway_net::per_runtime::PerRuntime;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis server. Cloning shares the connections.
#[derive(Clone)]
pub struct Redis {
    client: Client,
    managers: PerRuntime<OnceCell<ConnectionManager>>,
}

impl Redis {
    /// Prepares a connection to `url`; nothing is dialled until first use, so a Redis that is
    /// down does not stop start-up.
    pub fn new(url: &str) -> Result<Self, RedisError> {
        Ok(Self {
            client: Client::open(url)?,
            managers: PerRuntime::default(),
        })
    }

    /// The current runtime's multiplexed connection, which reconnects by itself once it
    /// exists.
    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        self.managers
            .get()
            .get_or_try_init(|| {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(RESPONSE_TIMEOUT)
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }

    /// Readiness: the server answers `PING`.
    pub async fn check(&self) -> Result<(), String> {
        let mut connection = self
            .connection()
            .await
            .map_err(|_| "unreachable".to_owned())?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(|_| "unreachable".to_owned())
    }
}

/// Accepts a `redis://`, `rediss://` or `redis+unix://` URL.
pub(crate) fn parse_redis_url(value: &str) -> Result<String, String> {
    Client::open(value).map_err(|err| err.to_string())?;
    Ok(value.to_owned())
}

impl shared::health::HealthCheck for Redis {
    fn check(&self) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(Redis::check(self))
    }
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("connections", &self.managers.count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PINGs `redis` from a runtime of its own, ended when this returns.
    fn ping_on_a_new_runtime(redis: &Redis) -> Result<(), String> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(redis.check())
    }

    #[test]
    fn a_connection_made_on_a_runtime_that_has_ended_does_not_serve_the_next() {
        let redis = Redis::new("redis://127.0.0.1:6379").expect("a Redis URL");
        assert_eq!(ping_on_a_new_runtime(&redis), Ok(()));
        assert_eq!(ping_on_a_new_runtime(&redis), Ok(()));
    }

    #[test]
    fn runtimes_on_other_threads_each_have_a_working_connection() {
        let redis = Redis::new("redis://127.0.0.1:6379").expect("a Redis URL");
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let redis = redis.clone();
                std::thread::spawn(move || ping_on_a_new_runtime(&redis))
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().expect("the thread ran"), Ok(()));
        }
        assert_eq!(redis.managers.count(), 3, "one connection per runtime");
    }

    #[test]
    fn a_redis_url_of_another_scheme_is_refused() {
        assert!(parse_redis_url("redis://127.0.0.1:6379").is_ok());
        assert!(parse_redis_url("memcached://x").is_err());
    }
}
