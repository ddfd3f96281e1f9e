//! gateway: the edge of the platform. Each request passes, in order: load shedding and the
//! body limit, caller identification, the rate limit, the route policy, then either the
//! aggregation of several backends or the forwarding to one, through the response cache,
//! the backend's circuit breaker and the retry rules.

mod access;
mod admission;
mod aggregate;
mod cache;
mod cached;
mod config;
mod cookies;
mod dashboard;
mod deploy;
mod discovery;
mod edge;
mod experiment;
mod explorer;
mod forwarded;
mod front;
mod limit;
mod metrics;
mod openapi;
mod ops;
mod probe;
mod proxy;
mod ratelimit;
mod redis;
mod revocation;
mod routes;
mod startup;
mod state;
mod store;
mod upstream;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "gateway";
