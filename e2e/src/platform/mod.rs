//! The whole platform as processes on stores of its own (fresh databases, a broker
//! namespace), reached through the gateway, with what a test needs to act on it and to
//! break it: users and tokens, a restaurant, couriers, orders; binaries stopped, killed and
//! started again; the broker cut for one binary; a shard cut or hung; and the stores, to
//! check afterwards.

mod api;
mod breaking;
mod plan;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use messaging::{RetryDelays, testing::TestBroker};
use shared::testing::{TcpProxy, TestDatabase, TestRegistry, postgres_server_url};
use sqlx::PgPool;

pub use self::api::{Api, order_body};
use crate::processes::{Process, build_binaries, free_port};

/// The platform's binaries.
pub const BINARIES: [&str; 7] = [
    "gateway",
    "auth-service",
    "order-service",
    "restaurant-service",
    "delivery-service",
    "tracking-service",
    "payment-service",
];
/// Those that use the broker.
pub const BROKERED: [&str; 5] = [
    "auth-service",
    "order-service",
    "delivery-service",
    "tracking-service",
    "payment-service",
];

/// The first administrator.
pub const ADMIN_EMAIL: &str = "admin@platform.test";
/// The first administrator's password.
pub const ADMIN_PASSWORD: &str = "the platform admin password";
/// Every user's password.
pub const PASSWORD: &str = "a long enough password";
/// The order shards' names, in the order of their servers (5433, 5434, 5435).
pub const SHARDS: [&str; 3] = ["a", "b", "c"];

/// How a test wants the platform started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Each binary that uses the broker reaches it through a proxy of its own the test can
    /// cut.
    pub broker_proxies: bool,
    /// order-service reaches each shard through a proxy the test can cut or pause.
    pub shard_proxies: bool,
    /// The gateway limits request rates (off for bursts).
    pub rate_limits: bool,
    /// Extra variables for one binary.
    pub extra: Vec<(&'static str, &'static str, String)>,
}

/// The seven binaries, their stores, and a client of the gateway (`Deref` to [`Api`]).
#[derive(Debug)]
pub struct Platform {
    pub api: Api,
    pub gateway: Process,
    pub backends: Vec<Process>,
    /// How each binary was started, to start it again.
    started: BTreeMap<&'static str, (u16, BTreeMap<&'static str, String>)>,
    pub broker: TestBroker,
    /// By binary, with `Options::broker_proxies`.
    pub broker_proxies: BTreeMap<&'static str, TcpProxy>,
    /// In front of shards a, b and c, with `Options::shard_proxies`.
    pub shard_proxies: Vec<TcpProxy>,
    pub payments: TestDatabase,
    pub delivery: TestDatabase,
    pub tracking: TestDatabase,
    /// Shards a, b and c.
    pub shards: Vec<TestDatabase>,
    /// The service registry every backend lists itself in.
    pub registry: TestRegistry,
    /// Kept until the test ends, then dropped with its connections.
    _auth: TestDatabase,
}

