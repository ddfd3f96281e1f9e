//! A/B experiments through the gateway: two versions of restaurant-service registered side by
//! side, users split between them, conversions counted, a winner declared.

use std::{collections::BTreeMap, time::Duration};

use futures::StreamExt as _;
use serde_json::{Value, json};
use shared::{
    auth::Role,
    registry::{Heartbeat, Instance, Registration},
    testing::{TcpProxy, TestIssuer, TestRegistry, assert_problem, redis_url, run_to_end},
};
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted, metric_value, metrics_of, unique_prefix};

/// A gateway with restaurant-service at versions 1.0.0 and 2.0.0 (both live), and an
/// order-service that takes every order.
pub struct Lab {
    pub gateway: String,
    pub issuer: TestIssuer,
    pub admin: String,
    pub client: reqwest::Client,
    pub v1: Scripted,
    pub v2: Scripted,
    _orders: Scripted,
    _registry: TestRegistry,
    _beats: Vec<Heartbeat>,
    /// The gateway's Redis key prefix: experiments and their counts stay until removed.
    pub prefix: String,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let pattern = format!("{}:*", self.prefix);
        run_to_end(async move {
            let client = redis::Client::open(redis_url()).ok()?;
            let mut connection = client.get_multiplexed_async_connection().await.ok()?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(pattern)
                .query_async(&mut connection)
                .await
                .ok()?;
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<()>(&mut connection)
                    .await
                    .ok()?;
            }
            Some(())
        });
    }
}

impl Lab {
    pub async fn new() -> Self {
        let registry = TestRegistry::new();
        let issuer = TestIssuer::start().await;
        let orders = Scripted::start().await;
        let prefix = unique_prefix();
        let gateway = GatewayBuilder::new(&issuer)
            .arg("--redis-key-prefix", &prefix)
            .backend("order", &orders.url)
            .arg("--registry-url", &redis_url())
            .arg("--registry-prefix", &registry.prefix)
            .arg("--registry-refresh", "100ms")
            .arg("--rate-limit", "false")
            // The breakers stay out of the way of a variant failing on purpose.
            .arg("--breaker-minimum-calls", "100000")
            .spawn()
            .await;
        let mut beats = Vec::new();
        let mut upstreams = Vec::new();
        for version in ["1.0.0", "2.0.0"] {
            let upstream = Scripted::start().await;
            let instance = Instance {
                service: "restaurant-service".into(),
                id: Uuid::now_v7().to_string(),
                url: upstream.url.clone(),
                version: version.into(),
                colour: "blue".into(),
                metadata: BTreeMap::new(),
            };
            beats.push(
                Registration::new(registry.registry.clone(), instance, Duration::from_secs(30))
                    .start(),
            );
            upstreams.push(upstream);
        }
        let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
        let v2 = upstreams.pop().expect("v2");
        let v1 = upstreams.pop().expect("v1");
        let lab = Self {
            gateway,
            issuer,
            admin,
            client: reqwest::Client::new(),
            v1,
            v2,
            _orders: orders,
            _registry: registry,
            _beats: beats,
            prefix,
        };
        lab.until_both_registered().await;
        lab
    }

    async fn until_both_registered(&self) {
        for _ in 0..100 {
            let view: Value = self
                .client
                .get(format!("{}/admin/registry", self.gateway))
                .bearer_auth(&self.admin)
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            if view["services"]["restaurant-service"]["instances"]
                .as_array()
                .is_some_and(|instances| instances.len() == 2)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the gateway never read both versions");
    }

    pub async fn start(&self, body: Value) -> String {
        let response = self
            .client
            .post(format!("{}/admin/experiments", self.gateway))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 201);
        let experiment: Value = response.json().await.expect("json");
        experiment["id"].as_str().expect("an id").to_owned()
    }

    /// `GET /restaurants` as `user`: the variant named in `X-Experiment`.
    pub async fn view(&self, user: &str) -> String {
        let response = self
            .client
            .get(format!("{}/restaurants?viewer={user}", self.gateway))
            .bearer_auth(user)
            .send()
            .await
            .expect("sent");
        variant_of(&response)
    }

