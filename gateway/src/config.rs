use std::time::Duration;

use clap::Parser;
use shared::config::CommonArgs;

use crate::{
    access::AccessArgs, cache::CacheArgs, guards::GuardArgs, ratelimit::RateLimitArgs,
    redis::parse_redis_url,
};
use gateway_upstream::UpstreamArgs;

/// The gateway's configuration: flags, each with an environment fallback.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "gateway",
    version,
    about = "The API gateway of the food-delivery platform."
)]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Threads serving requests, each with its own event loop and backend connections
    /// (`0`: one per CPU core).
    #[arg(long, env = "WORKERS", default_value_t = 0)]
    pub workers: usize,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Redis, for the response cache and rate limits.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379", value_parser = parse_redis_url)]
    pub redis_url: String,
    /// Prefix of every Redis key the gateway writes.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "gateway")]
    pub redis_key_prefix: String,
    /// Longest wait for Redis; past it the request goes on without the cache or with the
    /// in-process rate limit.
    #[arg(long, env = "REDIS_TIMEOUT", default_value = "200ms", value_parser = humantime::parse_duration)]
    pub redis_timeout: Duration,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub revocation: crate::revocation::RevocationArgs,
    #[command(flatten)]
    pub rate_limit: RateLimitArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub deploy: crate::deploy::DeployArgs,
    #[command(flatten)]
    pub guards: GuardArgs,
    #[command(flatten)]
    pub discovery: crate::discovery::DiscoveryArgs,
    #[command(flatten)]
    pub connections: gateway_net::server::ConnectionArgs,
    #[command(flatten)]
    pub tls: gateway_net::server::tls::TlsArgs,
    #[command(flatten)]
    pub http2: gateway_net::server::Http2Args,
    #[command(flatten)]
    pub admin: crate::ops::AdminArgs,
}

impl Config {
    /// The serving threads `WORKERS` asks for, at least one.
    pub fn worker_threads(&self) -> usize {
        gateway_net::server::workers_or_cores(self.workers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_local_stores_and_the_architecture_port() {
        let config = Config::try_parse_from(["gateway"]).expect("the defaults parse");
        assert_eq!(config.port, 3000);
        assert_eq!(config.upstream.order_service_url, "http://127.0.0.1:3002");
        assert_eq!(config.upstream.upstream_timeout, Duration::from_secs(10));
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(
            config.worker_threads(),
            cores,
            "one serving thread per core"
        );
        let three = Config::try_parse_from(["gateway", "--workers", "3"]).expect("parses");
        assert_eq!(three.worker_threads(), 3);
    }
}
