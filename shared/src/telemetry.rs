//! Logs and traces: one `init` per binary.
//!
//! `RUST_LOG` filters the logs (default `info`), JSON lines or pretty text; spans are
//! exported over OTLP/HTTP when an endpoint is configured, filtered on their own
//! (`OTEL_TRACES_FILTER`, default `info`); W3C `traceparent` is the propagation format on
//! HTTP and AMQP.

use std::io::IsTerminal;

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{CommonArgs, LogFormat};

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global subscriber was already installed.
    #[error("a tracing subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the trace exporter alive; flushes it when dropped (at the end of `main`).
#[derive(Debug)]
#[must_use = "dropping the guard stops trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// `RUST_LOG` (default `info`), with PostgreSQL's notices (such as "relation already exists,
/// skipping" on every start's migration check) at `warn` unless it names sqlx itself.
fn log_filter(rust_log: Option<&str>) -> EnvFilter {
    let directives = rust_log
        .filter(|value| !value.trim().is_empty())
        .unwrap_or("info");
    let filter = EnvFilter::builder().parse_lossy(directives);
    if directives.contains("sqlx") {
        return filter;
    }
    match "sqlx::postgres::notice=warn".parse() {
        Ok(quiet) => filter.add_directive(quiet),
        Err(_) => filter,
    }
}

/// Installs the global subscriber for `service` as `args` say.
pub fn init(service: &'static str, args: &CommonArgs) -> Result<Telemetry, TelemetryError> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let fmt = match args.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        // Colours only on a terminal: piped into a file or `docker compose logs`, escape
        // codes would be noise.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
    }
    .with_filter(filter);
    let provider = args
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| tracer_provider(service, endpoint))
        .transpose()?;
    let otel = provider.as_ref().map(|provider| {
        global::set_tracer_provider(provider.clone());
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_filter(EnvFilter::builder().parse_lossy(&args.traces_filter))
    });
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(Telemetry { provider })
}

/// Logs to the test output when `TEST_LOG` is set; silent otherwise. Safe to call often.
pub fn init_for_tests() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        global::set_text_map_propagator(TraceContextPropagator::new());
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug")),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

fn tracer_provider(
    service: &'static str,
    endpoint: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build())
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_notices_are_quiet_unless_rust_log_names_sqlx() {
        for rust_log in [None, Some(""), Some("debug")] {
            let filter = log_filter(rust_log).to_string();
            assert!(
                filter.contains("sqlx::postgres::notice=warn"),
                "{rust_log:?}: {filter}"
            );
        }
        let chosen = log_filter(Some("info,sqlx=debug")).to_string();
        assert!(!chosen.contains("notice"), "{chosen}");
    }
}
