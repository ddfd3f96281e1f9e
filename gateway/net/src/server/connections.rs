//! Serving accepted connections, with graceful shutdown: what `axum::serve` does, open to any
//! service made per connection rather than to a router only, so that a binary can answer
//! its busiest path without going through the router.

use std::{
    convert::Infallible,
    fmt::Debug,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Router,
    extract::{ConnectInfo, Request},
    response::Response,
    routing::future::RouteFuture,
};
use hyper::{
    body::{Body as _, Incoming},
    server::conn::{http1, http2},
};
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpStream;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::Service as _;

use super::{
    head_timer::{HeadTimer, Watched},
    http2::builder,
    registry::{Admitted, Connections},
    session::{Door, Protocols, Session},
};

/// One serving thread's share of the work: it serves what it is handed, and the first
/// thread also accepts.
pub(super) struct Share<S> {
    pub index: usize,
    pub service: S,
    pub open: Open,
    /// Every thread's connections, and their limits.
    pub connections: Arc<Connections>,
    pub protocols: Arc<Protocols>,
}

/// What answers the requests of each accepted connection.
pub trait Serve: Clone + Debug + Send + 'static {
    /// The service of one connection.
    type Connection: hyper::service::Service<
            http::Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Send
        + 'static;

    /// The service of a connection from `peer`, over TLS if `secure`.
    fn connection(&self, peer: SocketAddr, secure: bool) -> Self::Connection;
}

impl Serve for Router {
    type Connection = RouterConnection;

    fn connection(&self, peer: SocketAddr, _secure: bool) -> RouterConnection {
        RouterConnection {
            router: self.clone(),
            peer,
        }
    }
}

/// A router serving one connection: its requests carry the peer's address as
/// [`ConnectInfo`], as with `into_make_service_with_connect_info`.
#[derive(Debug, Clone)]
pub struct RouterConnection {
    router: Router,
    peer: SocketAddr,
}

impl hyper::service::Service<http::Request<Incoming>> for RouterConnection {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        self.route(request.map(body_of))
    }
}

impl RouterConnection {
    /// Routes `request`, which already has an axum body.
    pub fn route(&self, mut request: Request) -> RouteFuture<Infallible> {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        self.router.clone().call(request)
    }
}

/// A received body as axum's: one known to be empty (most requests') as an empty body,
/// which is not boxed, rather than the connection's stream boxed to yield nothing.
pub fn body_of(incoming: Incoming) -> axum::body::Body {
    if incoming.is_end_stream() {
        axum::body::Body::empty()
    } else {
        axum::body::Body::new(incoming)
    }
}

/// The connections each serving thread has open, by thread.
#[derive(Debug, Clone)]
pub(super) struct Open(Arc<[AtomicUsize]>);

impl Open {
    pub fn new(workers: usize) -> Self {
        Self((0..workers.max(1)).map(|_| AtomicUsize::new(0)).collect())
    }

    /// The thread serving the fewest connections, the first of them from `start` on.
    pub fn fewest(&self, start: usize) -> usize {
        let count = self.0.len();
        (0..count)
            .map(|offset| (start + offset) % count)
            .min_by_key(|&worker| self.0[worker].load(Ordering::Relaxed))
            .unwrap_or(0)
    }
}

/// One thread's connections being served.
pub(super) struct Serving<S> {
    pub share: Share<S>,
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    tasks: TaskTracker,
    stopping: CancellationToken,
}

impl<S: Serve> Serving<S> {
    pub fn new(share: Share<S>) -> Self {
        let http2 = builder(&share.protocols.http2);
        Self {
            share,
            http1: http1::Builder::new(),
            http2,
            tasks: TaskTracker::new(),
            stopping: CancellationToken::new(),
        }
    }

    /// Serves `stream`, handed from another thread, from `peer`.
    pub fn serve_std(
        &self,
        stream: std::net::TcpStream,
        peer: SocketAddr,
        door: Door,
        open: OpenConnection,
        admitted: Admitted,
    ) {
        match stream
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(stream))
        {
            Ok(stream) => self.serve(stream, peer, door, open, admitted),
            Err(err) => tracing::warn!(error = %err, "cannot serve a handed connection"),
        }
    }

    /// Serves `stream` from `peer` on a task of this thread's, `open` and `admitted`
    /// counting it, until it ends or, idle, is closed to make room for another.
    pub fn serve(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        door: Door,
        open: OpenConnection,
        admitted: Admitted,
    ) {
        // Responses are written whole; Nagle's algorithm would only hold their last segment.
        let _ = stream.set_nodelay(true);
        let activity = Arc::clone(&admitted.activity);
        let limits = &self.share.connections.limits;
        let mut http1 = self.http1.clone();
        http1
            .timer(HeadTimer::new(
                Arc::clone(&activity),
                limits.header_read_timeout,
                limits.keepalive_timeout,
            ))
            .header_read_timeout(limits.header_read_timeout);
        let session = Session {
            http1,
            http2: self.http2.clone(),
            activity: Arc::clone(&activity),
            stopping: self.stopping.clone(),
            keepalive_timeout: limits.keepalive_timeout,
            prelude_deadline: tokio::time::Instant::now() + limits.header_read_timeout,
        };
        // Counted while the socket lives, in hyper's connection or, upgraded, in a tunnel.
        let io = Watched::new(stream, activity, (open, admitted));
        let service = self.share.service.connection(peer, door == Door::Tls);
        let protocols = Arc::clone(&self.share.protocols);
        self.tasks.spawn(async move {
            session.run(io, door, service, &protocols).await;
        });
    }

    /// Asks every connection to finish its requests and close, and waits until they have.
    pub async fn finish(self) {
        self.stopping.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// One open connection of a thread, counted while it lives.
#[derive(Debug)]
pub(super) struct OpenConnection {
    open: Open,
    worker: usize,
}

impl OpenConnection {
    pub fn new(open: &Open, worker: usize) -> Self {
        open.0[worker].fetch_add(1, Ordering::Relaxed);
        Self {
            open: open.clone(),
            worker,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open.0[self.worker].fetch_sub(1, Ordering::Relaxed);
    }
}
