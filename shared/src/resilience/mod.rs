//! Calling another service without being taken down by it: a circuit breaker per target and
//! retries with exponential backoff and full jitter. Hand-written because the breaker's
//! states and numbers are part of the platform's visible behaviour (its dashboard and
//! metrics), which tower's generic layers do not expose.

mod breaker;
mod retry;

pub use breaker::{Breaker, BreakerConfig, BreakerOpen, BreakerSnapshot, BreakerState, Permit};
pub use retry::{Attempt, RetryPolicy};
