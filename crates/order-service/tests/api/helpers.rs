use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use axum::{Json, Router, extract::Path, http::StatusCode, response::IntoResponse, routing::get};
use clap::Parser;
use order_service::{Application, Config};
use serde_json::{Value, json};
use shared::{
    auth::Role,
    testing::{TestDatabase, TestIssuer, amqp_url},
};
use uuid::Uuid;

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

/// Starts order-service on a free port with the given shard map; returns its base URL.
pub async fn spawn_with_shards(order_shards: &str) -> String {
    spawn_full(
        order_shards,
        "http://127.0.0.1:1/jwks",
        "http://127.0.0.1:1",
    )
    .await
}

/// As `spawn_with_shards`, trusting `jwks_url` and pricing orders at `restaurants_url`.
pub async fn spawn_full(order_shards: &str, jwks_url: &str, restaurants_url: &str) -> String {
    shared::telemetry::init_for_tests();
    let amqp_url = amqp_url();
    let config = Config::try_parse_from([
        "order-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--order-shards",
        order_shards,
        "--amqp-url",
        &amqp_url,
        "--auth-jwks-url",
        jwks_url,
        "--restaurant-service-url",
        restaurants_url,
        "--upstream-timeout",
        "500ms",
    ])
    .expect("valid test configuration");
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
                    .then(|| Json(json!({"id": id, "owner_id": owner})))
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
    pub databases: Vec<TestDatabase>,
}

/// order-service on three fresh shard databases, a test token issuer and a fake
/// restaurant-service.
pub async fn spawn_app() -> TestApp {
    let databases = shard_databases().await;
    let urls: Vec<String> = databases.iter().map(|db| db.url()).collect();
    spawn_app_on(databases, &urls).await
}

/// As `spawn_app`, with the shard URLs given (some may point nowhere).
pub async fn spawn_app_on(databases: Vec<TestDatabase>, urls: &[String]) -> TestApp {
    let issuer = TestIssuer::start().await;
    let restaurants = FakeRestaurants::start().await;
    let address = spawn_full(&shard_map(urls), &issuer.jwks_url, &restaurants.url).await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        issuer,
        restaurants,
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
}
