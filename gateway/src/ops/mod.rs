//! The operational endpoints. `/metrics` and `/stats/*` name internal instances and are
//! nobody else's business: they are served on a listener of their own, `ADMIN_HOST` (loopback
//! unless told otherwise) at `ADMIN_PORT`, as Envoy serves its admin interface, where
//! Prometheus scrapes them without a token; that listener's `/health` is the full report,
//! each backend's address included. The public port answers `/health` from a report at most a
//! second old that names no address (see [`health`]), and `/metrics` and `/stats/*` not at all.

pub mod health;
pub mod public;

use std::net::{IpAddr, SocketAddr};

use axum::{Json, Router, extract::State, routing::get};
use clap::Args;
use shared::health::{CheckReport, Checks, HealthReport};

use crate::{cache, name::SERVICE, state::GatewayState};

/// Where the operational listener is.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Port of the operational listener: `/metrics`, `/stats/*` and the full `/health`
    /// (`0`: any free one).
    #[arg(long, env = "ADMIN_PORT", default_value_t = 9901)]
    pub admin_port: u16,
    /// Address the operational listener binds: loopback, or in compose the stack's own
    /// network (never published).
    #[arg(long, env = "ADMIN_HOST", default_value = "127.0.0.1")]
    pub admin_host: IpAddr,
}

/// The operational listener, bound.
#[derive(Debug)]
pub struct AdminListener {
    listener: std::net::TcpListener,
    router: Router,
}

impl AdminListener {
    /// Binds `args`' address for the routes of `state`, whose backends `checks` checks.
    pub fn bind(args: &AdminArgs, state: GatewayState, checks: Checks) -> std::io::Result<Self> {
        let listener =
            std::net::TcpListener::bind(SocketAddr::new(args.admin_host, args.admin_port))?;
        listener.set_nonblocking(true)?;
        let router = Router::new()
            .route("/metrics", get(shared::health::get_metrics))
            .route("/stats/cache", get(cache::get_cache_stats))
            .route(
                "/stats/circuit-breakers",
                get(gateway_upstream::get_circuit_breakers),
            )
            .with_state(state)
            .route("/health", get(get_full_health).with_state(checks));
        Ok(Self { listener, router })
    }

    /// The port bound.
    pub fn port(&self) -> std::io::Result<u16> {
        Ok(self.listener.local_addr()?.port())
    }

    /// Serves until the future is dropped.
    pub async fn serve(self) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        axum::serve(listener, self.router).await
    }
}

/// Every backend's state, with where it was reached.
async fn get_full_health(State(checks): State<Checks>) -> Json<HealthReport> {
    Json(report(checks.run().await))
}

/// The report of `checks`: `ok` when every backend answered, else `degraded`.
pub(crate) fn report(checks: std::collections::BTreeMap<String, CheckReport>) -> HealthReport {
    let all_up = checks
        .values()
        .all(|check| check.status == shared::health::CheckStatus::Up);
    HealthReport {
        status: if all_up { "ok" } else { "degraded" }.to_owned(),
        service: SERVICE.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        checks,
    }
}
