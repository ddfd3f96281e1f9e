use std::time::Duration;

use reqwest::Client;
use serde_json::Value;
use shared::testing::{TestIssuer, assert_problem};

use crate::helpers::{GatewayBuilder, Scripted, breaker_row, json_of, metrics_of};

async fn statuses(client: &Client, url: &str, count: usize) -> Vec<u16> {
    let mut seen = Vec::new();
    for _ in 0..count {
        seen.push(
            client
                .get(url)
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16(),
        );
    }
    seen
}

async fn gateway_with_fragile_restaurants(restaurants: &Scripted) -> String {
    let issuer = TestIssuer::start().await;
    GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg("--cache", "false")
        .arg("--retry-attempts", "1")
        .arg("--breaker-minimum-calls", "4")
        .arg("--breaker-open-for", "1s")
        .spawn()
        .await
}

#[tokio::test]
async fn failures_open_the_breaker_and_then_calls_fail_fast_without_reaching_the_backend() {
    let restaurants = Scripted::start().await;
    let gateway = gateway_with_fragile_restaurants(&restaurants).await;
    let client = Client::new();
    let url = format!("{gateway}/restaurants/r1");
    restaurants.fail_always(500);

    assert_eq!(
        statuses(&client, &url, 4).await,
        [500; 4],
        "failures pass through until the threshold"
    );
    let refused = client.get(&url).send().await.expect("sent");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=1).contains(&retry_after), "{retry_after}");
    let body = assert_problem(refused, 503).await;
    assert_eq!(body["type"], "/problems/circuit-open");
    assert_eq!(body["service"], "restaurant-service");
    assert_eq!(
        restaurants.calls(),
        4,
        "the open breaker kept the call away"
    );

    let row = breaker_row(&client, &gateway, "restaurant-service").await;
    assert_eq!(row["state"], "OPEN", "{row}");
    assert_eq!(
        (row["fires"].as_u64(), row["failures"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(row["failure_percent"], 100.0);
    assert_eq!(row["rejected"], 1);
    assert!(
        row["last_transition"].is_string() && row["next_attempt"].is_string(),
        "{row}"
    );
    let closed = breaker_row(&client, &gateway, "order-service").await;
    assert_eq!(closed["state"], "CLOSED");
    let metrics = metrics_of(&gateway).await;
    // Only what cannot go back is asserted: the state gauge exists and the breaker has been
    // counted opening.
    assert!(
        metrics.contains(r#"circuit_breaker_state{breaker="restaurant-service",state="open"}"#)
    );
    assert!(
        metrics.contains(
            r#"circuit_breaker_transitions_total{breaker="restaurant-service",to="open"}"#
        ),
        "the opening shows in the metrics"
    );
}

#[tokio::test]
async fn after_the_reset_time_one_trial_goes_through_and_success_closes_the_breaker() {
    let restaurants = Scripted::start().await;
    let gateway = gateway_with_fragile_restaurants(&restaurants).await;
    let client = Client::new();
    let url = format!("{gateway}/restaurants/r1");
    restaurants.fail_always(503);
    statuses(&client, &url, 5).await;
    assert_eq!(restaurants.calls(), 4);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    restaurants.recover();
    assert_eq!(
        breaker_row(&client, &gateway, "restaurant-service").await["state"],
        "HALF_OPEN"
    );
    assert_eq!(statuses(&client, &url, 1).await, [200], "the trial call");
    assert_eq!(restaurants.calls(), 5);
    assert_eq!(
        breaker_row(&client, &gateway, "restaurant-service").await["state"],
        "CLOSED"
    );
    assert_eq!(statuses(&client, &url, 3).await, [200; 3]);
}

#[tokio::test]
async fn a_failed_trial_opens_the_breaker_again() {
    let restaurants = Scripted::start().await;
    let gateway = gateway_with_fragile_restaurants(&restaurants).await;
    let client = Client::new();
    let url = format!("{gateway}/restaurants/r1");
    restaurants.fail_always(500);
    statuses(&client, &url, 4).await;

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(statuses(&client, &url, 1).await, [500], "the trial fails");
    assert_eq!(restaurants.calls(), 5);
    assert_eq!(
        statuses(&client, &url, 3).await,
        [503; 3],
        "open again at once"
    );
    assert_eq!(restaurants.calls(), 5);
    assert_eq!(
        breaker_row(&client, &gateway, "restaurant-service").await["state"],
        "OPEN"
    );
}

#[tokio::test]
async fn a_failing_backend_is_stood_in_for_by_an_expired_copy_marked_stale() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    // restaurant-service's own policy: five minutes' freshness here shortened to one second,
    // and ten minutes more as the fallback while it fails.
    restaurants.cache_control("public, max-age=1, stale-if-error=600");
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg("--retry-attempts", "1")
        .arg("--breaker-minimum-calls", "3")
        .arg("--breaker-open-for", "1m")
        .spawn()
        .await;
    let client = Client::new();
    let url = format!("{gateway}/restaurants/r1");
    let fresh = json_of(client.get(&url)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    restaurants.fail_always(500);

    for _ in 0..4 {
        let response = client.get(&url).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["x-cache"], "STALE");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body, fresh);
    }
    assert_eq!(
        restaurants.calls(),
        3,
        "one fresh call, then two failures opened the breaker"
    );
    let uncached = client
        .get(format!("{gateway}/restaurants/r2"))
        .send()
        .await
        .expect("sent");
    assert_problem(uncached, 503).await;
}

#[tokio::test]
async fn with_a_slow_call_threshold_slow_successes_open_the_breaker_too() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    restaurants.delay(Duration::from_millis(300));
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg("--cache", "false")
        .arg("--breaker-minimum-calls", "2")
        .arg("--breaker-slow-call", "100ms")
        .spawn()
        .await;
    let client = Client::new();
    let url = format!("{gateway}/restaurants/r1");
    assert_eq!(
        statuses(&client, &url, 2).await,
        [200, 200],
        "slow but answered"
    );
    assert_eq!(statuses(&client, &url, 1).await, [503]);
    assert_eq!(restaurants.calls(), 2);
    let row = breaker_row(&client, &gateway, "restaurant-service").await;
    assert_eq!(
        (row["slow"].clone(), row["slow_percent"].clone()),
        (2.into(), 100.0.into()),
        "{row}"
    );
}
