//! The live updates over a WebSocket, from a real client: the same stream, refusals and
//! places as the event stream's.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{
        self, Message,
        client::IntoClientRequest,
        handshake::client::Request,
        protocol::{CloseFrame, frame::coding::CloseCode},
    },
};

use crate::{
    helpers::{TestApp, spawn_app, spawn_app_with},
    tracking::{assigned, locate},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The handshake for `path`, with the token, if any, as the event stream's clients send it.
fn handshake(app: &TestApp, path: &str, token: Option<&str>) -> Request {
    let url = format!("{}{path}", app.address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("a WebSocket request");
    if let Some(token) = token {
        let bearer = format!("Bearer {token}").parse().expect("a header value");
        request.headers_mut().insert("authorization", bearer);
    }
    request
}

/// The WebSocket at `path`, upgraded.
async fn open(app: &TestApp, path: &str, token: &str) -> Socket {
    let (socket, response) = connect_async(handshake(app, path, Some(token)))
        .await
        .expect("upgraded");
    assert_eq!(response.status().as_u16(), 101);
    socket
}

/// The HTTP answer to a handshake refused before the upgrade: its status and problem.
async fn refusal(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    match connect_async(handshake(app, path, token)).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let body = response.body().as_deref().expect("a body");
            let problem = serde_json::from_slice(body).expect("a JSON problem");
            (response.status().as_u16(), problem)
        }
        Err(err) => panic!("not refused over HTTP: {err}"),
        Ok(_) => panic!("upgraded"),
    }
}

/// The next message other than a ping or pong (within five seconds).
async fn next(socket: &mut Socket) -> Message {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await.expect("still open").expect("a message") {
                Message::Ping(_) | Message::Pong(_) => {}
                message => return message,
            }
        }
    })
    .await
    .expect("a message arrives")
}

/// The next message, a JSON text.
async fn next_json(socket: &mut Socket) -> Value {
    match next(socket).await {
        Message::Text(text) => serde_json::from_str(text.as_str()).expect("JSON"),
        other => panic!("not a text message: {other:?}"),
    }
}

/// The next message, a Close frame: its code and reason.
async fn next_close(socket: &mut Socket) -> (CloseCode, String) {
    match next(socket).await {
        Message::Close(Some(CloseFrame { code, reason })) => (code, reason.as_str().to_owned()),
        other => panic!("not a Close frame: {other:?}"),
    }
}

fn live(delivery: uuid::Uuid) -> String {
    format!("/tracking/{delivery}/live")
}

#[tokio::test]
async fn the_websocket_sends_the_current_status_then_each_change() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    let mut socket = open(&app, &live(delivery.id), &delivery.customer).await;
    let first = next_json(&mut socket).await;
    assert_eq!(
        (
            &first["event"],
            &first["data"]["version"],
            &first["data"]["status"]
        ),
        (&json!("status"), &json!(2), &json!("assigned"))
    );
    locate(&app, &delivery, 45.777, "2026-11-22T10:00:00Z").await;
    let second = next_json(&mut socket).await;
    assert_eq!(
        (
            &second["event"],
            &second["data"]["version"],
            &second["data"]["lat"]
        ),
        (&json!("status"), &json!(3), &json!(45.777))
    );
}

#[tokio::test]
async fn the_websocket_ends_with_an_end_message_and_a_close_frame_when_its_token_expires() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    let short = app
        .issuer
        .token_lasting(delivery.customer_id, &[Role::Customer], 2);
    let mut socket = open(&app, &live(delivery.id), &short).await;
    assert_eq!(next_json(&mut socket).await["event"], "status");
    assert_eq!(
        next_json(&mut socket).await,
        json!({"event": "end", "data": {"reason": "token_expired"}})
    );
    assert_eq!(
        next_close(&mut socket).await,
        (CloseCode::Normal, "token_expired".to_owned())
    );
    assert!(
        socket.next().await.is_none(),
        "the closing handshake completes"
    );
}

