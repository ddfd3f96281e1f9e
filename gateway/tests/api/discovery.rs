use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use serde_json::Value;
use shared::{
    auth::Role,
    registry::{Instance, Registration},
    testing::{TcpProxy, TestIssuer, TestRegistry, assert_problem},
};
use uuid::Uuid;

use crate::helpers::GatewayBuilder;

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
