use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use serde_json::Value;
use shared::{
    auth::Role,
    registry::{Heartbeat, Instance, Registration},
    testing::{TcpProxy, TestIssuer, TestRegistry, assert_problem, redis_url},
};
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted, admin_url, json_of};

fn instance(url: &str, colour: &str) -> Instance {
    Instance {
        service: "restaurant-service".into(),
        id: Uuid::now_v7().to_string(),
        url: url.into(),
        version: "2.0.0".into(),
        colour: colour.into(),
        metadata: BTreeMap::new(),
    }
}

/// `GET /admin/registry` as an admin, until `accept` holds or five seconds pass.
async fn registry_until(
    gateway: &str,
    issuer: &TestIssuer,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let view: Value = client
            .get(format!("{gateway}/admin/registry"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        if accept(&view) || Instant::now() >= deadline {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_a_registry_every_backend_is_its_configured_url_and_only_admins_may_look() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", "http://127.0.0.1:4003")
        .spawn()
        .await;
    let view = registry_until(&gateway, &issuer, |_| true).await;
    assert_eq!(view["registry"], false);
    let restaurants = &view["services"]["restaurant-service"];
    assert_eq!(restaurants["source"], "configured");
    assert_eq!(restaurants["configured_url"], "http://127.0.0.1:4003");
    assert_eq!(view["services"].as_object().map(|s| s.len()), Some(6));

    let customer = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let refused = reqwest::Client::new()
        .get(format!("{gateway}/admin/registry"))
        .bearer_auth(customer)
        .send()
        .await
        .expect("sent");
    assert_problem(refused, 403).await;
}

#[tokio::test]
async fn registered_instances_are_listed_and_kept_while_the_registry_is_cut() {
    let test = TestRegistry::new();
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().expect("an address")).await;
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .arg(
            "--registry-url",
            &format!("redis://127.0.0.1:{}", proxy.port()),
        )
        .arg("--registry-prefix", &test.prefix)
        .arg("--registry-refresh", "100ms")
        .spawn()
        .await;
    let ttl = Duration::from_secs(30);
    let _blue = Registration::new(
        test.registry.clone(),
        instance("http://127.0.0.1:4003", "blue"),
        ttl,
    )
    .start();
    let _green = Registration::new(
        test.registry.clone(),
        instance("http://127.0.0.1:4013", "green"),
        ttl,
    )
    .start();
    let listed = |view: &Value| {
        view["services"]["restaurant-service"]["instances"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let view = registry_until(&gateway, &issuer, |view| listed(view) == 2).await;
    let restaurants = &view["services"]["restaurant-service"];
    assert_eq!(
        (restaurants["source"].clone(), listed(&view)),
        ("registry".into(), 2),
        "{view}"
    );
    let colours: Vec<&str> = restaurants["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter_map(|instance| instance["colour"].as_str())
        .collect();
    assert!(
        colours.contains(&"blue") && colours.contains(&"green"),
        "{view}"
    );
    assert_eq!(view["services"]["order-service"]["source"], "configured");
    assert_eq!(view["reachable"], true);

    proxy.cut();
    let view = registry_until(&gateway, &issuer, |view| view["reachable"] == false).await;
    let restaurants = &view["services"]["restaurant-service"];
    assert_eq!(
        (restaurants["source"].clone(), listed(&view)),
        ("last-known".into(), 2),
        "{view}"
    );
    proxy.restore();
    let view = registry_until(&gateway, &issuer, |view| view["reachable"] == true).await;
    assert_eq!(
        view["services"]["restaurant-service"]["source"], "registry",
        "{view}"
    );
}

/// A gateway reading `test`'s registry every 100 ms, ejecting an instance after three
/// failures in a row for two seconds; the instances' breakers stay out of the way.
async fn balancing_gateway(test: &TestRegistry, issuer: &TestIssuer) -> String {
    GatewayBuilder::new(issuer)
        .arg("--breaker-minimum-calls", "1000")
        .arg("--registry-url", &redis_url())
        .arg("--registry-prefix", &test.prefix)
        .arg("--registry-refresh", "100ms")
        .arg("--outlier-consecutive-failures", "3")
        .arg("--outlier-base-ejection", "2s")
        .spawn()
        .await
}

/// `instances` restaurant upstreams registered as blue, answering `no-store`.
async fn registered_upstreams(test: &TestRegistry, instances: usize) -> Vec<(Scripted, Heartbeat)> {
    let mut upstreams = Vec::new();
    for _ in 0..instances {
        let upstream = Scripted::start().await;
        upstream.cache_control("no-store");
        let heartbeat = Registration::new(
            test.registry.clone(),
            instance(&upstream.url, "blue"),
            Duration::from_secs(30),
        )
        .start();
        upstreams.push((upstream, heartbeat));
    }
    upstreams
}

/// `count` reads of distinct restaurant paths (none shared, none cached), eight at a time:
/// their statuses.
async fn burst(client: &reqwest::Client, gateway: &str, count: usize) -> Vec<u16> {
    futures::stream::iter(0..count)
        .map(|n| {
            let request = client.get(format!("{gateway}/restaurants?n={n}"));
            async move { request.send().await.expect("sent").status().as_u16() }
        })
        .buffer_unordered(8)
        .collect()
        .await
}

fn health_states(view: &Value) -> Vec<String> {
    view["services"]["restaurant-service"]["instances"]
        .as_array()
        .map(|instances| {
            instances
                .iter()
                .filter_map(|i| i["health"]["state"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn calls_are_spread_over_the_registered_instances_instead_of_the_configured_url() {
    let test = TestRegistry::new();
    let issuer = TestIssuer::start().await;
    let gateway = balancing_gateway(&test, &issuer).await;
    let upstreams = registered_upstreams(&test, 2).await;
    // Alike and slow enough that a loaded machine's scheduling noise (a first connection
    // taking tens of milliseconds) does not make one look far costlier for the whole burst:
    // the balancer rightly favours a faster instance.
    for (upstream, _) in &upstreams {
        upstream.delay(Duration::from_millis(40));
    }
    registry_until(&gateway, &issuer, |view| health_states(view).len() == 2).await;

    let client = reqwest::Client::new();
    let statuses = burst(&client, &gateway, 100).await;
    assert!(statuses.iter().all(|&status| status == 200), "{statuses:?}");
    let calls: Vec<u32> = upstreams.iter().map(|(u, _)| u.calls()).collect();
    assert_eq!(calls.iter().sum::<u32>(), 100, "{calls:?}");
    assert!(
        calls.iter().all(|&n| n >= 20),
        "both take a share: {calls:?}"
    );

    let breakers =
        json_of(client.get(format!("{}/stats/circuit-breakers", admin_url(&gateway)))).await;
    let restaurants = breakers["breakers"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|row| row["service"] == "restaurant-service")
        })
        .expect("a row");
    assert_eq!(restaurants["instances"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        restaurants["fires"], 100,
        "the service's breaker counts requests"
    );
}

#[tokio::test]
async fn a_failing_instance_is_ejected_without_failing_a_request_and_comes_back_after_its_time() {
    let test = TestRegistry::new();
    let issuer = TestIssuer::start().await;
    let gateway = balancing_gateway(&test, &issuer).await;
    let upstreams = registered_upstreams(&test, 2).await;
    registry_until(&gateway, &issuer, |view| health_states(view).len() == 2).await;
    let (failing, healthy) = (&upstreams[0].0, &upstreams[1].0);
    failing.fail_always(503);

    let client = reqwest::Client::new();
    let mut ejected = false;
    for _ in 0..20 {
        let statuses = burst(&client, &gateway, 50).await;
        assert!(
            statuses.iter().all(|&status| status == 200),
            "retried on the other instance: {statuses:?}"
        );
        let view = registry_until(&gateway, &issuer, |_| true).await;
        if health_states(&view).contains(&"ejected".to_owned()) {
            ejected = true;
            break;
        }
    }
    assert!(ejected, "three failures in a row eject the instance");
    let failed = failing.calls();
    burst(&client, &gateway, 100).await;
    assert_eq!(failing.calls(), failed, "no call while ejected");
    assert!(healthy.calls() >= 100);

    failing.recover();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = failing.calls();
    burst(&client, &gateway, 100).await;
    assert!(
        failing.calls() > before,
        "back in the pool after its ejection"
    );
    let view = registry_until(&gateway, &issuer, |_| true).await;
    assert_eq!(health_states(&view), ["healthy", "healthy"], "{view}");
}
