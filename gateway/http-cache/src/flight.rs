//! Single-flight: concurrent requests for one key share one lookup and one upstream call.
//! Hand-written (a map of shared futures) because the crates that offer it either pin old
//! runtimes or cannot hand every waiter the same `Arc`'d answer.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
};

use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};

type Flight<T> = Shared<BoxFuture<'static, Option<Arc<T>>>>;

/// Calls in flight, by key.
#[derive(Debug)]
pub struct Flights<T> {
    running: Arc<Mutex<HashMap<String, Flight<T>>>>,
}

impl<T> Default for Flights<T> {
    fn default() -> Self {
        Self {
            running: Arc::default(),
        }
    }
}

impl<T: Send + Sync + 'static> Flights<T> {
    /// Joins the flight for `key`, or starts it with `work`. The flight runs on its own task,
    /// so a leader whose client goes away does not cancel it for the others. `None` when the
    /// work did not finish (it panicked, or the runtime is stopping).
    pub async fn run<F>(&self, key: &str, work: F) -> Option<Arc<T>>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let flight = {
            let mut running = self.lock();
            if let Some(flight) = running.get(key) {
                flight.clone()
            } else {
                let map = self.running.clone();
                let owned_key = key.to_owned();
                let task = tokio::spawn(work);
                let flight = async move {
                    let result = task.await.ok().map(Arc::new);
                    map.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&owned_key);
                    result
                }
                .boxed()
                .shared();
                running.insert(key.to_owned(), flight.clone());
                flight
            }
        };
        flight.await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flight<T>>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicU32, Ordering},
        time::Duration,
    };

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_of_one_key_share_one_call() {
        let flights = Arc::new(Flights::<u32>::default());
        let calls = Arc::new(AtomicU32::new(0));
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let (flights, calls) = (flights.clone(), calls.clone());
                tokio::spawn(async move {
                    flights
                        .run("k", async move {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            calls.fetch_add(1, Ordering::SeqCst) + 7
                        })
                        .await
                })
            })
            .collect();
        for waiter in waiters {
            assert_eq!(waiter.await.expect("joined").as_deref(), Some(&7));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let again = flights.run("k", async { 8 }).await;
        assert_eq!(
            again.as_deref(),
            Some(&8),
            "a finished flight is not reused"
        );
    }
}
