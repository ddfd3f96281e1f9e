//! An experiment's end: once stopped its route is served as if it had never been, it may
//! then be deleted with its numbers, and anonymous callers never pile up in Redis.

use serde_json::{Value, json};
use shared::{
    auth::Role,
    testing::{assert_problem, redis_url},
};
use uuid::Uuid;

use crate::experiments::{Lab, by_version, users_counted, variant_of};

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers")
}

/// Every key of experiment `id`'s numbers.
async fn keys_of(lab: &Lab, id: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{}:experiment:{id}:*", lab.prefix))
        .query_async(&mut redis().await)
        .await
        .expect("keys")
}

impl Lab {
    async fn stop(&self, id: &str) {
        let stopped = self
            .client
            .post(format!("{}/admin/experiments/{id}/stop", self.gateway))
            .bearer_auth(&self.admin)
            .json(&json!({"winner": "v2"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(stopped.status(), 200);
    }

    async fn delete(&self, id: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(format!("{}/admin/experiments/{id}", self.gateway))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent")
    }

    async fn anonymous_view(&self) -> reqwest::Response {
        self.client
            .get(format!("{}/restaurants", self.gateway))
            .send()
            .await
            .expect("sent")
    }
}

#[tokio::test]
async fn a_stopped_experiment_leaves_its_route_cached_without_cookie_or_variant() {
    let lab = Lab::new().await;
    for version in [&lab.v1, &lab.v2] {
        version.cache_control("public, max-age=60");
    }
    let id = lab
        .start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    let running = lab.anonymous_view().await;
    assert!(running.headers().contains_key("set-cookie"));
    assert_eq!(running.headers()["x-cache"], "BYPASS");
    assert_ne!(variant_of(&running), "");

    lab.stop(&id).await;
    let calls = lab.v1.calls() + lab.v2.calls();
    for _ in 0..2 {
        let after = lab.anonymous_view().await;
        assert_eq!(after.status(), 200);
        assert!(!after.headers().contains_key("set-cookie"), "{after:?}");
        assert!(!after.headers().contains_key("x-experiment"), "{after:?}");
        assert_ne!(after.headers()["x-cache"], "BYPASS", "{after:?}");
    }
    assert_eq!(
        lab.v1.calls() + lab.v2.calls(),
        calls + 1,
        "the second view is the cache's"
    );
    // The route is free for another experiment.
    lab.start(json!({"name": "menu-v3", "route": "/restaurants", "variants": by_version()}))
        .await;
}

#[tokio::test]
async fn deleting_an_experiment_takes_a_stopped_one_and_its_numbers_only() {
    let lab = Lab::new().await;
    let id = lab
        .start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    let users = lab.users(20);
    lab.views(&users).await;
    lab.anonymous_view().await;
    lab.report_until(&id, |report| users_counted(report) >= 21)
        .await;
    assert!(!keys_of(&lab, &id).await.is_empty());

    let customer = lab.issuer.token(Uuid::now_v7(), &[Role::Customer]);
    assert_problem(lab.delete(&id, &customer).await, 403).await;
    let running = assert_problem(lab.delete(&id, &lab.admin).await, 409).await;
    assert!(running.to_string().contains("stop"), "{running}");

    lab.stop(&id).await;
    let deleted = lab.delete(&id, &lab.admin).await;
    assert_eq!(deleted.status(), 204);
    assert!(keys_of(&lab, &id).await.is_empty());
    let report = lab
        .client
        .get(format!("{}/admin/experiments/{id}", lab.gateway))
        .bearer_auth(&lab.admin)
        .send()
        .await
        .expect("sent");
    assert_problem(report, 404).await;
    let listed: Value = lab
        .client
        .get(format!("{}/admin/experiments", lab.gateway))
        .bearer_auth(&lab.admin)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(listed, json!([]));
    assert_problem(lab.delete(&id, &lab.admin).await, 404).await;
}

#[tokio::test]
async fn anonymous_callers_are_counted_without_a_set_or_a_key_kept_for_ever() {
    let lab = Lab::new().await;
    let id = lab
        .start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    for _ in 0..30 {
        assert_eq!(lab.anonymous_view().await.status(), 200);
    }
    let users = lab.users(5);
    lab.views(&users).await;
    let report = lab
        .report_until(&id, |report| users_counted(report) >= 35)
        .await;
    assert_eq!(users_counted(&report), 35, "{report}");

    let mut connection = redis().await;
    let mut in_sets = 0;
    for key in keys_of(&lab, &id).await {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .expect("type");
        if kind == "set" {
            let members: u64 = redis::cmd("SCARD")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .expect("scard");
            in_sets += members;
        }
        if key.contains(":seen:") {
            let ttl: i64 = redis::cmd("TTL")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .expect("ttl");
            assert!(ttl > 0 && ttl <= 7 * 24 * 3600, "{key}: {ttl}");
        }
    }
    assert_eq!(in_sets, 5, "only the signed-in users are kept by name");
}

#[tokio::test]
async fn an_anonymous_callers_conversion_is_found_by_its_expiring_key() {
    let lab = Lab::new().await;
    let id = lab
        .start(json!({
            "name": "menu-v2", "route": "/restaurants", "variants": by_version(),
            "goal": {"kind": "conversion", "method": "GET", "path": "/restaurants/r1/menu"},
        }))
        .await;
    let mut cookies = Vec::new();
    for _ in 0..20 {
        let first = lab.anonymous_view().await;
        let cookie = first.headers()["set-cookie"].to_str().expect("text");
        cookies.push(cookie.split(';').next().expect("name=value").to_owned());
    }
    // Converted in a later second than the views: their exposure is in Redis by then.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for cookie in &cookies[..10] {
        let converted = lab
            .client
            .get(format!("{}/restaurants/r1/menu", lab.gateway))
            .header("cookie", cookie)
            .send()
            .await
            .expect("sent");
        assert_eq!(converted.status(), 200);
    }
    let conversions = |report: &Value| {
        report["variants"]
            .as_array()
            .map(|variants| {
                variants
                    .iter()
                    .filter_map(|v| v["conversions"].as_u64())
                    .sum::<u64>()
            })
            .unwrap_or(0)
    };
    // Each serving thread flushes its own counts: the views and the conversions may reach
    // Redis in different flushes.
    let report = lab
        .report_until(&id, |report| {
            conversions(report) >= 10 && users_counted(report) >= 20
        })
        .await;
    assert_eq!(conversions(&report), 10, "{report}");
    assert_eq!(users_counted(&report), 20, "{report}");
}
