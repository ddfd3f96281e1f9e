//! What every request handler and middleware of the gateway shares.

use std::{ops::Deref, sync::Arc, time::Duration};

use axum::extract::FromRef;

use crate::{
    access::Access, cache::Cache, deploy::Deployments, discovery::Discovery,
    experiment::Experiments, forwarded::Forwarding, limit::InFlight, ratelimit::RateLimiter,
};
use gateway_upstream::{Backend, CallPolicy};

/// The gateway's state: one `Arc`, so that the clone every middleware makes of it is one
/// reference count, not one per part.
#[derive(Debug, Clone)]
pub struct GatewayState(Arc<Shared>);

impl GatewayState {
    /// The state made of `parts`.
    pub fn new(parts: Shared) -> Self {
        Self(Arc::new(parts))
    }
}

impl Deref for GatewayState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the state holds, shared by every handler and middleware.
#[derive(Debug)]
pub struct Shared {
    pub access: Arc<Access>,
    pub limiter: RateLimiter,
    pub cache: Cache,
    pub backends: Arc<[Backend]>,
    /// The gRPC services passed through, each to its backend over HTTP/2.
    pub grpc_backends: Arc<[Backend]>,
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

impl Shared {
    /// The backend called `name`.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|backend| backend.name == name)
    }
}

/// Each feature's own state, taken from the gateway's by its handlers (`State<Cache>`), so
/// that a feature's routes need nothing of the others.
macro_rules! feature_state {
    ($($feature:ty => $field:ident),* $(,)?) => {
        $(impl FromRef<GatewayState> for $feature {
            fn from_ref(state: &GatewayState) -> Self {
                state.$field.clone()
            }
        })*
    };
}

feature_state! {
    Cache => cache,
    Deployments => deployments,
    Discovery => discovery,
    Experiments => experiments,
    Arc<[Backend]> => backends,
}
