//! The whole platform as processes: the seven binaries on their own stores, reached through
//! the gateway.

use std::time::{Duration, Instant};

use messaging::testing::TestBroker;
use serde_json::{Value, json};
use shared::testing::{TestDatabase, assert_problem, postgres_server_url};

use crate::{
    platform::{Options, Platform, env, wait_until_ready},
    processes::{Process, build_binaries, free_port},
};

const BACKENDS: [(&str, &str); 6] = [
    ("auth-service", "/auth"),
    ("order-service", "/orders"),
    ("restaurant-service", "/restaurants"),
    ("delivery-service", "/delivery"),
    ("tracking-service", "/tracking"),
    ("payment-service", "/payments"),
];
/// The path prefix `backend` serves under.
pub fn prefix_of(backend: &str) -> &'static str {
    BACKENDS
        .iter()
        .find(|(name, _)| *name == backend)
        .map(|(_, prefix)| *prefix)
        .unwrap_or_else(|| panic!("{backend} is not a backend"))
}

const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn the_whole_platform_answers_through_the_gateway_and_survives_losing_a_backend() {
    let mut stack = Platform::start(Options {
        rate_limits: true,
        ..Options::default()
    })
    .await;
    let client = reqwest::Client::new();

    let health: Value = client
        .get(stack.url("/health"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok", "{health}");
    for (name, prefix) in BACKENDS {
        assert_eq!(health["checks"][name]["status"], "up", "{name}");
        let ready = client
            .get(stack.url(&format!("{prefix}/ready")))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            ready.status().as_u16(),
            200,
            "{prefix}/ready through the gateway"
        );
        assert!(ready.headers().contains_key("x-request-id"));
        let body: Value = ready.json().await.expect("json");
        assert_eq!(body["service"], name);
    }

    assert_problem(
        client
            .get(stack.url("/no/such/route"))
            .send()
            .await
            .expect("sent"),
        404,
    )
    .await;
    let anonymous = client.get(stack.url("/orders")).send().await.expect("sent");
    assert!(anonymous.headers().contains_key("www-authenticate"));
    assert_problem(anonymous, 401).await;
    let malformed = client
        .post(stack.url("/auth/register"))
        .header("content-type", "application/json")
        .body(r#"{"email": "ada@example.com", "password": "#)
        .send()
        .await
        .expect("sent");
    assert_problem(malformed, 400).await;
    let registered = client
        .post(stack.url("/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": "a long enough password", "display_name": "Ada"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(registered.status().as_u16(), 201);
    let tokens: Value = client
        .post(stack.url("/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "a long enough password"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let token = tokens["access_token"].as_str().expect("an access token");
    let mine = client
        .get(stack.url("/orders"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        mine.status().as_u16(),
        200,
        "the gateway and order-service both accept the token"
    );
    assert!(mine.headers().contains_key("ratelimit-remaining"));
    assert_problem(
        client
            .get(stack.url("/orders/no/such/route"))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent"),
        404,
    )
    .await;
    let details = client
        .get(stack.url(&format!("/api/orders/{}/details", uuid::Uuid::now_v7())))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    assert_problem(details, 404).await;
    for expected in ["MISS", "HIT"] {
        let browse = client
            .get(stack.url("/restaurants?cuisine=thai"))
            .send()
            .await
            .expect("sent");
        assert_eq!(browse.status().as_u16(), 200);
        assert_eq!(browse.headers()["x-cache"], expected);
    }

    stack.backend("restaurant-service").kill();
    let started = Instant::now();
    let lost = client
        .get(stack.url("/restaurants/ready"))
        .send()
        .await
        .expect("sent");
    assert!(
        started.elapsed() <= UPSTREAM_TIMEOUT + Duration::from_secs(1),
        "answered within the upstream timeout"
    );
    let status = lost.status().as_u16();
    assert!(status == 502 || status == 503, "{status}");
    let body = assert_problem(lost, status).await;
    assert_eq!(body["service"], "restaurant-service");
    let cached = client
        .get(stack.url("/restaurants?cuisine=thai"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        cached.status().as_u16(),
        200,
        "the cached copy outlives its backend"
    );
    assert_eq!(cached.headers()["x-cache"], "HIT");
    for (name, prefix) in BACKENDS
        .iter()
        .filter(|(name, _)| *name != "restaurant-service")
    {
        let ready = client
            .get(stack.url(&format!("{prefix}/ready")))
            .send()
            .await
            .expect("sent");
        assert_eq!(ready.status().as_u16(), 200, "{name} still answers");
    }
    // The public report is made at most once a second: the next one sees the loss.
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        let health: Value = client
            .get(stack.url("/health"))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        if health["status"] == "degraded" || Instant::now() > deadline {
            break health;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["checks"]["restaurant-service"]["status"], "down");
}

#[tokio::test]
async fn a_binary_stops_cleanly_on_sigterm() {
    let database = TestDatabase::create(&postgres_server_url(), "e2e_sigterm").await;
    build_binaries();
    let broker = TestBroker::new();
    let mut process = Process::start(
        "auth-service",
        free_port(),
        &env(&[
            ("DATABASE_URL", database.url()),
            ("AMQP_PREFIX", broker.prefix.clone()),
        ]),
    );
    wait_until_ready(&process).await;
    let status = process
        .terminate(Duration::from_secs(15))
        .expect("it exits after SIGTERM");
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        process.log_tail()
    );
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    build_binaries();
    let output = std::process::Command::new(crate::processes::binary_dir().join("order-service"))
        .env_clear()
        .env("ORDER_SHARDS", "a=mysql://nowhere/orders")
        .output()
        .expect("order-service runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("ORDER_SHARDS")
            && stderr.contains("--order-shards")
            && stderr.contains("mysql://nowhere/orders"),
        "{stderr}"
    );
}
