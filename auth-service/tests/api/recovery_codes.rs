//! Recovery codes: long enough not to be guessed, and stored under a key the database does
//! not hold; codes issued by an earlier version keep working.

use serde_json::{Value, json};

use crate::{
    helpers::{spawn_app, spawn_with_stores},
    mfa::{enrolled, open_challenge},
};

#[tokio::test]
async fn recovery_codes_have_at_least_80_bits_and_are_stored_keyed() {
    let app = spawn_app().await;
    let (_, codes) = enrolled(&app, "ada@example.com").await;
    for code in &codes {
        let letters = code.chars().filter(char::is_ascii_alphanumeric).count();
        assert!(
            letters as f64 * 31_f64.log2() >= 80.0,
            "{code}: at least 80 bits"
        );
    }
    let normalised: String = codes[0]
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let bare = app
        .count(&format!(
            "SELECT count(*) FROM recovery_codes
             WHERE code_hash = sha256(convert_to('{normalised}', 'UTF8'))"
        ))
        .await;
    assert_eq!(bare, 0, "not a bare SHA-256");
    assert_eq!(
        app.count("SELECT count(*) FROM recovery_codes WHERE keyed")
            .await,
        10
    );
}

#[tokio::test]
async fn a_code_stored_by_an_earlier_version_is_keyed_at_start_and_still_works() {
    let app = spawn_app().await;
    enrolled(&app, "ada@example.com").await;
    // As an earlier version stored a code `abcde-fghjk`: its bare SHA-256.
    sqlx::query(
        "INSERT INTO recovery_codes (user_id, code_hash)
         SELECT id, sha256(convert_to('abcdefghjk', 'UTF8')) FROM users",
    )
    .execute(&app.pool().await)
    .await
    .expect("an old code");
    let restarted = spawn_with_stores(&app.database.url(), &app.broker, &[]).await;
    assert_eq!(
        app.count("SELECT count(*) FROM recovery_codes WHERE NOT keyed")
            .await,
        0,
        "keyed at start"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM recovery_codes
             WHERE code_hash = sha256(convert_to('abcdefghjk', 'UTF8'))"
        )
        .await,
        0,
        "the bare hash is gone"
    );
    let challenge = open_challenge(&app, "ada@example.com").await;
    let verified = app
        .client
        .post(format!("{restarted}/auth/mfa/verify"))
        .json(&json!({"challenge": challenge, "recovery_code": "ABCDE-FGHJK"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(verified.status().as_u16(), 200);
    let tokens: Value = verified.json().await.expect("json");
    assert!(tokens["access_token"].is_string());
}
