//! Who the client is behind the gateway: a forged `X-Forwarded-For` buys neither a fresh
//! sign-in quota at the gateway nor a fresh set of failures at auth-service, which trusts
//! the gateway's word alone.

use serde_json::{Value, json};
use shared::testing::assert_problem;

use crate::platform::{Options, Platform};

/// A failed sign-in as `email`, claiming to come from a new address each `time`.
async fn wrong_password(platform: &Platform, email: &str, time: u8) -> reqwest::Response {
    reqwest::Client::new()
        .post(platform.url("/auth/login"))
        .header("x-forwarded-for", format!("198.51.100.{time}"))
        .json(&json!({"email": email, "password": "not the password at all"}))
        .send()
        .await
        .expect("the gateway answers")
}

/// The problem's `type`.
fn kind(problem: &Value) -> &str {
    problem["type"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn failed_sign_ins_with_forged_forwarded_addresses_are_held_back_per_real_client() {
    let platform = Platform::start(Options {
        rate_limits: true,
        ..Options::default()
    })
    .await;
    let email = "victim@forwarded.test";
    platform.register(email).await;

    // auth-service holds a client back from an account after five failures
    // (`LOCKOUT_THRESHOLD`): each forged address would otherwise be a new client.
    for time in 1..=5 {
        let failed = wrong_password(&platform, email, time).await;
        assert_problem(failed, 401).await;
    }
    let held_back = wrong_password(&platform, email, 6).await;
    assert!(held_back.headers().contains_key("retry-after"));
    let problem = assert_problem(held_back, 429).await;
    assert!(
        kind(&problem).ends_with("too-many-attempts"),
        "auth-service counted the failures as one client's: {problem}"
    );

    // The gateway's own sign-in limit (`10/1m@ip`) counts the real client too.
    for time in 7..=10 {
        let answer = wrong_password(&platform, "nobody@forwarded.test", time).await;
        assert_problem(answer, 401).await;
    }
    let limited = wrong_password(&platform, "nobody@forwarded.test", 11).await;
    let problem = assert_problem(limited, 429).await;
    assert!(
        kind(&problem).ends_with("rate-limited"),
        "the gateway's quota is the connection's: {problem}"
    );
}
