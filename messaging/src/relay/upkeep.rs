//! The relay's upkeep: its backlog as gauges, and the removal of what is no longer needed.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Relay, RelayError, Row, SET_ASIDE_AFTER};
use crate::topology::QUEUES;

impl Relay {
    /// The backlog and the age of its oldest row, and the rows set aside, as gauges named
    /// after the outbox.
    pub(super) async fn gauges(&self, connection: &mut PgConnection) -> sqlx::Result<()> {
        let (pending, oldest, set_aside): (i64, Option<f64>, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE set_aside_at IS NULL),
                    EXTRACT(EPOCH FROM clock_timestamp() - min(occurred_at) FILTER (WHERE set_aside_at IS NULL))::float8,
                    count(*) FILTER (WHERE set_aside_at IS NOT NULL)
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(connection)
        .await?;
        let label = self.outbox.label().to_owned();
        #[allow(clippy::cast_precision_loss)] // a backlog never nears 2^52 rows
        {
            metrics::gauge!("outbox_messages_pending", "outbox" => label.clone())
                .set(pending as f64);
            metrics::gauge!("outbox_messages_set_aside", "outbox" => label.clone())
                .set(set_aside as f64);
        }
        metrics::gauge!("outbox_oldest_message_age_seconds", "outbox" => label)
            .set(oldest.unwrap_or(0.0).max(0.0));
        Ok(())
    }

    /// Counts the failure to send `row`; the broker's refusal of it counts towards setting
    /// it aside, a lost channel or a stall does not (the message is not at fault).
    pub(super) async fn count_failure(
        &self,
        connection: &mut PgConnection,
        row: &Row,
        failure: &RelayError,
    ) -> sqlx::Result<()> {
        let refused = matches!(failure, RelayError::Refused(_) | RelayError::Unroutable(_));
        let set_aside: bool = sqlx::query_scalar(
            "UPDATE outbox SET attempts = attempts + 1, refusals = refusals + $2::int, last_error = $3,
                 set_aside_at = CASE WHEN refusals + $2::int >= $4 THEN now() END
             WHERE id = $1 RETURNING set_aside_at IS NOT NULL",
        )
        .bind(row.id)
        .bind(i32::from(refused))
        .bind(failure.to_string())
        .bind(SET_ASIDE_AFTER)
        .fetch_one(connection)
        .await?;
        if set_aside {
            metrics::counter!("outbox_messages_set_aside_total", "outbox" => self.outbox.label().to_owned())
                .increment(1);
            tracing::error!(
                outbox = %self.outbox.label(), message = %row.id, kind = %row.message_type,
                error = %failure, "the broker keeps refusing a message: set aside, the rest go on"
            );
        }
        Ok(())
    }
}

/// How long sent rows are kept, for inspection.
const KEEP_SENT: Duration = Duration::from_secs(3600);
/// How long processed-message marks are kept: far longer than a redelivery takes (a
/// delivery whose acknowledgement was lost comes back as soon as its channel closes).
const KEEP_PROCESSED: Duration = Duration::from_secs(86_400);
/// Rows removed per statement, so that no removal holds locks for long.
const REMOVE_BATCH: i64 = 10_000;

/// Removes sent rows and old processed-message marks. Both are found by their ids, UUIDv7
/// and so ordered by time, through the primary keys: no scan of the tables however large.
pub(super) async fn housekeeping(connection: &mut PgConnection) -> sqlx::Result<()> {
    let sent_before = uuid_at(KEEP_SENT);
    loop {
        let removed = sqlx::query(
            "DELETE FROM outbox WHERE id IN
               (SELECT id FROM outbox WHERE id < $1 AND published_at IS NOT NULL LIMIT $2)",
        )
        .bind(sent_before)
        .bind(REMOVE_BATCH)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        if removed < u64::try_from(REMOVE_BATCH).unwrap_or(u64::MAX) {
            break;
        }
    }
    let consumers: Vec<&str> = QUEUES.iter().map(|queue| queue.name).collect();
    sqlx::query("DELETE FROM processed_messages WHERE consumer = ANY($1) AND message_id < $2")
        .bind(&consumers)
        .bind(uuid_at(KEEP_PROCESSED))
        .execute(connection)
        .await
        .map(drop)
}

/// A UUIDv7 of `ago` ago: every id made before then sorts below it.
fn uuid_at(ago: Duration) -> Uuid {
    let then = Utc::now() - chrono::Duration::from_std(ago).unwrap_or(chrono::Duration::zero());
    let seconds = u64::try_from(then.timestamp()).unwrap_or_default();
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        seconds,
        then.timestamp_subsec_nanos(),
    ))
}
