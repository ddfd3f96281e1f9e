//! The outbox relay: publishes a database's unsent outbox rows, oldest first, with publisher
//! confirms, and marks each sent once the broker has taken responsibility for it.
//!
//! One relay per database publishes at a time (a PostgreSQL advisory lock held on a
//! connection of its own elects it), so the order of the rows is the order on the wire and
//! one aggregate's messages leave in the order of its changes. Delivery is at least once: a
//! row the broker did not confirm is sent again, and the batch behind it with it, so
//! consumers deduplicate by message id.

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use lapin::{
    BasicProperties, Channel,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    publisher_confirm::Confirmation,
    types::FieldTable,
};
use sqlx::{Connection, PgConnection, types::Json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    connection::Amqp,
    envelope::Envelope,
    outbox::Outbox,
    topology::{Exchange, QUEUES, Topology},
    trace,
    worker::Backoff,
};

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
        loop {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT id, exchange, message_type, aggregate_id, payload, headers, occurred_at FROM outbox
                 WHERE published_at IS NULL ORDER BY occurred_at, id LIMIT $1",
            )
            .bind(BATCH)
            .fetch_all(&mut connection)
            .await?;
            if gauges_at.is_none_or(|at| at.elapsed() >= GAUGE_EVERY) {
                self.gauges(&mut connection).await?;
                gauges_at = Some(Instant::now());
            }
            if rows.is_empty() {
                if stop.is_cancelled() {
                    let _ = connection.close().await;
                    let _ = channel.close(200, "relay stopped").await;
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
            if !sent.is_empty() {
                sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
                    .bind(&sent)
                    .execute(&mut connection)
                    .await?;
            }
            if let Some(failure) = failure {
                if let Some(row) = rows.get(sent.len()) {
                    sqlx::query("UPDATE outbox SET attempts = attempts + 1 WHERE id = $1")
                        .bind(row.id)
                        .execute(&mut connection)
                        .await?;
                }
                return Err(failure);
            }
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

    /// Publishes `rows` in order without waiting between them, then waits for the broker's
    /// confirms in order; returns the ids of the confirmed prefix, and why it ends early.
    async fn publish(&self, channel: &Channel, rows: &[Row]) -> (Vec<Uuid>, Option<RelayError>) {
        let mut confirms = Vec::with_capacity(rows.len());
        let mut failure = None;
        for row in rows {
            match tokio::time::timeout(BROKER_LIMIT, self.send(channel, row)).await {
                Ok(Ok(confirm)) => confirms.push(confirm),
                Ok(Err(err)) => {
                    failure = Some(err.into());
                    break;
                }
                Err(_) => {
                    failure = Some(RelayError::Stalled("publish"));
                    break;
                }
            }
        }
        let mut sent = Vec::with_capacity(confirms.len());
        for (row, confirm) in rows.iter().zip(confirms) {
            let refused = match tokio::time::timeout(BROKER_LIMIT, confirm).await {
                Ok(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => None,
                Ok(Ok(Confirmation::Ack(Some(_)))) => Some(RelayError::Unroutable(row.id)),
                Ok(Ok(Confirmation::Nack(_))) => Some(RelayError::Refused(row.id)),
                Ok(Err(err)) => Some(RelayError::Broker(err)),
                Err(_) => Some(RelayError::Stalled("confirm")),
            };
            if let Some(refused) = refused {
                failure = Some(refused);
                break;
            }
            let delay = (Utc::now() - row.occurred_at).to_std().unwrap_or_default();
            metrics::histogram!("outbox_relay_delay_seconds", "outbox" => self.outbox.label().to_owned())
                .record(delay.as_secs_f64());
            metrics::counter!("messages_published_total", "exchange" => row.exchange.clone(), "type" => row.message_type.clone())
                .increment(1);
            sent.push(row.id);
        }
        (sent, failure)
    }

    async fn send(
        &self,
        channel: &Channel,
        row: &Row,
    ) -> lapin::Result<lapin::publisher_confirm::PublisherConfirm> {
        let span = tracing::info_span!(
            "publish",
            otel.kind = "producer",
            messaging.system = "rabbitmq",
            messaging.destination.name = %row.exchange,
            messaging.message.type = %row.message_type,
            messaging.message.id = %row.id,
        );
        trace::adopt(&span, &row.headers.0);
        let mut headers = FieldTable::default();
        trace::into_amqp(&mut headers, &span.in_scope(trace::current_headers));
        let envelope = Envelope {
            id: row.id,
            kind: row.message_type.clone(),
            occurred_at: row.occurred_at,
            aggregate_id: row.aggregate_id.clone(),
            payload: row.payload.0.clone(),
        };
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        let properties = BasicProperties::default()
            .with_message_id(row.id.to_string().into())
            .with_type(row.message_type.as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_timestamp(u64::try_from(row.occurred_at.timestamp()).unwrap_or_default())
            .with_app_id(self.service.as_str().into())
            .with_headers(headers);
        let mandatory = Exchange::parse(&row.exchange).is_none_or(Exchange::must_route);
        let exchange = format!("{}{}", self.topology.prefix(), row.exchange);
        channel
            .basic_publish(
                &exchange,
                &row.message_type,
                BasicPublishOptions {
                    mandatory,
                    ..BasicPublishOptions::default()
                },
                &body,
                properties,
            )
            .await
    }

    async fn gauges(&self, connection: &mut PgConnection) -> sqlx::Result<()> {
        let (pending, oldest): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), EXTRACT(EPOCH FROM clock_timestamp() - min(occurred_at))::float8
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(connection)
        .await?;
        let label = self.outbox.label().to_owned();
        #[allow(clippy::cast_precision_loss)] // a backlog never nears 2^52 rows
        metrics::gauge!("outbox_messages_pending", "outbox" => label.clone()).set(pending as f64);
        metrics::gauge!("outbox_oldest_message_age_seconds", "outbox" => label)
            .set(oldest.unwrap_or(0.0).max(0.0));
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
async fn housekeeping(connection: &mut PgConnection) -> sqlx::Result<()> {
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
