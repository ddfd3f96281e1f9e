//! payment-service: payments ledger: authorize, capture, void and refund, the saga's payment step.

mod config;
mod startup;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "payment-service";
