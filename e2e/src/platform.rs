//! The whole platform as processes on stores of its own (fresh databases, a broker
//! namespace), reached through the gateway, with what a test needs to act on it: users and
//! tokens, a restaurant, couriers, orders, and the stores to check afterwards.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use messaging::{RetryDelays, testing::TestBroker};
use serde_json::{Value, json};
use shared::testing::{
    TcpProxy, TestDatabase, TestRegistry, menu_of_one, mongodb_url, postgres_server_url, restaurant,
};
use sqlx::PgPool;

use crate::processes::{Process, build_binaries, free_port};

const ADMIN_EMAIL: &str = "admin@platform.test";
const ADMIN_PASSWORD: &str = "the platform admin password";
/// Every user's password.
pub const PASSWORD: &str = "a long enough password";

/// How a test wants the platform started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every binary reaches RabbitMQ through a proxy the test can cut.
    pub broker_proxy: bool,
    /// The gateway limits request rates (off for bursts).
    pub rate_limits: bool,
    /// Extra variables for one binary.
    pub extra: Vec<(&'static str, &'static str, String)>,
}

/// The seven binaries, their stores, and a client of the gateway (`Deref` to [`Api`]).
pub struct Platform {
    pub api: Api,
    pub gateway: Process,
    pub backends: Vec<Process>,
    /// How each binary was started, to start it again.
    started: BTreeMap<&'static str, (u16, BTreeMap<&'static str, String>)>,
    pub broker: TestBroker,
    pub broker_proxy: Option<TcpProxy>,
    pub payments: TestDatabase,
    pub delivery: TestDatabase,
    /// The service registry every backend lists itself in.
    pub registry: TestRegistry,
    /// Kept until the test ends, then dropped with their connections.
    _stores: Vec<TestDatabase>,
}

