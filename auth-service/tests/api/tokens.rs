use serde_json::{Value, json};

use crate::helpers::{PASSWORD, access, assert_problem, spawn_app, spawn_app_with};

async fn refresh(app: &crate::helpers::TestApp, token: &Value) -> reqwest::Response {
    app.post_json("/auth/refresh", &json!({"refresh_token": token}))
        .await
}

#[tokio::test]
async fn a_refresh_token_gives_new_tokens_once() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let response = refresh(&app, &tokens["refresh_token"]).await;
    assert_eq!(response.status().as_u16(), 200);
    let renewed: Value = response.json().await.expect("json");
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"]);
    assert_eq!(renewed["session_id"], tokens["session_id"]);
    assert_eq!(
        app.get_with("/auth/me", access(&renewed))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_session_and_is_audited() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let renewed: Value = refresh(&app, &tokens["refresh_token"])
        .await
        .json()
        .await
        .expect("json");

    assert_problem(refresh(&app, &tokens["refresh_token"]).await, 401).await;

    assert_problem(refresh(&app, &renewed["refresh_token"]).await, 401).await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE revoked_why = 'refresh_token_reuse'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM login_audit WHERE outcome = 'refresh_token_reuse'")
            .await,
        1
    );
    assert_problem(app.get_with("/auth/me", access(&renewed)).await, 401).await;
}

#[tokio::test]
async fn logging_out_stops_the_refresh_token_at_once() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let out = app
        .client
        .post(app.url("/auth/logout"))
        .bearer_auth(access(&tokens))
        .send()
        .await
        .expect("sent");
    assert_eq!(out.status().as_u16(), 204);
    assert_problem(refresh(&app, &tokens["refresh_token"]).await, 401).await;
    assert_problem(app.get_with("/auth/me", access(&tokens)).await, 401).await;
}

#[tokio::test]
async fn i_see_my_sessions_and_revoke_another_one() {
    let app = spawn_app().await;
    let first = app.signed_in("ada@example.com").await;
    let second: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let sessions: Value = app
        .get_with("/auth/sessions", access(&second))
        .await
        .json()
        .await
        .expect("json");
    let sessions = sessions.as_array().expect("a list");
    assert_eq!(sessions.len(), 2);
    let current: Vec<&Value> = sessions
        .iter()
        .filter(|session| session["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], second["session_id"]);

    let first_session = first["session_id"].as_str().expect("an id");
    let revoked = app
        .client
        .delete(app.url(&format!("/auth/sessions/{first_session}")))
        .bearer_auth(access(&second))
        .send()
        .await
        .expect("sent");
    assert_eq!(revoked.status().as_u16(), 204);
    assert_problem(refresh(&app, &first["refresh_token"]).await, 401).await;
    assert_eq!(
        app.get_with("/auth/me", access(&second))
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn someone_elses_session_is_not_found() {
    let app = spawn_app().await;
    let ada = app.signed_in("ada@example.com").await;
    let bob = app.signed_in("bob@example.com").await;
    let ada_session = ada["session_id"].as_str().expect("an id");
    let response = app
        .client
        .delete(app.url(&format!("/auth/sessions/{ada_session}")))
        .bearer_auth(access(&bob))
        .send()
        .await
        .expect("sent");
    assert_problem(response, 404).await;
    assert_eq!(
        refresh(&app, &ada["refresh_token"]).await.status().as_u16(),
        200
    );
}

#[tokio::test]
async fn an_unknown_refresh_token_is_refused() {
    let app = spawn_app().await;
    assert_problem(refresh(&app, &json!("not-a-token")).await, 401).await;
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_only_this_session() {
    let app = spawn_app().await;
    let here = app.signed_in("ada@example.com").await;
    let mut others = Vec::new();
    for _ in 0..2 {
        let response = app.login("ada@example.com", PASSWORD).await;
        others.push(response.json::<Value>().await.expect("json"));
    }
    let response = app
        .client
        .delete(app.url("/auth/sessions"))
        .bearer_auth(access(&here))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 204);
    for other in &others {
        assert_problem(app.get_with("/auth/me", access(other)).await, 401).await;
        assert_problem(refresh(&app, &other["refresh_token"]).await, 401).await;
    }
    assert_eq!(
        refresh(&app, &here["refresh_token"])
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_session_ends_at_its_lifetime_however_often_it_is_refreshed() {
    let app = spawn_app_with(&["--session-lifetime", "2s"]).await;
    let first = app.signed_in("ada@example.com").await;
    let response = refresh(&app, &first["refresh_token"]).await;
    assert_eq!(response.status().as_u16(), 200);
    let second: Value = response.json().await.expect("json");
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_problem(refresh(&app, &second["refresh_token"]).await, 401).await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE revoked_why = 'lifetime_reached'")
            .await,
        1
    );
}
