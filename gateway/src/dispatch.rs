//! Dispatch: the service every connection of the gateway is served by. A request under a
//! backend's prefix takes the proxy path, where the standard layers' work (request id, span
//! and access line, panic catcher, request timeout), the admission and the forwarding run in
//! one future; any other request (the gateway's own routes, health, metrics, documentation)
//! goes to the axum router and its standard layers. CORS, when configured, wraps both.
//!
//! Written out rather than routed by axum through tower-http's layers because the proxy
//! path is where the gateway's cost is: axum's router and each layer around it clone a
//! service and box a future on every request, which profiles showed as the largest share
//! of the gateway's own CPU time per proxied request.
//! Callgrind: 30,200 instructions a request, 42,600 routed and layered (docs/benchmark.md).

use std::{
    convert::Infallible, net::SocketAddr, panic::AssertUnwindSafe, sync::Arc, time::Duration,
};

use axum::{Router, extract::Request, response::IntoResponse, response::Response};
use futures::{FutureExt, future::BoxFuture};
use gateway_net::server::{RouterConnection, Serve, body_of};
use hyper::body::Incoming;
use shared::http::{
    REQUEST_ID, ensure_request_id, log_answer, panic_to_problem, request_span, timed_out,
};
use tokio::time::Instant;
use tower::{Layer, ServiceExt};
use tower_http::cors::{Cors, CorsLayer};
use tracing::Instrument;

use crate::{admission, forward, forwarded::PeerIp, ops::public::PublicOps, state::GatewayState};
use gateway_upstream::Backend;

/// What serves the gateway's connections; cloning shares it.
#[derive(Debug, Clone)]
pub struct Dispatcher(Arc<DispatcherInner>);

#[derive(Debug)]
struct DispatcherInner {
    state: GatewayState,
    /// The gateway's own routes and operational endpoints, in the standard layers.
    own: Router,
    /// The operational endpoints the public port answers itself.
    public: PublicOps,
    request_timeout: Duration,
    cors: Option<CorsLayer>,
}

impl Dispatcher {
    /// Proxies backends' prefixes with `state`, answers the rest with `own`.
    pub fn new(
        state: GatewayState,
        own: Router,
        public: PublicOps,
        request_timeout: Duration,
        cors: Option<CorsLayer>,
    ) -> Self {
        Self(Arc::new(DispatcherInner {
            state,
            own,
            public,
            request_timeout,
            cors,
        }))
    }
}

impl Serve for Dispatcher {
    type Connection = Connection;

    fn connection(&self, peer: SocketAddr, secure: bool) -> Connection {
        let dispatch = Dispatch {
            dispatcher: self.clone(),
            own: self.0.own.connection(peer, secure),
            peer,
            peer_ip: PeerIp::of(peer, &self.0.state.forwarding, secure),
        };
        Connection(Arc::new(ConnectionInner {
            cors: self
                .0
                .cors
                .as_ref()
                .map(|cors| cors.layer(dispatch.clone())),
            dispatch,
        }))
    }
}

/// The gateway serving one connection. One `Arc` of its own, so that a request holds it
/// without touching the reference counts every thread's connections share.
#[derive(Debug, Clone)]
pub struct Connection(Arc<ConnectionInner>);

#[derive(Debug)]
struct ConnectionInner {
    dispatch: Dispatch,
    cors: Option<Cors<Dispatch>>,
}

impl hyper::service::Service<http::Request<Incoming>> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        let mut request = request.map(body_of);
        // Outside CORS, so that the preflights it answers carry an id too.
        let id = ensure_request_id(request.headers_mut());
        let connection = Arc::clone(&self.0);
        // Built in its allocation: the request's whole future is kilobytes (see `boxed`).
        gateway_net::boxed::in_place(move || async move {
            let mut response = match &connection.cors {
                None => connection.dispatch.answer(request).await,
                Some(cors) => cors.clone().oneshot(request).await?,
            };
            response.headers_mut().entry(REQUEST_ID).or_insert(id);
            Ok(response)
        })
    }
}

