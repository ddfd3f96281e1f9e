//! How long a connection may take over a request's head or wait idle for the next, and how
//! many may be open: the defences against clients that open connections and hold them
//! without asking anything (slowloris), as nginx's `client_header_timeout`,
//! `keepalive_timeout` and `limit_conn`.

use std::{net::IpAddr, time::Duration};

use clap::Args;

use shared::forwarded::TrustedProxies;

/// The connection settings of the gateway's listener.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Longest a request's head may take: from the connection's accept to the end of its first
    /// head, and from the first byte of each later head to its end.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "20s", value_parser = positive_duration)]
    pub header_read_timeout: Duration,
    /// Longest a connection may wait idle for its next request.
    #[arg(long, env = "KEEPALIVE_TIMEOUT", default_value = "75s", value_parser = positive_duration)]
    pub keepalive_timeout: Duration,
    /// Connections open at once (`0`: half the process's open-file limit, the other half left
    /// for backend connections); at the cap the longest idle is closed for a new one, and a
    /// new one is refused when none is idle.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,
    /// Connections one client address may hold open (`0`: no limit); the trusted proxies'
    /// are not counted.
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub max_connections_per_address: usize,
}

/// What the server enforces on its connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keepalive_timeout: Duration,
    /// Connections open at once, at least one.
    pub max_connections: usize,
    /// Per client address; `None`: no limit.
    pub max_per_address: Option<usize>,
    /// Addresses the per-address limit does not apply to (the proxies in front).
    pub unlimited: TrustedProxies,
}

impl ConnectionLimits {
    /// The limits `args` set, `unlimited` being exempt from the per-address one.
    pub fn new(args: &ConnectionArgs, unlimited: TrustedProxies) -> Self {
        Self {
            header_read_timeout: args.header_read_timeout,
            keepalive_timeout: args.keepalive_timeout,
            max_connections: match args.max_connections {
                0 => half_the_open_file_limit(),
                max => max,
            },
            max_per_address: (args.max_connections_per_address > 0)
                .then_some(args.max_connections_per_address),
            unlimited,
        }
    }

    /// Whether the per-address limit applies to `peer`.
    pub(super) fn counts_per_address(&self, peer: IpAddr) -> bool {
        !self.unlimited.contains(peer)
    }
}

impl Default for ConnectionLimits {
    /// The settings' defaults, no address exempt.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(20),
            keepalive_timeout: Duration::from_secs(75),
            max_connections: half_the_open_file_limit(),
            max_per_address: Some(256),
            unlimited: TrustedProxies::default(),
        }
    }
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be longer than zero".into()),
        parsed => parsed.map_err(|err| err.to_string()),
    }
}

/// Half the soft limit of open files (`/proc/self/limits`; 1024 where it cannot be read):
/// each client connection may need a backend connection beside it.
fn half_the_open_file_limit() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits
                .lines()
                .find(|line| line.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        })
        .unwrap_or(1024);
    (soft / 2).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_follows_the_open_file_limit_and_zero_durations_are_refused() {
        let cap = half_the_open_file_limit();
        assert!(cap >= 1);
        assert!(positive_duration("0s").is_err());
        assert_eq!(positive_duration("20s"), Ok(Duration::from_secs(20)));
        let defaults = ConnectionLimits::default();
        assert_eq!(defaults.max_connections, cap);
    }
}
