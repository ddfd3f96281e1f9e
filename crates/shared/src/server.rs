//! Binding, serving and graceful shutdown.

use std::{
    net::{IpAddr, SocketAddr},
    process::ExitCode,
    time::Duration,
};

use axum::Router;
use tokio::{net::TcpListener, sync::watch};

use crate::{config::CommonArgs, postgres::MigrationError};

/// Why a binary could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Its migrations were rejected.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// A store's settings were refused by its driver.
    #[error("{store}: {message}")]
    Store {
        /// Which store.
        store: &'static str,
        /// What the driver said.
        message: String,
    },
    /// The address could not be bound, or serving failed.
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
}

/// The body of every binary's `main`: starts telemetry, runs `app` (build and serve), and
/// turns a failure into one logged line and exit status 1.
pub async fn main<F>(service: &'static str, common: &CommonArgs, app: F) -> ExitCode
where
    F: Future<Output = Result<(), StartupError>>,
{
    let telemetry = match crate::telemetry::init(service, common) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("{service}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = app.await;
    if let Err(err) = &outcome {
        tracing::error!(error = %err, "{service} stopped");
    }
    drop(telemetry);
    if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A bound listener and the router it serves.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    router: Router,
    port: u16,
    shutdown_timeout: Duration,
}

impl Server {
    /// Binds `host:port` (port 0 picks a free one, as tests do).
    pub async fn bind(
        host: IpAddr,
        port: u16,
        router: Router,
        shutdown_timeout: Duration,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::new(host, port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            router,
            port,
            shutdown_timeout,
        })
    }

    /// Binds `router` on the configured host and `port`.
    pub async fn bind_with(
        router: Router,
        common: &CommonArgs,
        port: u16,
    ) -> std::io::Result<Self> {
        Self::bind(common.host, port, router, common.shutdown_timeout).await
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting and lets in-flight requests
    /// finish for up to the shutdown time-out.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let (stopping_tx, mut stopping_rx) = watch::channel(false);
        tracing::info!(port = self.port, "listening");
        // Responses are written whole; Nagle's algorithm would only hold their last segment back.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        let serve = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
        });
        let deadline = async {
            let _ = stopping_rx.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(self.shutdown_timeout).await;
        };
        tokio::select! {
            served = serve.into_future() => Ok(served?),
            () = deadline => {
                tracing::warn!(timeout = ?self.shutdown_timeout, "in-flight requests did not finish in time; stopping anyway");
                Ok(())
            }
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
