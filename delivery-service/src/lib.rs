//! delivery-service: couriers and shipments, the saga's shipping step.

mod commands;
mod config;
mod couriers;
mod error;
mod geo;
mod routes;
mod shipments;
mod startup;
mod state;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "delivery-service";
