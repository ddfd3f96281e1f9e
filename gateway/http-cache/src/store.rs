//! Where entries are kept: any key-value store with sets and expiry. The gateway gives it
//! Redis; the tests an in-memory map.

use std::{future::Future, time::Duration};

/// A key-value store with sets and expiry, such as Redis. A call the store does not answer
/// gives `None` (or `false`), and the cache goes on without it.
pub trait Store: Send + Sync {
    /// The store's key for `parts`, in the store's own namespace.
    fn key(&self, parts: &[&str]) -> String;

    /// The values at `keys`, in their order.
    fn get_many(
        &self,
        keys: Vec<String>,
    ) -> impl Future<Output = Option<Vec<Option<Vec<u8>>>>> + Send;

    /// Sets `key` to `value` for `keep`, and adds `key` to each of the sets `tags`, each set
    /// kept at least as long as its longest member. Whether the store took it.
    fn put_tagged(
        &self,
        key: String,
        value: bytes::Bytes,
        keep: Duration,
        tags: Vec<String>,
    ) -> impl Future<Output = bool> + Send;

    /// Deletes every key in the sets `tags`, and the sets; how many keys went.
    fn drop_tagged(&self, tags: Vec<String>) -> impl Future<Output = Option<u64>> + Send;
}
