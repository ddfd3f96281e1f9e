use std::{future::Future, time::Duration};

use rand::Rng;

/// Exponential backoff with full jitter (each wait uniform in `[0, min(cap, base * 2^n)]`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff's ceiling.
    pub base: Duration,
    /// The largest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the wait after failed attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2_u32.saturating_pow(attempt.min(20));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random wait in `[0, ceiling(attempt)]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
    }

    /// Runs `call` until it succeeds, fails with an error `retryable` rejects, or the attempts
    /// run out; waits a backoff between attempts.
    pub async fn run<T, E, F, Fut>(
        &self,
        mut call: F,
        retryable: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(err) if attempt + 1 < self.max_attempts && retryable(&err) => {
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap_and_waits_stay_below_them() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(500),
        };
        assert_eq!(policy.ceiling(0), Duration::from_millis(100));
        assert_eq!(policy.ceiling(2), Duration::from_millis(400));
        assert_eq!(policy.ceiling(3), Duration::from_millis(500));
        assert_eq!(policy.ceiling(60), Duration::from_millis(500));
        for attempt in 0..6 {
            assert!(policy.backoff(attempt) <= policy.ceiling(attempt));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn it_retries_retryable_errors_until_success_or_the_last_attempt() {
        let policy = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let result: Result<u32, &str> = policy
            .run(
                || async {
                    if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                        Err("busy")
                    } else {
                        Ok(7)
                    }
                },
                |_| true,
            )
            .await;
        assert_eq!((result, calls.load(Ordering::SeqCst)), (Ok(7), 3));

        let calls = AtomicU32::new(0);
        let result: Result<u32, &str> = policy
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("down")
                },
                |_| true,
            )
            .await;
        assert_eq!((result, calls.load(Ordering::SeqCst)), (Err("down"), 3));

        let calls = AtomicU32::new(0);
        let result: Result<u32, &str> = policy
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("bad request")
                },
                |_| false,
            )
            .await;
        assert_eq!(
            (result, calls.load(Ordering::SeqCst)),
            (Err("bad request"), 1)
        );
    }
}
