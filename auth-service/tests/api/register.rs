use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

fn registration(email: &str) -> Value {
    json!({"email": email, "password": "a long enough password", "display_name": "Ada"})
}

#[tokio::test]
async fn a_valid_registration_creates_the_account() {
    let app = spawn_app().await;
    let response = app
        .post_json("/auth/register", &registration(" Ada@Example.com"))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["roles"], json!(["customer"]));
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());
    let id = body["id"].as_str().expect("an id");
    assert_eq!(
        uuid::Uuid::parse_str(id).expect("a uuid").get_version_num(),
        7
    );
    assert_eq!(app.count_users().await, 1);
}

#[tokio::test]
async fn a_second_registration_with_the_same_email_is_a_conflict() {
    let app = spawn_app().await;
    app.post_json("/auth/register", &registration("ada@example.com"))
        .await;
    let response = app
        .post_json("/auth/register", &registration("ADA@example.com"))
        .await;
    assert_problem(response, 409).await;
    assert_eq!(app.count_users().await, 1);
}

#[tokio::test]
async fn malformed_json_is_a_400_problem_and_stores_nothing() {
    let app = spawn_app().await;
    let response = app
        .post_raw("/auth/register", "application/json", r#"{"email": "#)
        .await;
    assert_problem(response, 400).await;
    assert_eq!(app.count_users().await, 0);
}

#[tokio::test]
async fn a_missing_field_is_a_422_problem_naming_it() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "ada@example.com", "password": "a long enough password"}),
        )
        .await;
    let body = assert_problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "display_name");
    assert_eq!(app.count_users().await, 0);
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_named() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": 42, "password": "a long enough password", "display_name": "Ada"}),
        )
        .await;
    let body = assert_problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "email");
}

#[tokio::test]
async fn invalid_values_are_all_named() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "nope", "password": "short", "display_name": ""}),
        )
        .await;
    let body = assert_problem(response, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|error| error["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "password", "display_name"]);
    assert_eq!(app.count_users().await, 0);
}

#[tokio::test]
async fn a_body_not_sent_as_json_is_a_415_problem() {
    let app = spawn_app().await;
    let response = app.post_raw("/auth/register", "text/plain", "hello").await;
    assert_problem(response, 415).await;
}

#[tokio::test]
async fn a_huge_body_is_a_413_problem() {
    let app = spawn_app().await;
    let password = "x".repeat(3 * 1024 * 1024);
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "ada@example.com", "password": password, "display_name": "Ada"}),
        )
        .await;
    assert_problem(response, 413).await;
    assert_eq!(app.count_users().await, 0);
}

#[tokio::test]
async fn sql_meta_characters_are_stored_as_plain_text() {
    let app = spawn_app().await;
    let response = app
        .post_json("/auth/register", &json!({"email": "o'brien@example.com", "password": "'; DROP TABLE users; --", "display_name": "Robert'); DROP TABLE users;--"}))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(app.count_users().await, 1);
}

#[tokio::test]
async fn a_courier_registration_is_a_customer_with_a_pending_request() {
    let app = spawn_app().await;
    let response = app
        .post_json("/auth/register", &json!({"email": "c@example.com", "password": "a long enough password", "display_name": "C", "role": "courier"}))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["roles"], json!(["customer"]));
    assert_eq!(body["requested_roles"], json!(["courier"]));
}

#[tokio::test]
async fn a_common_password_is_refused() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "c@example.com", "password": "Password123456", "display_name": "C"}),
        )
        .await;
    let body = assert_problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "password");
    assert_eq!(app.count_users().await, 0);
}

#[tokio::test]
async fn one_client_address_creates_only_so_many_accounts_and_others_are_not_held_back() {
    let app = crate::helpers::spawn_app_with(&["--registration-limit", "2"]).await;
    let attempt = |client: &'static str, n: usize| {
        app.client
            .post(app.url("/auth/register"))
            .header("x-forwarded-for", client)
            .json(&json!({
                "email": format!("user{n}@example.com"),
                "password": crate::helpers::PASSWORD,
                "display_name": "Test",
            }))
            .send()
    };
    for n in 0..2 {
        assert_eq!(
            attempt("203.0.113.5", n)
                .await
                .expect("sent")
                .status()
                .as_u16(),
            201
        );
    }
    let refused = attempt("203.0.113.5", 2).await.expect("sent");
    assert!(refused.headers().contains_key("retry-after"));
    let problem = assert_problem(refused, 429).await;
    assert_eq!(
        problem["type"]
            .as_str()
            .map(|t| t.ends_with("too-many-registrations")),
        Some(true)
    );
    assert_eq!(
        attempt("203.0.113.6", 3)
            .await
            .expect("sent")
            .status()
            .as_u16(),
        201,
        "another address is not held back"
    );
}
