use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use shared::{auth::Role, testing::assert_problem};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

pub struct Delivery {
    pub id: Uuid,
    pub admin: String,
    pub courier: String,
    pub customer: String,
    pub customer_id: Uuid,
}

/// A delivery created for a customer and assigned to a courier (version 2).
pub async fn assigned(app: &TestApp) -> Delivery {
    let (_, admin) = app.user(&[Role::Admin]);
    let (courier_id, courier) = app.user(&[Role::Courier]);
    let (customer_id, customer) = app.user(&[Role::Customer]);
    let id = Uuid::now_v7();
    let created = append(
        app,
        &admin,
        id,
        json!({"type": "created", "customer_id": customer_id}),
        0,
    )
    .await;
    assert_eq!(created.status().as_u16(), 200);
    let assigned = append(
        app,
        &admin,
        id,
        json!({"type": "courier_assigned", "courier_id": courier_id}),
        1,
    )
    .await;
    assert_eq!(assigned.status().as_u16(), 200);
    Delivery {
        id,
        admin,
        courier,
        customer,
        customer_id,
    }
}

pub async fn append(
    app: &TestApp,
    token: &str,
    id: Uuid,
    event: Value,
    expected: i32,
) -> reqwest::Response {
    app.post(
        &format!("/tracking/{id}/events"),
        token,
        "-",
        &json!({"event": event, "expected_version": expected}),
    )
    .await
}

pub async fn locate(app: &TestApp, delivery: &Delivery, lat: f64, at: &str) -> reqwest::Response {
    app.post(
        &format!("/tracking/{}/locations", delivery.id),
        &delivery.courier,
        "-",
        &json!({"lat": lat, "lon": 4.8, "recorded_at": at}),
    )
    .await
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("json")
}

#[tokio::test]
async fn a_delivery_is_followed_from_assignment_to_hand_over() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    assert_eq!(
        locate(&app, &delivery, 45.70, "2026-11-22T10:00:00Z")
            .await
            .status()
            .as_u16(),
        200
    );
    let status = json_of(locate(&app, &delivery, 45.71, "2026-11-22T10:01:00Z").await).await;
    assert_eq!(
        (
            status["status"].as_str(),
            status["lat"].as_f64(),
            status["version"].as_i64()
        ),
        (Some("assigned"), Some(45.71), Some(4))
    );
    let courier_id = status["courier_id"].as_str().expect("a courier").to_owned();
    let active = json_of(
        app.get(
            &format!("/tracking/couriers/{courier_id}/active"),
            &delivery.courier,
        )
        .await,
    )
    .await;
    assert_eq!(active[0]["delivery_id"], delivery.id.to_string());
    append(
        &app,
        &delivery.admin,
        delivery.id,
        json!({"type": "picked_up"}),
        4,
    )
    .await;
    let done = json_of(
        append(
            &app,
            &delivery.admin,
            delivery.id,
            json!({"type": "delivered"}),
            5,
        )
        .await,
    )
    .await;
    assert_eq!(done["status"], "delivered");
    let active = json_of(
        app.get(
            &format!("/tracking/couriers/{courier_id}/active"),
            &delivery.courier,
        )
        .await,
    )
    .await;
    assert_eq!(active, json!([]));
    let timeline = json_of(
        app.get(
            &format!("/tracking/{}/events", delivery.id),
            &delivery.customer,
        )
        .await,
    )
    .await;
    let kinds: Vec<&str> = timeline
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|entry| entry["event_type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "courier_assigned",
            "location_updated",
            "location_updated",
            "picked_up",
            "delivered"
        ]
    );
}

#[tokio::test]
async fn a_stale_writer_gets_409_and_of_two_concurrent_writers_one_wins() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    let stale = append(
        &app,
        &delivery.admin,
        delivery.id,
        json!({"type": "picked_up"}),
        1,
    )
    .await;
    let problem = assert_problem(stale, 409).await;
    assert_eq!(problem["current_version"], 2);
    let (first, second) = tokio::join!(
        append(
            &app,
            &delivery.admin,
            delivery.id,
            json!({"type": "picked_up"}),
            2
        ),
        append(
            &app,
            &delivery.admin,
            delivery.id,
            json!({"type": "cancelled"}),
            2
        ),
    );
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
}

