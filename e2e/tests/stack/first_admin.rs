//! The first administrator through the gateway, as compose starts it: a generated password
//! changed at the first sign-in, then a second factor before the admin role is the token's.

use serde_json::{Value, json};

use crate::platform::{ADMIN_EMAIL, Options, PASSWORD, Platform};

/// The generated password auth-service printed once, from its whole log (next to where
/// the harness puts every binary's).
fn generated_password(platform: &mut Platform) -> String {
    let port = platform.backend("auth-service").port;
    let exe = std::env::current_exe().expect("the test's own path");
    let target = exe
        .ancestors()
        .find(|dir| dir.ends_with("deps"))
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .expect("target/<profile>/deps");
    let log = std::fs::read_to_string(target.join(format!("tmp/e2e-auth-service-{port}.log")))
        .expect("auth-service's log");
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("generated password `"))
        .collect();
    assert_eq!(lines.len(), 1, "printed once:\n{log}");
    let (_, rest) = lines[0].split_once("generated password `").expect("a line");
    rest.split_once('`').expect("quoted").0.to_owned()
}

async fn sign_in(platform: &Platform, body: &Value) -> (u16, Value, Option<String>) {
    let response = reqwest::Client::new()
        .post(platform.url("/auth/login"))
        .json(body)
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (status, response.json().await.expect("json"), cache)
}

#[tokio::test]
async fn the_generated_administrator_password_is_changed_at_the_first_sign_in() {
    let mut platform = Platform::start(Options {
        extra: vec![
            ("auth-service", "ADMIN_PASSWORD", String::new()),
            ("auth-service", "ADMIN_MFA_REQUIRED", "true".into()),
        ],
        ..Options::default()
    })
    .await;
    let generated = generated_password(&mut platform);

    let (status, problem, _) = sign_in(
        &platform,
        &json!({"email": ADMIN_EMAIL, "password": generated}),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|kind| kind.ends_with("password-change-required")),
        "{problem}"
    );

    let (status, tokens, cache) = sign_in(
        &platform,
        &json!({"email": ADMIN_EMAIL, "password": generated, "new_password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        cache.as_deref(),
        Some("no-store"),
        "through the gateway too"
    );
    assert_eq!(tokens["required_actions"], json!(["mfa_enrolment"]));
    let token = tokens["access_token"].as_str().expect("a token");
    let (status, _) = platform
        .post("/auth/admin/keys/rotate", Some(token), &json!({}))
        .await;
    assert_eq!(status, 403, "no admin route before a second factor");
    let (status, me) = platform.get("/auth/me", token).await;
    assert_eq!(status, 200);
    assert_eq!(me["roles"], json!(["admin", "customer"]));
    assert_eq!(me["required_actions"], json!(["mfa_enrolment"]));
}
