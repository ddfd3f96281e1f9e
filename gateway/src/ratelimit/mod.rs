//! Rate limits per route, keyed by the user when the token is valid and by the client's IP
//! otherwise; credential endpoints (`@ip` rules) by the client's IP always, so that a token
//! cannot move their limit off the address. Counted in Redis so every gateway instance shares the quota; while Redis is
//! away, counted in process (logged and counted in metrics) and the gateway keeps serving.

mod gcra;

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::response::{IntoResponse, Response};
use clap::{ArgAction, Args};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use redis::Script;
use shared::Problem;

pub use self::gcra::{Decision, LocalLimiter, Quota};
use crate::{
    access::Caller,
    routes::{RouteTable, parse_table},
    store::Store,
};
use gateway_upstream::whole_seconds;

/// Signing in and up, and password resets, are held to a few attempts a minute per client
/// address, whoever the token says the caller is; reads get the most room.
pub const DEFAULT_RATE_LIMITS: &str = "POST /auth/login=10/1m@ip, POST /auth/register=10/1m@ip, \
    POST /auth/mfa/verify=10/1m@ip, POST /auth/refresh=30/1m@ip, \
    POST /auth/password/reset=5/1m@ip, POST /auth/password/reset/confirm=10/1m@ip, \
    GET /**=1200/1m, * /**=300/1m";

/// How requests are limited.
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// Whether requests are rate limited at all.
    #[arg(long = "rate-limit", env = "RATE_LIMIT", default_value_t = true, action = ArgAction::Set)]
    pub rate_limit_enabled: bool,
    /// Quotas: `METHOD /path=COUNT/PERIOD`, comma-separated, first match wins; a request no
    /// pattern matches is not limited. Counted per user when the token is valid, else per
    /// client address; with `@ip` after the period, per client address always.
    #[arg(long, env = "RATE_LIMITS", default_value = DEFAULT_RATE_LIMITS, value_parser = parse_rate_limits)]
    pub rate_limits: RateLimits,
}

/// Route -> rule.
#[derive(Debug, Clone)]
pub struct RateLimits(pub RouteTable<Rule>);

/// A route's quota, and whom it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub quota: Quota,
    /// Counted per client address even for a caller with a valid token.
    pub by_address: bool,
}

fn parse_rate_limits(text: &str) -> Result<RateLimits, String> {
    parse_table(text, |raw| {
        let (raw, by_address) = match raw.trim().strip_suffix("@ip") {
            Some(quota) => (quota, true),
            None => (raw, false),
        };
        let (limit, period) = raw
            .split_once('/')
            .ok_or_else(|| format!("`{raw}` is not `COUNT/PERIOD`"))?;
        let limit: u32 = limit
            .trim()
            .parse()
            .map_err(|_| format!("`{limit}` is not a count"))?;
        let period = humantime::parse_duration(period.trim()).map_err(|err| err.to_string())?;
        if limit == 0 || period.is_zero() {
            return Err("the count and the period must be above zero".to_owned());
        }
        let quota = Quota { limit, period };
        if !quota.is_countable() {
            return Err(format!(
                "`{raw}` is more than one request per microsecond, finer than the limiter counts"
            ));
        }
        Ok(Rule { quota, by_address })
    })
    .map(RateLimits)
}

/// The limiter: the rules, Redis and the in-process fallback.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    enabled: bool,
    rules: Arc<RateLimits>,
    store: Store,
    script: Arc<Script>,
    local: Arc<LocalLimiter>,
    /// Requests refused since start.
    refused: Arc<AtomicU64>,
}

