//! Binding, serving and graceful shutdown.

mod connections;

use std::{
    net::{IpAddr, SocketAddr},
    process::ExitCode,
    time::Duration,
};

use axum::Router;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
};

pub use self::connections::{RouterConnection, Serve};
use crate::{amqp::Amqp, config::CommonArgs, postgres::MigrationError};

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

/// The bound listeners and what serves their connections: a router, or a service of the
/// binary's own (see [`Serve`]).
#[derive(Debug)]
pub struct Server<S = Router> {
    /// One per worker, all handles of one socket; the first is served on the caller's runtime.
    listeners: Vec<std::net::TcpListener>,
    service: S,
    port: u16,
    shutdown_timeout: Duration,
    /// The broker connection to close once serving has stopped.
    broker: Option<Amqp>,
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
    /// Binds `host:port` for `workers` threads, each accepting from the one listening socket
    /// (a busy thread accepts less, so connections go where there is room). The first
    /// is served on the caller's runtime, each other one by a thread of its own with a
    /// single-threaded runtime: the model of nginx's and Envoy's workers, where a connection
    /// and the work it causes stay on one thread instead of waking others.
    pub fn bind_workers(
        host: IpAddr,
        port: u16,
        service: S,
        shutdown_timeout: Duration,
        workers: usize,
    ) -> std::io::Result<Self> {
        let first = listen(SocketAddr::new(host, port))?;
        let port = first.local_addr()?.port();
        let mut listeners = Vec::with_capacity(workers.max(1));
        for _ in 1..workers {
            listeners.push(first.try_clone()?);
        }
        listeners.insert(0, first);
        Ok(Self {
            listeners,
            service,
            port,
            shutdown_timeout,
            broker: None,
        })
    }

    /// Closes `broker` once serving has stopped, when in-flight requests can publish no more
    /// and before the runtime goes away under the connection.
    pub fn closing_broker(mut self, broker: Amqp) -> Self {
        self.broker = Some(broker);
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
        tracing::info!(
            port = self.port,
            workers = self.listeners.len(),
            "listening"
        );
        let mut listeners = self.listeners.into_iter();
        let Some(first) = listeners.next() else {
            return Ok(());
        };
        let mut workers = Vec::new();
        for (index, listener) in listeners.enumerate() {
            let worker = Worker {
                listener,
                service: self.service.clone(),
                stopping: stopping_rx.clone(),
                shutdown_timeout: self.shutdown_timeout,
            };
            workers.push(worker.spawn(index + 1)?);
        }
        // The sender stays in this future: when it is dropped, every worker stops too.
        let serving = Worker {
            listener: first,
            service: self.service,
            stopping: stopping_rx,
            shutdown_timeout: self.shutdown_timeout,
        }
        .serve();
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
            if let Ok(Err(err)) = worker.await {
                tracing::error!(error = %err, "a worker stopped serving");
            }
        }
        if let Some(broker) = self.broker {
            broker.close().await;
        }
        served
    }
}

/// One listener's share of the serving.
struct Worker<S> {
    listener: std::net::TcpListener,
    service: S,
    stopping: watch::Receiver<bool>,
    shutdown_timeout: Duration,
}

impl<S: Serve> Worker<S> {
    /// Serves on a thread of its own; the receiver tells when it has stopped.
    fn spawn(self, index: usize) -> std::io::Result<oneshot::Receiver<Result<(), StartupError>>> {
        let (done_tx, done_rx) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || {
                let served = runtime.block_on(self.serve());
                let _ = done_tx.send(served);
            })?;
        Ok(done_rx)
    }

    /// Serves until told to stop (or until the server's future is gone), then lets
    /// in-flight requests finish for up to the shutdown time-out.
    async fn serve(self) -> Result<(), StartupError> {
        let mut stopping = self.stopping;
        let mut told = stopping.clone();
        let stop = async move {
            let _ = told.wait_for(|stopping| *stopping).await;
        };
        let listener = TcpListener::from_std(self.listener)?;
        let serve = connections::serve_connections(listener, self.service, stop);
        let deadline = async {
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(self.shutdown_timeout).await;
        };
        tokio::select! {
            () = serve => Ok(()),
            () = deadline => {
                tracing::warn!(timeout = ?self.shutdown_timeout, "in-flight requests did not finish in time; stopping anyway");
                Ok(())
            }
        }
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
mod tests {
    use std::{collections::HashSet, net::Ipv4Addr};

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The name of the thread that answered, over a fresh connection.
    async fn answering_thread(port: u16) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default())
    }

    #[tokio::test]
    async fn workers_share_the_socket_and_stop_with_the_server() {
        let router = Router::new().route(
            "/",
            get(|| async { std::thread::current().name().unwrap_or("?").to_owned() }),
        );
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let server = Server::bind_workers(localhost, 0, router, Duration::from_secs(1), 2)
            .expect("one socket for two threads");
        let port = server.port();
        let serving = tokio::spawn(server.run_until_stopped());

        // Both threads wait on the socket; over many connections, both answer.
        let mut threads = HashSet::new();
        for _ in 0..200 {
            threads.insert(answering_thread(port).await.expect("an answer"));
        }
        assert_eq!(threads.len(), 2, "answered by {threads:?}");
        assert!(threads.contains("worker-1"), "answered by {threads:?}");

        serving.abort();
        let mut refused = false;
        for _ in 0..100 {
            if answering_thread(port).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(refused, "a worker still answers after the server stopped");
    }
}
