//! `ADMIN_MFA_REQUIRED`: an administrator acts as one only once a second factor is enrolled.

use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, access, assert_problem_of, spawn_app_with},
    mfa::{generator, now},
};

fn roles_in(access_token: &str) -> Value {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let payload = access_token.split('.').nth(1).expect("a JWT");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice::<Value>(&bytes).expect("claims")["roles"].clone()
}

#[tokio::test]
async fn admin_routes_answer_only_once_the_administrator_has_enrolled_a_second_factor() {
    let app = spawn_app_with(&[
        "--admin-email",
        "root@example.com",
        "--admin-password",
        PASSWORD,
        "--admin-mfa-required",
        "true",
    ])
    .await;
    let tokens: Value = app
        .login("root@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        roles_in(access(&tokens)),
        json!(["customer"]),
        "no other service takes the token for an administrator's"
    );
    assert_eq!(tokens["required_actions"], json!(["mfa_enrolment"]));
    let me: Value = app
        .get_with("/auth/me", access(&tokens))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["required_actions"], json!(["mfa_enrolment"]));
    let refused = app
        .post_json_with("/auth/admin/keys/rotate", access(&tokens), &json!({}))
        .await;
    let problem = assert_problem_of(refused, 403, "mfa-enrolment-required").await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("/auth/mfa/totp/setup")),
        "{problem}"
    );

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
    let totp = generator(setup["secret"].as_str().expect("a secret"));
    let confirmed = app
        .post_json_with(
            "/auth/mfa/totp/confirm",
            access(&tokens),
            &json!({"code": totp.generate(now())}),
        )
        .await;
    assert_eq!(confirmed.status().as_u16(), 200);
    let rotate = app
        .post_json_with("/auth/admin/keys/rotate", access(&tokens), &json!({}))
        .await;
    assert_eq!(
        rotate.status().as_u16(),
        200,
        "enrolled: admin routes answer"
    );
    let refreshed: Value = app
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(roles_in(access(&refreshed)), json!(["admin", "customer"]));
    assert_eq!(refreshed.get("required_actions"), None);
}

#[tokio::test]
async fn without_the_setting_an_administrator_needs_no_second_factor() {
    let app = spawn_app_with(&[
        "--admin-email",
        "root@example.com",
        "--admin-password",
        PASSWORD,
    ])
    .await;
    let tokens: Value = app
        .login("root@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(roles_in(access(&tokens)), json!(["admin", "customer"]));
    assert_eq!(tokens.get("required_actions"), None);
    let rotate = app
        .post_json_with("/auth/admin/keys/rotate", access(&tokens), &json!({}))
        .await;
    assert_eq!(rotate.status().as_u16(), 200);
}
