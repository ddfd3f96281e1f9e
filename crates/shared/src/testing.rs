//! Fresh stores for integration tests: each test gets its own database, dropped after it.

use std::str::FromStr;

use sqlx::{Connection, Executor, PgConnection, postgres::PgConnectOptions};

/// The server tests create their databases on (`TEST_DATABASE_URL`, else the local one).
pub fn postgres_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database made for one test, dropped (with its connections) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    server: PgConnectOptions,
    name: String,
}

impl TestDatabase {
    /// Creates a database with a unique name on the server at `server_url`.
    pub async fn create(server_url: &str, label: &str) -> Self {
        let server = PgConnectOptions::from_str(server_url).expect("a valid PostgreSQL URL");
        let name = format!("test_{label}_{}", uuid::Uuid::now_v7().simple());
        let mut connection = PgConnection::connect_with(&server)
            .await
            .unwrap_or_else(|err| panic!("PostgreSQL at {server_url} must be running: {err}"));
        connection
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .expect("create the test database");
        Self { server, name }
    }

    /// Connection options for the new database.
    pub fn options(&self) -> PgConnectOptions {
        self.server.clone().database(&self.name)
    }

    /// A URL for the new database, for processes configured by URL.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@{}:{}/{}",
            self.server.get_host(),
            self.server.get_port(),
            self.name
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = std::mem::take(&mut self.name);
        // Drop runs inside the test's runtime, which cannot block on async work; a thread
        // with a runtime of its own can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut connection = PgConnection::connect_with(&server).await.ok()?;
                connection
                    .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop a test database; it will linger until removed by hand");
        }
    }
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

/// A TCP proxy in front of a real server, which a test can cut (and restore) to simulate
/// losing that server without stopping it for everyone else.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a proxy port");
        let port = listener.local_addr().expect("a local address").port();
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if *cut_rx.borrow() {
                    // Cut: the connection is closed at once, as by a server that is gone.
                    continue;
                }
                let mut connection_cut = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = connection_cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut }
    }

    /// The port clients should dial.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every open connection and refuses new ones: the server looks gone.
    pub fn cut(&self) {
        let _ = self.cut.send(true);
    }

    /// Forwards again: the server is back.
    pub fn restore(&self) {
        let _ = self.cut.send(false);
    }
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
