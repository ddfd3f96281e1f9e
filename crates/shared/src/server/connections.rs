//! Accepting connections and serving HTTP/1.1 on each, with graceful shutdown: the loop
//! `axum::serve` runs, open to any service made per connection rather than to a router
//! only, so that a binary can answer its busiest path without going through the router.

use std::{convert::Infallible, fmt::Debug, future::Future, net::SocketAddr, time::Duration};

use axum::{
    Router,
    extract::{ConnectInfo, Request},
    response::Response,
    routing::future::RouteFuture,
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{rt::TokioIo, server::graceful::GracefulShutdown};
use tokio::net::TcpListener;
use tower::Service as _;

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

    /// The service of a connection from `peer`.
    fn connection(&self, peer: SocketAddr) -> Self::Connection;
}

impl Serve for Router {
    type Connection = RouterConnection;

    fn connection(&self, peer: SocketAddr) -> RouterConnection {
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
        self.route(request.map(axum::body::Body::new))
    }
}

impl RouterConnection {
    /// Routes `request`, which already has an axum body.
    pub fn route(&self, mut request: Request) -> RouteFuture<Infallible> {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        self.router.clone().call(request)
    }
}

/// Serves every connection `listener` accepts with `service` until `stop` completes, then
/// stops accepting and waits for the open connections to finish their requests.
pub async fn serve_connections<S: Serve>(
    listener: TcpListener,
    service: S,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let http = http1::Builder::new();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                wait_after_accept_error(&err).await;
                continue;
            }
        };
        // Responses are written whole; Nagle's algorithm would only hold their last segment.
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(stream), service.connection(peer));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::trace!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A connection that failed while being accepted is the client's problem; anything else
/// (out of file descriptors, say) is the server's, and retrying at once would spin.
async fn wait_after_accept_error(err: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::error!(error = %err, "cannot accept connections; retrying in 1 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
