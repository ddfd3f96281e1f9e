//! Blue-green deployments with real processes: a green restaurant-service of another version
//! started beside the blue one, deployed through the gateway while clients keep reading.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use shared::testing::{TcpProxy, mongodb_url};
use tokio::task::JoinHandle;

use crate::{
    platform::{Options, Platform, wait_until_ready},
    processes::Process,
};

const SERVICE: &str = "restaurant-service";

fn options(window: &str) -> Options {
    Options {
        extra: vec![
            ("gateway", "DEPLOY_WINDOW", window.to_owned()),
            ("gateway", "DEPLOY_MIN_REQUESTS", "5".to_owned()),
        ],
        ..Options::default()
    }
}

/// The deployment's status, once its state is `state` or after `limit`.
async fn until_state(platform: &Platform, admin: &str, state: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (_, status) = platform
            .get(&format!("/admin/deployments/{SERVICE}"), admin)
            .await;
        if status["deployment"]["state"] == state || Instant::now() >= deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The gateway's view of the restaurant instances of `colour`, once it lists one.
async fn gateway_sees(platform: &Platform, admin: &str, colour: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, view) = platform.get("/admin/registry", admin).await;
        let instance = view["services"][SERVICE]["instances"]
            .as_array()
            .and_then(|all| all.iter().find(|i| i["colour"] == colour).cloned());
        match instance {
            Some(instance) => return instance,
            None if Instant::now() >= deadline => panic!("no {colour} instance in {view}"),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A green restaurant-service at version 2.0.0, its MongoDB reached through `mongo` if given.
fn green(platform: &Platform, mongo: Option<&TcpProxy>) -> Process {
    let mut overrides = vec![
        ("INSTANCE_COLOUR", "green".to_owned()),
        ("INSTANCE_VERSION", "2.0.0".to_owned()),
    ];
    if let Some(proxy) = mongo {
        overrides.push((
            "MONGODB_URL",
            format!(
                "mongodb://127.0.0.1:{}/?directConnection=true",
                proxy.port()
            ),
        ));
    }
    platform.start_instance(SERVICE, &overrides)
}

/// A proxy in front of the test MongoDB.
async fn mongo_proxy() -> TcpProxy {
    let url = mongodb_url();
    let address = url
        .trim_start_matches("mongodb://")
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .to_owned();
    TcpProxy::start(address.parse().expect("a host:port")).await
}

/// Clients reading distinct restaurant pages through the gateway, four at a time.
struct Load {
    running: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Vec<u16>>>,
}

impl Load {
    fn start(platform: &Platform) -> Self {
        let running = Arc::new(AtomicBool::new(true));
        let tasks = (0..4)
            .map(|worker| {
                let running = running.clone();
                let base = platform.url("/restaurants");
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let mut statuses = Vec::new();
                    let mut n = 0;
                    while running.load(Ordering::SeqCst) {
                        n += 1;
                        let status = client
                            .get(format!("{base}?limit=5&q=w{worker}n{n}"))
                            .send()
                            .await
                            .map_or(0, |response| response.status().as_u16());
                        statuses.push(status);
                    }
                    statuses
                })
            })
            .collect();
        Self { running, tasks }
    }

    async fn stop(self) -> Vec<u16> {
        self.running.store(false, Ordering::SeqCst);
        let mut statuses = Vec::new();
        for task in self.tasks {
            statuses.extend(task.await.expect("the load ran"));
        }
        statuses
    }
}

