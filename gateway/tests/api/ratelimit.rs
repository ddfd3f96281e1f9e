use std::net::SocketAddr;

use reqwest::{Client, Response};
use shared::{
    auth::Role,
    testing::{TcpProxy, TestIssuer, assert_problem},
};
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted, admin_url};

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("text").to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn past_the_routes_quota_requests_get_429_with_retry_after_and_every_answer_says_what_is_left()
 {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg("--rate-limits", "GET /restaurants/**=3/1m")
        .arg("--cache", "false")
        .spawn()
        .await;
    let client = Client::new();
    for remaining in ["2", "1", "0"] {
        let response = client
            .get(format!("{gateway}/restaurants"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(header(&response, "ratelimit-limit"), "3");
        assert_eq!(header(&response, "ratelimit-remaining"), remaining);
        assert!(
            header(&response, "ratelimit-reset")
                .parse::<u64>()
                .is_ok_and(|s| (1..=60).contains(&s))
        );
    }
    let refused = client
        .get(format!("{gateway}/restaurants"))
        .send()
        .await
        .expect("sent");
    let wait: u64 = header(&refused, "retry-after").parse().expect("seconds");
    assert!(
        (1..=20).contains(&wait),
        "one request's share of the minute: {wait}"
    );
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    let body = assert_problem(refused, 429).await;
    assert_eq!(body["type"], "/problems/rate-limited");
    assert_eq!(
        restaurants.calls(),
        3,
        "the refused request never reached the backend"
    );
}

#[tokio::test]
async fn authenticated_callers_have_a_quota_each_and_login_is_held_tighter_than_reads() {
    let issuer = TestIssuer::start().await;
    let orders = Scripted::start().await;
    let auth = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("order", &orders.url)
        .backend("auth", &auth.url)
        .spawn()
        .await;
    let client = Client::new();
    let (ada, bob) = (
        issuer.token(Uuid::now_v7(), &[Role::Customer]),
        issuer.token(Uuid::now_v7(), &[Role::Customer]),
    );
    let read = client
        .get(format!("{gateway}/orders"))
        .bearer_auth(&ada)
        .send()
        .await
        .expect("sent");
    assert_eq!(header(&read, "ratelimit-limit"), "1200");
    let login = client
        .post(format!("{gateway}/auth/login"))
        .send()
        .await
        .expect("sent");
    assert_eq!(header(&login, "ratelimit-limit"), "10");

    let custom = GatewayBuilder::new(&issuer)
        .backend("order", &orders.url)
        .arg("--rate-limits", "GET /orders/**=2/1m")
        .spawn()
        .await;
    for _ in 0..2 {
        let ok = client
            .get(format!("{custom}/orders"))
            .bearer_auth(&ada)
            .send()
            .await
            .expect("sent");
        assert_eq!(ok.status().as_u16(), 200);
    }
    let over = client
        .get(format!("{custom}/orders"))
        .bearer_auth(&ada)
        .send()
        .await
        .expect("sent");
    assert_eq!(over.status().as_u16(), 429);
    let other = client
        .get(format!("{custom}/orders"))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("sent");
    assert_eq!(other.status().as_u16(), 200, "Bob has his own quota");
}

#[tokio::test]
async fn with_redis_gone_the_cache_is_bypassed_the_limit_counted_in_process_and_nothing_fails() {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    let redis: SocketAddr = "127.0.0.1:6379".parse().expect("an address");
    let proxy = TcpProxy::start(redis).await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("restaurant", &restaurants.url)
        .arg(
            "--redis-url",
            &format!("redis://127.0.0.1:{}", proxy.port()),
        )
        .arg("--rate-limits", "GET /restaurants/**=4/1m")
        .spawn()
        .await;
    let client = Client::new();
    let warm = client
        .get(format!("{gateway}/restaurants/r1"))
        .send()
        .await
        .expect("sent");
    assert_eq!(header(&warm, "x-cache"), "MISS");

    proxy.cut();
    for _ in 0..4 {
        let response = client
            .get(format!("{gateway}/restaurants/r1"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(header(&response, "x-cache"), "BYPASS");
        assert!(!header(&response, "ratelimit-remaining").is_empty());
    }
    let limited = client
        .get(format!("{gateway}/restaurants/r1"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        limited.status().as_u16(),
        429,
        "the in-process limiter still counts"
    );
    let stats = client
        .get(format!("{}/stats/cache", admin_url(&gateway)))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        stats.status().as_u16(),
        200,
        "the panel answers without Redis"
    );
    assert_eq!(restaurants.calls(), 5);
    let purge = client
        .post(format!("{gateway}/admin/cache/purge"))
        .bearer_auth(issuer.token(Uuid::now_v7(), &[Role::Admin]))
        .json(&serde_json::json!({"prefix": "/restaurants/"}))
        .send()
        .await
        .expect("sent");
    let refused = assert_problem(purge, 503).await;
    assert!(
        refused.to_string().contains("cannot be reached"),
        "{refused}"
    );

    proxy.restore();
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_quota_and_otherwise_the_header_is_ignored()
 {
    let issuer = TestIssuer::start().await;
    let restaurants = Scripted::start().await;
    let gateway = |trusted: &str| {
        GatewayBuilder::new(&issuer)
            .backend("restaurant", &restaurants.url)
            .arg("--rate-limits", "GET /restaurants/**=1/1m")
            .arg("--cache", "false")
            .arg("--trusted-proxies", trusted)
            .spawn()
    };
    let client = Client::new();
    let status_for = |gateway: String, forwarded_for: &'static str| {
        let request = client
            .get(format!("{gateway}/restaurants"))
            .header("x-forwarded-for", forwarded_for);
        async move { request.send().await.expect("sent").status().as_u16() }
    };

    // The tests' connections come from 127.0.0.1: here that is the trusted proxy.
    let behind_proxy = gateway("127.0.0.0/8").await;
    assert_eq!(status_for(behind_proxy.clone(), "203.0.113.1").await, 200);
    assert_eq!(status_for(behind_proxy.clone(), "203.0.113.1").await, 429);
    assert_eq!(
        status_for(behind_proxy.clone(), "203.0.113.2").await,
        200,
        "another client behind the proxy has its own quota"
    );
    assert_eq!(
        status_for(behind_proxy, "198.51.100.7, 203.0.113.2").await,
        429,
        "the entry the proxy vouches for is the client, not a spoofable first one"
    );

    let exposed = gateway("").await;
    assert_eq!(status_for(exposed.clone(), "203.0.113.1").await, 200);
    assert_eq!(
        status_for(exposed, "203.0.113.2").await,
        429,
        "an untrusted peer cannot buy a fresh quota with a header"
    );
}

#[tokio::test]
async fn credential_endpoints_count_per_client_address_whatever_token_the_caller_holds() {
    let issuer = TestIssuer::start().await;
    let auth = Scripted::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .backend("auth", &auth.url)
        .arg("--rate-limits", "POST /auth/register=2/1m@ip, * /**=100/1m")
        .spawn()
        .await;
    let client = Client::new();
    let register = |token: String| {
        client
            .post(format!("{gateway}/auth/register"))
            .bearer_auth(token)
            .send()
    };
    for _ in 0..2 {
        let token = issuer.token(Uuid::now_v7(), &[Role::Customer]);
        assert_ne!(register(token).await.expect("sent").status().as_u16(), 429);
    }
    let fresh = issuer.token(Uuid::now_v7(), &[Role::Customer]);
    let refused = register(fresh).await.expect("sent");
    assert_eq!(
        refused.status().as_u16(),
        429,
        "a new token does not buy a new quota"
    );
    let anonymous = client
        .post(format!("{gateway}/auth/register"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        anonymous.status().as_u16(),
        429,
        "one quota for the address"
    );
}
