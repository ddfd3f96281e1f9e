use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::Path, http::StatusCode, response::IntoResponse, routing::get};
use clap::Parser;
use messaging::{
    RetryDelays,
    testing::{TestBroker, amqp_url},
};
use order_service::{Application, Config};
use serde_json::{Value, json};
use shared::{
    auth::Role,
    testing::{TestDatabase, TestIssuer},
};
use uuid::Uuid;

use crate::participants::FakeParticipants;

/// The three PostgreSQL servers that hold shards A, B and C (`TEST_ORDER_SHARD_SERVERS`,
/// comma-separated, else the ones the provisioning step starts on 5433-5435).
pub fn shard_servers() -> Vec<String> {
    std::env::var("TEST_ORDER_SHARD_SERVERS")
        .unwrap_or_else(|_| {
            (5433..=5435)
                .map(|port| format!("postgres://postgres@127.0.0.1:{port}/postgres"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A fresh database on each of the three shard servers.
pub async fn shard_databases() -> Vec<TestDatabase> {
    let mut databases = Vec::new();
    for server in shard_servers() {
        databases.push(TestDatabase::create(&server, "orders").await);
    }
    databases
}

/// The `ORDER_SHARDS` value for the given URLs, named a, b, c, …
pub fn shard_map(urls: &[String]) -> String {
    urls.iter()
        .zip('a'..)
        .map(|(url, name)| format!("{name}={url}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts order-service on a free port with the given shard map; returns its base URL and
/// its broker namespace.
pub async fn spawn_with_shards(order_shards: &str) -> (String, TestBroker) {
    let broker = TestBroker::new();
    let address = spawn_full(
        order_shards,
        "http://127.0.0.1:1/jwks",
        "http://127.0.0.1:1",
        &broker,
        &SagaTimes::default(),
    )
    .await;
    (address, broker)
}

/// How long the saga's steps may stay silent in a test, and how often they are tried.
#[derive(Debug, Clone, Copy)]
pub struct SagaTimes {
    pub step_timeout: &'static str,
    pub attempts: u32,
}

impl Default for SagaTimes {
    fn default() -> Self {
        Self {
            step_timeout: "5s",
            attempts: 2,
        }
    }
}

/// As `spawn_with_shards`, trusting `jwks_url`, pricing orders at `restaurants_url`, on the
/// broker namespace `broker`.
pub async fn spawn_full(
    order_shards: &str,
    jwks_url: &str,
    restaurants_url: &str,
    broker: &TestBroker,
    times: &SagaTimes,
) -> String {
    shared::telemetry::init_for_tests();
    let attempts = times.attempts.to_string();
    let mut args: Vec<String> = [
        "order-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--order-shards",
        order_shards,
        "--auth-jwks-url",
        jwks_url,
        "--restaurant-service-url",
        restaurants_url,
        "--upstream-timeout",
        "500ms",
        "--saga-step-timeout",
        times.step_timeout,
        "--saga-step-attempts",
        &attempts,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(broker.flags(&amqp_url()));
    let config = Config::try_parse_from(args).expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// The restaurant the fake restaurant-service knows, and its owner.
pub const RESTAURANT: &str = "r-1";

/// A real HTTP server standing in for restaurant-service: one restaurant with a small menu.
pub struct FakeRestaurants {
    pub url: String,
    pub owner: Uuid,
    pub calls: Arc<AtomicUsize>,
    pub failing: Arc<AtomicBool>,
}

impl FakeRestaurants {
    pub async fn start() -> Self {
        let owner = Uuid::now_v7();
        let calls = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let (count, fail) = (calls.clone(), failing.clone());
        let router = Router::new()
            .route("/restaurants/{id}", get(move |Path(id): Path<String>| async move {
                (id == RESTAURANT)
                    .then(|| Json(json!({"id": id, "owner_id": owner, "location": {"lat": 45.76, "lon": 4.84}})))
                    .ok_or(StatusCode::NOT_FOUND)
            }))
            .route("/restaurants/{id}/menu", get(|Path(id): Path<String>| async move {
                (id == RESTAURANT)
                    .then(|| Json(json!({"restaurant_id": id, "categories": [{"name": "Mains", "items": [
                        {"id": "soup", "name": "Soup", "price": {"amount": 650, "currency": "EUR"}, "available": true},
                        {"id": "stew", "name": "Stew", "price": {"amount": 900, "currency": "EUR"}, "available": true},
                        {"id": "gone", "name": "Gone", "price": {"amount": 100, "currency": "EUR"}, "available": false},
                    ]}]})))
                    .ok_or(StatusCode::NOT_FOUND)
            }))
            .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
                let (count, fail) = (count.clone(), fail.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    if fail.load(Ordering::SeqCst) {
                        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                    }
                    next.run(request).await
                }
            }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            url,
            owner,
            calls,
            failing,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub issuer: TestIssuer,
    pub restaurants: FakeRestaurants,
    /// Payment and delivery, as the saga sees them: replies to its commands.
    pub participants: FakeParticipants,
    pub broker: TestBroker,
    pub databases: Vec<TestDatabase>,
}

/// order-service on three fresh shard databases, a test token issuer, a fake
/// restaurant-service and fake saga participants.
pub async fn spawn_app() -> TestApp {
    spawn_app_timed(SagaTimes::default()).await
}

/// As `spawn_app`, with the saga's steps timed as given.
pub async fn spawn_app_timed(times: SagaTimes) -> TestApp {
    let databases = shard_databases().await;
    let urls: Vec<String> = databases.iter().map(|db| db.url()).collect();
    spawn_app_on(databases, &urls, times).await
}

/// As `spawn_app`, with the shard URLs given (some may point nowhere).
pub async fn spawn_app_on(
    databases: Vec<TestDatabase>,
    urls: &[String],
    times: SagaTimes,
) -> TestApp {
    let issuer = TestIssuer::start().await;
    let restaurants = FakeRestaurants::start().await;
    // Courier events that arrive before the saga has confirmed the order wait by retrying:
    // a ladder of a few seconds keeps a slow confirmation from dead-lettering them.
    let ladder = [100, 200, 400, 800, 1600, 3200].map(Duration::from_millis);
    let mut broker = TestBroker::new().with_delays(RetryDelays(ladder.to_vec()));
    let participants = FakeParticipants::start(&mut broker).await;
    let address = spawn_full(
        &shard_map(urls),
        &issuer.jwks_url,
        &restaurants.url,
        &broker,
        &times,
    )
    .await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        issuer,
        restaurants,
        participants,
        broker,
        databases,
    }
}

/// A body ordering `quantity` soups.
pub fn order_of(quantity: i64) -> Value {
    json!({
        "restaurant_id": RESTAURANT,
        "items": [{"menu_item_id": "soup", "quantity": quantity}, {"menu_item_id": "stew", "quantity": 1}],
        "delivery_address": {"street": "2 Rue Y", "city": "Lyon", "postal_code": "69002", "country": "FR"},
        "payment_method": "pm_card_ok",
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn user(&self, roles: &[Role]) -> (Uuid, String) {
        let id = Uuid::now_v7();
        (id, self.issuer.token(id, roles))
    }

    pub fn token_of(&self, user: Uuid, roles: &[Role]) -> String {
        self.issuer.token(user, roles)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent")
    }

    /// Places an order as `token`; returns its body.
    pub async fn place(&self, token: &str) -> Value {
        let response = self.post("/orders", token, &order_of(2)).await;
        assert_eq!(response.status().as_u16(), 201);
        response.json().await.expect("json")
    }

    /// Waits up to fifteen seconds for the order to be in `status`; returns it as read last.
    pub async fn wait_for_status(&self, id: &str, token: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let order: Value = self
                .get(&format!("/orders/{id}"), token)
                .await
                .json()
                .await
                .expect("json");
            if order["status"] == status || Instant::now() >= deadline {
                assert_eq!(order["status"], status, "{order}");
                return order;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The order's saga.
    pub async fn saga(&self, id: &str, token: &str) -> Value {
        self.get(&format!("/orders/{id}/saga"), token)
            .await
            .json()
            .await
            .expect("json")
    }
}
