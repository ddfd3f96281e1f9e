//! WebSockets through the gateway, over HTTP/1.1 and over TLS: admitted like any request,
//! passed on to the backend, spliced both ways, under the backend's breaker.

use std::sync::Arc;

use axum::{
    Router,
    extract::ws::{Message as ServerMessage, WebSocket, WebSocketUpgrade},
    http::HeaderMap,
    response::Response,
    routing::get,
};
use futures::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use shared::{auth::Role, testing::TestIssuer};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::StatusCode};
use uuid::Uuid;

use crate::{
    curl::{TestCertificates, client_config},
    helpers::{CLOSED, GatewayBuilder, serve, tls_port},
};

/// A backend whose `/tracking/{id}/live` is a WebSocket that first says the scheme the
/// gateway forwarded, then echoes each text message.
async fn echoing_backend() -> String {
    async fn live(upgrade: WebSocketUpgrade, headers: HeaderMap) -> Response {
        let proto = headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        upgrade.on_upgrade(move |mut socket: WebSocket| async move {
            let _ = socket
                .send(ServerMessage::text(format!("proto {proto}")))
                .await;
            while let Some(Ok(message)) = socket.recv().await {
                if let ServerMessage::Text(text) = message
                    && socket.send(ServerMessage::Text(text)).await.is_err()
                {
                    break;
                }
            }
        })
    }
    let router = Router::new()
        .route("/tracking/{id}/live", get(live))
        .route("/ready", get(|| async { "ready" }));
    serve(router).await
}

/// The status a handshake to `url` was refused with.
async fn refused(url: &str, token: Option<&str>) -> StatusCode {
    match tokio_tungstenite::connect_async(handshake(url, token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The `ws://` URL of `path` on `gateway`.
fn ws_url(gateway: &str, path: &str) -> String {
    format!("{}{path}", gateway.replacen("http://", "ws://", 1))
}

fn handshake(
    url: &str,
    token: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().expect("a WebSocket URL");
    if let Some(token) = token {
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("a header"),
        );
    }
    request
}

#[tokio::test]
async fn a_websocket_is_passed_on_to_its_backend_and_echoed_back_through_the_gateway() {
    let issuer = TestIssuer::start().await;
    let backend = echoing_backend().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("tracking", &backend)
        .spawn()
        .await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Courier]);
    let url = ws_url(&gateway, "/tracking/d1/live");

    let (mut socket, answer) = tokio_tungstenite::connect_async(handshake(&url, Some(&token)))
        .await
        .expect("upgraded through the gateway");
    assert_eq!(answer.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        socket.next().await.expect("a message").expect("text"),
        Message::text("proto http")
    );
    for text in ["one", "two", &"x".repeat(100_000)] {
        socket.send(Message::text(text)).await.expect("sent");
        assert_eq!(
            socket.next().await.expect("an echo").expect("text"),
            Message::text(text)
        );
    }
    socket.close(None).await.expect("closed");
}

#[tokio::test]
async fn a_websocket_handshake_is_admitted_like_any_request_and_opens_the_breaker_of_a_backend_that_is_down()
 {
    let issuer = TestIssuer::start().await;
    let down = GatewayBuilder::new(&issuer)
        .backend("tracking", CLOSED)
        .arg("--breaker-minimum-calls", "3")
        .spawn()
        .await;
    let url = ws_url(&down, "/tracking/d1/live");
    assert_eq!(refused(&url, None).await, StatusCode::UNAUTHORIZED);
    let token = issuer.token(Uuid::now_v7(), &[Role::Courier]);
    for _ in 0..3 {
        assert_eq!(refused(&url, Some(&token)).await, StatusCode::BAD_GATEWAY);
    }
    assert_eq!(
        refused(&url, Some(&token)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "the breaker is open and answers at once"
    );
}

#[tokio::test]
async fn a_backend_that_does_not_switch_protocols_has_its_answer_passed_back() {
    let issuer = TestIssuer::start().await;
    let backend = echoing_backend().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("tracking", &backend)
        .spawn()
        .await;
    let token = issuer.token(Uuid::now_v7(), &[Role::Courier]);
    let url = ws_url(&gateway, "/tracking/d1/no-such-socket");
    assert_eq!(refused(&url, Some(&token)).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_secure_websocket_is_passed_on_over_tls_as_https() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let issuer = TestIssuer::start().await;
    let backend = echoing_backend().await;
    let gateway = GatewayBuilder::new(&issuer)
        .tls(&certificates.dir)
        .backend("tracking", &backend)
        .spawn()
        .await;
    let port = tls_port(&gateway);
    let mut config = client_config(&[&certificates]);
    // A WebSocket's handshake is HTTP/1.1's.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connected");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("a name"), tcp)
        .await
        .expect("a handshake");
    let token = issuer.token(Uuid::now_v7(), &[Role::Courier]);
    let url = format!("wss://localhost:{port}/tracking/d1/live");
    let (mut socket, _) = tokio_tungstenite::client_async(handshake(&url, Some(&token)), tls)
        .await
        .expect("upgraded over TLS");
    assert_eq!(
        socket.next().await.expect("a message").expect("text"),
        Message::text("proto https")
    );
    socket.send(Message::text("over tls")).await.expect("sent");
    assert_eq!(
        socket.next().await.expect("an echo").expect("text"),
        Message::text("over tls")
    );
}
