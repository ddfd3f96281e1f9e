//! Rate limits per route, keyed by the user when the token is valid and by the client's IP
//! otherwise. Counted in Redis so every gateway instance shares the quota; while Redis is
//! away, counted in process (logged and counted in metrics) and the gateway keeps serving.

mod gcra;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use clap::{ArgAction, Args};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use redis::Script;
use shared::Problem;

pub use self::gcra::{Decision, LocalLimiter, Quota};
use crate::{
    access::Caller,
    routes::{RouteTable, parse_table},
    state::GatewayState,
    store::Store,
    upstream::whole_seconds,
};

/// Signing in and up is held to a few attempts a minute; reads get the most room.
pub const DEFAULT_RATE_LIMITS: &str = "POST /auth/login=10/1m, POST /auth/register=10/1m, \
    POST /auth/mfa/verify=10/1m, POST /auth/refresh=30/1m, GET /**=1200/1m, * /**=300/1m";

/// How requests are limited.
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// Whether requests are rate limited at all.
    #[arg(long = "rate-limit", env = "RATE_LIMIT", default_value_t = true, action = ArgAction::Set)]
    pub rate_limit_enabled: bool,
    /// Quotas: `METHOD /path=COUNT/PERIOD`, comma-separated, first match wins; a request no
    /// pattern matches is not limited.
    #[arg(long, env = "RATE_LIMITS", default_value = DEFAULT_RATE_LIMITS, value_parser = parse_rate_limits)]
    pub rate_limits: RateLimits,
}

/// Route -> quota.
#[derive(Debug, Clone)]
pub struct RateLimits(pub RouteTable<Quota>);

fn parse_rate_limits(text: &str) -> Result<RateLimits, String> {
    parse_table(text, |quota| {
        let (limit, period) = quota
            .split_once('/')
            .ok_or_else(|| format!("`{quota}` is not `COUNT/PERIOD`"))?;
        let limit: u32 = limit
            .trim()
            .parse()
            .map_err(|_| format!("`{limit}` is not a count"))?;
        let period = humantime::parse_duration(period.trim()).map_err(|err| err.to_string())?;
        if limit == 0 || period.is_zero() {
            return Err("the count and the period must be above zero".to_owned());
        }
        Ok(Quota { limit, period })
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
}

impl RateLimiter {
    /// A limiter for `args`, counting in `store`.
    pub fn new(args: &RateLimitArgs, store: Store) -> Self {
        Self {
            enabled: args.rate_limit_enabled,
            rules: Arc::new(args.rate_limits.clone()),
            store,
            script: Arc::new(Script::new(gcra::SCRIPT)),
            local: Arc::new(LocalLimiter::default()),
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

/// Counts the request against its route's quota: 429 with `Retry-After` when over, and the
/// `RateLimit-*` headers on every answer.
pub async fn limit_rate(
    State(state): State<GatewayState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let limiter = &state.limiter;
    if !limiter.enabled {
        return next.run(request).await;
    }
    let Some((rule, &quota)) = limiter
        .rules
        .0
        .position(request.method(), request.uri().path())
    else {
        return next.run(request).await;
    };
    let subject = match Caller::of(&request).claims() {
        Some(claims) => format!("user:{}", claims.sub),
        None => format!("ip:{}", peer.ip()),
    };
    let key = limiter.store.key(&["rl", &rule.to_string(), &subject]);
    let decision = limiter.check(key, quota).await;
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        metrics::counter!("gateway_rate_limited_total").increment(1);
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
        )
        .with_detail(format!(
            "At most {} requests per {} are allowed here; try again in {} s.",
            quota.limit,
            humantime::format_duration(quota.period),
            whole_seconds(decision.retry_after)
        ))
        .with_header(
            header::RETRY_AFTER,
            HeaderValue::from(whole_seconds(decision.retry_after)),
        )
        .into_response()
    };
    add_headers(response.headers_mut(), quota, decision);
    response
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
        let login = rules.0.find(&http::Method::POST, "/auth/login");
        assert_eq!(
            login,
            Some(&Quota {
                limit: 10,
                period: Duration::from_secs(60)
            })
        );
        assert_eq!(
            rules.0.find(&http::Method::GET, "/orders").map(|q| q.limit),
            Some(1200)
        );
        for bad in [
            "GET /x=0/1m",
            "GET /x=ten/1m",
            "GET /x=10",
            "GET /x=10/soon",
        ] {
            let err = parse_rate_limits(bad).expect_err(bad);
            assert!(err.contains("GET /x"), "{bad}: {err}");
        }
    }
}
