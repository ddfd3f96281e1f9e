//! Deployments kept in the registry's Redis, so that every gateway agrees: each service's
//! latest deployment as one JSON record, written with its live colour (`colours`). A record
//! is written only while it is not yet final, so that a rollback asked at one gateway stops
//! the deployment another runs.

use redis::{AsyncCommands as _, RedisError, Script};

use super::record::Deployment;
use crate::colours::LiveColours;

/// Writes the record (and the live colour, if given) unless the stored record of the same
/// deployment is final, or (for a new one) another deployment is still under way.
const SAVE: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local stored = cjson.decode(current)
  local final = stored.state == 'promoted' or stored.state == 'smoke-failed'
    or stored.state == 'rolled-back' or stored.state == 'aborted'
  if stored.id == ARGV[2] and final then return 0 end
  if stored.id ~= ARGV[2] and not final then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3]) end
return 1
";

/// Deployment records, beside the registry's instances and the live colours.
#[derive(Debug, Clone)]
pub struct DeployStore {
    colours: LiveColours,
}

impl DeployStore {
    /// The store beside `colours`, in the same Redis.
    pub fn new(colours: LiveColours) -> Self {
        Self { colours }
    }

    /// Each of `services`' live colour (the default where none is set).
    pub async fn live_colours(&self, services: &[&str]) -> Result<Vec<String>, RedisError> {
        self.colours.read(services).await
    }

    /// `service`'s latest deployment.
    pub async fn latest(&self, service: &str) -> Result<Option<Deployment>, RedisError> {
        let registry = self.colours.registry();
        let mut connection = registry.connection().await?;
        let stored: Option<String> = connection
            .get(registry.service_key(service, "deployment"))
            .await?;
        Ok(stored.and_then(|text| match serde_json::from_str(&text) {
            Ok(deployment) => Some(deployment),
            Err(err) => {
                tracing::warn!(%service, error = %err, "an unreadable deployment record is ignored");
                None
            }
        }))
    }

    /// Writes `deployment` and, with `live`, the service's live colour, in one step; `false`
    /// when it was ended elsewhere (or, new, another is under way).
    pub async fn save(
        &self,
        deployment: &Deployment,
        live: Option<&str>,
    ) -> Result<bool, RedisError> {
        self.write(deployment, live, SAVE).await
    }

    /// Writes `deployment` and the live colour whatever the stored record says: a rollback.
    pub async fn overwrite(&self, deployment: &Deployment, live: &str) -> Result<(), RedisError> {
        const ALWAYS: &str = r"
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[3])
return 1
";
        self.write(deployment, Some(live), ALWAYS).await.map(drop)
    }

    async fn write(
        &self,
        deployment: &Deployment,
        live: Option<&str>,
        script: &str,
    ) -> Result<bool, RedisError> {
        let record = serde_json::to_string(deployment).unwrap_or_default();
        let registry = self.colours.registry();
        let mut connection = registry.connection().await?;
        let saved: i64 = Script::new(script)
            .key(registry.service_key(&deployment.service, "deployment"))
            .key(self.colours.key(&deployment.service))
            .arg(record)
            .arg(&deployment.id)
            .arg(live.unwrap_or(""))
            .invoke_async(&mut connection)
            .await?;
        Ok(saved == 1)
    }
}
