//! The outer guards of the API: a concurrency limit that sheds load with 503 instead of
//! queueing, a body size limit (413), CORS from the configuration, and security headers.
//! The admission applies the first, second and last; CORS wraps everything the gateway
//! serves (see [`crate::dispatch`]).

use std::time::Duration;

use axum::{
    body::{Body, HttpBody as _},
    extract::Request,
    response::{IntoResponse, Response},
};
use clap::Args;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use shared::Problem;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::forwarded::{TrustedProxies, parse_trusted_proxies};

/// The outer guards' settings.
#[derive(Debug, Clone, Args)]
pub struct GuardArgs {
    /// Largest request body, in bytes.
    #[arg(long, env = "BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Requests handled at once; beyond it requests are refused with 503 at once.
    #[arg(long, env = "MAX_CONCURRENCY", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrency: u32,
    /// Origins browsers may call from: comma-separated, `*` for any; empty for none.
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    /// Proxies in front of the gateway whose `X-Forwarded-For` is believed: networks or
    /// addresses, comma-separated. Empty: the client is the connection's peer, and whatever
    /// it forwards is replaced by its address.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", value_parser = parse_trusted_proxies)]
    pub trusted_proxies: TrustedProxies,
    /// Entries of a trusted proxy's `X-Forwarded-For` believed, from the right: one per
    /// proxy in front (a load balancer alone: 1); the client is the left-most of them.
    #[arg(long, env = "TRUSTED_HOPS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..))]
    pub trusted_hops: u8,
    /// Longest wait for each part of an aggregated response.
    #[arg(long, env = "AGGREGATE_PART_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub aggregate_part_timeout: Duration,
    /// Whether the gateway's cookies are `Secure`, on `Path=/` and named `__Host-…`, which
    /// browsers keep from HTTPS and `localhost` alone; `false` for plain HTTP elsewhere.
    #[arg(long, env = "COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
}

/// The security headers every answer carries, unless the handler set its own.
pub fn add_security_headers(headers: &mut HeaderMap) {
    // Room for these four and the request id added after them, made once: growing the map
    // rehashes every header it holds.
    headers.reserve(5);
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

/// CORS for `origins` (comma-separated, `*` for any), or none when there are none.
pub fn cors(origins: &str) -> Option<CorsLayer> {
    let origins: Vec<&str> = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    let name = HeaderName::from_static;
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                name("idempotency-key"),
                name("x-request-id"),
            ])
            .expose_headers([
                name("x-request-id"),
                name("x-cache"),
                name("ratelimit-limit"),
                name("ratelimit-remaining"),
                name("ratelimit-reset"),
                header::RETRY_AFTER,
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// The 503 answer of a gateway at its concurrency limit.
pub fn overloaded() -> Response {
    metrics::counter!("gateway_shed_requests_total").increment(1);
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "Service unavailable",
    )
    .with_detail("The gateway is at its concurrency limit; try again shortly.")
    .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    .into_response()
}

/// The 413 answer when the declared length is over `limit`.
pub fn refuse_oversized(headers: &HeaderMap, limit: usize) -> Option<Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    declared
        .is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX))
        .then(|| too_large(limit))
}

/// `request` with its body limited to `limit` bytes: a body that grows past it while
/// streaming is cut (and the request fails) instead of being read whole. A request known to
/// have no body (most of them) is left as it is.
pub fn limit_body(request: Request, limit: usize) -> Request {
    if request.body().is_end_stream() {
        return request;
    }
    let (parts, body) = request.into_parts();
    Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, limit)))
}

/// The 413 problem for a body over `limit` bytes.
pub fn too_large(limit: usize) -> Response {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
    )
    .with_detail(format!(
        "The request body is over the limit of {limit} bytes."
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_origins_means_no_cors() {
        assert!(cors("").is_none());
        assert!(cors(" , ").is_none());
        assert!(cors("https://app.example.com, *").is_some());
    }
}
