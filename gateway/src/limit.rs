//! The concurrency limit: requests in flight are counted, and one over the limit is refused
//! at once rather than queued.
//!
//! A counter rather than tokio's `Semaphore`, which also serves waiters and so takes a lock
//! on every release: here nobody waits, and the limit costs two atomic operations.

use std::sync::atomic::{AtomicU32, Ordering};

/// At most `max` requests at once.
#[derive(Debug)]
pub struct InFlight {
    count: AtomicU32,
    max: u32,
}

/// One admitted request; dropping it makes room for the next.
#[derive(Debug)]
pub struct Slot<'a>(&'a AtomicU32);

impl InFlight {
    /// A limit of `max` requests at once.
    pub fn new(max: u32) -> Self {
        Self {
            count: AtomicU32::new(0),
            max,
        }
    }

    /// A slot, or `None` when `max` requests are already in flight.
    pub fn try_enter(&self) -> Option<Slot<'_>> {
        self.count
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |count| {
                (count < self.max).then_some(count + 1)
            })
            .ok()
            .map(|_| Slot(&self.count))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_over_the_limit_are_refused_until_one_leaves() {
        let limit = InFlight::new(2);
        let first = limit.try_enter().expect("room for one");
        let _second = limit.try_enter().expect("room for two");
        assert!(limit.try_enter().is_none(), "a third is over the limit");
        drop(first);
        assert!(limit.try_enter().is_some(), "room again once one has left");
    }
}
