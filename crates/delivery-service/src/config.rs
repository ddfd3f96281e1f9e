use clap::Parser;
use shared::config::{AmqpArgs, CommonArgs, PostgresArgs};

/// delivery-service's configuration: flags, each with an environment fallback.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "delivery-service",
    version,
    about = "Couriers and shipments, the saga's shipping step."
)]
#[command(mut_arg("database_url", |arg| arg.default_value("postgres://postgres@127.0.0.1:5432/delivery")))]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3004)]
    pub port: u16,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub database: PostgresArgs,
    #[command(flatten)]
    pub amqp: AmqpArgs,
}
