//! What every binary of the food-delivery platform shares: configuration, telemetry,
//! problem+json errors, the operational HTTP surface (`/health`, `/ready`, `/metrics`,
//! `/openapi.json`), the server loop with graceful shutdown, and the store connections.

pub mod auth;
pub mod boxed;
pub mod config;
pub mod forwarded;
pub mod health;
pub mod http;
pub mod json;
pub mod metrics;
pub mod mongo;
pub mod openapi;
pub mod per_runtime;
pub mod postgres;
pub mod problem;
pub mod query;
pub mod redis;
pub mod resilience;
pub mod server;
pub mod service;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod upstream;

pub use json::JsonBody;
pub use problem::{FieldError, Problem};
pub use query::QueryParams;
