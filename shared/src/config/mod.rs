//! Command-line and environment configuration shared by every binary.
//!
//! Each binary has one `clap` struct: its own flags plus the groups defined here,
//! flattened in. Every flag has an environment fallback and a local default, so a
//! binary started with no arguments talks to the stores on localhost.

use std::{net::IpAddr, str::FromStr, time::Duration};

use clap::{Args, ValueEnum};
#[cfg(feature = "postgres")]
use sqlx::postgres::PgConnectOptions;

pub use parse::{command, explain, parse};

mod parse;

/// Settings every binary has: where it listens, how it logs and traces, its time limits.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// Log output: `json` for machines, `pretty` for people.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// OTLP/HTTP collector (e.g. `http://127.0.0.1:4318`); traces are exported when set.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = parse_http_url)]
    pub otlp_endpoint: Option<String>,
    /// Which spans are exported, as `RUST_LOG` directives; apart from `RUST_LOG`, so that
    /// quiet logs (`RUST_LOG=warn`) still export whole traces.
    #[arg(long, env = "OTEL_TRACES_FILTER", default_value = "info")]
    pub traces_filter: String,
    /// Longest time one request may take inside this binary.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Longest wait for in-flight requests after SIGTERM/SIGINT.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable, coloured when the output is a terminal.
    Pretty,
}

/// A PostgreSQL database. The binary sets the default URL with `mut_arg`.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Args)]
pub struct PostgresArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", value_parser = parse_postgres_url, required = false)]
    pub database_url: PgConnectOptions,
    /// Most connections the pool opens.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,
}

/// How a binary checks access tokens: auth-service's published keys and the claims it
/// expects.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// auth-service's JWKS, fetched on first use and when a token names an unknown key.
    #[arg(long, env = "AUTH_JWKS_URL", default_value = "http://127.0.0.1:3001/.well-known/jwks.json", value_parser = parse_http_url)]
    pub auth_jwks_url: String,
    /// The `iss` access tokens must carry.
    #[arg(long, env = "TOKEN_ISSUER", default_value = "food-delivery-auth")]
    pub token_issuer: String,
    /// The `aud` access tokens must carry.
    #[arg(long, env = "TOKEN_AUDIENCE", default_value = "food-delivery")]
    pub token_audience: String,
}

impl AuthArgs {
    /// A verifier for these settings.
    pub fn verifier(&self) -> crate::auth::Verifier {
        crate::auth::Verifier::new(
            crate::auth::KeySource::Remote {
                url: self.auth_jwks_url.clone(),
                client: reqwest::Client::new(),
            },
            &self.token_issuer,
            &self.token_audience,
        )
    }
}

#[cfg(feature = "postgres")]
fn parse_postgres_url(value: &str) -> Result<PgConnectOptions, String> {
    if !(value.starts_with("postgres://") || value.starts_with("postgresql://")) {
        return Err("expected a postgres:// URL".into());
    }
    PgConnectOptions::from_str(value).map_err(|err| err.to_string())
}

/// Accepts an absolute `http://` or `https://` URL with a host.
pub fn parse_http_url(value: &str) -> Result<String, String> {
    let uri = http::Uri::from_str(value).map_err(|err| err.to_string())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(value.trim_end_matches('/').to_owned()),
        _ => Err("expected an absolute http:// or https:// URL".into()),
    }
}

/// Accepts a `mongodb://` or `mongodb+srv://` connection string.
pub fn parse_mongodb_url(value: &str) -> Result<String, String> {
    if value.starts_with("mongodb://") || value.starts_with("mongodb+srv://") {
        Ok(value.to_owned())
    } else {
        Err("expected a mongodb:// or mongodb+srv:// URL".into())
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    #[command(mut_arg("database_url", |arg| arg.default_value("postgres://postgres@127.0.0.1/db")))]
    struct Sample {
        #[arg(long, env = "SAMPLE_PORT", default_value_t = 3000)]
        port: u16,
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        database: PostgresArgs,
    }

    fn error_line(args: &[&str]) -> String {
        let err = Sample::try_parse_from(args).expect_err("the arguments are invalid");
        explain(&err, &Sample::command())
    }

    #[test]
    fn defaults_need_no_arguments() {
        let sample = Sample::try_parse_from(["sample"]).expect("defaults parse");
        assert_eq!(sample.port, 3000);
        assert_eq!(sample.common.log_format, LogFormat::Json);
        assert_eq!(sample.common.request_timeout, Duration::from_secs(30));
        assert_eq!(sample.database.database_url.get_database(), Some("db"));
    }

    #[test]
    fn a_bad_value_is_one_line_naming_flag_variable_and_value() {
        let line = error_line(&["sample", "--port", "eighty"]);
        assert!(!line.contains('\n'));
        assert!(line.contains("--port"), "{line}");
        assert!(line.contains("SAMPLE_PORT"), "{line}");
        assert!(line.contains("eighty"), "{line}");
    }

    #[test]
    fn a_missing_required_flag_is_named_on_one_line() {
        #[derive(Debug, Parser)]
        struct Required {
            #[arg(long, env = "SAMPLE_REQUIRED")]
            token: String,
        }
        let err = Required::try_parse_from(["required"]).expect_err("the flag is missing");
        let line = explain(&err, &Required::command());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("--token"), "{line}");
    }

    #[test]
    fn a_database_url_of_another_scheme_is_refused() {
        let line = error_line(&["sample", "--database-url", "mysql://localhost/db"]);
        assert!(line.contains("DATABASE_URL"), "{line}");
        assert!(line.contains("postgres://"), "{line}");
    }

    #[test]
    fn durations_are_human_readable() {
        let line = error_line(&["sample", "--request-timeout", "soon"]);
        assert!(line.contains("REQUEST_TIMEOUT"), "{line}");
        let sample =
            Sample::try_parse_from(["sample", "--request-timeout", "250ms"]).expect("parses");
        assert_eq!(sample.common.request_timeout, Duration::from_millis(250));
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_http_url("http://auth-service:3001/").is_ok());
        assert!(parse_http_url("auth-service:3001").is_err());
        assert!(parse_mongodb_url("mongodb://127.0.0.1:27017").is_ok());
        assert!(parse_mongodb_url("http://127.0.0.1").is_err());
    }
}
