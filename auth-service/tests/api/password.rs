use std::time::Duration;

use messaging::contracts::{PasswordResetRequested, event};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, access, assert_problem, spawn_app, spawn_app_with};

const NEW_PASSWORD: &str = "another long enough password";

/// Asks for a reset of `email`'s password and waits for the link's event.
async fn reset_link(app: &TestApp, email: &str) -> PasswordResetRequested {
    let response = app
        .post_json("/auth/password/reset", &json!({"email": email}))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let events = app.account_events(event::PASSWORD_RESET_REQUESTED, 1).await;
    assert_eq!(events.len(), 1, "one reset link is sent");
    events[0].payload().expect("a reset event")
}

/// The token in a reset link.
fn token_of(link: &PasswordResetRequested) -> String {
    let url = url::Url::parse(&link.reset_link).expect("a URL");
    url.query_pairs()
        .find(|(name, _)| name == "token")
        .expect("a token in the link")
        .1
        .into_owned()
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/password/reset/confirm",
        &json!({"token": token, "new_password": password}),
    )
    .await
}

async fn change(app: &TestApp, tokens: &Value, current: &str, new: &str) -> reqwest::Response {
    app.post_json_with(
        "/auth/password",
        access(tokens),
        &json!({"current_password": current, "new_password": new}),
    )
    .await
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_revokes_the_other_sessions() {
    let app = spawn_app().await;
    let here = app.signed_in("ada@example.com").await;
    let elsewhere: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");

    assert_problem(
        change(&app, &here, "not the password at all", NEW_PASSWORD).await,
        403,
    )
    .await;
    assert_eq!(
        change(&app, &here, PASSWORD, NEW_PASSWORD)
            .await
            .status()
            .as_u16(),
        204
    );

    assert_eq!(
        app.get_with("/auth/me", access(&here))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_problem(app.get_with("/auth/me", access(&elsewhere)).await, 401).await;
    let refresh = app
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": elsewhere["refresh_token"]}),
        )
        .await;
    assert_problem(refresh, 401).await;
    assert_problem(app.login("ada@example.com", PASSWORD).await, 401).await;
    assert_eq!(
        app.login("ada@example.com", NEW_PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
    let told = app.account_events(event::PASSWORD_CHANGED, 1).await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].payload["how"], "changed_by_owner");
}

#[tokio::test]
async fn a_new_password_follows_the_policy_and_differs_from_the_current_one() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    for refused in ["short", PASSWORD, "ada@example.com"] {
        let body = assert_problem(change(&app, &tokens, PASSWORD, refused).await, 422).await;
        assert_eq!(body["errors"][0]["field"], "new_password", "{refused}");
    }
    assert_eq!(
        app.login("ada@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_ins() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    for _ in 0..5 {
        assert_problem(
            change(&app, &tokens, "a wrong guess at it", NEW_PASSWORD).await,
            403,
        )
        .await;
    }
    assert_problem(change(&app, &tokens, PASSWORD, NEW_PASSWORD).await, 429).await;
    assert_problem(app.login("ada@example.com", PASSWORD).await, 429).await;
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let app = spawn_app().await;
    let id = app.register("ada@example.com").await;
    let before: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let link = reset_link(&app, "Ada@Example.com ").await;
    assert_eq!(link.user_id.to_string(), id);
    assert_eq!(link.email, "ada@example.com");
    assert!(
        link.reset_link
            .starts_with("http://localhost:3000/reset-password?token=")
    );
    assert!(link.expires_at > chrono::Utc::now() + chrono::Duration::minutes(29));
    let token = token_of(&link);

    assert_eq!(
        confirm(&app, &token, NEW_PASSWORD).await.status().as_u16(),
        204
    );
    assert_problem(app.get_with("/auth/me", access(&before)).await, 401).await;
    assert_problem(app.login("ada@example.com", PASSWORD).await, 401).await;
    assert_eq!(
        app.login("ada@example.com", NEW_PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
    let again = assert_problem(confirm(&app, &token, "a third long password").await, 422).await;
    assert_eq!(again["errors"][0]["field"], "token");
    let told = app.account_events(event::PASSWORD_CHANGED, 1).await;
    assert_eq!(told[0].payload["how"], "reset");
}

#[tokio::test]
async fn tokens_are_stored_hashed_never_as_sent() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let token = token_of(&reset_link(&app, "ada@example.com").await);
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM password_resets")
        .fetch_one(&app.pool().await)
        .await
        .expect("a reset row");
    assert_ne!(stored, token.as_bytes());
    assert_eq!(stored.len(), 32, "a SHA-256");
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answer_and_no_link() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let unknown = app
        .post_json(
            "/auth/password/reset",
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(unknown.status().as_u16(), 202);
    let link = reset_link(&app, "ada@example.com").await;
    assert_eq!(
        link.email, "ada@example.com",
        "the only link is the known account's"
    );
    assert_eq!(app.count("SELECT count(*) FROM password_resets").await, 1);
}

#[tokio::test]
async fn a_refused_password_leaves_the_link_usable() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let token = token_of(&reset_link(&app, "ada@example.com").await);
    let refused = assert_problem(confirm(&app, &token, "short").await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "new_password");
    assert_eq!(
        confirm(&app, &token, NEW_PASSWORD).await.status().as_u16(),
        204
    );
}

#[tokio::test]
async fn a_reset_link_expires() {
    let app = spawn_app_with(&["--password-reset-ttl", "1s"]).await;
    app.register("ada@example.com").await;
    let token = token_of(&reset_link(&app, "ada@example.com").await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = assert_problem(confirm(&app, &token, NEW_PASSWORD).await, 422).await;
    assert_eq!(expired["errors"][0]["field"], "token");
    assert_eq!(
        app.login("ada@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_changed_password_voids_the_links_sent_before() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let token = token_of(&reset_link(&app, "ada@example.com").await);
    assert_eq!(
        change(&app, &tokens, PASSWORD, NEW_PASSWORD)
            .await
            .status()
            .as_u16(),
        204
    );
    assert_problem(confirm(&app, &token, "a third long password").await, 422).await;
    assert_eq!(
        app.login("ada@example.com", NEW_PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn one_account_is_sent_only_a_few_links_at_a_time() {
    let app = spawn_app_with(&["--password-resets-per-account", "2"]).await;
    app.register("ada@example.com").await;
    for _ in 0..4 {
        let response = app
            .post_json("/auth/password/reset", &json!({"email": "ada@example.com"}))
            .await;
        assert_eq!(response.status().as_u16(), 202);
    }
    let sent = app.account_events(event::PASSWORD_RESET_REQUESTED, 3).await;
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn a_reset_request_without_an_email_names_the_field() {
    let app = spawn_app().await;
    let body = assert_problem(
        app.post_json("/auth/password/reset", &json!({"email": "  "}))
            .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "email");
}
