//! The cache's entries in the gateway's Redis: the store `gateway_http_cache` asks, with
//! each call bounded by the store's timeout and skipped while Redis is known to be down.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use redis::Script;

use crate::store::Store;

/// `gateway_http_cache::Store` on Redis. Cloning shares it.
#[derive(Debug, Clone)]
pub struct RedisEntries {
    store: Store,
    drop_tagged: Arc<Script>,
}

impl RedisEntries {
    /// The entries kept in `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            drop_tagged: Arc::new(Script::new(DROP_TAGGED)),
        }
    }

    /// The Redis they are kept in.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl gateway_http_cache::Store for RedisEntries {
    fn key(&self, parts: &[&str]) -> String {
        self.store.key(parts)
    }

    async fn get_many(&self, keys: Vec<String>) -> Option<Vec<Option<Vec<u8>>>> {
        self.store
            .run("cache lookup", move |mut connection| async move {
                redis::cmd("MGET")
                    .arg(&keys)
                    .query_async::<Vec<Option<Vec<u8>>>>(&mut connection)
                    .await
            })
            .await
    }

    async fn put_tagged(
        &self,
        key: String,
        value: Bytes,
        keep: Duration,
        tags: Vec<String>,
    ) -> bool {
        let keep = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        self.store
            .run("cache store", move |mut connection| async move {
                let mut pipe = redis::pipe();
                pipe.cmd("SET")
                    .arg(&key)
                    .arg(value.as_ref())
                    .arg("PX")
                    .arg(keep)
                    .ignore();
                for tag in &tags {
                    pipe.cmd("SADD").arg(tag).arg(&key).ignore();
                    pipe.cmd("PEXPIRE").arg(tag).arg(keep).arg("GT").ignore();
                    pipe.cmd("PEXPIRE").arg(tag).arg(keep).arg("NX").ignore();
                }
                pipe.query_async::<()>(&mut connection).await
            })
            .await
            .is_some()
    }

    async fn drop_tagged(&self, tags: Vec<String>) -> Option<u64> {
        let script = self.drop_tagged.clone();
        self.store
            .run("cache invalidate", move |mut connection| async move {
                let mut invocation = script.prepare_invoke();
                for tag in &tags {
                    invocation.key(tag);
                }
                invocation.invoke_async::<u64>(&mut connection).await
            })
            .await
    }
}

/// Deletes every entry listed in the tag sets `KEYS`, and the sets; answers how many entries
/// went. (Entry keys are not declared to Redis: the cache is meant for one Redis, not a
/// cluster.)
const DROP_TAGGED: &str = r"
local dropped = 0
for _, tag in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', tag)
  for i = 1, #members, 500 do
    dropped = dropped + redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
  end
  redis.call('DEL', tag)
end
return dropped
";
