//! TOTP secrets are sealed at rest; secrets an earlier version stored in the clear are
//! sealed at the next start and keep working.

use serde_json::json;
use totp_rs::Secret;

use crate::{
    helpers::{spawn_app, spawn_with_stores},
    mfa::{enrolled, now, open_challenge},
};

#[tokio::test]
async fn a_totp_secret_is_stored_sealed() {
    let app = spawn_app().await;
    let (totp, _) = enrolled(&app, "ada@example.com").await;
    let base32 = Secret::Raw(totp.secret.clone()).to_encoded().to_string();
    let (clear, sealed): (Option<String>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT secret, sealed_secret FROM mfa_totp")
            .fetch_one(&app.pool().await)
            .await
            .expect("the enrolment");
    assert_eq!(clear, None, "nothing in the clear");
    let sealed = sealed.expect("sealed");
    assert!(
        !sealed
            .windows(base32.len())
            .any(|window| window == base32.as_bytes())
            && !sealed
                .windows(totp.secret.len())
                .any(|window| window == totp.secret.as_slice()),
        "the secret cannot be read from the database"
    );
}

#[tokio::test]
async fn a_secret_stored_in_the_clear_is_sealed_at_start_and_still_works() {
    let app = spawn_app().await;
    let (totp, _) = enrolled(&app, "ada@example.com").await;
    let base32 = Secret::Raw(totp.secret.clone()).to_encoded().to_string();
    sqlx::query("UPDATE mfa_totp SET secret = $1, sealed_secret = NULL")
        .bind(&base32)
        .execute(&app.pool().await)
        .await
        .expect("as an earlier version stored it");
    let restarted = spawn_with_stores(&app.database.url(), &app.broker, &[]).await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM mfa_totp WHERE secret IS NULL AND sealed_secret IS NOT NULL"
        )
        .await,
        1,
        "sealed at start"
    );
    let challenge = open_challenge(&app, "ada@example.com").await;
    let verified = app
        .client
        .post(format!("{restarted}/auth/mfa/verify"))
        .json(&json!({"challenge": challenge, "code": totp.generate(now() + 30)}))
        .send()
        .await
        .expect("sent");
    assert_eq!(verified.status().as_u16(), 200);
}
