use serde_json::{Value, json};

use crate::helpers::{PASSWORD, access, assert_problem, spawn_app};

#[tokio::test]
async fn a_right_password_gives_tokens_that_open_me() {
    let app = spawn_app().await;
    let id = app.register("ada@example.com").await;
    let response = app.login("ADA@example.com ", PASSWORD).await;
    assert_eq!(response.status().as_u16(), 200);
    let tokens: Value = response.json().await.expect("json");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|token| token.len() >= 43)
    );
    let me: Value = app
        .get_with("/auth/me", access(&tokens))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["roles"], json!(["customer"]));
    assert!(
        me["permissions"]
            .as_array()
            .expect("permissions")
            .contains(&json!("orders:create"))
    );
    assert_eq!(me["session_id"], tokens["session_id"]);
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let wrong = assert_problem(app.login("ada@example.com", "not the password!").await, 401).await;
    let unknown = assert_problem(
        app.login("nobody@example.com", "not the password!").await,
        401,
    )
    .await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn every_attempt_is_audited_with_its_outcome() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    app.login("ada@example.com", PASSWORD).await;
    app.login("ada@example.com", "not the password!").await;
    app.login("nobody@example.com", "not the password!").await;
    let outcomes: Vec<(String, String)> =
        sqlx::query_as("SELECT email, outcome FROM login_audit ORDER BY occurred_at, id")
            .fetch_all(&app.pool().await)
            .await
            .expect("audit rows");
    assert_eq!(
        outcomes,
        [
            ("ada@example.com".to_owned(), "success".to_owned()),
            ("ada@example.com".to_owned(), "wrong_password".to_owned()),
            ("nobody@example.com".to_owned(), "unknown_email".to_owned()),
        ]
    );
    assert_eq!(
        app.count("SELECT count(*) FROM login_audit WHERE ip = '127.0.0.1'")
            .await,
        3
    );
}

#[tokio::test]
async fn a_megabyte_password_is_refused_naming_the_field_before_any_hashing() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let response = app.login("ada@example.com", &"x".repeat(1024 * 1024)).await;
    let body = assert_problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "password");
    assert_eq!(app.count("SELECT count(*) FROM login_audit").await, 0);
}

#[tokio::test]
async fn malformed_and_incomplete_logins_are_problems() {
    let app = spawn_app().await;
    assert_problem(
        app.post_raw("/auth/login", "application/json", "{").await,
        400,
    )
    .await;
    let body = assert_problem(
        app.post_json("/auth/login", &json!({"email": "a@example.com"}))
            .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "password");
    let body = assert_problem(
        app.post_json("/auth/login", &json!({"email": 1, "password": "x"}))
            .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "email");
    // PostgreSQL keeps no NUL: refused before it is looked up, not a 500.
    let body = assert_problem(
        app.post_json(
            "/auth/login",
            &json!({"email": "a\u{0}@example.com", "password": "x"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "email");
}

#[tokio::test]
async fn sql_meta_characters_in_a_login_are_just_a_wrong_login() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let response = app.login("' OR '1'='1", "' OR '1'='1' --").await;
    assert_problem(response, 401).await;
    assert_eq!(app.count_users().await, 1);
}
