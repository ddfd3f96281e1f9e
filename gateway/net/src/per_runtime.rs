//! A value of each tokio runtime's own: [`PerRuntime::get`] answers the current runtime's,
//! made on its first use there.
//!
//! For what holds tasks or wakers of the runtime that uses it. A server runs a runtime per
//! serving thread (see [`crate::server`]); a connection driven by a task of one thread's
//! runtime, or a future awaited by requests of several threads, wakes the other thread at
//! every step, each wake-up a system call and a switch.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::runtime;

/// One `T` per runtime that has asked for one. Cloning shares them.
#[derive(Debug)]
pub struct PerRuntime<T> {
    /// A few entries: runtimes are per serving thread, and a test's runtime makes the value
    /// that holds this anew.
    values: Arc<Mutex<Vec<Owned<T>>>>,
}

type Owned<T> = (runtime::Id, Arc<T>);

impl<T> Clone for PerRuntime<T> {
    fn clone(&self) -> Self {
        Self {
            values: Arc::clone(&self.values),
        }
    }
}

impl<T> Default for PerRuntime<T> {
    fn default() -> Self {
        Self {
            values: Arc::default(),
        }
    }
}

impl<T: Default> PerRuntime<T> {
    /// The current runtime's value. Panics outside a runtime, as `tokio::spawn` does.
    pub fn get(&self) -> Arc<T> {
        let runtime = runtime::Handle::current().id();
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, value)) = values.iter().find(|(id, _)| *id == runtime) {
            return Arc::clone(value);
        }
        let value = Arc::new(T::default());
        values.push((runtime, Arc::clone(&value)));
        value
    }
}

impl<T> PerRuntime<T> {
    /// How many runtimes have one.
    pub fn count(&self) -> usize {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn on_a_new_runtime<R>(work: impl Future<Output = R>) -> R {
        runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(work)
    }

    #[test]
    fn a_runtime_keeps_its_value_and_another_runtime_gets_its_own() {
        let values = PerRuntime::<AtomicU32>::default();
        on_a_new_runtime(async {
            values.get().fetch_add(1, Ordering::Relaxed);
            assert_eq!(values.get().fetch_add(1, Ordering::Relaxed), 1);
        });
        let shared = values.clone();
        let other = std::thread::spawn(move || {
            on_a_new_runtime(async { shared.get().load(Ordering::Relaxed) })
        });
        assert_eq!(other.join().expect("the thread ran"), 0);
        assert_eq!(values.count(), 2);
    }
}
