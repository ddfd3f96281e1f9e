//! The dashboard: its page, its live stream for admins (bearer token or session cookie), and
//! a breaker seen opening without reloading.

use std::time::Duration;

use serde_json::Value;
use shared::{
    auth::Role,
    testing::{TestIssuer, assert_problem},
};
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted};

/// Reads a Server-Sent Events stream one `snapshot` at a time.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = frame.lines().find_map(|line| line.strip_prefix("data: ")) {
                    assert!(frame.contains("event: snapshot"), "{frame}");
                    return serde_json::from_str(data).expect("a JSON snapshot");
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.response.chunk())
                .await
                .expect("a snapshot every second")
                .expect("the stream reads")
                .expect("the stream goes on");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn events(request: reqwest::RequestBuilder) -> Events {
    let response = request.send().await.expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    Events {
        response,
        buffer: String::new(),
    }
}

fn breaker_state(snapshot: &Value, service: &str) -> String {
    snapshot["breakers"]["breakers"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["service"] == service))
        .and_then(|row| row["state"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_page_is_served_to_anyone_and_the_stream_to_admins_alone() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{gateway}/dashboard"))
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html"))
    );
    assert!(
        page.text()
            .await
            .expect("a page")
            .contains("new EventSource(\"/dashboard/events\")")
    );

    let stream = format!("{gateway}/dashboard/events");
    assert_problem(client.get(&stream).send().await.expect("sent"), 401).await;
    let customer = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    assert_problem(
        client
            .get(&stream)
            .bearer_auth(&customer)
            .send()
            .await
            .expect("sent"),
        403,
    )
    .await;

    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let mut events = events(client.get(&stream).bearer_auth(&admin)).await;
    let snapshot = events.next().await;
    assert_eq!(
        snapshot["breakers"]["breakers"].as_array().map(Vec::len),
        Some(6),
        "{snapshot}"
    );
    assert_eq!(
        snapshot["retries"].as_array().map(Vec::len),
        Some(6),
        "{snapshot}"
    );
    assert!(
        snapshot["cache"]["hit_rate_percent"].is_number(),
        "{snapshot}"
    );
    assert!(
        snapshot["registry"]["services"]["order-service"].is_object(),
        "{snapshot}"
    );
    assert!(snapshot["rate_limited"].is_u64(), "{snapshot}");
    assert!(
        snapshot["sagas"]["unavailable"].is_string(),
        "order-service is not running here: {snapshot}"
    );
}

#[tokio::test]
async fn a_session_cookie_opens_the_stream_for_a_browser_and_signing_out_drops_it() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let client = reqwest::Client::new();
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let session = client
        .post(format!("{gateway}/dashboard/session"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent");
    assert_eq!(session.status(), 204);
    let cookie = session.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("name=value").to_owned();
    assert_eq!(pair, format!("__Host-fd_dashboard={admin}"));

    let mut events = events(
        client
            .get(format!("{gateway}/dashboard/events"))
            .header("cookie", &pair),
    )
    .await;
    assert!(events.next().await["at"].is_string());

    let customer = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let refused = client
        .post(format!("{gateway}/dashboard/session"))
        .bearer_auth(customer)
        .send()
        .await
        .expect("sent");
    assert_problem(refused, 403).await;
    let out = client
        .delete(format!("{gateway}/dashboard/session"))
        .send()
        .await
        .expect("sent");
    assert_eq!(out.status(), 204);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .is_ok_and(|c| c.contains("Max-Age=0"))
    );
}

#[tokio::test]
async fn the_stream_shows_a_breaker_open_without_reloading() {
    let issuer = TestIssuer::start().await;
    let orders = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("order", &orders.url)
        .arg("--rate-limit", "false")
        .spawn()
        .await;
    let client = reqwest::Client::new();
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let mut events = events(
        client
            .get(format!("{gateway}/dashboard/events"))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(
        breaker_state(&events.next().await, "order-service"),
        "CLOSED"
    );

    orders.fail_always(500);
    let user = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    for _ in 0..10 {
        client
            .get(format!("{gateway}/orders"))
            .bearer_auth(&user)
            .send()
            .await
            .expect("sent");
    }
    let mut state = String::new();
    for _ in 0..5 {
        state = breaker_state(&events.next().await, "order-service");
        if state == "OPEN" {
            break;
        }
    }
    assert_eq!(state, "OPEN");
}
