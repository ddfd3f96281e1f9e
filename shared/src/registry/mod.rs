//! The service registry: each instance of a service announces itself in Redis with a lifetime
//! it keeps renewing (a heartbeat), and withdraws on a graceful stop; an instance that stops
//! renewing is gone once its lifetime runs out. Readers (the gateway) list the live ones.
//!
//! Hand-written on the Redis driver rather than a registry product (Consul, Eureka): Redis is
//! already the platform's shared store, and the protocol is three keys per service and two
//! short scripts. Times are Redis's own (`TIME`), so that the instances' and the readers'
//! clocks need not agree.

mod heartbeat;
mod store;

use std::{collections::BTreeMap, time::Duration};

use clap::Args;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use self::{
    heartbeat::{Heartbeat, Registration},
    store::Registry,
};

/// Where the registry is and how this instance describes itself there.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Redis holding the service registry; unset, the instance does not register.
    #[arg(long, env = "REGISTRY_URL", value_parser = parse_redis_url)]
    pub registry_url: Option<String>,
    /// Put before the registry's keys, so that several stacks can share one Redis.
    #[arg(long, env = "REGISTRY_PREFIX", default_value = "")]
    pub registry_prefix: String,
    /// The URL other binaries reach this instance at; by default `http://127.0.0.1:PORT`.
    #[arg(long, env = "ADVERTISE_URL", value_parser = crate::config::parse_http_url)]
    pub advertise_url: Option<String>,
    /// This instance's deployment colour, for blue-green switching.
    #[arg(long, env = "INSTANCE_COLOUR", default_value = "blue", value_parser = parse_label)]
    pub instance_colour: String,
    /// The version this instance reports; by default the binary's own.
    #[arg(long, env = "INSTANCE_VERSION", value_parser = parse_label)]
    pub instance_version: Option<String>,
    /// How long an instance stays listed without a heartbeat; it beats three times as often.
    #[arg(long, env = "REGISTRY_TTL", default_value = "10s", value_parser = parse_ttl)]
    pub registry_ttl: Duration,
}

/// One instance of a service, as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Instance {
    /// The service's name (`restaurant-service`).
    pub service: String,
    /// Unique per process start.
    pub id: String,
    /// Where it is reached (`http://10.0.0.7:3003`).
    pub url: String,
    /// The version it runs.
    pub version: String,
    /// Its deployment colour (`blue`, `green`).
    pub colour: String,
    /// Anything else it wants known.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

fn parse_redis_url(value: &str) -> Result<String, String> {
    redis::Client::open(value).map_err(|err| err.to_string())?;
    Ok(value.to_owned())
}

fn parse_label(value: &str) -> Result<String, String> {
    if !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
    {
        Ok(value.to_owned())
    } else {
        Err("1 to 64 letters, digits, '-', '_', '.' or '+'".into())
    }
}

fn parse_ttl(value: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(value).map_err(|err| err.to_string())?;
    if ttl < Duration::from_millis(300) || ttl > Duration::from_secs(3600) {
        return Err("from 300ms to 1h".into());
    }
    Ok(ttl)
}

#[cfg(all(test, feature = "testing"))]
mod tests;
