//! At rest: no saga under way, every outbox sent, every queue empty, twice in a row a
//! second apart; or the time allowed is over.

use std::time::{Duration, Instant};

use lapin::options::QueueDeclareOptions;
use messaging::topology::QUEUES;
use sqlx::PgPool;

use crate::platform::Platform;

/// What is still moving, or nothing.
async fn moving(platform: &Platform) -> Option<String> {
    for shard in &platform.shards {
        let pool = Platform::pool(shard).await;
        let active: i64 = scalar(
            &pool,
            "SELECT count(*) FROM sagas WHERE state IN ('running', 'compensating', 'cancelling')",
        )
        .await;
        let unsent = unsent(&pool).await;
        pool.close().await;
        if active + unsent > 0 {
            return Some(format!(
                "{active} sagas under way, {unsent} messages unsent on a shard"
            ));
        }
    }
    for database in [&platform.payments, &platform.delivery, &platform.tracking] {
        let pool = Platform::pool(database).await;
        let unsent = unsent(&pool).await;
        pool.close().await;
        if unsent > 0 {
            return Some(format!("{unsent} messages unsent"));
        }
    }
    let topology = platform.broker.topology();
    let mut queues = Vec::new();
    for queue in &QUEUES {
        queues.push(topology.queue(queue));
        for delay in &platform.broker.delays.0 {
            queues.push(topology.retry_queue(queue, *delay));
        }
    }
    let (_connection, channel) = platform.broker.channel().await;
    for name in queues {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        match channel
            .queue_declare(&name, passive, Default::default())
            .await
        {
            Ok(declared) if declared.message_count() > 0 => {
                return Some(format!(
                    "{} messages waiting in {name}",
                    declared.message_count()
                ));
            }
            Ok(_) => {}
            // Every delay queue exists once its consumer has started: a moment to wait.
            Err(_) => return Some(format!("{name} is not declared yet")),
        }
    }
    None
}

async fn unsent(pool: &PgPool) -> i64 {
    scalar(
        pool,
        // Read through JSON, so that a build without the column is judged too.
        "SELECT count(*) FROM outbox o WHERE published_at IS NULL AND (to_jsonb(o) ->> 'set_aside_at') IS NULL",
    )
    .await
}

async fn scalar(pool: &PgPool, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(pool)
        .await
        .unwrap_or(i64::MAX)
}

/// Waits up to `limit` for the platform to be at rest; what still moved if it did not.
pub async fn settle(platform: &Platform, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let mut quiet = 0;
    loop {
        match moving(platform).await {
            None => quiet += 1,
            Some(what) if started.elapsed() >= limit => return Err(what),
            Some(_) => quiet = 0,
        }
        if quiet >= 2 {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
