//! What every binary of the food-delivery platform shares: configuration, telemetry,
//! problem+json errors, the operational HTTP surface (`/health`, `/ready`, `/metrics`,
//! `/openapi.json`) and the `healthcheck` subcommand that asks it, the server loop with
//! graceful shutdown, warnings of development secrets, resilience (breaker, retry), and
//! the store adapters, each behind a feature (`postgres`, `mongo`) so that a binary
//! links only the drivers it uses.

pub mod auth;
pub mod config;
pub mod dev_defaults;
pub mod forwarded;
pub mod health;
pub mod healthcheck;
pub mod http;
pub mod json;
pub mod metrics;
#[cfg(feature = "mongo")]
pub mod mongo;
pub mod openapi;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod problem;
pub mod query;
#[cfg(feature = "registry")]
pub mod registry;
pub mod resilience;
pub mod server;
pub mod service;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use json::JsonBody;
pub use problem::{FieldError, Problem};
pub use query::QueryParams;
