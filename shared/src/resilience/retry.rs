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
        let retryable = &retryable;
        self.run_attempts(|_, _| {
            let call = call();
            async move {
                match call.await {
                    Err(err) if retryable(&err) => Attempt::Again {
                        outcome: Err(err),
                        after: Duration::ZERO,
                    },
                    outcome => Attempt::Done(outcome),
                }
            }
        })
        .await
    }

    /// The loop under every retry: runs `attempt(n, last)` (`n` from 0, `last` when no
    /// attempt may follow) until it is done or the attempts run out, waiting between two the
    /// larger of a backoff and what the attempt asked for. The attempt judges its own
    /// outcome, so that a caller with more to weigh (a retry budget, a breaker, a server's
    /// `Retry-After`) shares the loop instead of writing its own.
    pub async fn run_attempts<T, F, Fut>(&self, mut attempt: F) -> T
    where
        F: FnMut(u32, bool) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let mut done = 0;
        loop {
            let last = done + 1 >= self.max_attempts;
            match attempt(done, last).await {
                Attempt::Done(outcome) => return outcome,
                Attempt::Again { outcome, .. } if last => return outcome,
                Attempt::Again { outcome, after } => {
                    drop(outcome);
                    tokio::time::sleep(self.backoff(done).max(after)).await;
                    done += 1;
                }
            }
        }
    }
}

/// What one attempt came to, as its caller judges it.
#[derive(Debug)]
pub enum Attempt<T> {
    /// The outcome to return, a success or a failure not worth another attempt.
    Done(T),
    /// A failure worth another attempt, no sooner than `after`; returned as it is when no
    /// attempt is left.
    Again {
        /// What this attempt came to.
        outcome: T,
        /// The least wait before the next (what the other side asked for, or zero).
        after: Duration,
    },
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

    #[tokio::test(start_paused = true)]
    async fn an_attempt_may_ask_for_a_longer_wait_and_stop_the_loop_itself() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(10),
        };
        let started = tokio::time::Instant::now();
        let mut seen = Vec::new();
        let outcome = policy
            .run_attempts(|attempt, last| {
                seen.push((attempt, last));
                async move {
                    if attempt == 2 {
                        Attempt::Done("given up")
                    } else {
                        Attempt::Again {
                            outcome: "busy",
                            after: Duration::from_secs(1),
                        }
                    }
                }
            })
            .await;
        assert_eq!(outcome, "given up");
        assert_eq!(seen, [(0, false), (1, false), (2, false)]);
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "waited what was asked"
        );

        let mut attempts = 0;
        let outcome = policy
            .run_attempts(|_, _| {
                attempts += 1;
                async {
                    Attempt::Again {
                        outcome: "busy",
                        after: Duration::ZERO,
                    }
                }
            })
            .await;
        assert_eq!((outcome, attempts), ("busy", 4));
    }
}
