//! Binding, serving and graceful shutdown of a service's router, and the body of every
//! binary's `main`.

use std::{
    net::{IpAddr, SocketAddr},
    process::ExitCode,
    time::Duration,
};

use axum::Router;
use futures::future::BoxFuture;
use tokio::{net::TcpListener, sync::watch};

use crate::config::CommonArgs;

/// Why a binary could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Its migrations were rejected.
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Migration(#[from] crate::postgres::MigrationError),
    /// A store's settings were refused by its driver.
    #[error("{store}: {message}")]
    Store {
        /// Which store.
        store: &'static str,
        /// What the driver said.
        message: String,
    },
    /// A setting passed its syntax check but cannot be used.
    #[error("{0}")]
    Config(String),
    /// The address could not be bound, or serving failed.
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
}

/// The body of every binary's `main`: starts telemetry, warns of the secrets left at a
/// development value, runs `app` (build and serve), and turns a failure into one logged line
/// and exit status 1.
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
    crate::dev_defaults::warn();
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

/// A bound listener and the router that serves it.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    router: Router,
    port: u16,
    shutdown_timeout: Duration,
    /// Work to finish once serving has stopped, in order (a message relay's last pass, the
    /// broker connection's close).
    after_serving: AfterServing,
    /// This instance in the service registry, while it serves.
    #[cfg(feature = "registry")]
    registration: Option<crate::registry::Registration>,
}

#[derive(Default)]
struct AfterServing(Vec<BoxFuture<'static, ()>>);

impl std::fmt::Debug for AfterServing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} task(s)", self.0.len())
    }
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
            after_serving: AfterServing::default(),
            #[cfg(feature = "registry")]
            registration: None,
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

    /// Runs `work` once serving has stopped, when in-flight requests are done and before the
    /// runtime goes away: background workers stop there, and connections close cleanly.
    pub fn after_serving(mut self, work: impl Future<Output = ()> + Send + 'static) -> Self {
        self.after_serving.0.push(Box::pin(work));
        self
    }

    /// Registers the binary `service` in the registry `args` name, if any, while it serves:
    /// from the start of serving, and withdrawn first thing on SIGTERM, so that readers stop
    /// sending requests before the in-flight ones finish.
    #[cfg(feature = "registry")]
    pub fn register(
        mut self,
        service: &str,
        args: &crate::registry::RegistryArgs,
    ) -> Result<Self, StartupError> {
        self.registration = crate::registry::Registration::from_args(args, service, self.port)
            .map_err(|err| StartupError::Store {
                store: "registry",
                message: err.to_string(),
            })?;
        Ok(self)
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM (or until this future is dropped), then stops
    /// accepting and lets in-flight requests finish for up to the shutdown time-out.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        tracing::info!(port = self.port, "listening");
        let (stopping_tx, mut stopping) = watch::channel(false);
        #[cfg(feature = "registry")]
        let heartbeat = self.registration.map(crate::registry::Registration::start);
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let serving = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                #[cfg(feature = "registry")]
                if let Some(heartbeat) = heartbeat {
                    heartbeat.withdraw().await;
                }
                tracing::info!("shutting down: finishing in-flight requests");
                let _ = stopping_tx.send(true);
            })
            .into_future();
        let overdue = async {
            if stopping.wait_for(|stopping| *stopping).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.shutdown_timeout).await;
        };
        let served = tokio::select! {
            served = serving => served,
            () = overdue => {
                tracing::warn!(timeout = ?self.shutdown_timeout, "requests still in flight at the shutdown time-out are dropped");
                Ok(())
            }
        };
        for work in self.after_serving.0 {
            work.await;
        }
        Ok(served?)
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
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