/// The variables every binary gets, with `pairs`.
pub fn env(pairs: &[(&'static str, String)]) -> BTreeMap<&'static str, String> {
    let mut env: BTreeMap<&str, String> = pairs.iter().cloned().collect();
    env.entry("LOG_FORMAT").or_insert_with(|| "json".into());
    env.entry("RUST_LOG").or_insert_with(|| "info".into());
    env
}

impl Platform {
    /// Starts every binary and waits until each is ready.
    pub async fn start(options: Options) -> Self {
        build_binaries();
        let server = postgres_server_url();
        let auth = TestDatabase::create(&server, "e2e_auth").await;
        let payments = TestDatabase::create(&server, "e2e_payments").await;
        let delivery = TestDatabase::create(&server, "e2e_delivery").await;
        let tracking = TestDatabase::create(&server, "e2e_tracking").await;
        let mut shards = Vec::new();
        let mut shard_proxies = Vec::new();
        let mut shard_map = Vec::new();
        for (port, name) in [5433, 5434, 5435].into_iter().zip(SHARDS) {
            let server = format!("postgres://postgres@127.0.0.1:{port}/postgres");
            let shard = TestDatabase::create(&server, "e2e_orders").await;
            let url = if options.shard_proxies {
                let proxy = TcpProxy::start(([127, 0, 0, 1], port).into()).await;
                let database = shard
                    .options()
                    .get_database()
                    .unwrap_or("postgres")
                    .to_owned();
                let url = format!("postgres://postgres@127.0.0.1:{}/{database}", proxy.port());
                shard_proxies.push(proxy);
                url
            } else {
                shard.url()
            };
            shard_map.push(format!("{name}={url}"));
            shards.push(shard);
        }
        let mut broker = TestBroker::new();
        broker.delays = RetryDelays([200, 1000, 2000].map(Duration::from_millis).to_vec());
        let mut broker_proxies = BTreeMap::new();
        if options.broker_proxies {
            for name in BROKERED {
                let proxy = TcpProxy::start(([127, 0, 0, 1], 5672).into()).await;
                broker_proxies.insert(name, proxy);
            }
        }
        let ports: BTreeMap<&'static str, u16> =
            BINARIES.iter().map(|name| (*name, free_port())).collect();
        let stores = plan::Stores {
            auth: auth.url(),
            payments: payments.url(),
            delivery: delivery.url(),
            tracking: tracking.url(),
            shard_map: shard_map.join(","),
        };
        let registry = TestRegistry::new();
        let plans = plan::plans(
            &options,
            &ports,
            &stores,
            &broker,
            &broker_proxies,
            &registry,
        );
        let mut started = BTreeMap::new();
        let mut processes = Vec::new();
        for (name, pairs) in plans {
            let variables = env(&pairs);
            processes.push(Process::start(name, ports[name], &variables));
            started.insert(name, (ports[name], variables));
        }
        let gateway = processes.pop().expect("the gateway");
        let platform = Self {
            api: Api::new(gateway.url()),
            gateway,
            backends: processes,
            started,
            broker,
            broker_proxies,
            shard_proxies,
            payments,
            delivery,
            tracking,
            shards,
            registry,
            _auth: auth,
        };
        for process in platform.backends.iter().chain([&platform.gateway]) {
            wait_until_ready(process).await;
        }
        platform
    }

    /// A URL of the gateway.
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// A URL of the gateway's operational listener (`/metrics`, `/stats/*`, the full
    /// `/health`).
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port())
    }

    /// The port of the gateway's operational listener.
    pub fn admin_port(&self) -> u16 {
        self.started["gateway"].1["ADMIN_PORT"]
            .parse()
            .expect("the gateway is given its ADMIN_PORT")
    }

    /// The backend named `name`.
    pub fn backend(&mut self, name: &str) -> &mut Process {
        self.backends
            .iter_mut()
            .find(|process| process.name == name)
            .expect("a backend of that name")
    }

    /// Starts another instance of backend `name` on a port of its own, as the first was
    /// started but for `overrides` (`INSTANCE_COLOUR`, a store's URL...).
    pub fn start_instance(
        &self,
        name: &'static str,
        overrides: &[(&'static str, String)],
    ) -> Process {
        let (_, mut variables) = self.started[name].clone();
        variables.extend(overrides.iter().cloned());
        Process::start(name, free_port(), &variables)
    }

    /// A pool on the shard that holds `order`.
    pub async fn order_shard(&self, order: &str) -> PgPool {
        let id: uuid::Uuid = order.parse().expect("an order id");
        for shard in &self.shards {
            let pool = Self::pool(shard).await;
            let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM orders WHERE id = $1")
                .bind(id)
                .fetch_optional(&pool)
                .await
                .expect("the shard answers");
            if found.is_some() {
                return pool;
            }
        }
        panic!("no shard holds order {order}")
    }

    /// A pool on one of the platform's databases.
    pub async fn pool(database: &TestDatabase) -> PgPool {
        PgPool::connect_with(database.options())
            .await
            .expect("the test database answers")
    }
}

impl std::ops::Deref for Platform {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Polls `/ready` until it answers 200 (a minute at most).
pub async fn wait_until_ready(process: &Process) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{}/ready", process.url())).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{} did not become ready; its log ends with:\n{}",
        process.name,
        process.log_tail()
    );
}