#[tokio::test]
async fn a_green_restaurant_service_passes_smoke_and_takes_the_traffic_with_no_failed_request() {
    let platform = Platform::start(options("3s")).await;
    let admin = platform.admin().await;
    let green = green(&platform, None);
    wait_until_ready(&green).await;
    gateway_sees(&platform, &admin, "green").await;

    let load = Load::start(&platform);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, started) = platform
        .post(
            &format!("/admin/deployments/{SERVICE}"),
            Some(&admin),
            &json!({"smoke_checks": [{"path": "/ready", "status": 200}, {"path": "/restaurants", "status": 200}]}),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let status = until_state(&platform, &admin, "promoted", Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let statuses = load.stop().await;

    assert_eq!(status["deployment"]["state"], "promoted", "{status}");
    assert_eq!(status["live_colour"], "green");
    assert_eq!(status["deployment"]["instances"][0]["version"], "2.0.0");
    assert!(statuses.len() > 20, "{}", statuses.len());
    assert!(
        statuses.iter().all(|&status| status == 200),
        "no request failed during the switch: {statuses:?}"
    );
    let green_seen = gateway_sees(&platform, &admin, "green").await;
    assert_eq!(green_seen["routed"], true, "{green_seen}");
    assert!(
        green_seen["health"]["requests"].as_u64() > Some(5),
        "green took the traffic: {green_seen}"
    );
    let blue_seen = gateway_sees(&platform, &admin, "blue").await;
    assert_eq!(blue_seen["routed"], false, "{blue_seen}");
}

#[tokio::test]
async fn a_green_restaurant_service_that_fails_smoke_never_takes_traffic() {
    let platform = Platform::start(options("3s")).await;
    let admin = platform.admin().await;
    let mongo = mongo_proxy().await;
    mongo.cut();
    let _green = green(&platform, Some(&mongo));
    gateway_sees(&platform, &admin, "green").await;

    let (status, _) = platform
        .post(
            &format!("/admin/deployments/{SERVICE}"),
            Some(&admin),
            &json!({"smoke_checks": [{"path": "/ready", "status": 200}]}),
        )
        .await;
    assert_eq!(status, 202);
    let status = until_state(&platform, &admin, "smoke-failed", Duration::from_secs(30)).await;
    assert_eq!(status["deployment"]["state"], "smoke-failed", "{status}");
    assert_eq!(status["live_colour"], "blue");

    let load = Load::start(&platform);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let statuses = load.stop().await;
    assert!(statuses.iter().all(|&status| status == 200), "{statuses:?}");
    let green_seen = gateway_sees(&platform, &admin, "green").await;
    assert_eq!(green_seen["routed"], false, "{green_seen}");
    assert_eq!(green_seen["health"]["requests"], 0, "{green_seen}");
}

#[tokio::test]
async fn a_green_restaurant_service_whose_errors_rise_after_the_switch_is_reverted_by_itself() {
    let platform = Platform::start(options("60s")).await;
    let admin = platform.admin().await;
    let mongo = mongo_proxy().await;
    let green = green(&platform, Some(&mongo));
    wait_until_ready(&green).await;
    gateway_sees(&platform, &admin, "green").await;

    let (status, _) = platform
        .post(
            &format!("/admin/deployments/{SERVICE}"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202);
    let watching = until_state(&platform, &admin, "watching", Duration::from_secs(30)).await;
    assert_eq!(watching["live_colour"], "green", "{watching}");
    // Green loses its database: its reads fail.
    mongo.cut();
    let load = Load::start(&platform);
    let status = until_state(&platform, &admin, "rolled-back", Duration::from_secs(40)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after: Vec<u16> = load.stop().await;

    let deployment = &status["deployment"];
    assert_eq!(deployment["state"], "rolled-back", "{status}");
    assert_eq!(status["live_colour"], "blue");
    let (_, status) = platform
        .get(&format!("/admin/deployments/{SERVICE}"), &admin)
        .await;
    let timings = &status["deployment"]["timings"];
    assert!(timings["time_to_detect_ms"].is_u64(), "{status}");
    assert!(timings["time_to_revert_ms"].is_u64(), "{status}");
    assert!(after.contains(&200), "blue answers again: {after:?}");
    let (code, _) = platform.get("/restaurants?q=after-revert", &admin).await;
    assert_eq!(code, 200);
}
