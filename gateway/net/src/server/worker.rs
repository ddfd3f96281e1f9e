//! The serving threads: each but the first on a runtime of its own, serving what the
//! first hands it; all stopping when told, or when the server is gone.

use std::{future::Future, time::Duration};

use shared::server::StartupError;
use tokio::sync::{mpsc, oneshot, watch};

use super::{
    accept::{self, Handed, Listeners},
    connections::Serve,
    connections::Share,
};

/// One serving thread.
pub(super) struct Worker<S> {
    pub share: Share<S>,
    pub stopping: watch::Receiver<bool>,
    pub shutdown_timeout: Duration,
}

impl<S: Serve> Worker<S> {
    /// Serves what it is `handed` on a thread of its own; the receiver tells when it has
    /// stopped.
    pub fn spawn(
        self,
        handed: mpsc::UnboundedReceiver<Handed>,
    ) -> std::io::Result<oneshot::Receiver<()>> {
        let (done_tx, done_rx) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(format!("worker-{}", self.share.index))
            .spawn(move || {
                let stopping = self.stopping.clone();
                let shutdown_timeout = self.shutdown_timeout;
                let stop = stop_of(self.stopping);
                runtime.block_on(within_shutdown_timeout(
                    accept::serve_handed(handed, self.share, stop),
                    stopping,
                    shutdown_timeout,
                ));
                let _ = done_tx.send(());
            })?;
        Ok(done_rx)
    }

    /// Accepts on `listeners` and serves its share, until told to stop (or until the
    /// server's future is gone).
    pub async fn accept(
        self,
        listener: Listeners,
        hand_to: Vec<mpsc::UnboundedSender<Handed>>,
    ) -> Result<(), StartupError> {
        let stop = stop_of(self.stopping.clone());
        let serve = accept::accept_connections(listener, self.share, hand_to, stop);
        within_shutdown_timeout(serve, self.stopping, self.shutdown_timeout)
            .await
            .unwrap_or(Ok(()))
            .map_err(StartupError::from)
    }
}

/// Completes once `stopping` says so, or once its sender is gone.
async fn stop_of(mut stopping: watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
}

/// `serve`, cut short when in-flight requests have not finished within `timeout` after
/// `stopping` said to stop: `None` then.
async fn within_shutdown_timeout<T>(
    serve: impl Future<Output = T>,
    mut stopping: watch::Receiver<bool>,
    timeout: Duration,
) -> Option<T> {
    let deadline = async {
        let _ = stopping.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(timeout).await;
    };
    tokio::select! {
        served = serve => Some(served),
        () = deadline => {
            tracing::warn!(?timeout, "in-flight requests did not finish in time; stopping anyway");
            None
        }
    }
}
