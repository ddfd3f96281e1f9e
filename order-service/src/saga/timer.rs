//! The saga's clock: an attempt that outlives its deadline counts as unanswered. Also the
//! source of the sagas' gauges.

use std::time::{Duration, Instant};

use messaging::Amqp;
use tokio_util::sync::CancellationToken;

use super::{
    machine::Outcome,
    orchestrator::{self, SagaPolicy},
    store,
};
use crate::{shards::Shard, store as orders};

/// Sagas handled per transaction.
const BATCH: i64 = 100;
/// How often the sagas are counted for the gauges.
const GAUGE_EVERY: Duration = Duration::from_secs(5);

/// Watches `shard`'s deadlines until `stop` is cancelled. Several instances share the work:
/// each saga is taken by one of them. While the broker is away the clock stops: no command
/// could leave nor any reply arrive, so silence then says nothing of the participants.
pub async fn watch(shard: Shard, policy: SagaPolicy, broker: Amqp, stop: CancellationToken) {
    let tick = (policy.step_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut counted: Option<Instant> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(tick) => {}
        }
        if broker.check().await.is_err() {
            continue;
        }
        loop {
            match expire(&shard, &policy).await {
                Ok(expired) if expired == BATCH as usize => continue,
                Ok(_) => break,
                Err(err) => {
                    tracing::debug!(shard = %shard.name, error = %err, "saga deadlines not checked");
                    break;
                }
            }
        }
        if counted.is_none_or(|at| at.elapsed() >= GAUGE_EVERY) {
            counted = Some(Instant::now());
            if let Err(err) = count(&shard).await {
                tracing::debug!(shard = %shard.name, error = %err, "sagas not counted");
            }
        }
    }
}

/// Times out what is due, in one transaction; returns how many.
async fn expire(shard: &Shard, policy: &SagaPolicy) -> sqlx::Result<usize> {
    let mut tx = shard.database.pool().begin().await?;
    let due = store::due(&mut tx, BATCH).await?;
    for row in &due {
        let Some(order) = orders::lock(&mut tx, row.order_id).await? else {
            continue;
        };
        metrics::counter!("saga_step_timeouts_total", "step" => row.step.clone()).increment(1);
        orchestrator::advance(&mut tx, &order, row, &Outcome::TimedOut, None, policy).await?;
    }
    tx.commit().await?;
    if !due.is_empty() {
        shard.outbox.committed();
    }
    Ok(due.len())
}

async fn count(shard: &Shard) -> sqlx::Result<()> {
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.state, count(x.state) FROM unnest(ARRAY['running', 'compensating', 'cancelling', 'failed']) AS s(state)
         LEFT JOIN sagas x ON x.state = s.state GROUP BY s.state",
    )
    .fetch_all(shard.database.pool())
    .await?;
    for (state, count) in counts {
        #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
        metrics::gauge!("sagas_unfinished", "state" => state, "shard" => shard.name.clone())
            .set(count as f64);
    }
    Ok(())
}