    /// Every user's token viewing once, sixteen at a time: the variants, in order.
    pub async fn views(&self, tokens: &[String]) -> Vec<String> {
        futures::stream::iter(tokens)
            .map(|token| self.view(token))
            .buffered(16)
            .collect()
            .await
    }

    /// The report once `accept` holds for it, or after ten seconds.
    pub async fn report_until(&self, id: &str, accept: impl Fn(&Value) -> bool) -> Value {
        let mut report = Value::Null;
        for _ in 0..100 {
            report = self
                .client
                .get(format!("{}/admin/experiments/{id}", self.gateway))
                .bearer_auth(&self.admin)
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            if accept(&report) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        report
    }

    pub fn users(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| self.issuer.token(Uuid::now_v7(), &[Role::Customer]))
            .collect()
    }
}

/// The variant `X-Experiment` names; empty without one.
pub fn variant_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-experiment")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once("variant="))
        .map(|(_, variant)| variant.to_owned())
        .unwrap_or_default()
}

pub fn users_counted(report: &Value) -> u64 {
    report["variants"]
        .as_array()
        .map(|variants| variants.iter().filter_map(|v| v["users"].as_u64()).sum())
        .unwrap_or(0)
}

pub fn by_version() -> Value {
    json!([
        {"name": "control", "version": "1.0.0"},
        {"name": "v2", "version": "2.0.0"}
    ])
}

#[tokio::test]
async fn a_fifty_fifty_split_of_two_thousand_users_lands_within_tolerance_and_sticks() {
    let lab = Lab::new().await;
    let id = lab
        .start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    let users = lab.users(2000);
    let variants = lab.views(&users).await;
    let treated = variants.iter().filter(|v| *v == "v2").count();
    let control = variants.iter().filter(|v| *v == "control").count();
    assert_eq!(treated + control, 2000, "every user is in one variant");
    assert!((900..=1100).contains(&treated), "{treated} of 2000 in v2");
    assert_eq!(
        (lab.v1.calls() as usize, lab.v2.calls() as usize),
        (control, treated),
        "each variant's users reach its version"
    );
    for (user, first) in users.iter().zip(&variants).take(50) {
        for _ in 0..3 {
            assert_eq!(&lab.view(user).await, first, "the same variant every time");
        }
    }

    let report = lab.report_until(&id, |r| users_counted(r) == 2000).await;
    assert_eq!(users_counted(&report), 2000, "{report}");
    assert_eq!(report["variants"][1]["users"], treated as u64, "{report}");
    assert_eq!(report["sample_ratio"]["mismatch"], false, "{report}");
    assert!(
        report["variants"][0]["latency_ms"]["p99"].as_f64() > Some(0.0),
        "{report}"
    );
}

