//! Live streams end: when the viewer's token expires, when the viewer may no longer see the
//! delivery, or after a while without a change; and a user holds only a few at once.

use futures::StreamExt;
use serde_json::json;
use shared::{auth::Role, testing::assert_problem};
use uuid::Uuid;

use crate::{
    helpers::spawn_app_with,
    tracking::{append, assigned, read_until},
};

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = spawn_app_with(&[]).await;
    let delivery = assigned(&app).await;
    let short = app
        .issuer
        .token_lasting(delivery.customer_id, &[Role::Customer], 2);
    let response = app
        .get(&format!("/tracking/{}/stream", delivery.id), &short)
        .await;
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "token_expired").await;
    assert!(seen.contains("event: end"), "{seen}");
}

#[tokio::test]
async fn a_stream_ends_when_its_courier_is_no_longer_assigned() {
    let app = spawn_app_with(&[]).await;
    let delivery = assigned(&app).await;
    let response = app
        .get(
            &format!("/tracking/{}/stream", delivery.id),
            &delivery.courier,
        )
        .await;
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "\"version\":2").await;
    let reassigned = append(
        &app,
        &delivery.admin,
        delivery.id,
        json!({"type": "courier_assigned", "courier_id": Uuid::now_v7()}),
        2,
    )
    .await;
    assert_eq!(reassigned.status().as_u16(), 200);
    read_until(&mut body, &mut seen, "no_longer_visible").await;
}

#[tokio::test]
async fn a_stream_without_a_change_for_a_while_is_closed() {
    let app = spawn_app_with(&["--stream-idle-timeout", "300ms"]).await;
    let delivery = assigned(&app).await;
    let response = app
        .get(
            &format!("/tracking/{}/stream", delivery.id),
            &delivery.customer,
        )
        .await;
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "\"reason\":\"idle\"").await;
    assert!(
        body.next().await.is_none(),
        "the stream is over after its end event"
    );
}

#[tokio::test]
async fn a_user_holds_only_so_many_streams_and_a_closed_one_frees_its_place() {
    let app = spawn_app_with(&["--streams-per-user", "2"]).await;
    let delivery = assigned(&app).await;
    let path = format!("/tracking/{}/stream", delivery.id);
    let first = app.get(&path, &delivery.customer).await;
    let second = app.get(&path, &delivery.customer).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    assert_problem(app.get(&path, &delivery.customer).await, 429).await;
    assert_eq!(
        app.get(&path, &delivery.admin).await.status().as_u16(),
        200,
        "another user has places of their own"
    );
    drop(first);
    let mut reopened = 0;
    for _ in 0..50 {
        let again = app.get(&path, &delivery.customer).await;
        if again.status().as_u16() == 200 {
            reopened = 200;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(reopened, 200, "the closed stream's place is free again");
}
