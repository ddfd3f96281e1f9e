//! How GET responses are cached: on or off, the lifetimes forced per route, how long a stale
//! copy may stand in for a backend that cannot be reached, the largest body stored.

use std::time::Duration;

use clap::{ArgAction, Args};

use crate::routes::{RouteTable, parse_table};

/// Authentication answers, payments and live tracking are never cached; health neither.
pub const DEFAULT_CACHE_TTLS: &str =
    "/auth=0s, /payments=0s, /tracking=0s, GET /*/health=0s, GET /*/ready=0s";

/// How GET responses are cached.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Whether GET responses are cached at all.
    #[arg(long = "cache", env = "CACHE", default_value_t = true, action = ArgAction::Set)]
    pub cache_enabled: bool,
    /// Lifetimes forced per route, in place of what the origin's headers say:
    /// `/prefix=DURATION` or `METHOD /pattern=DURATION`, comma-separated, first match wins;
    /// `0s` turns the cache off for the route (no lookup at all). Routes not listed follow
    /// the origin's headers alone.
    #[arg(long, env = "CACHE_TTLS", default_value = DEFAULT_CACHE_TTLS, value_parser = parse_cache_ttls)]
    pub cache_ttls: CacheTtls,
    /// How long past its lifetime a copy may answer when the backend cannot be reached (or its
    /// breaker is open) and the origin gave no `stale-if-error`; never for a response marked
    /// `must-revalidate`, `proxy-revalidate` or `s-maxage`.
    #[arg(long, env = "CACHE_STALE_LIMIT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub cache_stale_limit: Duration,
    /// Largest response body stored.
    #[arg(long, env = "CACHE_MAX_BODY", default_value_t = 1024 * 1024)]
    pub cache_max_body: usize,
}

/// Route -> lifetime.
#[derive(Debug, Clone)]
pub struct CacheTtls(pub RouteTable<Duration>);

fn parse_cache_ttls(text: &str) -> Result<CacheTtls, String> {
    // `/prefix=ttl` is short for `* /prefix/**=ttl`.
    let expanded: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((prefix, ttl)) if prefix.starts_with('/') => {
                format!("* {}/**={ttl}", prefix.trim_end_matches('/'))
            }
            _ => entry.to_owned(),
        })
        .collect();
    parse_table(&expanded.join(","), |ttl| {
        humantime::parse_duration(ttl).map_err(|err| err.to_string())
    })
    .map(CacheTtls)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    #[test]
    fn prefixes_and_patterns_both_set_route_lifetimes() {
        let ttls = parse_cache_ttls("/orders=0s, GET /restaurants/*/menu=60s, /restaurants=5m")
            .expect("parses");
        assert_eq!(
            ttls.0.find(&Method::GET, "/orders/1"),
            Some(&Duration::ZERO)
        );
        assert_eq!(
            ttls.0.find(&Method::GET, "/restaurants/1/menu"),
            Some(&Duration::from_secs(60))
        );
        assert_eq!(
            ttls.0.find(&Method::GET, "/restaurants"),
            Some(&Duration::from_secs(300))
        );
        assert!(parse_cache_ttls("/orders=soon").is_err());
        parse_cache_ttls(DEFAULT_CACHE_TTLS).expect("the defaults parse");
    }
}
