use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, access, assert_problem, spawn_app, spawn_app_with};

async fn with_admin() -> (TestApp, Value) {
    let app = spawn_app_with(&[
        "--admin-email",
        "Root@Example.com",
        "--admin-password",
        PASSWORD,
    ])
    .await;
    let admin: Value = app
        .login("root@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    (app, admin)
}

#[tokio::test]
async fn the_configured_admin_exists_with_the_admin_role() {
    let (app, admin) = with_admin().await;
    let me: Value = app
        .get_with("/auth/me", access(&admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["roles"], json!(["admin", "customer"]));
    assert!(
        me["permissions"]
            .as_array()
            .expect("permissions")
            .contains(&json!("users:manage"))
    );
}

#[tokio::test]
async fn a_customer_may_not_use_admin_endpoints() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let id = app.register("bob@example.com").await;
    let response = app
        .post_json_with(
            &format!("/auth/admin/users/{id}/roles"),
            access(&tokens),
            &json!({"role": "admin"}),
        )
        .await;
    let body = assert_problem(response, 403).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("users:manage")
    );
    assert_problem(
        app.post_json_with("/auth/admin/keys/rotate", access(&tokens), &json!({}))
            .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn a_granted_role_reaches_the_next_token_and_a_revoked_one_leaves_it() {
    let (app, admin) = with_admin().await;
    let id = app.register("owner@example.com").await;
    let granted = app
        .post_json_with(
            &format!("/auth/admin/users/{id}/roles"),
            access(&admin),
            &json!({"role": "restaurant_owner"}),
        )
        .await;
    assert_eq!(granted.status().as_u16(), 200);
    let tokens: Value = app
        .login("owner@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let me: Value = app
        .get_with("/auth/me", access(&tokens))
        .await
        .json()
        .await
        .expect("json");
    assert!(
        me["permissions"]
            .as_array()
            .expect("permissions")
            .contains(&json!("restaurants:write:own"))
    );

    let revoked = app
        .client
        .delete(app.url(&format!("/auth/admin/users/{id}/roles/restaurant_owner")))
        .bearer_auth(access(&admin))
        .send()
        .await
        .expect("sent");
    assert_eq!(revoked.status().as_u16(), 200);
    let tokens: Value = app
        .login("owner@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let me: Value = app
        .get_with("/auth/me", access(&tokens))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["roles"], json!(["customer"]));
}

#[tokio::test]
async fn granting_an_unknown_role_names_the_field() {
    let (app, admin) = with_admin().await;
    let id = app.register("bob@example.com").await;
    let response = app
        .post_json_with(
            &format!("/auth/admin/users/{id}/roles"),
            access(&admin),
            &json!({"role": "root"}),
        )
        .await;
    let body = assert_problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "role");
}

#[tokio::test]
async fn authorize_answers_from_the_subjects_roles_and_ownership() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let ada = tokens_subject(&app, &tokens).await;
    let bob = app.register("bob@example.com").await;
    let decide = |permission: &str, owner: &str| json!({"subject": ada, "permission": permission, "resource_owner": owner});
    let own: Value = app
        .post_json_with(
            "/auth/authorize",
            access(&tokens),
            &decide("orders:read:own", &ada),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(own["allowed"], true);
    let others: Value = app
        .post_json_with(
            "/auth/authorize",
            access(&tokens),
            &decide("orders:read:own", &bob),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(others["allowed"], false);
    let any: Value = app
        .post_json_with(
            "/auth/authorize",
            access(&tokens),
            &decide("orders:read:any", &bob),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(any["allowed"], false);
    assert_problem(
        app.post_json("/auth/authorize", &decide("orders:read:own", &ada))
            .await,
        401,
    )
    .await;
}

async fn tokens_subject(app: &TestApp, tokens: &Value) -> String {
    let me: Value = app
        .get_with("/auth/me", access(tokens))
        .await
        .json()
        .await
        .expect("json");
    me["id"].as_str().expect("an id").to_owned()
}
