//! gateway: the edge of the platform, the request path and the control plane. Each request
//! passes, in order: load shedding and the body limit, caller identification, the rate
//! limit, the route policy, then either the aggregation of several backends or the
//! forwarding to one, through the response cache, the backend's circuit breaker and the
//! retry rules. Beside the path: discovery, blue-green deployments, A/B experiments and the
//! dashboard.
//!
//! Its neighbours, below it: `gateway-net` (the server it serves on), `gateway-upstream` (the
//! calls to backends: balancing, breakers, retries, over `gateway-net`'s client) and
//! `gateway-http-cache` (the RFC 9111 rules, given Redis here); `shared` and `messaging`
//! (revocations) under all. Nothing imports it but its binary and the tests.

mod access;
mod admission;
mod aggregate;
mod cache;
mod clock;
mod colours;
mod config;
mod cookies;
mod dashboard;
mod deploy;
pub mod dev_certificate;
mod discovery;
mod dispatch;
mod experiment;
mod explorer;
mod forward;
mod forwarded;
mod grpc;
mod guards;
mod limit;
mod metrics;
mod name;
mod openapi;
mod ops;
mod ratelimit;
mod redis;
mod revocation;
mod routes;
mod startup;
mod state;
mod store;
mod upgrade;

pub use config::Config;
pub use name::SERVICE;
pub use startup::Application;
