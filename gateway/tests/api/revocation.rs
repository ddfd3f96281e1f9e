//! Revoked sessions, announced on the broker, are refused by every gateway sharing a Redis:
//! the one that took the message, the others through the channel, and those started later
//! through the list they load; each only until the tokens would have expired anyway.

use std::time::Duration;

use chrono::Utc;
use messaging::{
    Envelope,
    contracts::{SessionsRevoked, event},
    testing::TestBroker,
    topology::Exchange,
};
use redis::AsyncCommands;
use shared::{
    auth::Role,
    testing::{TcpProxy, TestIssuer, assert_problem},
};
use uuid::Uuid;

use crate::helpers::{GatewayBuilder, Scripted, unique_prefix};

/// Gateways in front of one order-service, sharing a Redis key prefix and a broker namespace.
struct Fleet {
    issuer: TestIssuer,
    orders: Scripted,
    broker: TestBroker,
    redis_prefix: String,
}

impl Fleet {
    async fn new() -> Self {
        Self {
            issuer: TestIssuer::start().await,
            orders: Scripted::start().await,
            broker: TestBroker::new(),
            redis_prefix: unique_prefix(),
        }
    }

    async fn gateway(&self) -> String {
        GatewayBuilder::new(&self.issuer)
            .backend("order", &self.orders.url)
            .arg("--cache", "false")
            .arg("--rate-limit", "false")
            .arg("--redis-key-prefix", &self.redis_prefix)
            .arg("--amqp-url", &self.broker.url)
            .arg("--amqp-prefix", &self.broker.prefix)
            .spawn()
            .await
    }

    /// A token of a new session, and the session.
    fn token(&self) -> (String, Uuid) {
        let sid = Uuid::now_v7();
        let token = self
            .issuer
            .token_of_session(Uuid::now_v7(), sid, &[Role::Customer], 900);
        (token, sid)
    }

    /// Announces `sid` revoked, its tokens living `seconds` longer, as auth-service does.
    async fn revoke(&self, sid: Uuid, seconds: i64) {
        let revoked = SessionsRevoked {
            user_id: Uuid::now_v7(),
            session_ids: vec![sid],
            why: "logout".into(),
            expires_at: Utc::now() + chrono::Duration::seconds(seconds),
        };
        let envelope = Envelope {
            id: Uuid::now_v7(),
            kind: event::SESSION_REVOKED.into(),
            occurred_at: Utc::now(),
            aggregate_id: revoked.user_id.to_string(),
            payload: serde_json::to_value(&revoked).expect("a payload"),
        };
        self.broker.send(Exchange::DomainEvents, &envelope).await;
    }

    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open("redis://127.0.0.1:6379").expect("a URL");
        client
            .get_multiplexed_async_connection()
            .await
            .expect("redis")
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let pattern = format!("{}:*", self.redis_prefix);
        shared::testing::run_to_end(async move {
            let client = redis::Client::open("redis://127.0.0.1:6379").ok()?;
            let mut connection = client.get_multiplexed_async_connection().await.ok()?;
            let keys: Vec<String> = connection.keys(&pattern).await.ok()?;
            if !keys.is_empty() {
                let _: () = connection.del(keys).await.ok()?;
            }
            Some(())
        });
    }
}

