//! Helpers for the integration tests of the binaries: fresh stores per test, a TCP proxy to
//! cut a server with, problem+json assertions, and the checks every service shares.

mod client;
#[cfg(feature = "postgres")]
pub mod conformance;
#[cfg(feature = "postgres")]
mod database;
mod fixtures;
mod issuer;
#[cfg(feature = "mongo")]
mod mongo;
mod proxy;
#[cfg(feature = "registry")]
mod registry;

pub use client::TestClient;
#[cfg(feature = "postgres")]
pub use database::{TestDatabase, postgres_server_url};
pub use fixtures::{menu_of_one, restaurant};
pub use issuer::TestIssuer;
#[cfg(feature = "mongo")]
pub use mongo::TestMongo;
pub use proxy::TcpProxy;
#[cfg(feature = "registry")]
pub use registry::{TestRegistry, redis_url};

/// Runs `cleanup` to its end from a `Drop`, which runs inside the test's runtime and cannot
/// block on async work there: a thread with a runtime of its own can. `None` when it could
/// not run.
pub fn run_to_end<T: Send + 'static>(
    cleanup: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        Some(runtime.block_on(cleanup))
    })
    .join()
    .ok()
    .flatten()
}

/// Asserts a problem+json answer with `status`; returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    assert_eq!(
        response.headers()["content-type"],
        crate::problem::PROBLEM_JSON,
        "content type of {}",
        response.url()
    );
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["type"].is_string(),
        "{body}"
    );
    body
}

/// The broker tests use (`TEST_AMQP_URL`, else the local one).
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// The MongoDB-compatible server tests use (`TEST_MONGODB_URL`, else the local one).
pub fn mongodb_url() -> String {
    std::env::var("TEST_MONGODB_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27017/?directConnection=true".to_owned())
}

/// `GET url`: its status and JSON body.
pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.expect("the request is sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// `GET {address}/ready`, polled until `accept` holds for its status or five seconds pass
/// (broker connections and background migrations settle asynchronously).
pub async fn ready_until(address: &str, accept: impl Fn(u16) -> bool) -> (u16, serde_json::Value) {
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..50 {
        last = get_json(&format!("{address}/ready")).await;
        if accept(last.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}
