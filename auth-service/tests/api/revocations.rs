//! Every way a session ends writes `session.revoked` to the outbox in the same transaction,
//! naming the sessions, why, and until when their access tokens could be honoured.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{PASSWORD, TestApp, access, assert_problem_of, spawn_app_with};

pub async fn admin_app() -> (TestApp, Value) {
    let app = spawn_app_with(&[
        "--admin-email",
        "root@example.com",
        "--admin-password",
        PASSWORD,
    ])
    .await;
    let root = app.login("root@example.com", PASSWORD).await;
    (app, root.json().await.expect("json"))
}

/// The `session.revoked` events in the outbox, oldest first.
pub async fn revocations(app: &TestApp) -> Vec<Value> {
    let pool = app.pool().await;
    let rows =
        sqlx::query("SELECT payload FROM outbox WHERE routing_key = 'session.revoked' ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("the outbox reads");
    pool.close().await;
    rows.iter().map(|row| row.get("payload")).collect()
}

/// Asserts that the last revocation ended `sessions` for `why`, its tokens living on for
/// at most the access-token lifetime (15 minutes by default).
pub async fn assert_revoked(app: &TestApp, sessions: &[&Value], why: &str) -> Value {
    let events = revocations(app).await;
    let event = events.last().cloned().expect("a session.revoked event");
    assert_eq!(event["why"], why, "{event}");
    let mut named: Vec<&Value> = event["session_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .collect();
    let mut wanted = sessions.to_vec();
    named.sort_by_key(|id| id.to_string());
    wanted.sort_by_key(|id| id.to_string());
    assert_eq!(named, wanted, "{event}");
    let until: DateTime<Utc> = event["expires_at"]
        .as_str()
        .and_then(|at| at.parse().ok())
        .expect("an expiry");
    let lifetime = until - Utc::now();
    assert!(
        lifetime > Duration::minutes(14) && lifetime <= Duration::minutes(15),
        "{event}"
    );
    event
}

pub async fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    let request = app.client.delete(app.url(path)).bearer_auth(token);
    request.send().await.expect("sent")
}

#[tokio::test]
async fn logging_out_announces_the_session() {
    let (app, _) = admin_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let logout = app
        .post_json_with("/auth/logout", access(&tokens), &json!({}))
        .await;
    assert_eq!(logout.status().as_u16(), 204);
    let event = assert_revoked(&app, &[&tokens["session_id"]], "logout").await;
    let me: Value = app
        .get_with("/auth/me", access(&app.signed_in("bob@example.com").await))
        .await
        .json()
        .await
        .expect("json");
    assert_ne!(event["user_id"], me["id"]);
    let ada: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let ada_me: Value = app
        .get_with("/auth/me", access(&ada))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        event["user_id"], ada_me["id"],
        "the event names the session's owner"
    );
}

#[tokio::test]
async fn revoking_one_session_or_the_others_announces_them() {
    let (app, _) = admin_app().await;
    let first = app.signed_in("ada@example.com").await;
    let second: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let third: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let one = format!(
        "/auth/sessions/{}",
        first["session_id"].as_str().expect("id")
    );
    assert_eq!(
        delete(&app, &one, access(&third)).await.status().as_u16(),
        204
    );
    assert_revoked(&app, &[&first["session_id"]], "revoked_by_user").await;
    assert_eq!(
        delete(&app, "/auth/sessions", access(&third))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_revoked(&app, &[&second["session_id"]], "revoked_by_user").await;
    assert_eq!(
        revocations(&app).await.len(),
        2,
        "nothing for a session already ended"
    );
}

#[tokio::test]
async fn changing_the_password_announces_the_other_sessions() {
    let (app, _) = admin_app().await;
    let kept = app.signed_in("ada@example.com").await;
    let other: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let changed = app
        .post_json_with(
            "/auth/password",
            access(&kept),
            &json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 204);
    assert_revoked(&app, &[&other["session_id"]], "password_changed").await;
}

#[tokio::test]
async fn taking_a_role_away_revokes_and_announces_every_session_of_the_user() {
    let (app, root) = admin_app().await;
    let owner_id = app.register("owner@example.com").await;
    let granted = app
        .post_json_with(
            &format!("/auth/admin/users/{owner_id}/roles"),
            access(&root),
            &json!({"role": "restaurant_owner"}),
        )
        .await;
    assert_eq!(granted.status().as_u16(), 200);
    let owner: Value = app
        .login("owner@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let path = format!("/auth/admin/users/{owner_id}/roles/restaurant_owner");
    assert_eq!(
        delete(&app, &path, access(&root)).await.status().as_u16(),
        200
    );
    let event = assert_revoked(&app, &[&owner["session_id"]], "role_revoked").await;
    assert_eq!(event["user_id"], owner_id.as_str());
    assert_problem_of(
        app.get_with("/auth/me", access(&owner)).await,
        401,
        "session-ended",
    )
    .await;
}
