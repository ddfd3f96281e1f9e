use auth_service::{Application, Config};
use clap::Parser;
use reqwest::Response;
use serde_json::Value;
pub use shared::testing::assert_problem;
use shared::testing::{TestDatabase, postgres_server_url};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database: TestDatabase,
}

/// Starts auth-service on a free port against a database of its own.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::create(&postgres_server_url(), "auth").await;
    let address = spawn_with_database_url(&database.url()).await;
    TestApp {
        address,
        client: reqwest::Client::new(),
        database,
    }
}

/// Starts auth-service against `database_url`, reachable or not; returns its base URL.
pub async fn spawn_with_database_url(database_url: &str) -> String {
    shared::telemetry::init_for_tests();
    let config = Config::try_parse_from([
        "auth-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database-url",
        database_url,
    ])
    .expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

impl TestApp {
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn count_users(&self) -> i64 {
        let pool = sqlx::PgPool::connect_with(self.database.options())
            .await
            .expect("connect to the test database");
        sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&pool)
            .await
            .expect("count users")
    }
}
