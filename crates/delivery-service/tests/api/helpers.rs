use std::ops::Deref;

use clap::Parser;
use delivery_service::{Application, Config};
use shared::{
    auth::Role,
    testing::{
        TestClient, TestDatabase, TestIssuer, amqp_url, conformance::Subject, postgres_server_url,
    },
};
use uuid::Uuid;

/// delivery-service as the shared checks see it.
pub fn subject() -> Subject<fn(String, String) -> futures::future::BoxFuture<'static, String>> {
    Subject {
        service: "delivery-service",
        prefix: "/delivery",
        database: "delivery",
        spawn: |database_url, amqp_url| Box::pin(spawn_with(database_url, amqp_url)),
    }
}

/// Starts delivery-service on a free port against the given stores; returns its base URL.
pub async fn spawn_with(database_url: String, amqp_url: String) -> String {
    spawn_trusting(database_url, amqp_url, "http://127.0.0.1:1/jwks".to_owned()).await
}

/// As `spawn_with`, trusting the tokens of the issuer at `jwks_url`.
pub async fn spawn_trusting(database_url: String, amqp_url: String, jwks_url: String) -> String {
    shared::telemetry::init_for_tests();
    let config = Config::try_parse_from([
        "delivery-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database-url",
        &database_url,
        "--amqp-url",
        &amqp_url,
        "--auth-jwks-url",
        &jwks_url,
    ])
    .expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// The service on a fresh database; its client calls it (`app.get(…)`, `app.user(…)`).
pub struct TestApp {
    pub api: TestClient,
    /// Dropped with the app: the database goes with it.
    _database: TestDatabase,
}

impl Deref for TestApp {
    type Target = TestClient;

    fn deref(&self) -> &TestClient {
        &self.api
    }
}

/// delivery-service on a fresh database, trusting a test token issuer.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "delivery").await;
    let issuer = TestIssuer::start().await;
    let address = spawn_trusting(database.url(), amqp_url(), issuer.jwks_url.clone()).await;
    TestApp {
        api: TestClient::new(address, issuer),
        _database: database,
    }
}

impl TestApp {
    /// A courier registered, available, at (`lat`, `lon`); returns (id, token).
    pub async fn courier_at(&self, lat: f64, lon: f64) -> (Uuid, String) {
        let (id, token) = self.user(&[Role::Courier]);
        let registered = self
            .post(
                "/delivery/couriers",
                &token,
                "-",
                &serde_json::json!({"name": "Rider", "vehicle": "bicycle"}),
            )
            .await;
        assert_eq!(registered.status().as_u16(), 201);
        self.put(
            "/delivery/couriers/me/location",
            &token,
            &serde_json::json!({"lat": lat, "lon": lon}),
        )
        .await;
        self.put(
            "/delivery/couriers/me/availability",
            &token,
            &serde_json::json!({"available": true}),
        )
        .await;
        (id, token)
    }
}
