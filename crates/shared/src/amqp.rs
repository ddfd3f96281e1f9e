//! RabbitMQ: a connection kept open by a supervisor task that reconnects with backoff.

use std::{
    sync::{Arc, RwLock, Weak},
    time::Duration,
};

use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Notify;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// A RabbitMQ connection that comes back after the broker does. Cloning shares it.
#[derive(Clone)]
pub struct Amqp {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    name: String,
    connection: RwLock<Option<Arc<Connection>>>,
}

/// Why no channel could be opened.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    /// The broker is not connected at the moment.
    #[error("the broker is not connected")]
    NotConnected,
    /// The broker refused or dropped the channel.
    #[error(transparent)]
    Lapin(#[from] lapin::Error),
}

impl Amqp {
    /// Starts connecting to `url` in the background, naming the connection `name` in the
    /// broker's management UI. Returns at once: a broker that is down does not stop start-up.
    pub fn start(url: &str, name: &str) -> Self {
        let inner = Arc::new(Inner {
            url: url.to_owned(),
            name: name.to_owned(),
            connection: RwLock::new(None),
        });
        tokio::spawn(supervise(Arc::downgrade(&inner)));
        Self { inner }
    }

    /// A fresh channel on the current connection.
    pub async fn channel(&self) -> Result<Channel, AmqpError> {
        let connection = self.current().ok_or(AmqpError::NotConnected)?;
        Ok(connection.create_channel().await?)
    }

    /// Readiness: the connection is open.
    pub async fn check(&self) -> Result<(), String> {
        match self.current() {
            Some(connection) if connection.status().connected() => Ok(()),
            _ => Err("unreachable".into()),
        }
    }

    fn current(&self) -> Option<Arc<Connection>> {
        self.inner
            .connection
            .read()
            .ok()
            .and_then(|guard| guard.clone())
    }
}

/// Connects, waits for the connection to fail, and connects again, until every `Amqp`
/// handle has been dropped.
async fn supervise(inner: Weak<Inner>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let properties = ConnectionProperties::default()
            .with_connection_name(strong.name.clone().into())
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        match Connection::connect(&strong.url, properties).await {
            Ok(connection) => {
                let lost = Arc::new(Notify::new());
                let notify = lost.clone();
                connection.on_error(move |err| {
                    tracing::warn!(error = %err, "RabbitMQ connection lost");
                    notify.notify_one();
                });
                set(&strong, Some(Arc::new(connection)));
                tracing::info!(connection = %strong.name, "connected to RabbitMQ");
                backoff = FIRST_BACKOFF;
                drop(strong);
                lost.notified().await;
                let Some(strong) = inner.upgrade() else {
                    return;
                };
                set(&strong, None);
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in = ?backoff, "cannot connect to RabbitMQ");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn set(inner: &Inner, connection: Option<Arc<Connection>>) {
    if let Ok(mut guard) = inner.connection.write() {
        *guard = connection;
    }
}

impl std::fmt::Debug for Amqp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Amqp")
            .field("name", &self.inner.name)
            .field("connected", &self.current().is_some())
            .finish_non_exhaustive()
    }
}
