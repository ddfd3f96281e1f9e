use clap::Parser;
use shared::testing::conformance::Subject;
use tracking_service::{Application, Config};

/// tracking-service as the shared checks see it.
pub fn subject() -> Subject<fn(String, String) -> futures::future::BoxFuture<'static, String>> {
    Subject {
        service: "tracking-service",
        prefix: "/tracking",
        database: "tracking",
        spawn: |database_url, amqp_url| Box::pin(spawn_with(database_url, amqp_url)),
    }
}

/// Starts tracking-service on a free port against the given stores; returns its base URL.
pub async fn spawn_with(database_url: String, amqp_url: String) -> String {
    shared::telemetry::init_for_tests();
    let config = Config::try_parse_from([
        "tracking-service",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database-url",
        &database_url,
        "--amqp-url",
        &amqp_url,
    ])
    .expect("valid test configuration");
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}
