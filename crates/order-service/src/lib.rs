//! order-service: orders on three PostgreSQL shards, and the order saga.

mod config;
mod shards;
mod startup;

pub use config::Config;
pub use shards::{ShardMap, ShardSpec};
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "order-service";
