//! gateway: the edge of the platform. Each request passes, in order: load shedding and the
//! body limit, caller identification, the rate limit, the route policy, then either the
//! aggregation of several backends or the forwarding to one, through the response cache,
//! the backend's circuit breaker and the retry rules.

mod access;
mod admission;
mod aggregate;
pub mod boxed;
mod cache;
mod cached;
pub mod client;
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
mod per_runtime;
mod probe;
mod proxy;
mod ratelimit;
mod redis;
mod relay;
mod revocation;
mod routes;
pub mod server;
mod startup;
mod state;
mod store;
mod upstream;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "gateway";
