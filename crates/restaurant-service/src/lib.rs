//! restaurant-service: restaurants and menus, on MongoDB.

mod config;
mod startup;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "restaurant-service";
