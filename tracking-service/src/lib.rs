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

pub use config::{Config, SERVICE};
pub use startup::Application;
