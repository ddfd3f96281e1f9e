//! Checks that hold for every service with one PostgreSQL database and the broker, written
//! once and run by each such service's own tests against its own binary's code.

use std::future::Future;

use super::{
    TcpProxy, TestDatabase, amqp_url, assert_problem, get_json, postgres_server_url, ready_until,
};

/// A port nothing listens on, for stores that are down.
pub const CLOSED_BROKER: &str = "amqp://guest:guest@127.0.0.1:1/%2f";

/// What a started service needs kept alive until the test ends (its broker namespace).
pub type Guard = Box<dyn std::any::Any + Send>;

/// A service under test: its name, path prefix and how to start it on given stores (the
/// closure returns the base URL, and what must live as long as the service).
#[derive(Debug, Clone, Copy)]
pub struct Subject<F> {
    /// The binary's name, as `/ready` reports it.
    pub service: &'static str,
    /// Its path prefix (`/payments`).
    pub prefix: &'static str,
    /// Its database's name, for a closed-port URL.
    pub database: &'static str,
    /// Starts it on `(database_url, amqp_url)`.
    pub spawn: F,
}

impl<F, Fut> Subject<F>
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = (String, Guard)>,
{
    /// Starts it on a fresh database and the test broker.
    pub async fn spawn_fresh(&self) -> (String, TestDatabase, Guard) {
        let database = TestDatabase::create(&postgres_server_url(), self.database).await;
        let (address, guard) = (self.spawn)(database.url(), amqp_url()).await;
        (address, database, guard)
    }

    /// `/ready` (and `{prefix}/ready`) name postgres and rabbitmq as up.
    pub async fn ready_names_its_stores_as_up(&self) {
        let (address, _database, _guard) = self.spawn_fresh().await;
        let (status, body) = ready_until(&address, |status| status == 200).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["service"], self.service);
        assert_eq!(body["checks"]["postgres"]["status"], "up");
        assert_eq!(body["checks"]["rabbitmq"]["status"], "up");
        let (status, _) = get_json(&format!("{address}{}/ready", self.prefix)).await;
        assert_eq!(status, 200);
    }

    /// With both stores unreachable it starts; `/health` is 200, `/ready` 503 naming both.
    pub async fn starts_without_its_stores_and_names_them_down(&self) {
        let closed = format!("postgres://postgres@127.0.0.1:1/{}", self.database);
        let (address, _guard) = (self.spawn)(closed, CLOSED_BROKER.to_owned()).await;
        assert_eq!(get_json(&format!("{address}/health")).await.0, 200);
        let (status, body) = get_json(&format!("{address}/ready")).await;
        assert_eq!(status, 503);
        assert_eq!(body["checks"]["postgres"]["status"], "down");
        assert_eq!(body["checks"]["rabbitmq"]["status"], "down");
    }

    /// With only the broker down, `/ready` names the broker alone.
    pub async fn names_the_broker_alone_when_only_it_is_down(&self) {
        let database = TestDatabase::create(&postgres_server_url(), self.database).await;
        let (address, _guard) = (self.spawn)(database.url(), CLOSED_BROKER.to_owned()).await;
        let (_, body) = get_json(&format!("{address}/ready")).await;
        assert_eq!(body["checks"]["postgres"]["status"], "up");
        assert_eq!(body["checks"]["rabbitmq"]["status"], "down");
    }

    /// The broker connection is re-established after the broker comes back.
    pub async fn reconnects_to_the_broker(&self) {
        let database = TestDatabase::create(&postgres_server_url(), self.database).await;
        let proxy = TcpProxy::start("127.0.0.1:5672".parse().expect("an address")).await;
        let broker = format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port());
        let (address, _guard) = (self.spawn)(database.url(), broker).await;
        assert_eq!(ready_until(&address, |status| status == 200).await.0, 200);
        proxy.cut();
        let (status, body) = ready_until(&address, |status| status == 503).await;
        assert_eq!(status, 503);
        assert_eq!(body["checks"]["rabbitmq"]["status"], "down");
        proxy.restore();
        let (status, body) = ready_until(&address, |status| status == 200).await;
        assert_eq!(status, 200, "{body}");
    }

    /// An unknown path under its prefix is a 404 problem.
    pub async fn answers_unknown_routes_with_a_404_problem(&self) {
        let (address, _database, _guard) = self.spawn_fresh().await;
        let response = reqwest::get(format!("{address}{}/nowhere/at/all", self.prefix))
            .await
            .expect("the request is sent");
        assert_problem(response, 404).await;
    }

    /// Its OpenAPI document is titled with its name and documents `{prefix}/ready`.
    pub async fn documents_itself(&self) {
        let (address, _database, _guard) = self.spawn_fresh().await;
        let (_, body) = get_json(&format!("{address}/openapi.json")).await;
        assert_eq!(body["info"]["title"], self.service);
        assert!(body["paths"][format!("{}/ready", self.prefix)].is_object());
    }
}
