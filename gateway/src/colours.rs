//! Each service's live colour: which of its colours (blue, green) takes its traffic, kept in
//! the registry's Redis beside its instances so that every gateway agrees. Discovery reads
//! it to route; a deployment writes it, with its record, when it switches.

use redis::RedisError;
use shared::registry::Registry;

/// The colour that takes a service's traffic while none is set.
pub const DEFAULT_LIVE: &str = "blue";

/// The live colours in the registry's Redis; cloning shares the connection.
#[derive(Debug, Clone)]
pub struct LiveColours {
    registry: Registry,
}

impl LiveColours {
    /// The live colours kept in `registry`'s Redis.
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }

    /// The registry they are kept in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The key of `service`'s live colour.
    pub fn key(&self, service: &str) -> String {
        self.registry.service_key(service, "live")
    }

    /// Each of `services`' live colour (the default where none is set).
    pub async fn read(&self, services: &[&str]) -> Result<Vec<String>, RedisError> {
        let keys: Vec<String> = services.iter().map(|service| self.key(service)).collect();
        let mut connection = self.registry.connection().await?;
        let colours: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut connection)
            .await?;
        Ok(colours
            .into_iter()
            .map(|colour| colour.unwrap_or_else(|| DEFAULT_LIVE.to_owned()))
            .collect())
    }
}
