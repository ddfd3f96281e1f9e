use std::time::Duration;

use auth_service::{Application, Config};
use clap::Parser;
use messaging::{
    Envelope,
    testing::{TestBroker, amqp_url},
    topology::{Exchange, QueueSpec},
};
use reqwest::Response;
use serde_json::{Value, json};
pub use shared::testing::assert_problem;
use shared::testing::{TestDatabase, postgres_server_url};

pub const PASSWORD: &str = "a long enough password";

/// A queue of the tests' own that receives every account event.
pub const ACCOUNT_EVENTS: QueueSpec = QueueSpec {
    name: "test-account-events",
    bindings: &[(Exchange::DomainEvents, "account.#")],
};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database: TestDatabase,
    pub broker: TestBroker,
}

/// Starts auth-service on a free port against a database of its own, with cheap password
/// hashing and short lockout times.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// As `spawn_app`, with more flags.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "auth").await;
    let mut broker = TestBroker::new();
    broker.declare(ACCOUNT_EVENTS).await;
    let address = spawn_with_stores(&database.url(), &broker, extra).await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        database,
        broker,
    }
}

/// The secret the tests' instances seal their signing keys with (32 bytes, base64).
pub const SIGNING_KEY_SECRET: &str = "dGhlIHRlc3RzJyBzaWduaW5nLWtleSBzZWNyZXQhISE=";

/// Starts auth-service against `database_url` and the namespace of `broker`; returns its
/// base URL.
pub async fn spawn_with_stores(database_url: &str, broker: &TestBroker, extra: &[&str]) -> String {
    spawn_with_broker_at(database_url, broker, &amqp_url(), extra).await
}

/// As `spawn_with_stores`, reaching the broker at `broker_url` (one that is down, say).
pub async fn spawn_with_broker_at(
    database_url: &str,
    broker: &TestBroker,
    broker_url: &str,
    extra: &[&str],
) -> String {
    shared::telemetry::init_for_tests();
    let broker_flags = broker.flags(broker_url);
    let mut args = vec![
        "auth-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database-url",
        database_url,
        "--argon2-memory-kib",
        "64",
        "--argon2-iterations",
        "1",
        "--signing-key-secret",
        SIGNING_KEY_SECRET,
    ];
    if !extra.contains(&"--lockout-window") {
        args.extend(["--lockout-window", "1m"]);
    }
    args.extend(broker_flags.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let config = Config::try_parse_from(args).expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

impl TestApp {
    /// A client of an instance already running at `address` on `database`.
    pub fn at(address: &str, database: TestDatabase) -> Self {
        Self {
            address: address.to_owned(),
            client: reqwest::Client::new(),
            database,
            broker: TestBroker::new(),
        }
    }

    /// The account events of `kind` published so far, waiting up to five seconds for
    /// `count` of them (others are taken off the queue too).
    pub async fn account_events(&self, kind: &str, count: usize) -> Vec<Envelope> {
        let mut found = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while found.len() < count && tokio::time::Instant::now() < deadline {
            let taken = self
                .broker
                .envelopes(&ACCOUNT_EVENTS, 1, Duration::from_millis(500))
                .await;
            found.extend(taken.into_iter().filter(|event| event.kind == kind));
        }
        found
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn get_with(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn post_json_with(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect_with(self.database.options())
            .await
            .expect("connect to the test database")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool().await)
            .await
            .expect("count")
    }

    pub async fn count_users(&self) -> i64 {
        self.count("SELECT count(*) FROM users").await
    }

    /// Registers `email` with `PASSWORD`; returns the new user's id.
    pub async fn register(&self, email: &str) -> String {
        let response = self
            .post_json(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD, "display_name": "Test"}),
            )
            .await;
        assert_eq!(response.status().as_u16(), 201);
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("an id").to_owned()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// `login`, as forwarded by a proxy that saw the client at `client`.
    pub async fn login_from(&self, client: &str, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/auth/login"))
            .header("x-forwarded-for", client)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("sent")
    }

    /// Registers and logs in; returns the token response.
    pub async fn signed_in(&self, email: &str) -> Value {
        self.register(email).await;
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("json")
    }
}

/// The `access_token` of a token response.
pub fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().expect("an access token")
}

/// Asserts a problem+json answer with `status` whose type ends in `slug`; returns its body.
pub async fn assert_problem_of(response: Response, status: u16, slug: &str) -> Value {
    let body = assert_problem(response, status).await;
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|kind| kind.ends_with(slug)),
        "a {slug} problem: {body}"
    );
    body
}
