use reqwest::Client;
use serde_json::Value;
use shared::testing::TestIssuer;

use crate::helpers::{GatewayBuilder, json_of, spawn_upstream};

/// What an echoing restaurant-service saw of the forwarded fields, through a gateway that
/// trusts `proxies` for `hops`, for a request that claims `chain`.
async fn forwarded_fields(proxies: &str, hops: &str, chain: &str) -> Value {
    let issuer = TestIssuer::start().await;
    let restaurants = spawn_upstream("/restaurants").await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants)
        .arg("--cache", "false")
        .arg("--trusted-proxies", proxies)
        .arg("--trusted-hops", hops)
        .spawn()
        .await;
    let echoed = json_of(
        Client::new()
            .get(format!("{gateway}/restaurants/echo"))
            .header("x-forwarded-for", chain)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "forged.example.com"),
    )
    .await;
    echoed["headers"].clone()
}

#[tokio::test]
async fn an_untrusted_peers_forwarded_fields_are_replaced_by_its_own_address() {
    // The tests' connections come from 127.0.0.1, which is not trusted here.
    let headers = forwarded_fields("10.0.0.0/8", "1", "203.0.113.9, 198.51.100.4").await;
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1", "{headers}");
    assert_eq!(headers["x-forwarded-proto"], "http", "{headers}");
    assert_ne!(
        headers["x-forwarded-host"], "forged.example.com",
        "{headers}"
    );
}

#[tokio::test]
async fn a_trusted_proxys_chain_keeps_exactly_its_hops_then_the_proxy() {
    let chain = "203.0.113.9, 198.51.100.4, 192.0.2.1";
    let one = forwarded_fields("127.0.0.0/8", "1", chain).await;
    assert_eq!(one["x-forwarded-for"], "192.0.2.1, 127.0.0.1", "{one}");
    assert_eq!(
        one["x-forwarded-proto"], "https",
        "a trusted proxy's scheme"
    );
    let two = forwarded_fields("127.0.0.0/8", "2", chain).await;
    assert_eq!(
        two["x-forwarded-for"], "198.51.100.4, 192.0.2.1, 127.0.0.1",
        "{two}"
    );
}
