//! A signed-out session's access token is refused at the gateway well before it expires:
//! auth-service announces the revocation, the gateway takes it off the broker.

use std::time::Duration;

use serde_json::json;

use crate::platform::{Options, PASSWORD, Platform};

#[tokio::test]
async fn after_logout_the_same_access_token_is_refused_at_the_gateway_on_an_order_route() {
    let platform = Platform::start(Options::default()).await;
    let email = "leaving@platform.test";
    platform.register(email).await;
    let token = platform.log_in(email, PASSWORD).await;
    let (status, orders) = platform.get("/orders", &token).await;
    assert_eq!(status, 200, "{orders}");

    let (status, answer) = platform
        .post("/auth/logout", Some(&token), &json!({}))
        .await;
    assert_eq!(status, 204, "{answer}");

    // Polled, with a deadline far beyond the expected delay: the delay itself is measured
    // by scripts/bench-revocation.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let refused = loop {
        let (status, body) = platform.get("/orders", &token).await;
        if status == 401 {
            break body;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token is still honoured"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused["type"], "/problems/token-revoked", "{refused}");
    let other = platform.log_in(email, PASSWORD).await;
    let (status, _) = platform.get("/orders", &other).await;
    assert_eq!(status, 200, "a new session is not affected");
}
