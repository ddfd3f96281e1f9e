//! The transactional outbox: a message is a row written in the same transaction as the state
//! change it announces, so that a committed change is never left unannounced and an
//! announced change is never rolled back. The relay publishes the rows afterwards.

use std::{collections::HashMap, sync::Arc};

use serde::Serialize;
use sqlx::{PgConnection, PgPool, types::Json};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{envelope::Message, trace};

/// One database's outbox: where messages are written and the relay that sends them is woken.
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: PgPool,
    label: Arc<str>,
    wake: Arc<Notify>,
}

impl Outbox {
    /// The outbox table of the database `pool` reaches, named `label` in metrics and logs
    /// (`payments`, `shard-a`).
    pub fn new(pool: PgPool, label: &str) -> Self {
        Self {
            pool,
            label: label.into(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The database the outbox lives in, where the state it announces lives too.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Its name in metrics and logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// To call after committing a transaction that enqueued messages: the relay looks at
    /// once instead of at its next poll. Before the commit it would find nothing yet.
    pub fn committed(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// Writes `message` into the outbox within the caller's transaction, with the current
/// trace context; returns its id. `clock_timestamp()` rather than the transaction's start
/// orders it after whatever the transaction locked first, so one aggregate's messages
/// leave in the order of its changes.
pub async fn enqueue<P: Serialize>(
    connection: &mut PgConnection,
    message: &Message<P>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    let headers: HashMap<String, String> = trace::current_headers();
    sqlx::query(
        "INSERT INTO outbox (id, exchange, routing_key, message_type, aggregate_id, payload, headers, occurred_at)
         VALUES ($1, $2, $3, $3, $4, $5, $6, clock_timestamp())",
    )
    .bind(id)
    .bind(message.exchange.name())
    .bind(message.kind)
    .bind(&message.aggregate_id)
    .bind(Json(&message.payload))
    .bind(Json(&headers))
    .execute(connection)
    .await?;
    Ok(id)
}
