//! What the cache asks of its store: the variants of a key, a new variant beside them, and
//! the entries a write makes stale. Every entry is filed in
//! sets named after its path and its path's ancestors (its tags), so that a write to a
//! resource finds the entries of the resource and of the collections it appears in.

use std::time::Duration;

use http::Method;

use crate::{
    entry::Entry,
    key::{self, CacheKey},
    store::Store,
    vary,
};

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// Every variant stored for the key, the caller's own and the shared ones.
    Found(Vec<Entry>),
    Miss,
    /// The store did not answer: the request bypasses the cache.
    Unavailable,
}

impl Lookup {
    /// What was found (nothing when the store did not answer).
    pub fn entries(&self) -> &[Entry] {
        match self {
            Self::Found(entries) => entries,
            Self::Miss | Self::Unavailable => &[],
        }
    }
}

/// Looks `key` up in `store`: the caller's own variants and the shared ones.
pub async fn lookup(store: &impl Store, key: &CacheKey) -> Lookup {
    let mut keys = vec![key.public.clone()];
    keys.extend(key.user.clone());
    let Some(found) = store.get_many(keys).await else {
        return Lookup::Unavailable;
    };
    let entries: Vec<Entry> = found
        .into_iter()
        .flatten()
        .filter_map(|bytes| vary::decode(&bytes::Bytes::from(bytes)))
        .flatten()
        .collect();
    if entries.is_empty() {
        Lookup::Miss
    } else {
        Lookup::Found(entries)
    }
}

/// Stores `entry` under `key` beside the other variants found there (`others`), for the
/// longest any of them may serve (up to `stale_limit` past its lifetime), filed under the
/// tags of its path. Whether the store took it.
pub async fn insert(
    store: &impl Store,
    key: &CacheKey,
    entry: &Entry,
    others: &[Entry],
    stale_limit: Duration,
) -> bool {
    let Some(stored_at) = key.for_scope(entry.freshness.scope).map(str::to_owned) else {
        return false;
    };
    let variants = vary::with(others, entry);
    let keep = variants
        .iter()
        .map(|variant| variant.keep_for(stale_limit))
        .max()
        .unwrap_or_default()
        .max(Duration::from_millis(1));
    let mut tags = vec![
        key::exact_tag(store, &key.path),
        key::tree_tag(store, &key.path),
    ];
    tags.extend(key::ancestors(&key.path).map(|ancestor| key::tree_tag(store, ancestor)));
    store
        .put_tagged(stored_at, vary::encode(&variants), keep, tags)
        .await
}

/// Drops what a successful write to `path` makes stale: a POST, its own path and its
/// ancestors (the collections it appears in); other writes, everything at or below the
/// path too. How many entries went, `None` when the store did not answer.
pub async fn invalidate(store: &impl Store, method: &Method, path: &str) -> Option<u64> {
    let mut tags: Vec<String> = key::ancestors(path)
        .map(|ancestor| key::exact_tag(store, ancestor))
        .collect();
    tags.push(if *method == Method::POST {
        key::exact_tag(store, path)
    } else {
        key::tree_tag(store, path)
    });
    store.drop_tagged(tags).await
}

