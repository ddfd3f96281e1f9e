use std::net::SocketAddr;

use serde_json::Value;
use shared::testing::{TcpProxy, ready_until};

use crate::helpers::{shard_databases, shard_map, spawn_with_shards};

#[tokio::test]
async fn every_shard_is_migrated_and_ready_names_each() {
    let databases = shard_databases().await;
    let urls: Vec<String> = databases.iter().map(|db| db.url()).collect();
    let (address, _broker) = spawn_with_shards(&shard_map(&urls)).await;
    let (status, body) = ready_until(&address, |status| status == 200).await;
    assert_eq!(status, 200, "{body}");
    for shard in ["shard-a", "shard-b", "shard-c"] {
        assert_eq!(body["checks"][shard]["status"], "up", "{shard}");
    }
    for database in &databases {
        let pool = sqlx::PgPool::connect_with(database.options())
            .await
            .expect("connect");
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('outbox', 'processed_messages')",
        )
        .fetch_one(&pool)
        .await
        .expect("count tables");
        assert_eq!(tables, 2, "migrations ran on {}", database.url());
    }
}

#[tokio::test]
async fn a_shard_down_at_start_does_not_stop_the_service_and_ready_names_it() {
    let databases = shard_databases().await;
    let mut urls: Vec<String> = databases.iter().map(|db| db.url()).collect();
    urls[1] = "postgres://postgres@127.0.0.1:1/orders".to_owned();
    let (address, _broker) = spawn_with_shards(&shard_map(&urls)).await;
    let health = reqwest::get(format!("{address}/health"))
        .await
        .expect("sent");
    assert_eq!(health.status().as_u16(), 200);
    let (status, body) = ready_until(&address, |status| status == 503).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["shard-a"]["status"], "up");
    assert_eq!(body["checks"]["shard-b"]["status"], "down");
    assert_eq!(body["checks"]["shard-c"]["status"], "up");
}

#[tokio::test]
async fn a_shard_lost_while_running_is_reported_and_the_others_stay_up() {
    let databases = shard_databases().await;
    let mut urls: Vec<String> = databases.iter().map(|db| db.url()).collect();
    let options = databases[2].options();
    let target: SocketAddr = format!("{}:{}", options.get_host(), options.get_port())
        .parse()
        .expect("a socket address");
    let proxy = TcpProxy::start(target).await;
    urls[2] = urls[2].replace(
        &format!(":{}/", options.get_port()),
        &format!(":{}/", proxy.port()),
    );
    let (address, _broker) = spawn_with_shards(&shard_map(&urls)).await;
    let (status, _) = ready_until(&address, |status| status == 200).await;
    assert_eq!(status, 200);

    proxy.cut();

    let (status, body): (u16, Value) = ready_until(&address, |status| status == 503).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["shard-a"]["status"], "up");
    assert_eq!(body["checks"]["shard-b"]["status"], "up");
    assert_eq!(body["checks"]["shard-c"]["status"], "down");
    let health = reqwest::get(format!("{address}/orders/health"))
        .await
        .expect("sent");
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn a_shard_that_comes_back_is_ready_again() {
    let databases = shard_databases().await;
    let mut urls: Vec<String> = databases.iter().map(|db| db.url()).collect();
    let options = databases[0].options();
    let target: SocketAddr = format!("{}:{}", options.get_host(), options.get_port())
        .parse()
        .expect("a socket address");
    let proxy = TcpProxy::start(target).await;
    proxy.cut();
    urls[0] = urls[0].replace(
        &format!(":{}/", options.get_port()),
        &format!(":{}/", proxy.port()),
    );
    let (address, _broker) = spawn_with_shards(&shard_map(&urls)).await;
    let (status, body) = ready_until(&address, |status| status == 503).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["shard-a"]["status"], "down");

    proxy.restore();
    let (status, body) = ready_until_long(&address).await;
    assert_eq!(
        status, 200,
        "the shard is migrated and ready once it answers: {body}"
    );
}

/// Background migrations retry every few seconds, so this waits longer than `ready_until`.
async fn ready_until_long(address: &str) -> (u16, Value) {
    for _ in 0..3 {
        let (status, body) = ready_until(address, |status| status == 200).await;
        if status == 200 {
            return (status, body);
        }
    }
    ready_until(address, |status| status == 200).await
}
