//! tracking-service: delivery tracking: event-sourced streams and CQRS read models.

mod config;
mod startup;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "tracking-service";
