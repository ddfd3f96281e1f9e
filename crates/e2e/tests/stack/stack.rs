//! The whole platform as processes: the seven binaries on their own stores, reached through
//! the gateway.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use shared::testing::{TestDatabase, amqp_url, assert_problem, mongodb_url, postgres_server_url};

use crate::processes::{Process, build_binaries, free_port};

const BACKENDS: [(&str, &str); 6] = [
    ("auth-service", "/auth"),
    ("order-service", "/orders"),
    ("restaurant-service", "/restaurants"),
    ("delivery-service", "/delivery"),
    ("tracking-service", "/tracking"),
    ("payment-service", "/payments"),
];
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

struct Stack {
    gateway: Process,
    backends: Vec<Process>,
    _databases: Vec<TestDatabase>,
}

pub fn env(pairs: &[(&'static str, String)]) -> BTreeMap<&'static str, String> {
    let mut env: BTreeMap<&str, String> = pairs.iter().cloned().collect();
    env.insert("LOG_FORMAT", "json".into());
    env.insert("RUST_LOG", "info".into());
    env
}

impl Stack {
    async fn start() -> Self {
        build_binaries();
        let server = postgres_server_url();
        let auth = TestDatabase::create(&server, "e2e_auth").await;
        let payments = TestDatabase::create(&server, "e2e_payments").await;
        let delivery = TestDatabase::create(&server, "e2e_delivery").await;
        let tracking = TestDatabase::create(&server, "e2e_tracking").await;
        let mut databases = Vec::new();
        let mut shards = Vec::new();
        for (name, port) in [("a", 5433), ("b", 5434), ("c", 5435)] {
            let shard = TestDatabase::create(
                &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                "e2e_orders",
            )
            .await;
            shards.push(format!("{name}={}", shard.url()));
            databases.push(shard);
        }
        let mongodb = mongodb_url();
        let auth_port = free_port();
        let jwks = format!("http://127.0.0.1:{auth_port}/.well-known/jwks.json");
        let with_jwks = |mut pairs: Vec<(&'static str, String)>| {
            pairs.push(("AUTH_JWKS_URL", jwks.clone()));
            env(&pairs)
        };
        let backends = vec![
            Process::start(
                "auth-service",
                auth_port,
                &env(&[("DATABASE_URL", auth.url())]),
            ),
            Process::start(
                "order-service",
                free_port(),
                &with_jwks(vec![
                    ("ORDER_SHARDS", shards.join(",")),
                    ("AMQP_URL", amqp_url()),
                ]),
            ),
            Process::start(
                "restaurant-service",
                free_port(),
                &with_jwks(vec![
                    ("MONGODB_URL", mongodb),
                    (
                        "MONGODB_DATABASE",
                        format!("e2e_restaurants_{}", free_port()),
                    ),
                ]),
            ),
            Process::start(
                "delivery-service",
                free_port(),
                &with_jwks(vec![
                    ("DATABASE_URL", delivery.url()),
                    ("AMQP_URL", amqp_url()),
                ]),
            ),
            Process::start(
                "tracking-service",
                free_port(),
                &with_jwks(vec![
                    ("DATABASE_URL", tracking.url()),
                    ("AMQP_URL", amqp_url()),
                ]),
            ),
            Process::start(
                "payment-service",
                free_port(),
                &with_jwks(vec![
                    ("DATABASE_URL", payments.url()),
                    ("AMQP_URL", amqp_url()),
                ]),
            ),
        ];
        let gateway = Process::start(
            "gateway",
            free_port(),
            &env(&[
                ("AUTH_SERVICE_URL", backends[0].url()),
                ("ORDER_SERVICE_URL", backends[1].url()),
                ("RESTAURANT_SERVICE_URL", backends[2].url()),
                ("DELIVERY_SERVICE_URL", backends[3].url()),
                ("TRACKING_SERVICE_URL", backends[4].url()),
                ("PAYMENT_SERVICE_URL", backends[5].url()),
                ("UPSTREAM_TIMEOUT", "2s".into()),
                ("AUTH_JWKS_URL", jwks.clone()),
                ("REDIS_KEY_PREFIX", format!("e2e-gateway-{auth_port}")),
            ]),
        );
        databases.extend([auth, payments, delivery, tracking]);
        let stack = Self {
            gateway,
            backends,
            _databases: databases,
        };
        for process in stack.backends.iter().chain([&stack.gateway]) {
            wait_until_ready(process).await;
        }
        stack
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url())
    }

    fn backend(&mut self, name: &str) -> &mut Process {
        self.backends
            .iter_mut()
            .find(|process| process.name == name)
            .expect("a backend of that name")
    }
}

pub async fn wait_until_ready(process: &Process) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{}/ready", process.url())).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{} did not become ready; its log ends with:\n{}",
        process.name,
        process.log_tail()
    );
}

#[tokio::test]
async fn the_whole_platform_answers_through_the_gateway_and_survives_losing_a_backend() {
    let mut stack = Stack::start().await;
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
    let health: Value = client
        .get(stack.url("/health"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["checks"]["restaurant-service"]["status"], "down");
}

#[tokio::test]
async fn a_binary_stops_cleanly_on_sigterm() {
    let database = TestDatabase::create(&postgres_server_url(), "e2e_sigterm").await;
    build_binaries();
    let mut process = Process::start(
        "auth-service",
        free_port(),
        &env(&[("DATABASE_URL", database.url())]),
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
