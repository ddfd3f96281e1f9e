//! The outbox relay: publishes a database's unsent outbox rows, oldest first, with publisher
//! confirms, and marks each sent once the broker has taken responsibility for it.
//!
//! One relay per database publishes at a time (a PostgreSQL advisory lock held on a
//! connection of its own elects it), so the order of the rows is the order on the wire and
//! one aggregate's messages leave in the order of its changes. Delivery is at least once: a
//! row the broker did not confirm is sent again, and the batch behind it with it, so
//! consumers deduplicate by message id. A row the broker keeps refusing (a nack, or a
//! command no queue takes) is set aside after a few tries, with a metric and an error log,
//! and the rows behind it go on.

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use lapin::options::ConfirmSelectOptions;
use sqlx::{Connection, PgConnection, types::Json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

mod publish;
mod upkeep;

use self::upkeep::housekeeping;
use crate::{connection::Amqp, outbox::Outbox, topology::Topology, worker::Backoff};

/// Rows published per round trip to the database.
const BATCH: i64 = 200;
/// Longest wait for new rows when nobody wakes the relay (rows written by another instance).
const POLL: Duration = Duration::from_millis(500);
/// How often a relay that is not the leader asks again.
const STANDBY_POLL: Duration = Duration::from_secs(2);
/// How often the backlog gauges are refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(1);
/// How often sent rows and old processed-message marks are removed (see `housekeeping`).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);
/// Longest wait for the broker to take a message or confirm it: past it the channel is
/// taken for lost and opened again, and the message sent again.
const BROKER_LIMIT: Duration = Duration::from_secs(5);
/// The advisory lock that elects one relay per database: "outbox" in ASCII.
const LEADER_LOCK: i64 = 0x6f75_7462_6f78;
/// Refusals by the broker after which a row is set aside, so that the rows behind it go on.
const SET_ASIDE_AFTER: i32 = 5;

/// A relay for one outbox.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    pub outbox: Outbox,
    pub amqp: Amqp,
    pub topology: Topology,
    /// The publishing binary, as the messages' `app_id`.
    pub service: String,
}

/// Why a relay stopped leading.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker is not connected")]
    NotConnected,
    #[error("the broker refused message {0}")]
    Refused(Uuid),
    #[error("message {0} reached no queue")]
    Unroutable(Uuid),
    #[error("the broker did not answer a {0} in time")]
    Stalled(&'static str),
    #[error("the relay panicked")]
    Panicked,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: Uuid,
    exchange: String,
    message_type: String,
    aggregate_id: String,
    payload: Json<serde_json::Value>,
    headers: Json<HashMap<String, String>>,
    occurred_at: DateTime<Utc>,
}

impl Relay {
    /// Relays until `stop` is cancelled, then sends what is left (while the broker takes it)
    /// and returns.
    pub async fn run(self, stop: CancellationToken) {
        crate::metrics::describe();
        let mut backoff = Backoff::new();
        loop {
            // A bug must not stop the relay for good: every message behind it would wait.
            let led = AssertUnwindSafe(self.lead(&stop, &mut backoff))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(RelayError::Panicked));
            match led {
                Ok(()) => return,
                // Waiting for the connection's supervisor: it says when it connects.
                Err(RelayError::NotConnected) => {}
                Err(err) => {
                    metrics::counter!("outbox_relay_failures_total", "outbox" => self.outbox.label().to_owned())
                        .increment(1);
                    tracing::warn!(outbox = %self.outbox.label(), error = %err, "outbox relay interrupted");
                }
            }
            if stop.is_cancelled() || !backoff.wait(&stop).await {
                // Stopped between two attempts: one last pass while the broker is there,
                // so that what is in the outbox leaves now rather than at the next start.
                if self.amqp.check().await.is_ok() {
                    let last = AssertUnwindSafe(self.lead(&stop, &mut backoff));
                    let _ = last.catch_unwind().await;
                }
                return;
            }
        }
    }

    /// Waits to be the leader, then publishes until stopped (`Ok`) or until something fails.
    async fn lead(
        &self,
        stop: &CancellationToken,
        backoff: &mut Backoff,
    ) -> Result<(), RelayError> {
        let options = self.outbox.pool().connect_options();
        let mut connection = PgConnection::connect_with(&options).await?;
        loop {
            let leader: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_LOCK)
                .fetch_one(&mut connection)
                .await?;
            if leader {
                break;
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(STANDBY_POLL) => {}
            }
        }
        // The backlog is reported even while the broker is away: that is when it grows.
        self.gauges(&mut connection).await?;
        let channel = self.amqp.channel().await.map_err(|err| match err {
            crate::connection::AmqpError::NotConnected => RelayError::NotConnected,
            crate::connection::AmqpError::Lapin(err) => RelayError::Broker(err),
        })?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        self.topology.declare(&channel).await?;
        tracing::debug!(outbox = %self.outbox.label(), "outbox relay leading");
        let mut gauges_at: Option<Instant> = None;
        let mut housekeeping_at: Option<Instant> = None;
        // Confirmed rows are marked sent by the statement that fetches the next batch.
        let mut confirmed: Vec<Uuid> = Vec::new();
        loop {
            // One statement sees the table as it was before its own update: the rows it
            // marks are left out of the batch by their ids.
            let rows: Vec<Row> = sqlx::query_as(
                "WITH marked AS (UPDATE outbox SET published_at = now() WHERE id = ANY($2))
                 SELECT id, exchange, message_type, aggregate_id, payload, headers, occurred_at FROM outbox
                 WHERE published_at IS NULL AND set_aside_at IS NULL AND id <> ALL($2)
                 ORDER BY occurred_at, id LIMIT $1",
            )
            .bind(BATCH)
            .bind(&confirmed)
            .fetch_all(&mut connection)
            .await?;
            confirmed.clear();
            if gauges_at.is_none_or(|at| at.elapsed() >= GAUGE_EVERY) {
                self.gauges(&mut connection).await?;
                gauges_at = Some(Instant::now());
            }
            if rows.is_empty() {
                if stop.is_cancelled() {
                    let _ = connection.close().await;
                    let closing = channel.close(200, "relay stopped");
                    let _ = tokio::time::timeout(BROKER_LIMIT, closing).await;
                    return Ok(());
                }
                if housekeeping_at.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_EVERY) {
                    housekeeping(&mut connection).await?;
                    housekeeping_at = Some(Instant::now());
                }
                tokio::select! {
                    () = self.outbox.woken() => {}
                    () = tokio::time::sleep(POLL) => {}
                    () = stop.cancelled() => {}
                }
                continue;
            }
            let (sent, failure) = self.publish(&channel, &rows).await;
            tracing::debug!(outbox = %self.outbox.label(), fetched = rows.len(), sent = sent.len(), "outbox rows relayed");
            if let Some(failure) = failure {
                if !sent.is_empty() {
                    sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
                        .bind(&sent)
                        .execute(&mut connection)
                        .await?;
                }
                if let Some(row) = rows.get(sent.len()) {
                    self.count_failure(&mut connection, row, &failure).await?;
                }
                return Err(failure);
            }
            confirmed = sent;
            backoff.reset();
            if rows.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                // Drained: what was committed meanwhile has woken the relay already.
                tokio::select! {
                    () = self.outbox.woken() => {}
                    () = tokio::time::sleep(POLL) => {}
                    () = stop.cancelled() => {}
                }
            }
        }
    }
}
