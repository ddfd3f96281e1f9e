//! Blue-green deployments through the gateway, with upstreams registered as blue and green.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use shared::{
    auth::Role,
    registry::{Heartbeat, Instance, Registration},
    testing::{TestIssuer, TestRegistry, assert_problem, redis_url},
};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted, metric_value, metrics_of};

const SERVICE: &str = "restaurant-service";

/// A gateway on `test`'s registry, its deployments watched for `window`.
struct Stage {
    gateway: String,
    admin: String,
    client: reqwest::Client,
    _issuer: TestIssuer,
}

impl Stage {
    async fn new(test: &TestRegistry, window: &str) -> Self {
        let issuer = TestIssuer::start().await;
        let gateway = GatewayBuilder::new(&issuer)
            .arg("--registry-url", &redis_url())
            .arg("--registry-prefix", &test.prefix)
            .arg("--registry-refresh", "100ms")
            .arg("--deploy-window", window)
            .arg("--deploy-min-requests", "10")
            .arg("--rate-limit", "false")
            .arg("--breaker-minimum-calls", "1000")
            .spawn()
            .await;
        let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
        Self {
            gateway,
            admin,
            client: reqwest::Client::new(),
            _issuer: issuer,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.gateway))
            .bearer_auth(&self.admin)
            .json(body)
            .send()
            .await
            .expect("sent")
    }

    async fn status(&self) -> Value {
        self.client
            .get(format!("{}/admin/deployments/{SERVICE}", self.gateway))
            .bearer_auth(&self.admin)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }

    /// The deployment's status once its state is `state`, or after ten seconds.
    async fn until_state(&self, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.status().await;
            if status["deployment"]["state"] == state || Instant::now() >= deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the gateway calls the registered instances (its configured URL is closed).
    async fn until_routed(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let response = self
                .client
                .get(format!("{}/restaurants?probe", self.gateway))
                .send()
                .await
                .expect("sent");
            if response.status() == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the gateway never read the registered instances");
    }

    /// Reads of distinct restaurant paths, four at a time, until stopped: their statuses.
    fn load(&self) -> Load {
        let running = Arc::new(AtomicBool::new(true));
        let tasks = (0..4)
            .map(|worker| {
                let (client, gateway, running) =
                    (self.client.clone(), self.gateway.clone(), running.clone());
                tokio::spawn(async move {
                    let mut statuses = Vec::new();
                    let mut n = 0;
                    while running.load(Ordering::SeqCst) {
                        n += 1;
                        let response = client
                            .get(format!("{gateway}/restaurants?w={worker}&n={n}"))
                            .send()
                            .await
                            .expect("sent");
                        statuses.push(response.status().as_u16());
                    }
                    statuses
                })
            })
            .collect();
        Load { running, tasks }
    }
}

struct Load {
    running: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Vec<u16>>>,
}

impl Load {
    async fn stop(self) -> Vec<u16> {
        self.running.store(false, Ordering::SeqCst);
        let mut statuses = Vec::new();
        for task in self.tasks {
            statuses.extend(task.await.expect("the load ran"));
        }
        statuses
    }
}

/// An upstream registered as `colour` at `version`, answering `no-store`.
async fn upstream(test: &TestRegistry, colour: &str, version: &str) -> (Scripted, Heartbeat) {
    let upstream = Scripted::start().await;
    upstream.cache_control("no-store");
    let instance = Instance {
        service: SERVICE.into(),
        id: Uuid::now_v7().to_string(),
        url: upstream.url.clone(),
        version: version.into(),
        colour: colour.into(),
        metadata: BTreeMap::new(),
    };
    let heartbeat =
        Registration::new(test.registry.clone(), instance, Duration::from_secs(30)).start();
    (upstream, heartbeat)
}

