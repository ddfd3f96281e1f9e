//! gateway: the edge of the platform. Routes each path prefix to its service, streaming
//! both ways, and reports every backend's state.

mod backends;
mod config;
mod openapi;
mod proxy;
mod startup;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "gateway";
