//! At auth-service a token acts only while its session is live and its holder's current
//! roles allow it; what an administrator may do is decided before the body is read.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, access, assert_problem, spawn_app, spawn_app_with};

async fn admin_app() -> (TestApp, Value) {
    let app = spawn_app_with(&[
        "--admin-email",
        "root@example.com",
        "--admin-password",
        PASSWORD,
    ])
    .await;
    let admin: Value = app
        .login("root@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    (app, admin)
}

async fn my_id(app: &TestApp, tokens: &Value) -> String {
    let me: Value = app
        .get_with("/auth/me", access(tokens))
        .await
        .json()
        .await
        .expect("json");
    me["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn a_revoked_session_s_token_is_refused_everywhere_at_auth_service() {
    let app = spawn_app().await;
    let stolen = app.signed_in("ada@example.com").await;
    let me = my_id(&app, &stolen).await;
    let logged_out = app
        .post_json_with("/auth/logout", access(&stolen), &json!({}))
        .await;
    assert_eq!(logged_out.status().as_u16(), 204);
    for (path, body) in [
        ("/auth/mfa/totp/setup", json!({"password": PASSWORD})),
        ("/auth/mfa/totp/confirm", json!({"code": "123456"})),
        (
            "/auth/authorize",
            json!({"subject": me, "permission": "orders:create"}),
        ),
    ] {
        let refused = app.post_json_with(path, access(&stolen), &body).await;
        let problem = assert_problem(refused, 401).await;
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|kind| kind.ends_with("session-ended")),
            "{path}: {problem}"
        );
    }
    assert_problem(app.get_with("/auth/sessions", access(&stolen)).await, 401).await;
    assert_problem(app.get_with("/auth/me", access(&stolen)).await, 401).await;
}

#[tokio::test]
async fn a_demoted_administrator_cannot_act_with_the_token_from_before() {
    let (app, root) = admin_app().await;
    let deputy_id = app.register("deputy@example.com").await;
    let granted = app
        .post_json_with(
            &format!("/auth/admin/users/{deputy_id}/roles"),
            access(&root),
            &json!({"role": "admin"}),
        )
        .await;
    assert_eq!(granted.status().as_u16(), 200);
    let deputy: Value = app
        .login("deputy@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let demoted = app
        .client
        .delete(app.url(&format!("/auth/admin/users/{deputy_id}/roles/admin")))
        .bearer_auth(access(&root))
        .send()
        .await
        .expect("sent");
    assert_eq!(demoted.status().as_u16(), 200);
    let victim = app.register("victim@example.com").await;
    let refused = app
        .post_json_with(
            &format!("/auth/admin/users/{victim}/roles"),
            access(&deputy),
            &json!({"role": "admin"}),
        )
        .await;
    // Taking the role away ended the deputy's sessions: the token is refused outright.
    assert_problem(refused, 401).await;
}

#[tokio::test]
async fn an_administrator_s_route_refuses_a_customer_before_judging_the_body() {
    let app = spawn_app().await;
    let customer = app.signed_in("ada@example.com").await;
    let target = app.register("bob@example.com").await;
    for body in [json!({"role": "emperor"}), json!({"nonsense": true})] {
        let refused = app
            .post_json_with(
                &format!("/auth/admin/users/{target}/roles"),
                access(&customer),
                &body,
            )
            .await;
        assert_problem(refused, 403).await;
    }
}

#[tokio::test]
async fn authorize_answers_about_the_caller_and_about_others_only_for_administrators() {
    let (app, root) = admin_app().await;
    let ada = app.signed_in("ada@example.com").await;
    let ada_id = my_id(&app, &ada).await;
    let root_id = my_id(&app, &root).await;
    let ask = |subject: &str| json!({"subject": subject, "permission": "users:manage"});
    let about_me = app
        .post_json_with("/auth/authorize", access(&ada), &ask(&ada_id))
        .await;
    assert_eq!(about_me.status().as_u16(), 200);
    let probing = app
        .post_json_with("/auth/authorize", access(&ada), &ask(&root_id))
        .await;
    assert_problem(probing, 403).await;
    let answered: Value = app
        .post_json_with("/auth/authorize", access(&root), &ask(&ada_id))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answered["allowed"], false);
}

#[tokio::test]
async fn enrolling_an_authenticator_asks_for_the_password_again() {
    let app = spawn_app().await;
    let tokens = app.signed_in("ada@example.com").await;
    let wrong = app
        .post_json_with(
            "/auth/mfa/totp/setup",
            access(&tokens),
            &json!({"password": "not the password at all"}),
        )
        .await;
    assert_problem(wrong, 403).await;
    let missing = app
        .post_json_with("/auth/mfa/totp/setup", access(&tokens), &json!({}))
        .await;
    let problem = assert_problem(missing, 422).await;
    assert!(problem.to_string().contains("password"), "{problem}");
    let right = app
        .post_json_with(
            "/auth/mfa/totp/setup",
            access(&tokens),
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(right.status().as_u16(), 200);
}
