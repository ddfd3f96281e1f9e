//! restaurant-service: restaurants and menus, on MongoDB.

mod config;
mod domain;
mod error;
mod routes;
mod startup;
mod state;
mod store;

pub use config::{Config, SERVICE};
pub use startup::Application;
