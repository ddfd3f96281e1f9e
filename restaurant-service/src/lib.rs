//! restaurant-service: restaurants and menus, on MongoDB.

mod config;
mod domain;
mod error;
mod routes;
mod startup;
mod state;
mod store;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "restaurant-service";
