//! Redis: a connection manager created on first use and re-established by the driver.

use std::{sync::Arc, time::Duration};

use redis::{
    Client, RedisError,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::sync::OnceCell;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis server. Cloning shares the connection.
#[derive(Clone)]
pub struct Redis {
    client: Client,
    manager: Arc<OnceCell<ConnectionManager>>,
}

impl Redis {
    /// Prepares a connection to `url`; nothing is dialled until first use, so a Redis that is
    /// down does not stop start-up.
    pub fn new(url: &str) -> Result<Self, RedisError> {
        Ok(Self {
            client: Client::open(url)?,
            manager: Arc::new(OnceCell::new()),
        })
    }

    /// A multiplexed connection that reconnects by itself once it exists.
    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        self.manager
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

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("connected", &self.manager.initialized())
            .finish_non_exhaustive()
    }
}
