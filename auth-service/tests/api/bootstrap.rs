//! The first administrator: created only when the email is unused, never by promotion; a
//! generated password is shown once and must be changed at the first sign-in.

use serde_json::{Value, json};
use shared::testing::{TestDatabase, postgres_server_url};

use crate::{
    helpers::{PASSWORD, TestApp, access, assert_problem_of, spawn_app, spawn_with_stores},
    process::Process,
};

/// The administrator's settings, with no password.
const GENERATED: &[(&str, &str)] = &[("ADMIN_EMAIL", "root@example.com"), ("ADMIN_PASSWORD", "")];

#[tokio::test]
async fn an_existing_account_with_the_admin_email_is_never_promoted() {
    let app = spawn_app().await;
    let squatter = app.signed_in("root@example.com").await;
    let restarted = spawn_with_stores(
        &app.database.url(),
        &app.broker,
        &[
            "--admin-email",
            "Root@Example.com",
            "--admin-password",
            PASSWORD,
        ],
    )
    .await;
    let me: Value = app
        .client
        .get(format!("{restarted}/auth/me"))
        .bearer_auth(access(&squatter))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(me["roles"], json!(["customer"]), "not promoted");
    let tokens: Value = app
        .login("root@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let rotate = app
        .post_json_with("/auth/admin/keys/rotate", access(&tokens), &json!({}))
        .await;
    assert_problem_of(rotate, 403, "forbidden").await;
    assert_eq!(app.count_users().await, 1, "and no other account made");
}

fn generated_password(log: &[String]) -> Option<String> {
    log.iter().find_map(|line| {
        let (_, rest) = line.split_once("generated password `")?;
        Some(rest.split_once('`')?.0.to_owned())
    })
}

#[tokio::test]
async fn a_generated_password_is_shown_once_and_changed_at_the_first_sign_in() {
    let database = TestDatabase::create(&postgres_server_url(), "auth").await;
    let first = Process::start(&database, GENERATED);
    let log = first.log_until("administrator created");
    let generated = generated_password(&log).expect("the password is in the log");
    assert!(generated.len() >= 20, "a strong password: {generated}");
    first.log_until("\"listening\"");
    let app = TestApp::at(&first.address, database);
    let refused = app.login("root@example.com", &generated).await;
    assert_problem_of(refused, 403, "password-change-required").await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions").await,
        0,
        "no session before the change"
    );
    let same = app
        .post_json(
            "/auth/login",
            &json!({"email": "root@example.com", "password": generated, "new_password": generated}),
        )
        .await;
    assert_problem_of(same, 422, "validation").await;
    let changed = app
        .post_json(
            "/auth/login",
            &json!({"email": "root@example.com", "password": generated, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 200);
    let tokens: Value = changed.json().await.expect("json");
    let rotate = app
        .post_json_with("/auth/admin/keys/rotate", access(&tokens), &json!({}))
        .await;
    assert_eq!(rotate.status().as_u16(), 200, "an administrator now");
    let old = app.login("root@example.com", &generated).await;
    assert_problem_of(old, 401, "invalid-credentials").await;
    assert_eq!(app.login("root@example.com", PASSWORD).await.status(), 200);
    drop(first);

    let again = Process::start(&app.database, GENERATED);
    let log = again.log_until("administrator exists");
    assert_eq!(generated_password(&log), None, "shown once only");
}