impl RateLimiter {
    /// Counts a refused request.
    pub fn count_refusal(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// A limiter for `args`, counting in `store`.
    pub fn new(args: &RateLimitArgs, store: Store) -> Self {
        Self {
            enabled: args.rate_limit_enabled,
            rules: Arc::new(args.rate_limits.clone()),
            store,
            script: Arc::new(Script::new(gcra::SCRIPT)),
            local: Arc::new(LocalLimiter::default()),
            refused: Arc::default(),
        }
    }

    async fn check(&self, key: String, quota: Quota) -> Decision {
        let script = self.script.clone();
        let [period, interval] = gcra::script_args(quota);
        let redis_key = key.clone();
        let answer = self
            .store
            .run("rate limit", move |mut connection| async move {
                script
                    .key(redis_key)
                    .arg(period)
                    .arg(interval)
                    .invoke_async::<(u8, u64, u64, u64)>(&mut connection)
                    .await
            })
            .await;
        match answer {
            Some((allowed, remaining, reset, retry_after)) => Decision {
                allowed: allowed == 1,
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                reset: Duration::from_micros(reset),
                retry_after: Duration::from_micros(retry_after),
            },
            None => {
                metrics::counter!("gateway_rate_limit_fallback_total").increment(1);
                self.local.check(&key, quota)
            }
        }
    }
}

/// The quota a request falls under and where its subject stands against it.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub quota: Quota,
    pub decision: Decision,
}

impl RateLimiter {
    /// Counts a request against its route's quota, keyed by the user when `caller` has a
    /// valid token and the rule allows it, and by the `client` address otherwise; `None`
    /// when no quota applies.
    pub async fn count(
        &self,
        method: &Method,
        path: &str,
        caller: &Caller,
        client: IpAddr,
    ) -> Option<Verdict> {
        if !self.enabled {
            return None;
        }
        let (rule, &Rule { quota, by_address }) = self.rules.0.position(method, path)?;
        let subject = match caller.claims() {
            Some(claims) if !by_address => format!("user:{}", claims.sub),
            _ => format!("ip:{client}"),
        };
        let key = self.store.key(&["rl", &rule.to_string(), &subject]);
        // Boxed: the Redis call is a large future that unlimited requests need not carry.
        let decision = gateway_net::boxed::in_place(|| self.check(key, quota)).await;
        Some(Verdict { quota, decision })
    }
}

impl Verdict {
    /// The 429 answer, with `Retry-After`, when the request is over its quota.
    pub fn refusal(&self) -> Option<Response> {
        if self.decision.allowed {
            return None;
        }
        metrics::counter!("gateway_rate_limited_total").increment(1);
        let wait = whole_seconds(self.decision.retry_after);
        Some(
            Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            )
            .with_detail(format!(
                "At most {} requests per {} are allowed here; try again in {wait} s.",
                self.quota.limit,
                humantime::format_duration(self.quota.period),
            ))
            .with_header(header::RETRY_AFTER, HeaderValue::from(wait))
            .into_response(),
        )
    }

    /// The `RateLimit-*` headers every answer carries.
    pub fn add_headers(&self, headers: &mut HeaderMap) {
        add_headers(headers, self.quota, self.decision);
    }
}

fn add_headers(headers: &mut HeaderMap, quota: Quota, decision: Decision) {
    const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
    const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
    const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
    const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
    headers.insert(LIMIT, HeaderValue::from(quota.limit));
    headers.insert(REMAINING, HeaderValue::from(decision.remaining));
    headers.insert(RESET, HeaderValue::from(whole_seconds(decision.reset)));
    if let Ok(policy) = HeaderValue::from_str(&format!(
        "{};w={}",
        quota.limit,
        whole_seconds(quota.period)
    )) {
        headers.insert(POLICY, policy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_parse_and_bad_ones_are_named() {
        let rules = parse_rate_limits(DEFAULT_RATE_LIMITS).expect("the defaults");
        let login = rules.0.find(&Method::POST, "/auth/login");
        assert_eq!(
            login,
            Some(&Rule {
                quota: Quota {
                    limit: 10,
                    period: Duration::from_secs(60)
                },
                by_address: true,
            })
        );
        let resets = rules.0.find(&Method::POST, "/auth/password/reset");
        assert_eq!(
            resets.map(|rule| (rule.quota.limit, rule.by_address)),
            Some((5, true)),
            "reset links are limited per client address"
        );
        let reads = rules.0.find(&Method::GET, "/orders");
        assert_eq!(
            reads.map(|rule| (rule.quota.limit, rule.by_address)),
            Some((1200, false))
        );
        for bad in [
            "GET /x=0/1m",
            "GET /x=ten/1m",
            "GET /x=10",
            "GET /x=10/soon",
            "GET /x=2000000/1s",
            "GET /x=10/1m@user",
        ] {
            let err = parse_rate_limits(bad).expect_err(bad);
            assert!(err.contains("GET /x"), "{bad}: {err}");
        }
    }
}
