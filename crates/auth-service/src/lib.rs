//! auth-service: users, credentials, sessions, tokens, roles and permissions.

mod config;
mod domain;
mod error;
mod routes;
mod startup;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "auth-service";
