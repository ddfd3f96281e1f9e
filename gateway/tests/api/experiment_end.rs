//! An experiment's end: once stopped its route is served as if it had never been, and it
//! may then be deleted with its numbers.

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
