//! tracking-service: delivery tracking as event streams, with CQRS read models and live
//! updates.

mod config;
mod error;
mod events;
mod live;
mod progress;
mod projections;
mod read_models;
mod routes;
mod startup;
mod state;
mod store;
mod streams;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "tracking-service";
