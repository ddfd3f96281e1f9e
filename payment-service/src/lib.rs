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

pub use config::{Config, SERVICE};
pub use startup::Application;
