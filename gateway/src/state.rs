//! What every request handler and middleware of the gateway shares.

use std::{ops::Deref, sync::Arc, time::Duration};

use crate::{
    access::Access,
    cache::Cache,
    deploy::Deployments,
    discovery::Discovery,
    experiment::Experiments,
    forwarded::Forwarding,
    limit::InFlight,
    ratelimit::RateLimiter,
    upstream::{Backend, CallPolicy},
};

/// The gateway's state: one `Arc`, so that the clone every middleware makes of it is one
/// reference count, not one per part.
#[derive(Debug, Clone)]
pub struct GatewayState(Arc<Parts>);

impl GatewayState {
    /// The state made of `parts`.
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }
}

impl Deref for GatewayState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What the state holds.
#[derive(Debug)]
pub struct Parts {
    pub access: Arc<Access>,
    pub limiter: RateLimiter,
    pub cache: Cache,
    pub backends: Arc<[Backend]>,
    pub call_policy: CallPolicy,
    /// Longest wait for each part of an aggregated response.
    pub part_timeout: Duration,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// The requests being handled: the concurrency limit.
    pub in_flight: InFlight,
    /// Whose `X-Forwarded-For` names the client, and how much of it.
    pub forwarding: Forwarding,
    /// Each backend's instances, as the service registry lists them.
    pub discovery: Discovery,
    /// Blue-green deployments of the backends.
    pub deployments: Deployments,
    /// A/B experiments on the backends' routes.
    pub experiments: Experiments,
}

impl Parts {
    /// The backend called `name`.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|backend| backend.name == name)
    }
}
