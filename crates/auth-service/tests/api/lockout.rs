use std::time::Duration;

use serde_json::Value;

use crate::helpers::{PASSWORD, access, assert_problem, spawn_app, spawn_app_with};

const WRONG: &str = "not the password!";

fn retry_after(body_response: &reqwest::Response) -> u64 {
    body_response.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds")
}

#[tokio::test]
async fn five_failures_lock_the_account_even_against_the_right_password() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    for _ in 0..5 {
        assert_problem(app.login("ada@example.com", WRONG).await, 401).await;
    }
    let locked = app.login("ada@example.com", PASSWORD).await;
    assert!(retry_after(&locked) >= 1);
    assert_problem(locked, 423).await;
}

#[tokio::test]
async fn the_lock_expires_and_each_lock_lasts_longer_than_the_last() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    for _ in 0..5 {
        app.login("ada@example.com", WRONG).await;
    }
    let first = retry_after(&app.login("ada@example.com", PASSWORD).await);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for _ in 0..5 {
        assert_problem(app.login("ada@example.com", WRONG).await, 401).await;
    }
    let second = retry_after(&app.login("ada@example.com", PASSWORD).await);
    assert!(
        second > first,
        "the second lock ({second} s) outlasts the first ({first} s)"
    );
    tokio::time::sleep(Duration::from_secs(second + 1)).await;
    assert_eq!(
        app.login("ada@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_success_resets_the_count() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    for _ in 0..4 {
        app.login("ada@example.com", WRONG).await;
    }
    assert_eq!(
        app.login("ada@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
    for _ in 0..4 {
        app.login("ada@example.com", WRONG).await;
    }
    assert_eq!(
        app.login("ada@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn too_many_failures_from_one_ip_get_429_whatever_the_account() {
    let app = spawn_app_with(&["--ip-failure-limit", "3"]).await;
    app.register("ada@example.com").await;
    for email in ["x@example.com", "y@example.com", "z@example.com"] {
        assert_problem(app.login(email, WRONG).await, 401).await;
    }
    let blocked = app.login("ada@example.com", PASSWORD).await;
    assert!(retry_after(&blocked) >= 1);
    assert_problem(blocked, 429).await;
}

#[tokio::test]
async fn a_client_that_is_no_trusted_proxy_cannot_pose_as_other_addresses() {
    let app = spawn_app_with(&["--ip-failure-limit", "3", "--trusted-proxies", "10.0.0.0/8"]).await;
    app.register("ada@example.com").await;
    for (n, email) in ["x@example.com", "y@example.com", "z@example.com"]
        .iter()
        .enumerate()
    {
        let forged = format!("203.0.113.{n}");
        assert_problem(app.login_from(&forged, email, WRONG).await, 401).await;
    }
    let blocked = app
        .login_from("203.0.113.99", "ada@example.com", PASSWORD)
        .await;
    assert_problem(blocked, 429).await;
}

#[tokio::test]
async fn the_gateway_s_forwarded_address_is_believed_so_clients_are_counted_apart() {
    // The test client stands where the gateway does: on loopback, trusted by default.
    let app = spawn_app_with(&["--ip-failure-limit", "3"]).await;
    app.register("ada@example.com").await;
    for email in ["x@example.com", "y@example.com", "z@example.com"] {
        assert_problem(app.login_from("203.0.113.1", email, WRONG).await, 401).await;
    }
    assert_problem(
        app.login_from("203.0.113.1", "ada@example.com", PASSWORD)
            .await,
        429,
    )
    .await;
    let other = app
        .login_from("203.0.113.2", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(
        other.status().as_u16(),
        200,
        "another client is not blocked"
    );
}

#[tokio::test]
async fn an_admin_unlocks_an_account_at_once() {
    let app = spawn_app_with(&[
        "--admin-email",
        "root@example.com",
        "--admin-password",
        PASSWORD,
    ])
    .await;
    let id = app.register("ada@example.com").await;
    for _ in 0..5 {
        app.login("ada@example.com", WRONG).await;
    }
    assert_problem(app.login("ada@example.com", PASSWORD).await, 423).await;
    let admin: Value = app
        .login("root@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let unlocked = app
        .client
        .post(app.url(&format!("/auth/admin/users/{id}/unlock")))
        .bearer_auth(access(&admin))
        .send()
        .await
        .expect("sent");
    assert_eq!(unlocked.status().as_u16(), 204);
    assert_eq!(
        app.login("ada@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        200
    );
}