fn steps(status: &Value) -> Vec<String> {
    status["deployment"]["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|step| step["step"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_green_that_passes_its_smoke_checks_takes_the_traffic_without_a_failed_request() {
    let test = TestRegistry::new();
    let stage = Stage::new(&test, "1s").await;
    let (blue, _b) = upstream(&test, "blue", "1.0.0").await;
    let (green, _g) = upstream(&test, "green", "2.0.0").await;
    stage.until_routed().await;
    let load = stage.load();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let green_before = green.calls();

    let started = stage
        .post(
            &format!("/admin/deployments/{SERVICE}"),
            &json!({"smoke_checks": [{"path": "/ready", "status": 200}, {"path": "/restaurants", "status": 200}]}),
        )
        .await;
    assert_eq!(started.status(), 202);
    let status = stage.until_state("promoted").await;
    let statuses = load.stop().await;

    assert_eq!(status["deployment"]["state"], "promoted", "{status}");
    assert_eq!(status["live_colour"], "green");
    assert_eq!(
        steps(&status),
        ["smoke-testing", "switched", "drained", "promoted"],
        "{status}"
    );
    let deployment = &status["deployment"];
    assert_eq!(deployment["from"], "blue");
    assert_eq!(deployment["instances"][0]["version"], "2.0.0");
    assert!(
        deployment["timings"]["time_to_switch_ms"].is_u64(),
        "{status}"
    );
    assert!(
        deployment["analysis"]["requests"].as_u64() >= Some(10),
        "{status}"
    );
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|&status| status == 200),
        "no request failed during the switch: {statuses:?}"
    );
    assert_eq!(green_before, 0, "green took no traffic before the switch");
    let blue_after = blue.calls();
    let green_after = green.calls();
    assert!(green_after > 10, "green takes the traffic: {green_after}");
    stage
        .client
        .get(format!("{}/restaurants?after=1", stage.gateway))
        .send()
        .await
        .expect("sent");
    assert_eq!(blue.calls(), blue_after, "blue takes none after the switch");
    let metrics = metrics_of(&stage.gateway).await;
    for state in ["smoke-testing", "draining", "promoted"] {
        let series =
            format!(r#"gateway_deployment_steps_total{{service="{SERVICE}",state="{state}"}}"#);
        assert!(
            metric_value(&metrics, &series) >= Some(1.0),
            "{series} in {metrics}"
        );
    }
}

