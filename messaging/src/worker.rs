//! What the long-running workers (relays and consumers) share: a growing pause after a
//! failure, cut short by shutdown.

use std::time::Duration;

use shared::resilience::RetryPolicy;
use tokio_util::sync::CancellationToken;

/// Full-jitter exponential backoff from 250 ms up to 10 s, reset by a success.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    failures: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Self {
            policy: RetryPolicy {
                max_attempts: u32::MAX,
                base: Duration::from_millis(250),
                cap: Duration::from_secs(10),
            },
            failures: 0,
        }
    }

    /// Forgets past failures.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Waits the next pause; `false` if `stop` came first.
    pub async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let pause = self.policy.backoff(self.failures);
        self.failures = self.failures.saturating_add(1);
        tokio::select! {
            () = stop.cancelled() => false,
            () = tokio::time::sleep(pause) => true,
        }
    }
}
