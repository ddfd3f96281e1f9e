use messaging::contracts::event;
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, access, assert_problem, spawn_app},
    mfa::{enrolled, now, open_challenge, verify},
};

#[tokio::test]
async fn turning_mfa_off_needs_the_password_and_a_code() {
    let app = spawn_app().await;
    let (totp, codes) = enrolled(&app, "ada@example.com").await;
    let challenge = open_challenge(&app, "ada@example.com").await;
    let tokens: Value = verify(&app, &challenge, "recovery_code", &codes[0])
        .await
        .json()
        .await
        .expect("json");
    let disable = |body: Value| {
        let (app, token) = (&app, access(&tokens).to_owned());
        async move {
            app.post_json_with("/auth/mfa/totp/disable", &token, &body)
                .await
        }
    };

    let wrong_password = disable(json!({"password": "not the password at all", "code": "000000"}));
    assert_problem(wrong_password.await, 403).await;
    let no_code = assert_problem(disable(json!({"password": PASSWORD})).await, 422).await;
    assert_eq!(no_code["errors"][0]["field"], "code");
    let wrong_code = assert_problem(
        disable(json!({"password": PASSWORD, "code": "000000"})).await,
        422,
    )
    .await;
    assert_eq!(wrong_code["errors"][0]["field"], "code");
    let still_on: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(still_on["mfa_required"], true);

    // The current step was spent confirming; the next one is within the accepted window.
    let code = totp.generate(now() + 30);
    let response = disable(json!({"password": PASSWORD, "code": code})).await;
    assert_eq!(response.status().as_u16(), 204);
    let off: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    assert!(off["access_token"].is_string(), "no second factor any more");
    assert_eq!(app.count("SELECT count(*) FROM recovery_codes").await, 0);
    let told = app.account_events(event::MFA_DISABLED, 1).await;
    assert_eq!(told.len(), 1);
}

#[tokio::test]
async fn a_recovery_code_can_turn_mfa_off_when_the_authenticator_is_lost() {
    let app = spawn_app().await;
    let (_, codes) = enrolled(&app, "ada@example.com").await;
    let challenge = open_challenge(&app, "ada@example.com").await;
    let tokens: Value = verify(&app, &challenge, "recovery_code", &codes[0])
        .await
        .json()
        .await
        .expect("json");
    let response = app
        .post_json_with(
            "/auth/mfa/totp/disable",
            access(&tokens),
            &json!({"password": PASSWORD, "recovery_code": codes[1]}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 204);
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let app = spawn_app().await;
    let (totp, old) = enrolled(&app, "ada@example.com").await;
    let challenge = open_challenge(&app, "ada@example.com").await;
    let tokens: Value = verify(&app, &challenge, "code", &totp.generate(now() + 30))
        .await
        .json()
        .await
        .expect("json");
    let wrong = app
        .post_json_with(
            "/auth/mfa/recovery-codes",
            access(&tokens),
            &json!({"password": "not the password at all"}),
        )
        .await;
    assert_problem(wrong, 403).await;
    let response = app
        .post_json_with(
            "/auth/mfa/recovery-codes",
            access(&tokens),
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    let new: Vec<&str> = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|code| code.as_str().expect("text"))
        .collect();
    assert_eq!(new.len(), 10);
    assert!(
        new.iter()
            .all(|code| !old.iter().any(|before| before == code))
    );

    let first = open_challenge(&app, "ada@example.com").await;
    assert_problem(verify(&app, &first, "recovery_code", &old[5]).await, 401).await;
    let second = open_challenge(&app, "ada@example.com").await;
    let verified = verify(&app, &second, "recovery_code", new[5]).await;
    assert_eq!(verified.status().as_u16(), 200);
}

#[tokio::test]
async fn without_an_authenticator_there_is_nothing_to_turn_off_or_recover() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let disable = app
        .post_json_with(
            "/auth/mfa/totp/disable",
            access(&tokens),
            &json!({"password": PASSWORD, "code": "123456"}),
        )
        .await;
    assert_problem(disable, 404).await;
    let codes = app
        .post_json_with(
            "/auth/mfa/recovery-codes",
            access(&tokens),
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_problem(codes, 404).await;
}
