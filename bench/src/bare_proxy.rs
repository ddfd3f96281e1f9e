//! The floor of the stack the gateway is built on: the same accept loop and HTTP/1.1 server
//! (`gateway_net::server`), a service of its own in place of a router, the same pooled client out
//! (`gateway_net::client::OriginPool`), one serving thread per core, and nothing else (no routes, limits, cache, breaker,
//! metrics, request ids or forwarded headers). Measured beside the gateway and nginx, it
//! shows how much of the gateway's cost is the HTTP stack itself and how much its features.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc};

use axum::{
    body::Body,
    http::{Request, StatusCode, Uri, uri::PathAndQuery},
    response::{IntoResponse, Response},
};
use futures::future::BoxFuture;
use gateway_net::{client::OriginPool, server::Serve};
use hyper::body::Incoming;

/// The client a bare proxy forwards through: the gateway's own, or one to compare it with
/// (`crate::bare_proxy_hyper`). Everything else about the proxy is the same for each.
pub trait Upstream: std::fmt::Debug + Send + Sync + 'static {
    /// The upstream's answer to `request`, or `None` when there was none.
    fn forward(&self, request: Request<Body>) -> impl Future<Output = Option<Response>> + Send;
}

impl Upstream for OriginPool {
    async fn forward(&self, request: Request<Body>) -> Option<Response> {
        let response = self.send(request).await.ok()?;
        Some(response.map(Body::new))
    }
}

/// Forwards every request, whatever its path, to its upstream through `U` (the gateway's
/// own client unless said otherwise); cloning shares it.
#[derive(Debug)]
pub struct BareProxy<U = OriginPool>(Arc<U>);

impl<U> Clone for BareProxy<U> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl BareProxy {
    /// A proxy to the upstream at `address` (`host:port`).
    pub fn new(address: String) -> Self {
        Self::through(OriginPool::new(address))
    }
}

impl<U: Upstream> BareProxy<U> {
    /// A proxy that forwards through `upstream`.
    pub fn through(upstream: U) -> Self {
        Self(Arc::new(upstream))
    }
}

impl<U: Upstream> Serve for BareProxy<U> {
    type Connection = Self;

    fn connection(&self, _: SocketAddr, _: bool) -> Self {
        self.clone()
    }
}

impl<U: Upstream> hyper::service::Service<Request<Incoming>> for BareProxy<U> {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let upstream = Arc::clone(&self.0);
        gateway_net::boxed::in_place(move || async move {
            Ok(forward_request(&*upstream, request).await)
        })
    }
}

async fn forward_request<U: Upstream>(upstream: &U, request: Request<Incoming>) -> Response {
    let (mut parts, body) = request.into_parts();
    // The target in origin form; the client's `Host` goes on as it came.
    let target = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or(PathAndQuery::from_static("/"));
    parts.uri = Uri::from(target);
    let request = Request::from_parts(parts, gateway_net::server::body_of(body));
    match upstream.forward(request).await {
        Some(response) => response,
        None => StatusCode::BAD_GATEWAY.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::{IpAddr, Ipv4Addr},
        time::Duration,
    };

    use gateway_net::server::Server;

    use super::*;

    #[tokio::test]
    async fn requests_reach_the_upstream_and_its_answer_comes_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, crate::router()).await });
        let proxy = BareProxy::new(address.to_string());
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let server = Server::bind_workers(localhost, 0, proxy, Duration::from_secs(1), 1)
            .expect("a port for the proxy");
        let port = server.port();
        tokio::spawn(server.run_until_stopped());

        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        let get = |path: &str| client.get(format!("http://127.0.0.1:{port}{path}")).send();
        let response = get("/orders/bench").await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes().await.expect("a body");
        assert_eq!(body, crate::BODY);
        let missing = get("/nothing/here").await.expect("an answer");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
