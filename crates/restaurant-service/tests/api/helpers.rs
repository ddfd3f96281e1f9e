use clap::Parser;
use restaurant_service::{Application, Config};
use shared::testing::mongodb_url;

/// Starts restaurant-service on a free port with a database name of its own; returns its
/// base URL and the database name.
pub async fn spawn_app() -> (String, String) {
    let database = format!("test_restaurants_{}", uuid_like());
    let address = spawn_with(&mongodb_url(), &database).await;
    (address, database)
}

/// Starts restaurant-service against `url`, reachable or not.
pub async fn spawn_with(url: &str, database: &str) -> String {
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
    ])
    .expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

fn uuid_like() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default()
    )
}