#[cfg(test)]
mod tests {
    use std::{
        collections::{HashMap, HashSet},
        sync::{
            Mutex,
            atomic::{AtomicBool, Ordering},
        },
    };

    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};

    use super::*;
    use crate::{
        entry::now_ms,
        rules::{Freshness, Scope},
    };

    /// A store in memory: values and tag sets, without expiry; `down`, it answers nothing.
    #[derive(Default)]
    struct Memory {
        values: Mutex<HashMap<String, Vec<u8>>>,
        sets: Mutex<HashMap<String, HashSet<String>>>,
        down: AtomicBool,
    }

    impl Memory {
        fn is_down(&self) -> bool {
            self.down.load(Ordering::Relaxed)
        }
    }

    impl Store for Memory {
        fn key(&self, parts: &[&str]) -> String {
            format!("test:{}", parts.join(":"))
        }

        async fn get_many(&self, keys: Vec<String>) -> Option<Vec<Option<Vec<u8>>>> {
            if self.is_down() {
                return None;
            }
            let values = self.values.lock().expect("values");
            Some(keys.iter().map(|key| values.get(key).cloned()).collect())
        }

        async fn put_tagged(
            &self,
            key: String,
            value: Bytes,
            _: Duration,
            tags: Vec<String>,
        ) -> bool {
            if self.is_down() {
                return false;
            }
            let mut sets = self.sets.lock().expect("sets");
            for tag in tags {
                sets.entry(tag).or_default().insert(key.clone());
            }
            self.values
                .lock()
                .expect("values")
                .insert(key, value.to_vec());
            true
        }

        async fn drop_tagged(&self, tags: Vec<String>) -> Option<u64> {
            if self.is_down() {
                return None;
            }
            let (mut sets, mut values) = (self.sets.lock().ok()?, self.values.lock().ok()?);
            let keys: Vec<String> = tags
                .iter()
                .filter_map(|tag| sets.remove(tag))
                .flatten()
                .collect();
            Some(
                keys.iter()
                    .filter(|key| values.remove(*key).is_some())
                    .count() as u64,
            )
        }
    }

    fn entry(body: &'static str) -> Entry {
        Entry {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
            stored_at: now_ms(),
            freshness: Freshness {
                lifetime: Duration::from_secs(60),
                initial_age: Duration::ZERO,
                scope: Scope::Public,
                stale_if_error: None,
                stale_while_revalidate: None,
                revalidate_only: false,
            },
            variant: Vec::new(),
        }
    }

    async fn stored(store: &Memory, path: &str) -> CacheKey {
        let key = CacheKey::new(store, path, None, None);
        assert!(insert(store, &key, &entry("{}"), &[], Duration::ZERO).await);
        key
    }

    #[tokio::test]
    async fn a_write_drops_its_resource_and_the_collections_above_it_and_nothing_else() {
        let store = Memory::default();
        let menu = stored(&store, "/restaurants/1/menu").await;
        let restaurant = stored(&store, "/restaurants/1").await;
        let list = stored(&store, "/restaurants").await;
        let other = stored(&store, "/restaurants/2").await;

        let dropped = invalidate(&store, &Method::PUT, "/restaurants/1").await;

        assert_eq!(dropped, Some(3), "the restaurant, its menu and the list");
        assert!(matches!(lookup(&store, &restaurant).await, Lookup::Miss));
        assert!(matches!(lookup(&store, &menu).await, Lookup::Miss));
        assert!(
            matches!(lookup(&store, &list).await, Lookup::Miss),
            "the collection"
        );
        assert_eq!(
            lookup(&store, &other).await.entries().len(),
            1,
            "a sibling stays"
        );
    }

    #[tokio::test]
    async fn a_post_drops_the_collection_but_not_what_is_below_it() {
        let store = Memory::default();
        let list = stored(&store, "/restaurants").await;
        let restaurant = stored(&store, "/restaurants/1").await;

        invalidate(&store, &Method::POST, "/restaurants").await;

        assert!(matches!(lookup(&store, &list).await, Lookup::Miss));
        assert_eq!(lookup(&store, &restaurant).await.entries().len(), 1);
    }

    #[tokio::test]
    async fn a_store_that_does_not_answer_is_a_bypass_not_a_miss_and_loses_nothing() {
        let store = Memory::default();
        let kept = stored(&store, "/restaurants").await;
        store.down.store(true, Ordering::Relaxed);

        assert!(matches!(lookup(&store, &kept).await, Lookup::Unavailable));
        let other = CacheKey::new(&store, "/restaurants/1", None, None);
        assert!(!insert(&store, &other, &entry("{}"), &[], Duration::ZERO).await);
        assert_eq!(invalidate(&store, &Method::PUT, "/restaurants").await, None);

        store.down.store(false, Ordering::Relaxed);
        assert_eq!(
            lookup(&store, &kept).await.entries().len(),
            1,
            "kept while away"
        );
    }
}