/// The variables every binary gets, with `pairs`.
pub fn env(pairs: &[(&'static str, String)]) -> BTreeMap<&'static str, String> {
    let mut env: BTreeMap<&str, String> = pairs.iter().cloned().collect();
    env.insert("LOG_FORMAT", "json".into());
    env.insert("RUST_LOG", "info".into());
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
        for port in [5433, 5434, 5435] {
            let server = format!("postgres://postgres@127.0.0.1:{port}/postgres");
            shards.push(TestDatabase::create(&server, "e2e_orders").await);
        }
        let shard_map: Vec<String> = shards
            .iter()
            .zip(["a", "b", "c"])
            .map(|(shard, name)| format!("{name}={}", shard.url()))
            .collect();
        let mut broker = TestBroker::new();
        broker.delays = RetryDelays([200, 1000, 2000].map(Duration::from_millis).to_vec());
        let broker_proxy = if options.broker_proxy {
            Some(TcpProxy::start("127.0.0.1:5672".parse().expect("an address")).await)
        } else {
            None
        };
        let amqp_url = match &broker_proxy {
            Some(proxy) => format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port()),
            None => broker.url.clone(),
        };
        let messaging = |mut pairs: Vec<(&'static str, String)>| {
            pairs.push(("AMQP_URL", amqp_url.clone()));
            pairs.push(("AMQP_PREFIX", broker.prefix.clone()));
            let delays: Vec<String> = broker
                .delays
                .0
                .iter()
                .map(|delay| humantime::format_duration(*delay).to_string())
                .collect();
            pairs.push(("MESSAGE_RETRY_DELAYS", delays.join(",")));
            pairs
        };
        let ports: BTreeMap<&str, u16> = crate::binaries::all()
            .iter()
            .map(|binary| (binary.name, free_port()))
            .collect();
        let url = |name: &str| format!("http://127.0.0.1:{}", ports[name]);
        let jwks = format!("{}/.well-known/jwks.json", url("auth-service"));
        let mut plans: Vec<(&'static str, Vec<(&'static str, String)>)> = vec![
            (
                "auth-service",
                messaging(vec![
                    ("DATABASE_URL", auth.url()),
                    ("ADMIN_EMAIL", ADMIN_EMAIL.into()),
                    ("ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
                    ("ARGON2_MEMORY_KIB", "1024".into()),
                    ("ARGON2_ITERATIONS", "1".into()),
                    // Every test user signs up from loopback.
                    ("REGISTRATION_LIMIT", "1000".into()),
                ]),
            ),
            (
                "order-service",
                messaging(vec![
                    ("ORDER_SHARDS", shard_map.join(",")),
                    ("RESTAURANT_SERVICE_URL", url("restaurant-service")),
                    ("SAGA_STEP_TIMEOUT", "5s".into()),
                ]),
            ),
            (
                "restaurant-service",
                vec![
                    ("MONGODB_URL", mongodb_url()),
                    (
                        "MONGODB_DATABASE",
                        format!("e2e_restaurants_{}", free_port()),
                    ),
                ],
            ),
            (
                "delivery-service",
                messaging(vec![("DATABASE_URL", delivery.url())]),
            ),
            (
                "tracking-service",
                messaging(vec![("DATABASE_URL", tracking.url())]),
            ),
            (
                "payment-service",
                messaging(vec![("DATABASE_URL", payments.url())]),
            ),
            (
                "gateway",
                vec![
                    ("AUTH_SERVICE_URL", url("auth-service")),
                    ("ORDER_SERVICE_URL", url("order-service")),
                    ("RESTAURANT_SERVICE_URL", url("restaurant-service")),
                    ("DELIVERY_SERVICE_URL", url("delivery-service")),
                    ("TRACKING_SERVICE_URL", url("tracking-service")),
                    ("PAYMENT_SERVICE_URL", url("payment-service")),
                    ("UPSTREAM_TIMEOUT", "5s".into()),
                    ("RATE_LIMIT", options.rate_limits.to_string()),
                    (
                        "REDIS_KEY_PREFIX",
                        format!("e2e-gateway-{}", ports["gateway"]),
                    ),
                ],
            ),
        ];
        let registry = TestRegistry::new();
        for (name, pairs) in &mut plans {
            if *name != "auth-service" {
                pairs.push(("AUTH_JWKS_URL", jwks.clone()));
            }
            pairs.push(("REGISTRY_URL", registry.url.clone()));
            pairs.push(("REGISTRY_PREFIX", registry.prefix.clone()));
            if *name == "gateway" {
                pairs.push(("REGISTRY_REFRESH", "200ms".into()));
            } else {
                pairs.push(("REGISTRY_TTL", "2s".into()));
            }
            for (binary, key, value) in &options.extra {
                if binary == name {
                    pairs.push((key, value.clone()));
                }
            }
        }
        let mut started = BTreeMap::new();
        let mut processes = Vec::new();
        for (name, pairs) in plans {
            let variables = env(&pairs);
            processes.push(Process::start(name, ports[name], &variables));
            started.insert(name, (ports[name], variables));
        }
        let gateway = processes.pop().expect("the gateway");
        let platform = Self {
            api: Api {
                base: gateway.url(),
                client: reqwest::Client::new(),
            },
            gateway,
            backends: processes,
            started,
            broker,
            broker_proxy,
            payments,
            delivery,
            registry,
            _stores: shards.into_iter().chain([tracking, auth]).collect(),
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

    /// The backend named `name`.
    pub fn backend(&mut self, name: &str) -> &mut Process {
        self.backends
            .iter_mut()
            .find(|process| process.name == name)
            .expect("a backend of that name")
    }

    /// Starts backend `name` again as it was started first (after a kill).
    pub async fn restart(&mut self, name: &'static str) {
        let (port, variables) = self.started[name].clone();
        let process = Process::start(name, port, &variables);
        wait_until_ready(&process).await;
        *self.backend(name) = process;
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

/// What a client does through the gateway. Cloning shares the connection pool.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    /// A URL of the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `method path` through the gateway as `token`, with `body`; status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with `body` as `token`; status and body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// `GET path` as `token`; status and body.
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    /// `PUT path` with `body` as `token`; status and body.
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// An access token for `email`.
    pub async fn log_in(&self, email: &str, password: &str) -> String {
        let (status, tokens) = self
            .post(
                "/auth/login",
                None,
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "{email} logs in: {tokens}");
        tokens["access_token"].as_str().expect("a token").to_owned()
    }

    /// The administrator's token.
    pub async fn admin(&self) -> String {
        self.log_in(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A new user named `email`; returns their id.
    pub async fn register(&self, email: &str) -> String {
        let body = json!({"email": email, "password": PASSWORD, "display_name": email});
        let (status, user) = self.post("/auth/register", None, &body).await;
        assert_eq!(status, 201, "{email} registers: {user}");
        user["id"].as_str().expect("an id").to_owned()
    }

    /// A new customer's token.
    pub async fn customer(&self, email: &str) -> String {
        self.register(email).await;
        self.log_in(email, PASSWORD).await
    }

    /// A restaurant (the admin's) at Lyon with one dish; returns its id and the dish's id.
    pub async fn restaurant(&self, admin: &str) -> (String, String) {
        let body = restaurant("Chez Saga", "french");
        let (status, restaurant) = self.post("/restaurants", Some(admin), &body).await;
        assert_eq!(status, 201, "{restaurant}");
        let id = restaurant["id"].as_str().expect("an id").to_owned();
        let (status, menu) = self
            .put(
                &format!("/restaurants/{id}/menu"),
                admin,
                &menu_of_one(1250),
            )
            .await;
        assert_eq!(status, 200, "{menu}");
        let dish = menu["categories"][0]["items"][0]["id"]
            .as_str()
            .expect("a dish")
            .to_owned();
        (id, dish)
    }

    /// A courier near the restaurant, available; returns their id and token.
    pub async fn courier(&self, admin: &str, email: &str) -> (String, String) {
        let id = self.register(email).await;
        let (status, body) = self
            .post(
                &format!("/auth/admin/users/{id}/roles"),
                Some(admin),
                &json!({"role": "courier"}),
            )
            .await;
        assert!(
            status == 200 || status == 201,
            "courier role granted: {body}"
        );
        let token = self.log_in(email, PASSWORD).await;
        let (status, body) = self
            .post(
                "/delivery/couriers",
                Some(&token),
                &json!({"name": email, "vehicle": "bicycle"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        self.put(
            "/delivery/couriers/me/location",
            &token,
            &json!({"lat": 45.761, "lon": 4.831}),
        )
        .await;
        let (status, _) = self
            .put(
                "/delivery/couriers/me/availability",
                &token,
                &json!({"available": true}),
            )
            .await;
        assert_eq!(status, 200);
        (id, token)
    }

    /// Places an order of two dishes paid with `method`; the order's id, or the status of the
    /// refusal.
    pub async fn order(
        &self,
        token: &str,
        menu: &(String, String),
        method: &str,
    ) -> Result<String, u16> {
        let body = json!({
            "restaurant_id": menu.0,
            "items": [{"menu_item_id": menu.1, "quantity": 2}],
            "delivery_address": {"street": "2 Rue Y", "city": "Lyon", "postal_code": "69002", "country": "FR",
                                 "location": {"lat": 45.75, "lon": 4.85}},
            "payment_method": method,
        });
        match self.post("/orders", Some(token), &body).await {
            (201, order) => Ok(order["id"].as_str().expect("an id").to_owned()),
            (status, _) => Err(status),
        }
    }

    /// Waits up to `limit` for the order to be in one of `statuses`; returns it as read last.
    pub async fn wait_for(
        &self,
        token: &str,
        order: &str,
        statuses: &[&str],
        limit: Duration,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let (_, body) = self.get(&format!("/orders/{order}"), token).await;
            let status = body["status"].as_str().unwrap_or_default();
            if statuses.contains(&status) || Instant::now() >= deadline {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
