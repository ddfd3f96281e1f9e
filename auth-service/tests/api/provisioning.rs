//! The provisioning token: an administrator's token written to a file at start, for one
//! program (the demo data seed) to act with where administrators must enrol a second factor
//! and no administrator's password is known.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app_with, spawn_with_stores};

/// The account auth-service keeps for the token file.
const PROVISIONING_EMAIL: &str = "provisioning@food-delivery.internal";

#[tokio::test]
async fn the_provisioning_token_grants_roles_where_administrators_must_enrol_a_second_factor() {
    let dir = std::env::temp_dir().join(format!("provisioning-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let file = dir.join("token");
    let app = spawn_app_with(&[
        "--admin-email",
        "root@example.com",
        "--admin-mfa-required",
        "true",
        "--provisioning-token-file",
        file.to_str().expect("a UTF-8 path"),
    ])
    .await;
    let token = std::fs::read_to_string(&file).expect("the token is written at start");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&file)
            .expect("its metadata")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "readable by its owner alone");

    let id = app.register("owner@example.com").await;
    let granted = app
        .post_json_with(
            &format!("/auth/admin/users/{id}/roles"),
            token.trim(),
            &json!({"role": "restaurant_owner"}),
        )
        .await;
    assert_eq!(
        granted.status(),
        200,
        "{}",
        granted.text().await.unwrap_or_default()
    );

    // Nobody signs in to it: its password is never shown.
    let login = app.login(PROVISIONING_EMAIL, PASSWORD).await;
    assert_eq!(login.status(), 401);

    // A restart writes a new token for a new session; the account stays one.
    let again = spawn_with_stores(
        &app.database.url(),
        &app.broker,
        &[
            "--provisioning-token-file",
            file.to_str().expect("a UTF-8 path"),
        ],
    )
    .await;
    let renewed = std::fs::read_to_string(&file).expect("the token is written again");
    assert_ne!(renewed, token);
    let me: Value = reqwest::Client::new()
        .get(format!("{again}/auth/me"))
        .bearer_auth(renewed.trim())
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(me["email"], PROVISIONING_EMAIL, "{me}");
    let roles = me["roles"].as_array().cloned().unwrap_or_default();
    assert!(
        roles.contains(&json!("admin")),
        "an administrator at once: {me}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_token_file_that_cannot_be_written_leaves_auth_service_serving() {
    let app = spawn_app_with(&[
        "--provisioning-token-file",
        "/nonexistent-folder/for/the/token",
    ])
    .await;
    app.register("ada@example.com").await;
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
}
