//! The registry's keys in Redis: per service a hash of its instances and a sorted set of when
//! each one's lifetime ends, and one set of the services' names.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use redis::{
    Client, RedisError, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::sync::OnceCell;

use super::Instance;

/// Registers or renews an instance, its lifetime counted from Redis's clock.
const BEAT: &str = r"
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
return 1
";

/// Forgets the instances whose lifetime has ended, and answers the others.
const LIVE: &str = r"
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms)
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
  redis.call('HDEL', KEYS[2], unpack(gone))
end
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ms, '+inf')
if #live == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(live))
";

const TIMEOUT: Duration = Duration::from_secs(2);

/// What readers keep per service beside its instances: the colour that takes traffic, and
/// the latest deployment.
pub const SERVICE_STATE: [&str; 2] = ["live", "deployment"];

/// The registry in one Redis, under a key prefix. Cloning shares the connection, which is
/// dialled on first use and re-established by the driver.
#[derive(Clone)]
pub struct Registry {
    client: Client,
    prefix: String,
    connection: Arc<OnceCell<ConnectionManager>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// The registry at `url`, its keys under `prefix`; nothing is dialled yet.
    pub fn new(url: &str, prefix: &str) -> Result<Self, RedisError> {
        Ok(Self {
            client: Client::open(url)?,
            prefix: prefix.to_owned(),
            connection: Arc::default(),
        })
    }

    /// The registry's connection, for what readers keep beside it (the gateway's live colours
    /// and deployments, under [`Registry::service_key`]).
    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        self.connection
            .get_or_try_init(|| {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(TIMEOUT)
                    .set_response_timeout(TIMEOUT)
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }

    fn key(&self, service: &str, kind: &str) -> String {
        format!("{}registry:{service}:{kind}", self.prefix)
    }

    /// The key of `service`'s `kind` of state kept beside its instances; one of
    /// [`SERVICE_STATE`], so that [`Registry::clear`] removes it too.
    pub fn service_key(&self, service: &str, kind: &str) -> String {
        debug_assert!(SERVICE_STATE.contains(&kind), "{kind} is not listed");
        self.key(service, kind)
    }

    fn services_key(&self) -> String {
        format!("{}registry:services", self.prefix)
    }

    /// Lists `instance` for `ttl` from now, or renews it for as long.
    pub async fn beat(&self, instance: &Instance, ttl: Duration) -> Result<(), RedisError> {
        let described = serde_json::to_string(instance).unwrap_or_default();
        let mut connection = self.connection().await?;
        Script::new(BEAT)
            .key(self.key(&instance.service, "expiry"))
            .key(self.key(&instance.service, "instances"))
            .key(self.services_key())
            .arg(&instance.id)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .arg(described)
            .arg(&instance.service)
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
    }

    /// Removes `instance` at once.
    pub async fn withdraw(&self, instance: &Instance) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        redis::pipe()
            .zrem(self.key(&instance.service, "expiry"), &instance.id)
            .hdel(self.key(&instance.service, "instances"), &instance.id)
            .query_async::<()>(&mut connection)
            .await
    }

    /// The live instances of `service`, in the order of their lifetimes' ends.
    pub async fn instances(&self, service: &str) -> Result<Vec<Instance>, RedisError> {
        let mut connection = self.connection().await?;
        let described: Vec<Option<String>> = Script::new(LIVE)
            .key(self.key(service, "expiry"))
            .key(self.key(service, "instances"))
            .invoke_async(&mut connection)
            .await?;
        Ok(described
            .into_iter()
            .flatten()
            .filter_map(|text| match serde_json::from_str(&text) {
                Ok(instance) => Some(instance),
                Err(err) => {
                    tracing::warn!(%service, error = %err, "an unreadable registry entry is skipped");
                    None
                }
            })
            .collect())
    }

    /// Every service that has ever registered, with its live instances (perhaps none).
    pub async fn all(&self) -> Result<BTreeMap<String, Vec<Instance>>, RedisError> {
        let mut connection = self.connection().await?;
        let services: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.services_key())
            .query_async(&mut connection)
            .await?;
        let mut all = BTreeMap::new();
        for service in services {
            let instances = self.instances(&service).await?;
            all.insert(service, instances);
        }
        Ok(all)
    }

    /// Removes every key of the registry (for tests, and for a stack taken down for good).
    pub async fn clear(&self) -> Result<(), RedisError> {
        let services = self.all().await?;
        let mut connection = self.connection().await?;
        let mut pipe = redis::pipe();
        for service in services.keys() {
            pipe.del(self.key(service, "expiry"))
                .del(self.key(service, "instances"));
            for kind in SERVICE_STATE {
                pipe.del(self.key(service, kind));
            }
        }
        pipe.del(self.services_key())
            .query_async::<()>(&mut connection)
            .await
    }
}
