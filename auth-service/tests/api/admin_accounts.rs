//! What administrators do to other accounts: disabling one, resetting its second factor;
//! each ends its sessions and announces them.

use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, access, assert_problem_of},
    mfa,
    revocations::{admin_app, assert_revoked, delete, revocations},
};

#[tokio::test]
async fn an_administrator_resets_a_lost_second_factor_and_its_sessions_end() {
    let (app, root) = admin_app().await;
    mfa::enrolled(&app, "ada@example.com").await;
    let ada_id: String =
        sqlx::query_scalar("SELECT id::text FROM users WHERE email = 'ada@example.com'")
            .fetch_one(&app.pool().await)
            .await
            .expect("ada");
    let sessions: Vec<Value> = {
        let pool = app.pool().await;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id::text FROM sessions WHERE user_id = $1::uuid AND revoked_at IS NULL",
        )
        .bind(&ada_id)
        .fetch_all(&pool)
        .await
        .expect("sessions");
        ids.into_iter().map(Value::from).collect()
    };
    let path = format!("/auth/admin/users/{ada_id}/mfa");
    assert_eq!(
        delete(&app, &path, access(&root)).await.status().as_u16(),
        204
    );
    assert_revoked(&app, &sessions.iter().collect::<Vec<_>>(), "mfa_reset").await;
    assert_eq!(app.account_events("account.mfa_disabled", 1).await.len(), 1);
    let signed_in: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    assert!(
        signed_in["access_token"].is_string(),
        "no code asked any more: {signed_in}"
    );

    let customer = app.signed_in("bob@example.com").await;
    let refused = delete(&app, &path, access(&customer)).await;
    assert_problem_of(refused, 403, "forbidden").await;
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_or_refresh_until_it_is_enabled() {
    let (app, root) = admin_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let ada_id: String =
        sqlx::query_scalar("SELECT id::text FROM users WHERE email = 'ada@example.com'")
            .fetch_one(&app.pool().await)
            .await
            .expect("ada");
    let disable = format!("/auth/admin/users/{ada_id}/disable");
    let disabled = app
        .post_json_with(&disable, access(&root), &json!({}))
        .await;
    assert_eq!(disabled.status().as_u16(), 204);
    assert_revoked(&app, &[&tokens["session_id"]], "account_disabled").await;

    assert_problem_of(
        app.login("ada@example.com", PASSWORD).await,
        403,
        "account-disabled",
    )
    .await;
    let refresh = json!({"refresh_token": tokens["refresh_token"]});
    let refused = app.post_json("/auth/refresh", &refresh).await;
    assert_problem_of(refused, 403, "account-disabled").await;
    let wrong = app
        .login("ada@example.com", "not the password at all")
        .await;
    assert_problem_of(wrong, 401, "invalid-credentials").await;

    let enable = format!("/auth/admin/users/{ada_id}/enable");
    let enabled = app.post_json_with(&enable, access(&root), &json!({})).await;
    assert_eq!(enabled.status().as_u16(), 204);
    assert_eq!(
        app.login("ada@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn an_account_disabled_between_its_challenge_and_its_code_gets_no_session() {
    let (app, root) = admin_app().await;
    let (totp, _) = mfa::enrolled(&app, "ada@example.com").await;
    let challenge = mfa::open_challenge(&app, "ada@example.com").await;
    let ada_id: String =
        sqlx::query_scalar("SELECT id::text FROM users WHERE email = 'ada@example.com'")
            .fetch_one(&app.pool().await)
            .await
            .expect("ada");
    let sessions_before = app.count("SELECT count(*) FROM sessions").await;
    let disable = format!("/auth/admin/users/{ada_id}/disable");
    let disabled = app
        .post_json_with(&disable, access(&root), &json!({}))
        .await;
    assert_eq!(disabled.status().as_u16(), 204);

    // The current step was spent confirming; the next one is within the accepted window.
    let code = totp.generate(mfa::now() + 30);
    let verified = mfa::verify(&app, &challenge, "code", &code).await;
    assert_problem_of(verified, 403, "account-disabled").await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions").await,
        sessions_before,
        "no session was opened"
    );
}

#[tokio::test]
async fn an_administrator_cannot_disable_themselves_nor_an_unknown_account() {
    let (app, root) = admin_app().await;
    let me: Value = app
        .get_with("/auth/me", access(&root))
        .await
        .json()
        .await
        .expect("json");
    let own = format!(
        "/auth/admin/users/{}/disable",
        me["id"].as_str().expect("id")
    );
    assert_problem_of(
        app.post_json_with(&own, access(&root), &json!({})).await,
        409,
        "conflict",
    )
    .await;
    let unknown = "/auth/admin/users/0190a5f4-7c1e-7000-8000-000000000001/disable";
    assert_problem_of(
        app.post_json_with(unknown, access(&root), &json!({})).await,
        404,
        "not-found",
    )
    .await;
    assert!(revocations(&app).await.is_empty());
}
