//! The settings of the calls to backends: when a breaker opens, how requests are retried,
//! which gRPC services are passed through.

use std::time::Duration;

use clap::Args;

/// When a backend's breaker opens and how it recovers.
#[derive(Debug, Clone, Args)]
pub struct BreakerArgs {
    /// Share of failed calls in the window, in percent, that opens a backend's breaker.
    #[arg(long, env = "BREAKER_FAILURE_RATE", default_value_t = 50, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub breaker_failure_rate: u8,
    /// How far back calls count towards the failure rate.
    #[arg(long, env = "BREAKER_WINDOW", default_value = "10s", value_parser = humantime::parse_duration)]
    pub breaker_window: Duration,
    /// Fewest calls in the window before the breaker may open.
    #[arg(long, env = "BREAKER_MINIMUM_CALLS", default_value_t = 5)]
    pub breaker_minimum_calls: usize,
    /// How long an open breaker refuses calls before letting trial calls through.
    #[arg(long, env = "BREAKER_OPEN_FOR", default_value = "30s", value_parser = humantime::parse_duration)]
    pub breaker_open_for: Duration,
    /// Trial calls let through while half-open.
    #[arg(long, env = "BREAKER_HALF_OPEN_CALLS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_half_open_calls: u32,
    /// Calls slower than this count as failures (`0s`: none do).
    #[arg(long, env = "BREAKER_SLOW_CALL", default_value = "0s", value_parser = humantime::parse_duration)]
    pub breaker_slow_call: Duration,
}

/// How idempotent requests are retried.
#[derive(Debug, Clone, Args)]
pub struct RetryArgs {
    /// Attempts in all for an idempotent request, the first included (1: no retries).
    #[arg(long, env = "RETRY_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub retry_attempts: u32,
    /// Ceiling of the first backoff; each next one doubles, with full jitter.
    #[arg(long, env = "RETRY_BASE", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub retry_base: Duration,
    /// Largest backoff; a `Retry-After` longer than this is not waited for.
    #[arg(long, env = "RETRY_CAP", default_value = "2s", value_parser = humantime::parse_duration)]
    pub retry_cap: Duration,
    /// Retries allowed per backend, in percent of its requests over the last 10 s.
    #[arg(long, env = "RETRY_BUDGET", default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub retry_budget: u8,
    /// Retries per backend allowed over 10 s whatever the traffic.
    #[arg(long, env = "RETRY_BUDGET_FLOOR", default_value_t = 10)]
    pub retry_budget_floor: u32,
}

/// A gRPC service and the backend serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcBackend {
    /// `package.Service`, as its calls' paths begin.
    pub service: String,
    pub url: String,
}

pub(crate) fn parse_grpc_backend(text: &str) -> Result<GrpcBackend, String> {
    let (service, url) = text
        .split_once('=')
        .ok_or("expected package.Service=http://host:port")?;
    let service = service.trim();
    // A package is required: its dot keeps the calls' paths apart from the services'
    // prefixes (`/orders`...) and the gateway's own routes.
    if !service.contains('.')
        || !service.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    {
        return Err(format!(
            "`{service}` is not a gRPC service name (package.Service)"
        ));
    }
    Ok(GrpcBackend {
        service: service.to_owned(),
        url: shared::config::parse_http_url(url.trim())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grpc_backend_is_a_service_name_and_an_http_url_and_anything_else_is_refused() {
        assert_eq!(
            parse_grpc_backend("grpc.health.v1.Health = http://127.0.0.1:50051/"),
            Ok(GrpcBackend {
                service: "grpc.health.v1.Health".into(),
                url: "http://127.0.0.1:50051".into(),
            })
        );
        for refused in [
            "http://127.0.0.1:50051",
            "=http://127.0.0.1:50051",
            "pkg/Service=http://127.0.0.1:50051",
            "orders=http://127.0.0.1:50051",
            "pkg..Service=http://127.0.0.1:50051",
            ".Service=http://127.0.0.1:50051",
            "pkg.Service=127.0.0.1:50051",
        ] {
            assert!(parse_grpc_backend(refused).is_err(), "{refused}");
        }
    }
}