#[tokio::test]
async fn a_quiet_websocket_ends_with_an_idle_end_and_a_normal_close() {
    let app = spawn_app_with(&["--stream-idle-timeout", "300ms"]).await;
    let delivery = assigned(&app).await;
    let mut socket = open(&app, &live(delivery.id), &delivery.courier).await;
    assert_eq!(next_json(&mut socket).await["event"], "status");
    assert_eq!(next_json(&mut socket).await["data"]["reason"], "idle");
    assert_eq!(
        next_close(&mut socket).await,
        (CloseCode::Normal, "idle".to_owned())
    );
}

#[tokio::test]
async fn the_websocket_refuses_before_the_upgrade_as_the_event_stream_does() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    let (_, stranger) = app.user(&[Role::Customer]);
    let stream = format!("/tracking/{}/stream", delivery.id);
    let anonymous = app
        .client
        .get(format!("{}{stream}", app.address))
        .send()
        .await
        .expect("sent");
    let anonymous = assert_problem(anonymous, 401).await;
    assert_eq!(
        refusal(&app, &live(delivery.id), None).await,
        (401, anonymous)
    );
    let hidden = assert_problem(app.get(&stream, &stranger).await, 404).await;
    assert_eq!(
        refusal(&app, &live(delivery.id), Some(&stranger)).await,
        (404, hidden)
    );
}

#[tokio::test]
async fn a_request_that_is_no_websocket_handshake_gets_a_426_problem_naming_what_is_missing() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    let response = app.get(&live(delivery.id), &delivery.customer).await;
    assert_eq!(response.headers()["upgrade"], "websocket");
    let problem = assert_problem(response, 426).await;
    assert_eq!(problem["type"], "/problems/websocket-handshake");
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.contains("upgrade"), "{detail}");
    let other_version = app
        .client
        .get(format!("{}{}", app.address, live(delivery.id)))
        .bearer_auth(&delivery.customer)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "8")
        .send()
        .await
        .expect("sent");
    assert_eq!(other_version.headers()["sec-websocket-version"], "13");
    assert_problem(other_version, 426).await;
}

#[tokio::test]
async fn a_handshake_without_its_key_gets_a_400_problem_naming_the_missing_header() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    let keyless = app
        .client
        .get(format!("{}{}", app.address, live(delivery.id)))
        .bearer_auth(&delivery.customer)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .send()
        .await
        .expect("sent");
    let problem = assert_problem(keyless, 400).await;
    assert_eq!(problem["type"], "/problems/websocket-handshake");
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(
        detail.to_ascii_lowercase().contains("sec-websocket-key"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_client_message_closes_the_websocket_with_1003() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    let mut socket = open(&app, &live(delivery.id), &delivery.customer).await;
    assert_eq!(next_json(&mut socket).await["event"], "status");
    socket.send(Message::text("subscribe")).await.expect("sent");
    assert_eq!(next_close(&mut socket).await.0, CloseCode::Unsupported);
}

#[tokio::test]
async fn websockets_and_event_streams_share_a_users_places_and_a_closed_one_frees_its_place() {
    let app = spawn_app_with(&["--streams-per-user", "2"]).await;
    let delivery = assigned(&app).await;
    let path = live(delivery.id);
    let mut first = open(&app, &path, &delivery.customer).await;
    let events = app
        .get(
            &format!("/tracking/{}/stream", delivery.id),
            &delivery.customer,
        )
        .await;
    assert_eq!(events.status().as_u16(), 200);
    let (status, problem) = refusal(&app, &path, Some(&delivery.customer)).await;
    assert_eq!(
        (status, &problem["type"]),
        (429, &json!("/problems/too-many-streams"))
    );
    let _other = open(&app, &path, &delivery.admin).await;
    first.close(None).await.expect("closed");
    let mut reopened = false;
    for _ in 0..50 {
        if connect_async(handshake(&app, &path, Some(&delivery.customer)))
            .await
            .is_ok()
        {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened, "the closed WebSocket's place is free again");
}
