//! The gateway's server: one accepting thread that hands each connection to the serving
//! thread with the fewest, each thread a single-threaded runtime of its own, and a service
//! made per connection rather than a router only.
//!
//! Hand-written because neither `axum::serve` nor hyper-util's server spreads connections
//! over runtimes of their own: the model of nginx's and Envoy's workers, where a connection
//! and the work it causes stay on one thread instead of waking others (see
//! `docs/gateway-internals.md` for the measurements behind it).

mod accept;
mod connections;
mod edge;
mod head_timer;
mod http2;
mod limits;
mod registry;
mod session;
mod sniff;
pub mod tls;
mod worker;

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use shared::server::{StartupError, shutdown_signal};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{mpsc, watch};

use self::{
    accept::Listeners,
    connections::{Open, Share},
    registry::Connections,
    session::Protocols,
    tls::{Tls, TlsArgs},
    worker::Worker,
};
pub use self::{
    connections::{RouterConnection, Serve, body_of},
    http2::Http2Args,
    limits::{ConnectionArgs, ConnectionLimits},
};

/// The serving threads a `WORKERS` setting asks for: `0` means one per core.
pub fn workers_or_cores(workers: usize) -> usize {
    match workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        workers => workers,
    }
}

/// The bound listener and what serves its connections (see [`Serve`]).
#[derive(Debug)]
pub struct Server<S> {
    listener: std::net::TcpListener,
    /// Serving threads: the caller's, which also accepts, and as many more as this, less one.
    workers: usize,
    service: S,
    port: u16,
    shutdown_timeout: Duration,
    limits: ConnectionLimits,
    /// The HTTPS port, bound.
    tls: Option<(std::net::TcpListener, u16)>,
    protocols: Protocols,
}

impl<S: Serve> Server<S> {
    /// Binds `host:port` (port 0 picks a free one) for `workers` serving threads. The first
    /// is the caller's: it accepts every connection and hands each to the thread serving the
    /// fewest (itself included).
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
            limits: ConnectionLimits::default(),
            tls: None,
            protocols: Protocols::default(),
        })
    }

    /// The same server with an HTTPS port as `args` describe, on `host`, if they give one;
    /// the plain port then redirects to it if they ask.
    pub fn with_tls(mut self, host: IpAddr, args: &TlsArgs) -> Result<Self, StartupError> {
        let Some(port) = args.tls_port else {
            if args.redirect_to_https {
                return Err(StartupError::Config(
                    "REDIRECT_TO_HTTPS needs TLS_PORT: there is no HTTPS port to redirect to"
                        .into(),
                ));
            }
            return Ok(self);
        };
        let tls = Tls::from_args(args).map_err(|err| StartupError::Config(err.to_string()))?;
        let listener = listen(SocketAddr::new(host, port))?;
        let port = listener.local_addr()?.port();
        self.tls = Some((listener, port));
        self.protocols.hsts = edge::hsts_value(args.hsts_max_age);
        self.protocols.redirect_to = args.redirect_to_https.then_some(port);
        self.protocols.tls = Some(tls);
        Ok(self)
    }

    /// The same server, its HTTP/2 connections held to `args`' limits.
    pub fn with_http2(mut self, args: Http2Args) -> Self {
        self.protocols.http2 = args;
        self
    }

    /// The same server, its connections held to `limits` rather than the defaults.
    pub fn with_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTPS port actually bound, if there is one.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls.as_ref().map(|(_, port)| *port)
    }

    /// Serves until SIGINT or SIGTERM (or until this future is dropped), then stops
    /// accepting and lets in-flight requests finish for up to the shutdown time-out.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let (stopping_tx, stopping_rx) = watch::channel(false);
        tracing::info!(
            port = self.port,
            tls_port = self.tls_port(),
            workers = self.workers,
            "listening"
        );
        let open = Open::new(self.workers);
        let connections = Arc::new(Connections::new(self.limits));
        let reloading = self.protocols.tls.as_ref().map(|tls| {
            tokio::spawn(tls::watch_files(
                tls.certificates.clone(),
                tls.reload_interval,
            ))
        });
        let protocols = Arc::new(self.protocols);
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
                    connections: Arc::clone(&connections),
                    protocols: Arc::clone(&protocols),
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
                connections,
                protocols,
            },
            stopping: stopping_rx,
            shutdown_timeout: self.shutdown_timeout,
        };
        let listeners = Listeners {
            plain: self.listener,
            tls: self.tls.map(|(listener, _)| listener),
        };
        let serving = acceptor.accept(listeners, hand_to);
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
        if let Some(reloading) = reloading {
            reloading.abort();
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

#[cfg(test)]
mod tests;
