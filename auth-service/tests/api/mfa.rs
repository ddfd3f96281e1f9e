use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{PASSWORD, TestApp, access, assert_problem, spawn_app};

pub fn generator(secret: &str) -> TOTP {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".to_owned()).expect("a generator")
}

pub fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970")
}

/// Enrols a TOTP authenticator for a new user; returns the generator and recovery codes.
pub async fn enrolled(app: &TestApp, email: &str) -> (TOTP, Vec<String>) {
    let tokens = app.signed_in(email).await;
    let setup: Value = app
        .post_json_with(
            "/auth/mfa/totp/setup",
            access(&tokens),
            &json!({"password": PASSWORD}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert!(
        setup["otpauth_uri"]
            .as_str()
            .is_some_and(|uri| uri.starts_with("otpauth://totp/"))
    );
    let totp = generator(setup["secret"].as_str().expect("a secret"));
    let confirmed = app
        .post_json_with(
            "/auth/mfa/totp/confirm",
            access(&tokens),
            &json!({"code": totp.generate(now())}),
        )
        .await;
    assert_eq!(confirmed.status().as_u16(), 200);
    let body: Value = confirmed.json().await.expect("json");
    let codes = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|code| code.as_str().expect("text").to_owned())
        .collect();
    (totp, codes)
}

pub async fn open_challenge(app: &TestApp, email: &str) -> Value {
    let response = app.login(email, PASSWORD).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["mfa_required"], true);
    assert!(
        body.get("access_token").is_none(),
        "no tokens before the second factor"
    );
    body["challenge"].clone()
}

pub async fn verify(
    app: &TestApp,
    challenge: &Value,
    field: &str,
    code: &str,
) -> reqwest::Response {
    app.post_json(
        "/auth/mfa/verify",
        &json!({"challenge": challenge, field: code}),
    )
    .await
}

#[tokio::test]
async fn an_mfa_login_needs_the_challenge_and_a_fresh_code() {
    let app = spawn_app().await;
    let (totp, _) = enrolled(&app, "ada@example.com").await;
    let challenge = open_challenge(&app, "ada@example.com").await;
    // The current step was spent confirming; the next one is within the accepted window.
    let code = totp.generate(now() + 30);
    let response = verify(&app, &challenge, "code", &code).await;
    assert_eq!(response.status().as_u16(), 200);
    let tokens: Value = response.json().await.expect("json");
    let me: Value = app
        .get_with("/auth/me", access(&tokens))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["mfa_enabled"], true);

    let again = open_challenge(&app, "ada@example.com").await;
    assert_problem(verify(&app, &again, "code", &code).await, 401).await;
}

#[tokio::test]
async fn a_challenge_is_used_once() {
    let app = spawn_app().await;
    let (totp, codes) = enrolled(&app, "ada@example.com").await;
    let challenge = open_challenge(&app, "ada@example.com").await;
    assert_eq!(
        verify(&app, &challenge, "code", &totp.generate(now() + 30))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_problem(
        verify(&app, &challenge, "recovery_code", &codes[0]).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = spawn_app().await;
    let (_, codes) = enrolled(&app, "ada@example.com").await;
    assert_eq!(codes.len(), 10);
    let first = open_challenge(&app, "ada@example.com").await;
    assert_eq!(
        verify(&app, &first, "recovery_code", &codes[3].to_uppercase())
            .await
            .status()
            .as_u16(),
        200
    );
    let second = open_challenge(&app, "ada@example.com").await;
    assert_problem(verify(&app, &second, "recovery_code", &codes[3]).await, 401).await;
    assert_eq!(
        app.count("SELECT count(*) FROM recovery_codes WHERE used_at IS NULL")
            .await,
        9
    );
}

#[tokio::test]
async fn wrong_codes_count_as_failed_attempts_and_hold_the_client_back() {
    let app = spawn_app().await;
    let (totp, _) = enrolled(&app, "ada@example.com").await;
    for _ in 0..5 {
        let challenge = open_challenge(&app, "ada@example.com").await;
        assert_problem(verify(&app, &challenge, "code", "000000").await, 401).await;
    }
    assert_problem(app.login("ada@example.com", PASSWORD).await, 429).await;
    assert_eq!(
        app.count("SELECT count(*) FROM login_audit WHERE outcome = 'wrong_code'")
            .await,
        5
    );
    drop(totp);
}

#[tokio::test]
async fn confirming_with_a_wrong_code_names_the_field_and_leaves_mfa_off() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    app.post_json_with(
        "/auth/mfa/totp/setup",
        access(&tokens),
        &json!({"password": PASSWORD}),
    )
    .await;
    let response = app
        .post_json_with(
            "/auth/mfa/totp/confirm",
            access(&tokens),
            &json!({"code": "12345"}),
        )
        .await;
    let body = assert_problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "code");
    let login: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    assert!(login["access_token"].is_string());
}

#[tokio::test]
async fn verify_needs_exactly_one_kind_of_code() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/auth/mfa/verify",
            &json!({"challenge": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_problem(response, 422).await;
}
