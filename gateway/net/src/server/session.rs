//! One connection's life once a thread has it: the TLS handshake or the plain connection's
//! first bytes (within the head time-out), then HTTP/1.1 or HTTP/2 until the client leaves,
//! the server stops, the registry closes it to make room, or (HTTP/2) it has had no stream
//! for the keep-alive time-out.

use std::{convert::Infallible, future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{body::Body, response::Response};
use futures::future::Either;
use hyper::{
    body::Incoming,
    server::conn::{http1, http2},
    service::HttpService,
};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    edge::{Hsts, ToHttps},
    head_timer::Watched,
    http2::{Http2Args, Http2Service, Streams},
    registry::Activity,
    sniff::{self, Protocol},
    tls::Tls,
};

/// Which of the server's ports a connection came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Plain,
    Tls,
}

/// What a connection is served with.
#[derive(Debug)]
pub(super) struct Session {
    pub http1: http1::Builder,
    pub http2: http2::Builder<TokioExecutor>,
    pub activity: Arc<Activity>,
    pub stopping: CancellationToken,
    pub keepalive_timeout: Duration,
    /// When the handshake or the first bytes must have come by.
    pub prelude_deadline: Instant,
}

/// What serves one connection's requests.
pub(super) trait ConnectionService:
    hyper::service::Service<
        http::Request<Incoming>,
        Response = Response,
        Error = Infallible,
        Future: Send + 'static,
    > + Send
    + 'static
{
}

impl<C> ConnectionService for C where
    C: hyper::service::Service<
            http::Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Send
        + 'static
{
}

/// What the ports add to plain HTTP/1.1.
#[derive(Debug, Clone, Default)]
pub(super) struct Protocols {
    pub tls: Option<Tls>,
    /// `Strict-Transport-Security` on HTTPS answers.
    pub hsts: Option<http::HeaderValue>,
    /// Plain requests redirected to this HTTPS port.
    pub redirect_to: Option<u16>,
    pub http2: Http2Args,
}

impl Session {
    /// Serves `io`, come in by `door`, with `service` until the connection ends.
    pub async fn run<C, H>(self, io: Watched<H>, door: Door, service: C, protocols: &Protocols)
    where
        H: Send + Unpin + 'static,
        C: ConnectionService,
    {
        let prelude = async {
            match (door, &protocols.tls) {
                (Door::Tls, Some(tls)) => {
                    let stream = tls.acceptor().accept(io).await.ok()?;
                    let protocol = match stream.get_ref().1.alpn_protocol() {
                        Some(b"h2") => Protocol::Http2,
                        _ => Protocol::Http1,
                    };
                    Some(Either::Right((protocol, stream)))
                }
                _ => {
                    let (protocol, io) = sniff::protocol_of(io).await.ok()??;
                    Some(Either::Left((protocol, io)))
                }
            }
        };
        let opened = tokio::select! {
            opened = tokio::time::timeout_at(self.prelude_deadline, prelude) => opened.ok().flatten(),
            () = evicted(&self.activity) => None,
            () = self.stopping.cancelled() => None,
        };
        match opened {
            None => {}
            Some(Either::Left((protocol, io))) => {
                let service = ToHttps {
                    inner: service,
                    https_port: protocols.redirect_to,
                };
                self.serve(protocol, io, service).await;
            }
            Some(Either::Right((protocol, io))) => {
                let service = Hsts {
                    inner: service,
                    value: protocols.hsts.clone(),
                };
                self.serve(protocol, io, service).await;
            }
        }
    }

    async fn serve<I, C>(self, protocol: Protocol, io: I, service: C)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        C: ConnectionService,
    {
        let io = TokioIo::new(io);
        match protocol {
            Protocol::Http1 => {
                let connection = self.http1.serve_connection(io, service).with_upgrades();
                drive(connection, &self.activity, self.stopping.cancelled()).await;
            }
            Protocol::Http2 => {
                let streams = Streams::new(Arc::clone(&self.activity));
                let service = Http2Service {
                    inner: service,
                    streams: Arc::clone(&streams),
                };
                let connection = self.http2.serve_connection(io, service);
                let stopping_or_idle = async {
                    tokio::select! {
                        () = self.stopping.cancelled() => {}
                        () = streams.idle_for(self.keepalive_timeout) => {}
                    }
                };
                drive(connection, &self.activity, stopping_or_idle).await;
            }
        }
    }
}

/// A hyper connection that can be asked to finish its requests and close.
trait Closable: Future<Output = hyper::Result<()>> {
    fn close(self: Pin<&mut Self>);
}

impl<I, S> Closable for http1::UpgradeableConnection<I, S>
where
    S: HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    fn close(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S> Closable for http2::Connection<I, S, TokioExecutor>
where
    S: HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    fn close(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Serves `connection` until it ends; closes it at once when the registry asks while it is
/// idle, and gracefully (its requests finished) once `close_when` completes: when the
/// server stops or, for HTTP/2, when it has had no stream for a while.
async fn drive(
    connection: impl Closable,
    activity: &Activity,
    close_when: impl Future<Output = ()>,
) {
    tokio::pin!(connection, close_when);
    let mut closing = false;
    loop {
        tokio::select! {
            served = &mut connection => {
                if let Err(err) = served {
                    tracing::trace!(error = %err, "connection ended with an error");
                }
                return;
            }
            // Dropped, so closed, only while idle: no request is cut.
            () = evicted(activity) => return,
            () = &mut close_when, if !closing => {
                closing = true;
                connection.as_mut().close();
            }
        }
    }
}

/// Completes once the registry asks the connection to close while it is idle.
async fn evicted(activity: &Activity) {
    loop {
        activity.closing().await;
        if activity.may_close() {
            return;
        }
    }
}
