//! The payment commands given up on, as an operator sees them over HTTP: listed, replayed,
//! discarded, for `messages:manage` alone.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::{
    auth::Role,
    testing::{assert_problem, ready_until},
};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

const DEAD_LETTERS: &str = "/payments/admin/dead-letters";

/// Sends a `payment.authorize` whose payload is not a payment's terms: it is rejected.
async fn send_invalid_command(app: &TestApp) -> String {
    let order = Uuid::now_v7();
    let command = app
        .command("payment.authorize", order, json!({ "amount": "twelve" }))
        .await;
    command.id.to_string()
}

/// The admin's list once it shows `count` dead letters (within ten seconds).
async fn listed_once(app: &TestApp, admin: &str, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.get(DEAD_LETTERS, admin).await;
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.expect("json");
        if page["items"].as_array().map(Vec::len) == Some(count) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "never {count} dead letters: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn discard(app: &TestApp, id: &str, token: &str) -> reqwest::Response {
    app.client
        .delete(format!("{}{DEAD_LETTERS}/{id}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn an_admin_lists_a_rejected_command_a_customer_may_not_and_the_admin_discards_it() {
    let app = spawn_app().await;
    let (_, admin) = app.user(&[Role::Admin]);
    let (_, customer) = app.user(&[Role::Customer]);
    let id = send_invalid_command(&app).await;

    let page = listed_once(&app, &admin, 1).await;
    assert_eq!(page["count"], 1);
    assert!(
        page["queue"]
            .as_str()
            .is_some_and(|queue| queue.ends_with("payment-service.dead")),
        "{page}"
    );
    let letter = &page["items"][0];
    assert_eq!(letter["message_id"], id);
    assert_eq!(letter["type"], "payment.authorize");
    assert_eq!(letter["reason"], "rejected");
    assert!(
        letter["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("payload")),
        "{letter}"
    );
    assert_eq!(letter["payload"], json!({ "amount": "twelve" }));

    assert_problem(app.get(DEAD_LETTERS, &customer).await, 403).await;
    assert_problem(discard(&app, &id, &customer).await, 403).await;

    let response = discard(&app, &id, &admin).await;
    assert_eq!(response.status(), 204);
    let page = listed_once(&app, &admin, 0).await;
    assert_eq!(page["count"], 0);
    assert_problem(discard(&app, &id, &admin).await, 404).await;
}

#[tokio::test]
async fn a_replayed_command_still_invalid_comes_back_to_the_dead_letters_marked_replayed() {
    let app = spawn_app().await;
    let (_, admin) = app.user(&[Role::Admin]);
    let id = send_invalid_command(&app).await;
    listed_once(&app, &admin, 1).await;

    let path = format!("{DEAD_LETTERS}/{id}/replay");
    let response = app.post(&path, &admin, "-", &json!({})).await;
    assert_eq!(response.status(), 200);
    let replayed: Value = response.json().await.expect("json");
    assert_eq!(replayed["message_id"], id);

    let deadline = Instant::now() + Duration::from_secs(10);
    let letter = loop {
        let page = listed_once(&app, &admin, 1).await;
        if !page["items"][0]["replayed_at"].is_null() {
            break page["items"][0].clone();
        }
        assert!(Instant::now() < deadline, "never rejected again: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(letter["message_id"], id, "the same message");
    assert_eq!(letter["attempts"], 1, "its attempts began again");
    assert_eq!(letter["reason"], "rejected");
}

#[tokio::test]
async fn an_unknown_dead_letter_is_not_found_and_a_limit_out_of_range_is_named() {
    let app = spawn_app().await;
    let (_, admin) = app.user(&[Role::Admin]);
    let unknown = Uuid::now_v7();
    assert_eq!(
        ready_until(&app.address, |status| status == 200).await.0,
        200
    );

    let path = format!("{DEAD_LETTERS}/{unknown}/replay");
    assert_problem(app.post(&path, &admin, "-", &json!({})).await, 404).await;
    assert_problem(discard(&app, &unknown.to_string(), &admin).await, 404).await;
    for limit in ["0", "101", "-1"] {
        let path = format!("{DEAD_LETTERS}?limit={limit}");
        let problem = assert_problem(app.get(&path, &admin).await, 422).await;
        assert_eq!(problem["errors"][0]["field"], "limit", "{problem}");
    }
}
