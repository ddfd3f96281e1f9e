//! order-service: orders on three PostgreSQL shards, and the order saga.

mod catalog;
mod config;
mod domain;
mod error;
mod routes;
mod saga;
mod shards;
mod startup;
mod state;
mod store;

pub use config::{Config, SERVICE};
pub use shards::{ShardMap, ShardSpec, tag as shard_tag};
pub use startup::Application;
