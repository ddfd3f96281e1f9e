//! No cache keeps what the account API answers (RFC 6749 §5.1, ASVS 8.2.1).

use reqwest::Response;
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, access, spawn_app},
    mfa::{generator, now},
};

fn assert_no_store(response: &Response, what: &str) {
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|value| value.to_str().ok()),
        Some("no-store"),
        "{what}"
    );
}

#[tokio::test]
async fn tokens_secrets_recovery_codes_and_the_account_are_never_stored() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_no_store(&login, "tokens from a sign-in");
    let tokens: Value = login.json().await.expect("json");
    let me = app.get_with("/auth/me", access(&tokens)).await;
    assert_no_store(&me, "the account");
    let refreshed = app
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_no_store(&refreshed, "tokens from a refresh");
    let tokens: Value = refreshed.json().await.expect("json");

    let setup = app
        .post_json_with(
            "/auth/mfa/totp/setup",
            access(&tokens),
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_no_store(&setup, "a TOTP secret");
    let setup: Value = setup.json().await.expect("json");
    let totp = generator(setup["secret"].as_str().expect("a secret"));
    let confirmed = app
        .post_json_with(
            "/auth/mfa/totp/confirm",
            access(&tokens),
            &json!({"code": totp.generate(now())}),
        )
        .await;
    assert_no_store(&confirmed, "recovery codes");
    let codes = app
        .post_json_with(
            "/auth/mfa/recovery-codes",
            access(&tokens),
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_no_store(&codes, "new recovery codes");
    let codes: Value = codes.json().await.expect("json");

    let challenge: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let verified = app
        .post_json(
            "/auth/mfa/verify",
            &json!({"challenge": challenge["challenge"], "recovery_code": codes["recovery_codes"][0]}),
        )
        .await;
    assert_eq!(verified.status().as_u16(), 200);
    assert_no_store(&verified, "tokens from a second factor");

    let refused = app.login("ada@example.com", "not the password").await;
    assert_no_store(&refused, "a refusal");
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_ne!(
        jwks.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(b"no-store".as_slice()),
        "the published keys are public"
    );
}
