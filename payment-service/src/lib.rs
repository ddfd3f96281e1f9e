//! payment-service: the payments ledger, the saga's payment step.

mod commands;
mod config;
mod domain;
mod error;
mod ledger;
mod routes;
mod startup;
mod state;
mod status;
mod store;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "payment-service";