async fn status_of(gateway: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{gateway}/orders"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

/// Waits, up to a generous deadline, until `gateway` answers `token` with `status`.
async fn until_status(gateway: &str, token: &str, status: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while status_of(gateway, token).await != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{gateway} never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn assert_revoked_answer(gateway: &str, token: &str) {
    let response = reqwest::Client::new()
        .get(format!("{gateway}/orders"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let body = assert_problem(response, 401).await;
    assert_eq!(body["type"], "/problems/token-revoked", "{body}");
}

#[tokio::test]
async fn a_revocation_is_refused_by_every_running_gateway_and_one_started_later() {
    let fleet = Fleet::new().await;
    let (first, second) = (fleet.gateway().await, fleet.gateway().await);
    let (token, sid) = fleet.token();
    let (other, _) = fleet.token();
    assert_eq!(status_of(&first, &token).await, 200);
    assert_eq!(status_of(&second, &token).await, 200);

    fleet.revoke(sid, 900).await;
    until_status(&first, &token, 401).await;
    until_status(&second, &token, 401).await;
    assert_revoked_answer(&first, &token).await;
    assert_revoked_answer(&second, &token).await;
    let calls = fleet.orders.calls();

    let later = fleet.gateway().await;
    assert_eq!(
        status_of(&later, &token).await,
        401,
        "refused from the first request"
    );
    assert_eq!(
        fleet.orders.calls(),
        calls,
        "no refused request reached the backend"
    );
    assert_eq!(status_of(&later, &other).await, 200, "other sessions go on");
}

#[tokio::test]
async fn a_revocation_lasts_until_the_tokens_would_have_expired_and_no_longer() {
    let fleet = Fleet::new().await;
    let gateway = fleet.gateway().await;
    let (token, sid) = fleet.token();
    assert_eq!(status_of(&gateway, &token).await, 200);
    // Tokens that lived five seconds more: refused for those, and the ten seconds of clock
    // skew the verifier tolerates.
    fleet.revoke(sid, 5).await;
    until_status(&gateway, &token, 401).await;
    let key = format!("{}:revoked:{sid}", fleet.redis_prefix);
    let ttl: i64 = fleet.redis().await.pttl(&key).await.expect("a TTL");
    assert!(
        (0..=15_000).contains(&ttl),
        "the shared entry expires with the tokens: {ttl}"
    );
    until_status(&gateway, &token, 200).await;
    let left: bool = fleet.redis().await.exists(&key).await.expect("exists");
    assert!(!left, "gone from Redis too");
}

#[tokio::test]
async fn without_a_broker_the_gateway_serves_on_and_catches_up_when_it_comes() {
    let fleet = Fleet::new().await;
    let cut_off = GatewayBuilder::new(&fleet.issuer)
        .backend("order", &fleet.orders.url)
        .arg("--cache", "false")
        .arg("--redis-key-prefix", &fleet.redis_prefix)
        .arg("--amqp-url", "amqp://guest:guest@127.0.0.1:1/%2f")
        .spawn()
        .await;
    let (token, sid) = fleet.token();
    assert_eq!(
        status_of(&cut_off, &token).await,
        200,
        "serves without the broker"
    );
    // Another gateway takes the revocation off the queue; this one hears of it in Redis.
    let connected = fleet.gateway().await;
    fleet.revoke(sid, 900).await;
    until_status(&connected, &token, 401).await;
    until_status(&cut_off, &token, 401).await;
}

#[tokio::test]
async fn with_redis_cut_the_gateway_refuses_what_it_takes_and_shares_it_once_redis_is_back() {
    let fleet = Fleet::new().await;
    let redis = TcpProxy::start("127.0.0.1:6379".parse().expect("an address")).await;
    let through_proxy = format!("redis://127.0.0.1:{}", redis.port());
    let gateway = GatewayBuilder::new(&fleet.issuer)
        .backend("order", &fleet.orders.url)
        .arg("--cache", "false")
        .arg("--rate-limit", "false")
        .arg("--redis-url", &through_proxy)
        .arg("--redis-key-prefix", &fleet.redis_prefix)
        .arg("--amqp-url", &fleet.broker.url)
        .arg("--amqp-prefix", &fleet.broker.prefix)
        .spawn()
        .await;
    let (token, sid) = fleet.token();
    assert_eq!(status_of(&gateway, &token).await, 200);

    redis.cut();
    fleet.revoke(sid, 900).await;
    until_status(&gateway, &token, 401).await;
    let key = format!("{}:revoked:{sid}", fleet.redis_prefix);
    let written: bool = fleet.redis().await.exists(&key).await.expect("exists");
    assert!(!written, "Redis was cut: nothing could be written yet");

    redis.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !fleet
        .redis()
        .await
        .exists::<_, bool>(&key)
        .await
        .expect("exists")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the revocation never reached Redis"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let later = fleet.gateway().await;
    assert_eq!(
        status_of(&later, &token).await,
        401,
        "a gateway started afterwards knows it from Redis"
    );
}
