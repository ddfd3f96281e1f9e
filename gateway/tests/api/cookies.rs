//! The gateway's cookies: `Secure` and `__Host-` named unless `COOKIE_SECURE=false`, and an
//! anonymous caller's cookie of the old name still read, so that they keep their variant.

use serde_json::json;
use shared::{auth::Role, testing::TestIssuer};
use uuid::Uuid;

use crate::{
    experiments::{Lab, by_version, variant_of},
    helpers::GatewayBuilder,
};

fn set_cookie(response: &reqwest::Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .to_owned()
}

fn assert_host_prefixed(cookie: &str, name: &str) {
    assert!(cookie.starts_with(&format!("__Host-{name}=")), "{cookie}");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for needed in ["Secure", "Path=/", "HttpOnly"] {
        assert!(attributes.contains(&needed), "{needed}: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
}

#[tokio::test]
async fn an_anonymous_callers_cookie_is_host_prefixed_and_secure() {
    let lab = Lab::new().await;
    lab.start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    let first = lab
        .client
        .get(format!("{}/restaurants", lab.gateway))
        .send()
        .await
        .expect("sent");
    let cookie = set_cookie(&first);
    assert_host_prefixed(&cookie, "fd_subject");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn the_old_cookie_keeps_its_holder_in_the_same_variant_under_the_new_name() {
    let lab = Lab::new().await;
    lab.start(json!({"name": "menu-v2", "route": "/restaurants", "variants": by_version()}))
        .await;
    for _ in 0..10 {
        let id = Uuid::new_v4();
        let view = |cookie: String| {
            lab.client
                .get(format!("{}/restaurants", lab.gateway))
                .header("cookie", cookie)
                .send()
        };
        let current = view(format!("__Host-fd_subject={id}")).await.expect("sent");
        assert!(!current.headers().contains_key("set-cookie"));
        let old = view(format!("fd_subject={id}")).await.expect("sent");
        assert_eq!(variant_of(&old), variant_of(&current));
        let renamed = set_cookie(&old);
        assert_host_prefixed(&renamed, "fd_subject");
        assert!(
            renamed.starts_with(&format!("__Host-fd_subject={id};")),
            "{renamed}"
        );
    }
}

#[tokio::test]
async fn without_cookie_secure_the_cookies_keep_their_plain_names() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .arg("--cookie-secure", "false")
        .spawn()
        .await;
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let client = reqwest::Client::new();
    let session = client
        .post(format!("{gateway}/dashboard/session"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent");
    let cookie = set_cookie(&session);
    assert!(
        cookie.starts_with(&format!("fd_dashboard={admin}; Path=/dashboard;")),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    let stream = client
        .get(format!("{gateway}/dashboard/events"))
        .header("cookie", format!("fd_dashboard={admin}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(stream.status(), 200);
}

#[tokio::test]
async fn the_dashboard_reads_only_the_host_prefixed_cookie_when_secure() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let admin = issuer.token(Uuid::now_v7(), &[Role::Admin]);
    let client = reqwest::Client::new();
    let session = client
        .post(format!("{gateway}/dashboard/session"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent");
    assert_host_prefixed(&set_cookie(&session), "fd_dashboard");
    let plain = client
        .get(format!("{gateway}/dashboard/events"))
        .header("cookie", format!("fd_dashboard={admin}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(plain.status(), 401);
    let out = client
        .delete(format!("{gateway}/dashboard/session"))
        .send()
        .await
        .expect("sent");
    let dropped = set_cookie(&out);
    assert_host_prefixed(&dropped, "fd_dashboard");
    assert!(dropped.contains("Max-Age=0"), "{dropped}");
}

#[tokio::test]
async fn the_gateway_s_own_cookies_never_reach_a_backend() {
    let issuer = TestIssuer::start().await;
    let restaurants = crate::helpers::spawn_upstream("/restaurants").await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants)
        .arg("--cache", "false")
        .spawn()
        .await;
    let echoed = crate::helpers::json_of(
        reqwest::Client::new()
            .get(format!("{gateway}/restaurants/echo"))
            .header(
                "cookie",
                "theme=dark; __Host-fd_dashboard=an-admin-token; __Host-fd_subject=x; fd_subject=y",
            ),
    )
    .await;
    assert_eq!(echoed["headers"]["cookie"], "theme=dark", "{echoed}");
}
