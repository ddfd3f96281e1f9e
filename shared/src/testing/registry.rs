//! A service registry of its own per test, cleared afterwards.

use crate::registry::Registry;

/// A registry under a fresh prefix on the test Redis (`TEST_REDIS_URL`, else the local one);
/// its keys are removed when this is dropped.
#[derive(Debug)]
pub struct TestRegistry {
    /// The Redis URL.
    pub url: String,
    /// The prefix of its keys (`REGISTRY_PREFIX` for binaries under test).
    pub prefix: String,
    /// The registry, to read.
    pub registry: Registry,
}

impl TestRegistry {
    /// A fresh prefix.
    pub fn new() -> Self {
        Self::with_prefix(&format!("test-{}:", uuid::Uuid::now_v7().simple()))
    }

    /// The registry under `prefix` (one a test made unique), cleared when this is dropped.
    pub fn with_prefix(prefix: &str) -> Self {
        let url = redis_url();
        let prefix = prefix.to_owned();
        let registry = Registry::new(&url, &prefix).expect("a Redis URL");
        Self {
            url,
            prefix,
            registry,
        }
    }
}

impl Default for TestRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        // A connection of its own: the test's is driven by the test's runtime, blocked here.
        super::run_to_end(async move {
            let registry = Registry::new(&url, &prefix).ok()?;
            registry.clear().await.ok()
        });
    }
}

/// The Redis tests use (`TEST_REDIS_URL`, else the local one).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}
