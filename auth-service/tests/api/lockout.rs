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
async fn five_failures_hold_that_client_back_from_the_account_and_no_one_else() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    for _ in 0..5 {
        assert_problem(
            app.login_from("203.0.113.1", "ada@example.com", WRONG)
                .await,
            401,
        )
        .await;
    }
    let held = app
        .login_from("203.0.113.1", "ada@example.com", PASSWORD)
        .await;
    assert!(retry_after(&held) >= 1);
    assert_problem(held, 429).await;
    let owner = app
        .login_from("198.51.100.7", "ada@example.com", PASSWORD)
        .await;
    assert_eq!(
        owner.status().as_u16(),
        200,
        "the owner, elsewhere, signs in"
    );
}

#[tokio::test]
async fn the_account_is_held_back_for_everyone_only_at_a_much_higher_count() {
    let app = spawn_app_with(&["--account-lockout-threshold", "8"]).await;
    app.register("ada@example.com").await;
    for n in 0..8 {
        let client = format!("203.0.113.{}", n / 2);
        assert_problem(app.login_from(&client, "ada@example.com", WRONG).await, 401).await;
    }
    let everyone = app
        .login_from("198.51.100.7", "ada@example.com", PASSWORD)
        .await;
    assert_problem(everyone, 429).await;
}

#[tokio::test]
async fn an_unknown_email_is_answered_exactly_as_a_known_one() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let mut answers = Vec::new();
    for email in ["ada@example.com", "nobody@example.com"] {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(app.login(email, WRONG).await.status().as_u16());
        }
        answers.push(statuses);
    }
    assert_eq!(answers[0], [401, 401, 401, 401, 401, 429]);
    assert_eq!(
        answers[0], answers[1],
        "the answers tell nothing of who has an account"
    );
}

#[tokio::test]
async fn a_held_back_client_tries_again_once_its_failures_leave_the_window() {
    let app = spawn_app_with(&["--lockout-window", "2s"]).await;
    app.register("ada@example.com").await;
    for _ in 0..5 {
        app.login("ada@example.com", WRONG).await;
    }
    let held = app.login("ada@example.com", PASSWORD).await;
    let wait = retry_after(&held);
    assert!((1..=2).contains(&wait), "{wait} s");
    tokio::time::sleep(Duration::from_millis(2100)).await;
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
    assert_problem(app.login("ada@example.com", PASSWORD).await, 429).await;
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