#[tokio::test]
async fn a_variant_with_a_clearly_higher_conversion_wins_and_stopping_gives_the_route_back() {
    let lab = Lab::new().await;
    let id = lab
        .start(json!({
            "name": "menu-v2", "route": "/restaurants", "variants": by_version(),
            "goal": {"kind": "conversion", "method": "POST", "path": "/orders"},
            "min_sample": 200,
        }))
        .await;
    let users = lab.users(800);
    let variants = lab.views(&users).await;
    // Three in ten of v2's users order, one in ten of the control's.
    let mut v2_orders = 0_u32;
    for (n, (user, variant)) in users.iter().zip(&variants).enumerate() {
        let orders = if variant == "v2" {
            n % 10 < 3
        } else {
            n % 10 < 1
        };
        if orders {
            let placed = lab
                .client
                .post(format!("{}/orders", lab.gateway))
                .bearer_auth(user)
                .json(&json!({"restaurant_id": "r1"}))
                .send()
                .await
                .expect("sent");
            assert!(placed.status().is_success());
            v2_orders += u32::from(variant == "v2");
        }
    }
    let report = lab
        .report_until(&id, |r| r["verdict"]["status"] == "winner")
        .await;
    assert_eq!(report["verdict"]["status"], "winner", "{report}");
    assert_eq!(report["verdict"]["winner"], "v2", "{report}");
    let comparison = &report["comparison"];
    assert_eq!(comparison["test"], "two-proportion z-test");
    assert!(comparison["p_value"].as_f64() < Some(0.05), "{report}");
    assert!(comparison["low"].as_f64() > Some(0.0), "{report}");
    let v2 = &report["variants"][1]["conversion"];
    assert!(v2["low"].as_f64() < v2["rate"].as_f64() && v2["rate"].as_f64() < v2["high"].as_f64());
    // Prometheus sees the same traffic, by variant's name. (The recorder is the process's,
    // shared with the other tests' experiments of that name: at least, not exactly.)
    let metrics = metrics_of(&lab.gateway).await;
    let series = |name: &str, variant: &str| {
        metric_value(
            &metrics,
            &format!(r#"{name}{{experiment="menu-v2",variant="{variant}"}}"#),
        )
    };
    assert!(
        series("gateway_experiment_conversions_total", "v2") >= Some(f64::from(v2_orders)),
        "{metrics}"
    );
    assert!(series("gateway_experiment_requests_total", "control") >= Some(1.0));

    let stopped = lab
        .client
        .post(format!("{}/admin/experiments/{id}/stop", lab.gateway))
        .bearer_auth(&lab.admin)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(stopped.status(), 200);
    let control_user = users
        .iter()
        .zip(&variants)
        .find(|(_, variant)| *variant == "control")
        .map(|(user, _)| user)
        .expect("a control user");
    let stopped: Value = stopped.json().await.expect("json");
    assert_eq!(stopped["winner"], "v2", "{stopped}");
    assert_eq!(
        lab.view(control_user).await,
        "",
        "a stopped experiment no longer names a variant"
    );
}

#[tokio::test]
async fn a_split_that_loses_one_variants_users_is_flagged() {
    let lab = Lab::new().await;
    let id = lab
        .start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version(), "min_sample": 100}))
        .await;
    // v2 fails its first 400 calls: those users never see it.
    lab.v2.fail_next(400, 503);
    let users = lab.users(1000);
    lab.views(&users).await;
    let report = lab
        .report_until(&id, |r| r["verdict"]["status"] == "sample-ratio-mismatch")
        .await;
    assert_eq!(
        report["verdict"]["status"], "sample-ratio-mismatch",
        "{report}"
    );
    assert_eq!(report["sample_ratio"]["mismatch"], true, "{report}");
    assert!(
        report["sample_ratio"]["p_value"].as_f64() < Some(0.001),
        "{report}"
    );
    assert_eq!(report["verdict"]["winner"], Value::Null);
}