#[tokio::test]
async fn a_green_that_fails_its_smoke_checks_never_takes_traffic() {
    let test = TestRegistry::new();
    let stage = Stage::new(&test, "1s").await;
    let (_blue, _b) = upstream(&test, "blue", "1.0.0").await;
    let (green, _g) = upstream(&test, "green", "2.0.0").await;
    green.fail_always(500);
    stage.until_routed().await;

    let started = stage
        .post(
            &format!("/admin/deployments/{SERVICE}"),
            &json!({"smoke_checks": [{"path": "/restaurants", "status": 200}]}),
        )
        .await;
    assert_eq!(started.status(), 202);
    let status = stage.until_state("smoke-failed").await;
    assert_eq!(status["deployment"]["state"], "smoke-failed", "{status}");
    assert_eq!(status["live_colour"], "blue");
    let detail = status["deployment"]["steps"][1]["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(detail.contains("answered 500, expected 200"), "{status}");

    let smoke_calls = green.calls();
    for n in 0..20 {
        let response = stage
            .client
            .get(format!("{}/restaurants?n={n}", stage.gateway))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
    }
    assert_eq!(green.calls(), smoke_calls, "no traffic reached green");
}

#[tokio::test]
async fn a_green_whose_errors_rise_after_the_switch_is_switched_back_by_itself() {
    let test = TestRegistry::new();
    let stage = Stage::new(&test, "30s").await;
    let (blue, _b) = upstream(&test, "blue", "1.0.0").await;
    let (green, _g) = upstream(&test, "green", "2.0.0").await;
    let started = stage
        .post(&format!("/admin/deployments/{SERVICE}"), &json!({}))
        .await;
    assert_eq!(started.status(), 202);
    stage.until_state("watching").await;
    green.fail_always(500);
    let load = stage.load();
    let status = stage.until_state("rolled-back").await;
    let deployment = &status["deployment"];
    assert_eq!(deployment["state"], "rolled-back", "{status}");
    assert_eq!(status["live_colour"], "blue");
    let detail = deployment["steps"]
        .as_array()
        .and_then(|steps| steps.last())
        .map(|step| step["detail"].to_string())
        .unwrap_or_default();
    assert!(detail.contains("automatically: error rate"), "{status}");
    // The timings are written just after the state.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = stage.status().await;
    let timings = &status["deployment"]["timings"];
    assert!(timings["time_to_detect_ms"].is_u64(), "{status}");
    assert!(timings["time_to_revert_ms"].is_u64(), "{status}");

    let blue_before = blue.calls();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let statuses = load.stop().await;
    assert!(blue.calls() > blue_before, "blue takes the traffic again");
    assert!(statuses.contains(&200));
}

#[tokio::test]
async fn a_rollback_on_request_switches_back_at_once_and_a_second_deployment_waits() {
    let test = TestRegistry::new();
    let stage = Stage::new(&test, "30s").await;
    let (_blue, _b) = upstream(&test, "blue", "1.0.0").await;
    let (_green, _g) = upstream(&test, "green", "2.0.0").await;
    let path = format!("/admin/deployments/{SERVICE}");
    assert_eq!(stage.post(&path, &json!({})).await.status(), 202);
    assert_problem(stage.post(&path, &json!({})).await, 409).await;
    stage.until_state("watching").await;

    let rolled_back = stage.post(&format!("{path}/rollback"), &json!({})).await;
    assert_eq!(rolled_back.status(), 200);
    let deployment: Value = rolled_back.json().await.expect("json");
    assert_eq!(deployment["state"], "rolled-back");
    assert!(
        deployment["timings"]["time_to_revert_ms"].is_u64(),
        "{deployment}"
    );
    assert_eq!(stage.status().await["live_colour"], "blue");
    assert_problem(
        stage.post(&format!("{path}/rollback"), &json!({})).await,
        409,
    )
    .await;
    // The deployment's own task stops rather than writing over the rollback.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(stage.status().await["deployment"]["state"], "rolled-back");
}

#[tokio::test]
async fn a_colour_that_never_registers_is_aborted_and_bad_requests_are_named() {
    let test = TestRegistry::new();
    let stage = Stage::new(&test, "1s").await;
    let (_blue, _b) = upstream(&test, "blue", "1.0.0").await;
    let path = format!("/admin/deployments/{SERVICE}");
    let invalid = stage
        .post(
            &path,
            &json!({"window": "soon", "smoke_checks": [{"path": "ready", "status": 200}]}),
        )
        .await;
    let problem = assert_problem(invalid, 422).await;
    let text = problem.to_string();
    assert!(
        text.contains("window") && text.contains("smoke_checks[0].path"),
        "{text}"
    );
    assert_problem(stage.post(&path, &json!({"colour": "blue"})).await, 409).await;
    let bad_colour =
        assert_problem(stage.post(&path, &json!({"colour": "Green!"})).await, 422).await;
    assert!(
        bad_colour.to_string().contains("\"colour\""),
        "{bad_colour}"
    );
    assert_problem(
        stage.post("/admin/deployments/nothing", &json!({})).await,
        404,
    )
    .await;

    let started = stage.post(&path, &json!({"promote_within": "500ms"})).await;
    assert_eq!(started.status(), 202);
    let status = stage.until_state("aborted").await;
    assert_eq!(status["deployment"]["state"], "aborted", "{status}");
    assert_eq!(status["live_colour"], "blue");
}

#[tokio::test]
async fn without_a_registry_deployments_are_unavailable() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let response = reqwest::Client::new()
        .post(format!("{gateway}/admin/deployments/{SERVICE}"))
        .bearer_auth(admin)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_problem(response, 503).await;
}
