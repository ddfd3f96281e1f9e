use clap::Parser;
use reqwest::Response;
use restaurant_service::{Application, Config};
use serde_json::Value;
use shared::{
    auth::Role,
    testing::{TestIssuer, TestMongo},
};
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub issuer: TestIssuer,
    _mongo: TestMongo,
}

/// Starts restaurant-service on a free port with a database of its own, trusting a test
/// token issuer.
pub async fn spawn_app() -> TestApp {
    let mongo = TestMongo::new("restaurants");
    let issuer = TestIssuer::start().await;
    let address = spawn_with(&mongo.url, &mongo.name, &issuer.jwks_url).await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        issuer,
        _mongo: mongo,
    }
}

/// Starts restaurant-service against `url`, reachable or not.
pub async fn spawn_with(url: &str, database: &str, jwks_url: &str) -> String {
    shared::telemetry::init_for_tests();
    let config = Config::try_parse_from([
        "restaurant-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--mongodb-url",
        url,
        "--mongodb-database",
        database,
        "--auth-jwks-url",
        jwks_url,
    ])
    .expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

pub use shared::testing::restaurant;

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A token for a new user with `roles`; returns (user id, token).
    pub fn user(&self, roles: &[Role]) -> (Uuid, String) {
        let id = Uuid::now_v7();
        (id, self.issuer.token(id, roles))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("sent")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.expect("json")
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("sent")
    }

    /// Creates a restaurant as `token`'s owner; returns its id.
    pub async fn create(&self, token: &str, body: &Value) -> String {
        let response = self
            .send(reqwest::Method::POST, "/restaurants", Some(token), body)
            .await;
        assert_eq!(response.status().as_u16(), 201);
        let created: Value = response.json().await.expect("json");
        created["id"].as_str().expect("an id").to_owned()
    }
}
