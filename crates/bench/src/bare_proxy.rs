//! The floor of the stack the gateway is built on: axum in, hyper-util's pooled client out,
//! one serving thread per core, and nothing else (no routes, limits, cache, breaker, metrics,
//! request ids or forwarded headers). Measured beside the gateway and nginx, it shows how
//! much of the gateway's cost is the HTTP stack itself and how much its features.

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{StatusCode, Uri, uri::PathAndQuery},
    response::{IntoResponse, Response},
};
use shared::upstream::ThreadClients;

/// Where requests go, and the clients that take them there.
#[derive(Debug, Clone)]
struct Upstream {
    base: Uri,
    clients: ThreadClients,
}

/// Forwards every request, whatever its path, to `upstream` (an `http://host:port` URL).
pub fn router(upstream: Uri) -> Router {
    Router::new()
        .fallback(forward_request)
        .with_state(Upstream {
            base: upstream,
            clients: ThreadClients::default(),
        })
}

async fn forward_request(State(upstream): State<Upstream>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let mut uri = upstream.base.clone().into_parts();
    uri.path_and_query = parts
        .uri
        .path_and_query()
        .cloned()
        .or(Some(PathAndQuery::from_static("/")));
    let Ok(uri) = Uri::from_parts(uri) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    parts.uri = uri;
    match upstream
        .clients
        .get()
        .request(Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response.map(Body::new),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn get(proxy: &Router, path: &str) -> Response {
        let request = Request::get(path).body(Body::empty()).expect("a request");
        tower::ServiceExt::oneshot(proxy.clone(), request)
            .await
            .expect("an answer")
    }

    #[tokio::test]
    async fn requests_reach_the_upstream_and_its_answer_comes_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, crate::router()).await });
        let proxy = router(format!("http://{address}").parse().expect("a URL"));

        let response = get(&proxy, "/orders/bench").await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        assert_eq!(body, crate::BODY);
        assert_eq!(
            get(&proxy, "/nothing/here").await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
