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

pub use config::{Config, SERVICE};
pub use startup::Application;
