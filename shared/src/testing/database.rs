//! A fresh PostgreSQL database per test.

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
        let dropped = super::run_to_end(async move {
            let mut connection = PgConnection::connect_with(&server).await.ok()?;
            connection
                .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                .await
                .ok()
        });
        if dropped.flatten().is_none() {
            eprintln!("could not drop a test database; it will linger until removed by hand");
        }
    }
}
