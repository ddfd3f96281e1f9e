//! Binding, serving and graceful shutdown.

mod accept;
mod connections;
mod worker;

use std::{
    net::{IpAddr, SocketAddr},
    process::ExitCode,
    time::Duration,
};

use axum::Router;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{mpsc, watch};

pub use self::connections::{RouterConnection, Serve, body_of};
use self::{accept::Share, connections::Open, worker::Worker};
use futures::future::BoxFuture;

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
    /// A setting passed its syntax check but cannot be used.
    #[error("{0}")]
    Config(String),
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

/// The serving threads a `WORKERS` setting asks for: `0` means one per core.
pub fn workers_or_cores(workers: usize) -> usize {
    match workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        workers => workers,
    }
}

/// The bound listener and what serves its connections: a router, or a service of the
/// binary's own (see [`Serve`]).
#[derive(Debug)]
pub struct Server<S = Router> {
    listener: std::net::TcpListener,
    /// Serving threads: the caller's, which also accepts, and as many more as this, less one.
    workers: usize,
    service: S,
    port: u16,
    shutdown_timeout: Duration,
    /// Work to finish once serving has stopped, in order (a message relay's last pass, the
    /// broker connection's close).
    after_serving: AfterServing,
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
        Self::bind_workers(host, port, router, shutdown_timeout, 1)
    }

    /// Binds `router` on the configured host and `port`.
    pub async fn bind_with(
        router: Router,
        common: &CommonArgs,
        port: u16,
    ) -> std::io::Result<Self> {
        Self::bind(common.host, port, router, common.shutdown_timeout).await
    }
}

impl<S: Serve> Server<S> {
    /// Binds `host:port` for `workers` serving threads. The first is the caller's: it
    /// accepts every connection and hands each to the thread serving the fewest (itself
    /// included). Each other thread has a single-threaded runtime of its own: the model of
    /// nginx's and Envoy's workers, where a connection and the work it causes stay on one
    /// thread instead of waking others.
    pub fn bind_workers(
        host: IpAddr,
        port: u16,
        service: S,
        shutdown_timeout: Duration,
        workers: usize,
    ) -> std::io::Result<Self> {
        let listener = listen(SocketAddr::new(host, port))?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            workers: workers.max(1),
            service,
            port,
            shutdown_timeout,
            after_serving: AfterServing::default(),
        })
    }

    /// Runs `work` once serving has stopped, when in-flight requests are done and before the
    /// runtime goes away: background workers stop there, and connections close cleanly.
    pub fn after_serving(mut self, work: impl Future<Output = ()> + Send + 'static) -> Self {
        self.after_serving.0.push(Box::pin(work));
        self
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM (or until this future is dropped), then stops
    /// accepting and lets in-flight requests finish for up to the shutdown time-out.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let (stopping_tx, stopping_rx) = watch::channel(false);
        tracing::info!(port = self.port, workers = self.workers, "listening");
        let open = Open::new(self.workers);
        let mut hand_to = Vec::new();
        let mut workers = Vec::new();
        for index in 1..self.workers {
            let (handing, handed) = mpsc::unbounded_channel();
            hand_to.push(handing);
            let worker = Worker {
                share: Share {
                    index,
                    service: self.service.clone(),
                    open: open.clone(),
                },
                stopping: stopping_rx.clone(),
                shutdown_timeout: self.shutdown_timeout,
            };
            workers.push(worker.spawn(handed)?);
        }
        // The sender stays in this future: when it is dropped, every worker stops too.
        let acceptor = Worker {
            share: Share {
                index: 0,
                service: self.service,
                open,
            },
            stopping: stopping_rx,
            shutdown_timeout: self.shutdown_timeout,
        };
        let serving = acceptor.accept(self.listener, hand_to);
        tokio::pin!(serving);
        let served = tokio::select! {
            served = &mut serving => served,
            () = shutdown_signal() => {
                tracing::info!("shutting down: finishing in-flight requests");
                let _ = stopping_tx.send(true);
                serving.await
            }
        };
        for worker in workers {
            let _ = worker.await;
        }
        for work in self.after_serving.0 {
            work.await;
        }
        served
    }
}

/// A non-blocking listener on `address`.
fn listen(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // As tokio's own `TcpListener::bind`: a restart may bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
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

#[cfg(test)]
mod tests;