#[tokio::test]
async fn events_that_do_not_fit_are_refused() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    assert_problem(
        append(
            &app,
            &delivery.admin,
            delivery.id,
            json!({"type": "delivered"}),
            2,
        )
        .await,
        409,
    )
    .await;
    assert_problem(
        append(
            &app,
            &delivery.admin,
            Uuid::now_v7(),
            json!({"type": "picked_up"}),
            0,
        )
        .await,
        409,
    )
    .await;
    let unknown = append(
        &app,
        &delivery.admin,
        delivery.id,
        json!({"type": "teleported"}),
        2,
    )
    .await;
    assert_problem(unknown, 422).await;
    assert_problem(
        append(
            &app,
            &delivery.courier,
            delivery.id,
            json!({"type": "picked_up"}),
            2,
        )
        .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn only_the_assigned_courier_reports_positions_in_range_and_in_time_order() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    assert_eq!(
        locate(&app, &delivery, 45.7, "2026-11-22T10:05:00Z")
            .await
            .status()
            .as_u16(),
        200
    );
    let earlier = assert_problem(
        locate(&app, &delivery, 45.7, "2026-11-22T10:04:59Z").await,
        422,
    )
    .await;
    assert_eq!(earlier["errors"][0]["field"], "recorded_at");
    let out = assert_problem(
        locate(&app, &delivery, 91.0, "2026-11-22T10:06:00Z").await,
        422,
    )
    .await;
    assert_eq!(out["errors"][0]["field"], "lat");
    let (_, other) = app.user(&[Role::Courier]);
    let body = json!({"lat": 45.7, "lon": 4.8, "recorded_at": "2026-11-22T10:07:00Z"});
    assert_problem(
        app.post(
            &format!("/tracking/{}/locations", delivery.id),
            &other,
            "-",
            &body,
        )
        .await,
        403,
    )
    .await;
    let (_, stranger) = app.user(&[Role::Customer]);
    assert_problem(
        app.get(&format!("/tracking/{}", delivery.id), &stranger)
            .await,
        404,
    )
    .await;
    assert_eq!(
        app.get(&format!("/tracking/{}", delivery.id), &delivery.customer)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn long_streams_are_snapshotted_and_still_load_right() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    for minute in 0..5 {
        let at = format!("2026-11-22T10:0{minute}:00Z");
        assert_eq!(
            locate(&app, &delivery, 45.0 + f64::from(minute) / 100.0, &at)
                .await
                .status()
                .as_u16(),
            200
        );
    }
    let pool = sqlx::PgPool::connect_with(app.database.options())
        .await
        .expect("connect");
    let snapshot: i32 = sqlx::query_scalar("SELECT version FROM snapshots WHERE stream_id = $1")
        .bind(delivery.id)
        .fetch_one(&pool)
        .await
        .expect("a snapshot");
    assert_eq!(snapshot, 6);
    let earlier = locate(&app, &delivery, 45.0, "2026-11-22T10:03:00Z").await;
    assert_problem(earlier, 422).await;
    let next = json_of(
        append(
            &app,
            &delivery.admin,
            delivery.id,
            json!({"type": "picked_up"}),
            7,
        )
        .await,
    )
    .await;
    assert_eq!(next["version"], 8);
}

#[tokio::test]
async fn rebuilding_the_read_models_from_zero_gives_the_same_result() {
    let app = spawn_app().await;
    let first = assigned(&app).await;
    locate(&app, &first, 45.7, "2026-11-22T10:00:00Z").await;
    append(
        &app,
        &first.admin,
        first.id,
        json!({"type": "picked_up"}),
        3,
    )
    .await;
    let second = assigned(&app).await;
    append(
        &app,
        &second.admin,
        second.id,
        json!({"type": "cancelled"}),
        2,
    )
    .await;
    let pool = sqlx::PgPool::connect_with(app.database.options())
        .await
        .expect("connect");
    let snapshot = |pool: sqlx::PgPool| async move {
        let status: Vec<(Uuid, String, i32, Option<f64>)> = sqlx::query_as(
            "SELECT delivery_id, status, version, lat FROM delivery_status ORDER BY delivery_id",
        )
        .fetch_all(&pool)
        .await
        .expect("status");
        let timeline: Vec<(Uuid, i32, String, chrono::DateTime<chrono::Utc>)> =
            sqlx::query_as("SELECT delivery_id, version, event_type, occurred_at FROM delivery_timeline ORDER BY delivery_id, version")
                .fetch_all(&pool)
                .await
                .expect("timeline");
        let active: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT courier_id, delivery_id FROM courier_active_deliveries ORDER BY delivery_id",
        )
        .fetch_all(&pool)
        .await
        .expect("active");
        (status, timeline, active)
    };
    let before = snapshot(pool.clone()).await;
    assert_eq!(before.0.len(), 2);
    let rebuilt = json_of(
        app.post("/tracking/admin/rebuild", &first.admin, "-", &json!({}))
            .await,
    )
    .await;
    assert_eq!(rebuilt["events_replayed"], 7);
    assert_eq!(snapshot(pool).await, before);
    assert_problem(
        app.post("/tracking/admin/rebuild", &first.courier, "-", &json!({}))
            .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn live_updates_stream_the_current_status_then_each_change() {
    let app = spawn_app().await;
    let delivery = assigned(&app).await;
    let response = app
        .get(
            &format!("/tracking/{}/stream", delivery.id),
            &delivery.customer,
        )
        .await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "\"version\":2").await;
    locate(&app, &delivery, 45.777, "2026-11-22T10:00:00Z").await;
    read_until(&mut body, &mut seen, "45.777").await;
    assert!(seen.contains("event: status"));
}

/// Reads the event stream into `seen` until it contains `needle` (or five seconds pass).
pub async fn read_until(
    body: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    seen: &mut String,
    needle: &str,
) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains(needle) {
            let chunk = body
                .next()
                .await
                .expect("the stream stays open")
                .expect("a chunk");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the event arrives");
}

#[tokio::test]
async fn openapi_documents_every_endpoint() {
    let app = spawn_app().await;
    let document = json_of(
        app.client
            .get(format!("{}/openapi.json", app.address))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    for path in [
        "/tracking/{delivery_id}",
        "/tracking/{delivery_id}/events",
        "/tracking/{delivery_id}/locations",
        "/tracking/{delivery_id}/stream",
        "/tracking/{delivery_id}/live",
        "/tracking/couriers/{courier_id}/active",
        "/tracking/admin/rebuild",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    assert!(
        document["paths"]["/tracking/{delivery_id}/locations"]["post"]["responses"]["409"]
            .is_object()
    );
}
