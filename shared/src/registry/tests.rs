use std::time::Duration;

use clap::Parser;

use super::*;

use crate::testing::TestRegistry;

fn instance(service: &str, url: &str) -> Instance {
    Instance {
        service: service.to_owned(),
        id: uuid::Uuid::now_v7().to_string(),
        url: url.to_owned(),
        version: "1.0.0".to_owned(),
        colour: "blue".to_owned(),
        metadata: BTreeMap::new(),
    }
}

#[tokio::test]
async fn a_beating_instance_is_listed_and_a_withdrawn_one_is_gone_at_once() {
    let test = TestRegistry::new();
    let registry = &test.registry;
    let first = instance("restaurant-service", "http://127.0.0.1:4003");
    let second = instance("restaurant-service", "http://127.0.0.1:4013");
    let ttl = Duration::from_secs(30);
    let beating = Registration::new(registry.clone(), first.clone(), ttl).start();
    let other = Registration::new(registry.clone(), second.clone(), ttl).start();
    let mut listed = Vec::new();
    for _ in 0..50 {
        listed = registry
            .instances("restaurant-service")
            .await
            .expect("listed");
        if listed.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&first) && listed.contains(&second));

    beating.withdraw().await;
    assert_eq!(
        registry
            .instances("restaurant-service")
            .await
            .expect("listed"),
        vec![second.clone()]
    );
    let all = registry.all().await.expect("listed");
    assert_eq!(all.keys().collect::<Vec<_>>(), ["restaurant-service"]);
    drop(other);
}

#[tokio::test]
async fn an_instance_that_stops_beating_is_gone_once_its_lifetime_ends() {
    let test = TestRegistry::new();
    let registry = &test.registry;
    let ttl = Duration::from_millis(400);
    let gone = instance("order-service", "http://127.0.0.1:4002");
    let kept = instance("order-service", "http://127.0.0.1:4012");
    let stopped = Registration::new(registry.clone(), gone.clone(), ttl).start();
    let _beating = Registration::new(registry.clone(), kept.clone(), ttl).start();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        registry
            .instances("order-service")
            .await
            .expect("listed")
            .len(),
        2
    );
    // A process killed: no withdrawal, its beats simply stop.
    drop(stopped);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        registry.instances("order-service").await.expect("listed"),
        vec![kept],
        "the beating one stays; the silent one is gone"
    );
}

#[tokio::test]
async fn an_unreachable_registry_does_not_stop_the_instance() {
    let registry = Registry::new("redis://127.0.0.1:1", "test:").expect("a Redis URL");
    let heartbeat = Registration::new(
        registry.clone(),
        instance("payment-service", "http://127.0.0.1:4006"),
        Duration::from_secs(1),
    )
    .start();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(registry.instances("payment-service").await.is_err());
    heartbeat.withdraw().await;
}

#[derive(Debug, Parser)]
struct Sample {
    #[command(flatten)]
    registry: RegistryArgs,
}

#[test]
fn without_a_registry_url_nothing_registers_and_the_defaults_describe_a_local_blue_instance() {
    let none = Sample::try_parse_from(["sample"]).expect("the defaults parse");
    assert!(
        Registration::from_args(&none.registry, "auth-service", 3001)
            .expect("valid")
            .is_none()
    );
    let some = Sample::try_parse_from(["sample", "--registry-url", "redis://127.0.0.1:6379"])
        .expect("parses");
    let registration = Registration::from_args(&some.registry, "auth-service", 3001)
        .expect("valid")
        .expect("registers");
    let listed = registration.instance();
    assert_eq!(
        (
            listed.url.as_str(),
            listed.colour.as_str(),
            listed.service.as_str()
        ),
        ("http://127.0.0.1:3001", "blue", "auth-service")
    );
    for bad in [
        vec!["sample", "--instance-colour", "blue green"],
        vec!["sample", "--registry-ttl", "1ms"],
        vec!["sample", "--registry-url", "http://x"],
    ] {
        assert!(Sample::try_parse_from(bad.clone()).is_err(), "{bad:?}");
    }
}