/// Sends each request down the proxy path or to the router.
#[derive(Debug, Clone)]
pub struct Dispatch {
    dispatcher: Dispatcher,
    own: RouterConnection,
    peer: SocketAddr,
    peer_ip: PeerIp,
}

impl Dispatch {
    async fn answer(&self, request: Request) -> Response {
        let parts = &self.dispatcher.0;
        let path = request.uri().path();
        let routed = route_of(&parts.state.backends, path)
            .or_else(|| route_of(&parts.state.grpc_backends, path));
        match routed {
            Some((backend, route)) => proxy_request(parts, backend, route, self, request).await,
            // Cloned: a request is not `Sync`, so no reference to it may be held across the
            // wait.
            None => match parts
                .public
                .answer(&request.method().clone(), &request.uri().clone())
                .await
            {
                Some(response) => response,
                None => match self.own.route(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
            },
        }
    }
}

impl tower::Service<Request> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let dispatch = self.clone();
        gateway_net::boxed::in_place(move || async move { Ok(dispatch.answer(request).await) })
    }
}

/// The backend whose prefix `path` is, or is under, and the route template its requests are
/// counted by.
fn route_of<'a>(backends: &'a [Backend], path: &str) -> Option<(&'a Backend, &'a str)> {
    backends.iter().find_map(|backend| {
        let rest = path.strip_prefix(backend.prefix)?;
        if rest.is_empty() {
            Some((backend, backend.prefix))
        } else if rest.starts_with('/') {
            Some((backend, backend.subtree.as_str()))
        } else {
            None
        }
    })
}

/// The proxy path: span, access line, panic catcher and request timeout around the
/// admission and the forwarding.
async fn proxy_request(
    parts: &DispatcherInner,
    backend: &Backend,
    route: &str,
    connection: &Dispatch,
    request: Request,
) -> Response {
    let started = Instant::now();
    let span = request_span(&request);
    let method = request.method().clone();
    let grpc = crate::grpc::is_grpc(request.headers());
    let state = &parts.state;
    // Pinned where it is made: the wrappers around it hold a pointer, not a moved copy.
    let admitted = std::pin::pin!(admission::admit_then(
        state,
        connection.peer,
        request,
        |request, caller| {
            forward::forward_request(state, backend, &connection.peer_ip, request, caller)
        },
    ));
    let answer = tokio::time::timeout_at(
        started + parts.request_timeout,
        AssertUnwindSafe(admitted).catch_unwind(),
    );
    // A span filtered out is not entered and left around every poll.
    let answered = if span.is_disabled() {
        answer.await
    } else {
        answer.instrument(span.clone()).await
    };
    let mut response = match answered {
        Ok(Ok(response)) => response,
        Ok(Err(panic)) => span.in_scope(|| panic_to_problem(panic)),
        Err(_) => timed_out().into_response(),
    };
    if grpc {
        response = crate::grpc::as_grpc_status(response).await;
    }
    let elapsed = started.elapsed();
    admission::finish(&mut response, Some(route), &method, elapsed);
    span.in_scope(|| log_answer(response.status(), elapsed));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_belongs_to_the_backend_whose_prefix_it_is_or_is_under() {
        use clap::Parser;
        let config =
            crate::config::Config::try_parse_from(["gateway"]).expect("the defaults parse");
        let backends =
            gateway_upstream::from_args(&config.upstream, &gateway_upstream::probe::probe_client())
                .expect("backends");
        let route = |path| route_of(&backends, path).map(|(backend, route)| (backend.name, route));
        assert_eq!(route("/orders"), Some(("order-service", "/orders")));
        assert_eq!(
            route("/orders/7/items"),
            Some(("order-service", "/orders/{*rest}"))
        );
        assert_eq!(route("/ordersx"), None);
        assert_eq!(route("/api/orders/7/details"), None);
        assert_eq!(route("/health"), None);
    }
}
