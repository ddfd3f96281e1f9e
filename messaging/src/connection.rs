//! The broker connection: kept open by a supervisor task that reconnects with backoff, so
//! that every worker asks it for a fresh channel after a cut instead of dialling itself.

use std::{
    sync::{
        Arc, RwLock, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;
use lapin::{Channel, Connection, ConnectionProperties};
use shared::health::HealthCheck;
use tokio::sync::Notify;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(15);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the supervisor looks at the connection's state besides its error callback.
const STATUS_EVERY: Duration = Duration::from_millis(500);

/// A RabbitMQ connection that comes back after the broker does. Cloning shares it.
#[derive(Clone)]
pub struct Amqp {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    name: String,
    connection: RwLock<Option<Arc<Connection>>>,
    /// Set by `close`: the supervisor connects no more.
    closed: AtomicBool,
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
            closed: AtomicBool::new(false),
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

    /// Closes the connection with the broker's handshake and connects no more: for the end
    /// of `main`, while the runtime still runs the connection's I/O (left to the runtime's
    /// shutdown, the connection fails there and reports it as an error).
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let connection = self
            .inner
            .connection
            .write()
            .ok()
            .and_then(|mut guard| guard.take());
        let Some(connection) = connection else {
            return;
        };
        let closing = async {
            connection.close(200, "shutting down").await?;
            // The connection's I/O thread still finishes with the socket after the broker's
            // acknowledgement: wait for it (on a thread of its own, since that wait blocks),
            // so that the runtime does not go away under it.
            if let Ok(connection) = Arc::try_unwrap(connection) {
                let (done_tx, done_rx) = tokio::sync::oneshot::channel();
                std::thread::spawn(move || {
                    let _ = done_tx.send(connection.run());
                });
                let _ = done_rx.await;
            }
            Ok::<_, lapin::Error>(())
        };
        match tokio::time::timeout(CLOSE_TIMEOUT, closing).await {
            Ok(Ok(())) => {
                tracing::debug!(connection = %self.inner.name, "RabbitMQ connection closed")
            }
            Ok(Err(err)) => tracing::debug!(error = %err, "RabbitMQ connection closed uncleanly"),
            Err(_) => tracing::debug!("the RabbitMQ connection did not close in time"),
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
        let Some(strong) = still_wanted(&inner) else {
            return;
        };
        match Connection::connect(&strong.url, properties(&strong.name)).await {
            Ok(connection) if strong.closed.load(Ordering::Acquire) => {
                // Closed while this connection was being made.
                let _ = connection.close(200, "shutting down").await;
                return;
            }
            Ok(connection) => {
                let lost = Arc::new(Notify::new());
                let notify = lost.clone();
                connection.on_error(move |err| {
                    tracing::warn!(error = %err, "RabbitMQ connection lost");
                    notify.notify_one();
                });
                let connection = Arc::new(connection);
                set(&strong, Some(connection.clone()));
                tracing::info!(connection = %strong.name, "connected to RabbitMQ");
                backoff = FIRST_BACKOFF;
                drop(strong);
                until_lost(&connection, &lost).await;
                drop(connection);
                let Some(strong) = still_wanted(&inner) else {
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

/// Returns once `connection` has failed. Its error callback says so at once, but only for
/// an error after the callback was set: one between the handshake and `on_error` would
/// never be heard, and the dead connection kept for good, so its state is also looked at.
async fn until_lost(connection: &Connection, lost: &Notify) {
    while connection.status().connected() {
        tokio::select! {
            () = lost.notified() => return,
            () = tokio::time::sleep(STATUS_EVERY) => {}
        }
    }
}

/// A connection named `name` in the broker's management UI, its I/O on the tokio runtime.
pub(crate) fn properties(name: &str) -> ConnectionProperties {
    ConnectionProperties::default()
        .with_connection_name(name.into())
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
}

/// The connection's state while some `Amqp` handle remains and none has closed it.
fn still_wanted(inner: &Weak<Inner>) -> Option<Arc<Inner>> {
    inner
        .upgrade()
        .filter(|inner| !inner.closed.load(Ordering::Acquire))
}

fn set(inner: &Inner, connection: Option<Arc<Connection>>) {
    if let Ok(mut guard) = inner.connection.write() {
        *guard = connection;
    }
}

impl HealthCheck for Amqp {
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(Amqp::check(self))
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn a_closed_connection_is_not_made_again() {
        let amqp = Amqp::start(&crate::testing::amqp_url(), "amqp-close-test");
        let deadline = Instant::now() + Duration::from_secs(10);
        while amqp.check().await.is_err() {
            assert!(Instant::now() < deadline, "never connected to the broker");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        amqp.close().await;
        assert!(amqp.check().await.is_err());
        assert!(matches!(amqp.channel().await, Err(AmqpError::NotConnected)));
        tokio::time::sleep(FIRST_BACKOFF * 4).await;
        assert!(
            amqp.check().await.is_err(),
            "the supervisor connected again after the close"
        );
    }

    #[tokio::test]
    async fn a_connection_lost_before_anyone_listened_is_still_seen_lost() {
        let (connection, proxy) = crate::testing::connect_through_proxy().await;
        proxy.cut();
        let deadline = Instant::now() + Duration::from_secs(10);
        while connection.status().connected() {
            assert!(Instant::now() < deadline, "the cut was never noticed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Nobody will ever notify: the error came before anyone listened.
        tokio::time::timeout(STATUS_EVERY * 4, until_lost(&connection, &Notify::new()))
            .await
            .expect("the loss is seen without its callback");
    }

    #[tokio::test]
    async fn closing_while_the_broker_is_unreachable_returns_at_once() {
        let amqp = Amqp::start(
            "amqp://guest:guest@127.0.0.1:1/%2f",
            "amqp-unreachable-test",
        );
        tokio::time::sleep(FIRST_BACKOFF).await;
        tokio::time::timeout(Duration::from_millis(500), amqp.close())
            .await
            .expect("close does not wait for a broker that is not there");
        assert!(amqp.check().await.is_err());
    }
}
