//! gateway-upstream: calling a backend without being taken down by it.
//!
//! Each service behind the gateway is a [`Backend`]: its path prefix, its instances and the
//! choice between them (`balance`: latency-aware, outliers ejected), its circuit breaker and
//! its retry budget. A [`CallPolicy`] makes one call: each attempt passes the breaker and
//! waits at most the upstream timeout for the response headers; idempotent requests are
//! retried with exponential backoff and full jitter on retryable failures, within the budget
//! and never while the breaker is open. [`probe`] holds the calls off that path (readiness).
//!
//! Its neighbours: it stands on `gateway-net` (the client and pool it calls through) and
//! `shared`; the `gateway` crate above routes requests to it, and its control plane
//! (discovery, deployments, experiments) steers the instances it chooses among.

mod args;
mod backends;
mod balance;
mod budget;
mod call_policy;
mod endpoint;
mod failure;
mod grpc_call;
mod origin;
mod outbound;
mod outcome;
mod outlier;
pub mod probe;
mod stats;
mod upgrade_call;

pub use self::{
    args::{BreakerArgs, GrpcBackend, RetryArgs},
    backends::{Backend, UpstreamArgs, checks, from_args, grpc_from_args},
    balance::Selector,
    budget::BudgetUsage,
    call_policy::CallPolicy,
    endpoint::{CallRecord, Endpoint, EndpointHealth, latency_histogram},
    failure::{Failure, unreadable_body, whole_seconds},
    outbound::{Added, Outbound, OutboundBody, is_idempotent, over_limit},
    outlier::OutlierArgs,
    stats::{BreakerTable, breaker_table, get_circuit_breakers},
};