#[tokio::test]
async fn an_anonymous_caller_gets_a_cookie_that_keeps_its_variant() {
    let lab = Lab::new().await;
    lab.start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    let mut seen = Vec::new();
    for _ in 0..20 {
        let first = lab
            .client
            .get(format!("{}/restaurants", lab.gateway))
            .send()
            .await
            .expect("sent");
        let cookie = first
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .expect("a cookie")
            .split(';')
            .next()
            .expect("name=value")
            .to_owned();
        assert!(cookie.starts_with("__Host-fd_subject="), "{cookie}");
        let variant = variant_of(&first);
        for _ in 0..3 {
            let again = lab
                .client
                .get(format!("{}/restaurants", lab.gateway))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("sent");
            assert!(again.headers().get("set-cookie").is_none());
            assert_eq!(variant_of(&again), variant);
        }
        seen.push(variant);
    }
    assert!(
        seen.contains(&"control".to_owned()) && seen.contains(&"v2".to_owned()),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_bad_experiment_is_refused_naming_the_field_and_one_route_holds_one_experiment() {
    let lab = Lab::new().await;
    let post = |body: Value| {
        lab.client
            .post(format!("{}/admin/experiments", lab.gateway))
            .bearer_auth(&lab.admin)
            .json(&body)
            .send()
    };
    let refused = post(json!({
        "name": "bad name!", "route": "/nowhere", "split": 100,
        "variants": [{"name": "only", "version": "1.0.0"}],
    }))
    .await
    .expect("sent");
    let problem = assert_problem(refused, 422).await.to_string();
    for field in ["name", "route", "split", "variants"] {
        assert!(
            problem.contains(&format!("\"{field}\"")),
            "{field}: {problem}"
        );
    }
    lab.start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    let overlapping =
        post(json!({"name": "again", "route": "/restaurants/r1", "variants": by_version()}))
            .await
            .expect("sent");
    assert_problem(overlapping, 409).await;
    let missing = lab
        .client
        .get(format!("{}/admin/experiments/nothing", lab.gateway))
        .bearer_auth(&lab.admin)
        .send()
        .await
        .expect("sent");
    assert_problem(missing, 404).await;
}

#[tokio::test]
async fn a_latency_goal_declares_the_faster_version_the_winner() {
    let lab = Lab::new().await;
    lab.v2.delay(Duration::from_millis(15));
    let id = lab
        .start(json!({
            "name": "menu-v2", "route": "/restaurants", "variants": by_version(),
            "goal": {"kind": "latency"}, "min_sample": 50,
        }))
        .await;
    let users = lab.users(300);
    lab.views(&users).await;
    let report = lab
        .report_until(&id, |r| r["verdict"]["status"] == "winner")
        .await;
    assert_eq!(report["verdict"]["winner"], "control", "{report}");
    assert_eq!(
        report["comparison"]["test"],
        "Welch's t-test (normal approximation)"
    );
    assert!(
        report["comparison"]["difference"].as_f64() > Some(10.0),
        "{report}"
    );
    let slower = report["variants"][1]["latency_ms"]["p50"].as_f64();
    assert!(slower > Some(15.0), "{report}");
}

#[tokio::test]
async fn without_redis_experiments_are_unavailable_and_routes_still_answer() {
    let issuer = TestIssuer::start().await;
    let redis = TcpProxy::start("127.0.0.1:6379".parse().expect("an address")).await;
    let restaurants = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .arg(
            "--redis-url",
            &format!("redis://127.0.0.1:{}", redis.port()),
        )
        .backend("restaurant", &restaurants.url)
        .spawn()
        .await;
    redis.cut();
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let client = reqwest::Client::new();
    let started = client
        .post(format!("{gateway}/admin/experiments"))
        .bearer_auth(&admin)
        .json(&json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .send()
        .await
        .expect("sent");
    assert_problem(started, 503).await;
    let listed = client
        .get(format!("{gateway}/admin/experiments"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent");
    assert_problem(listed, 503).await;
    let browsed = client
        .get(format!("{gateway}/restaurants"))
        .send()
        .await
        .expect("sent");
    assert_eq!(browsed.status(), 200);
    assert!(browsed.headers().get("x-experiment").is_none());
}

#[tokio::test]
async fn over_http2_an_anonymous_callers_cookie_keeps_its_variant_sent_in_crumbs() {
    let lab = Lab::new().await;
    lab.start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    let url = format!("{}/restaurants", lab.gateway);
    let first = crate::curl::curl(&["--http2-prior-knowledge", &url]).await;
    assert_eq!(first.version, "2");
    let cookie = first
        .header("set-cookie")
        .and_then(|value| value.split(';').next())
        .expect("a cookie")
        .to_owned();
    let variant = first.header("x-experiment").expect("a variant").to_owned();
    for _ in 0..3 {
        // HTTP/2 lets a client send its cookies as separate fields (RFC 9113 §8.2.3): every
        // one is read.
        let again = crate::curl::curl(&[
            "--http2-prior-knowledge",
            "-H",
            "cookie: theme=dark",
            "-H",
            &format!("cookie: {cookie}"),
            &url,
        ])
        .await;
        assert_eq!(again.header("set-cookie"), None, "the cookie was read");
        assert_eq!(again.header("x-experiment"), Some(variant.as_str()));
    }
}
