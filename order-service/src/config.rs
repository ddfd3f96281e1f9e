use std::time::Duration;

use clap::Parser;
use messaging::BrokerArgs;
use shared::{
    config::{AuthArgs, CommonArgs, parse_http_url},
    registry::RegistryArgs,
};

use crate::shards::{ShardMap, parse_shard_map};

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "order-service";

/// order-service's configuration: flags, each with an environment fallback.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "order-service",
    version,
    about = "Orders on PostgreSQL shards, and the order saga."
)]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3002)]
    pub port: u16,
    #[command(flatten)]
    pub common: CommonArgs,
    /// The shard map: `name=postgres-url` pairs separated by commas. A customer's orders live
    /// on one shard, chosen by a stable hash of the customer id over this list.
    #[arg(
        long,
        env = "ORDER_SHARDS",
        default_value = "a=postgres://postgres@127.0.0.1:5433/orders,b=postgres://postgres@127.0.0.1:5434/orders,c=postgres://postgres@127.0.0.1:5435/orders",
        value_parser = parse_shard_map
    )]
    pub order_shards: ShardMap,
    /// Most connections each shard's pool opens.
    #[arg(long, env = "SHARD_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub shard_max_connections: u32,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// How long a saga step may go unanswered before it is tried again (each new attempt
    /// waits twice as long, up to sixteen times this); compensations are tried until they
    /// answer.
    #[arg(long, env = "SAGA_STEP_TIMEOUT", default_value = "10s", value_parser = parse_step_timeout)]
    pub saga_step_timeout: Duration,
    /// Attempts at a forward saga step (payment, shipment, capture) before its silence
    /// counts as failure and the saga compensates.
    #[arg(long, env = "SAGA_STEP_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub saga_step_attempts: u32,
    /// How long `POST /orders/{id}/cancel` on a confirmed order waits for its shipment's
    /// cancel to be answered, so that a refusal (the courier has the food) is a 409 at once
    /// rather than news in the saga's log; `0s` answers 202 at once.
    #[arg(long, env = "CANCEL_WAIT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub cancel_wait: Duration,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// restaurant-service, which prices the orders.
    #[arg(long, env = "RESTAURANT_SERVICE_URL", default_value = "http://127.0.0.1:3003", value_parser = parse_http_url)]
    pub restaurant_service_url: String,
    /// Longest wait for one answer from restaurant-service.
    #[arg(long, env = "UPSTREAM_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub upstream_timeout: Duration,
}

fn parse_step_timeout(value: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(value).map_err(|err| err.to_string())?;
    if (Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&timeout) {
        Ok(timeout)
    } else {
        Err("must be from 100ms to 1h".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_local_stores_and_the_architecture_port() {
        let config = Config::try_parse_from(["order-service"]).expect("the defaults parse");
        assert_eq!(config.port, 3002);
        let ports: Vec<u16> = config
            .order_shards
            .0
            .iter()
            .map(|shard| shard.options.get_port())
            .collect();
        assert_eq!(ports, [5433, 5434, 5435]);
    }
}
