//! Account recovery through the gateway: the reset link travels as an event.

use std::time::Duration;

use messaging::{
    contracts::{PasswordResetRequested, event},
    topology::{Exchange, QueueSpec},
};
use serde_json::json;

use crate::platform::{Options, PASSWORD, Platform};

/// Stands in for the mailer: every account event.
const MAILER: QueueSpec = QueueSpec {
    name: "test-mailer",
    bindings: &[(Exchange::DomainEvents, "account.#")],
};

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_gateway_with_the_link_the_mailer_receives() {
    let mut platform = Platform::start(Options::default()).await;
    platform.broker.declare(MAILER).await;
    let email = "forgetful@platform.test";
    platform.register(email).await;
    let token = platform.log_in(email, PASSWORD).await;

    let (status, _) = platform
        .post("/auth/password/reset", None, &json!({"email": email}))
        .await;
    assert_eq!(status, 202);
    let events = platform
        .broker
        .envelopes(&MAILER, 1, Duration::from_secs(10))
        .await;
    let reset = events
        .iter()
        .find(|envelope| envelope.kind == event::PASSWORD_RESET_REQUESTED)
        .expect("the reset link reaches the mailer");
    let link: PasswordResetRequested = reset.payload().expect("a reset event");
    let url = url::Url::parse(&link.reset_link).expect("a link");
    let secret = url
        .query_pairs()
        .find(|(name, _)| name == "token")
        .expect("a token")
        .1
        .into_owned();

    let new_password = "a brand new long password";
    let body = json!({"token": secret, "new_password": new_password});
    let (status, answer) = platform
        .post("/auth/password/reset/confirm", None, &body)
        .await;
    assert_eq!(status, 204, "{answer}");
    let (status, _) = platform.get("/auth/me", &token).await;
    assert_eq!(status, 401, "the sessions from before are over");
    platform.log_in(email, new_password).await;
    let (status, _) = platform
        .post(
            "/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 401);
}
