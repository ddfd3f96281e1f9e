//! What every request handler and middleware of the gateway shares.

use std::{sync::Arc, time::Duration};

use crate::{
    access::Access,
    cache::Cache,
    ratelimit::RateLimiter,
    upstream::{Backend, Caller},
};

/// The gateway's state: cheap to clone (everything inside is shared).
#[derive(Debug, Clone)]
pub struct GatewayState {
    pub access: Arc<Access>,
    pub limiter: RateLimiter,
    pub cache: Cache,
    pub backends: Arc<[Backend]>,
    pub caller: Caller,
    /// Longest wait for each part of an aggregated response.
    pub part_timeout: Duration,
    /// Largest request body, in bytes.
    pub body_limit: usize,
}

impl GatewayState {
    /// The backend called `name`.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|backend| backend.name == name)
    }
}
