//! Deadlines of in-flight work: the request timeout, and each backend call's wait for its
//! answer. `within(at, future)` is `tokio::time::timeout_at(at, future)` at a fraction of
//! the cost.
//!
//! Hand-written because a tokio timer per deadline is the wrong shape for these: every one
//! takes the time driver's lock to register and again to cancel, and whenever the thread
//! had gone idle with no timer pending, registering one writes to the driver's wake-up
//! descriptor, a system call per request. These deadlines are many, seconds away and almost
//! always cancelled. So each thread keeps its deadlines in a table, and one task per table,
//! on one tokio timer, sleeps until the earliest of them. Deadlines registered later are
//! almost always later (each timeout is the same length), so that timer rarely moves.

use std::{
    cell::RefCell,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use slab::Slab;
use tokio::{runtime, time::Instant};

/// The deadline passed before the work was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline passed")]
pub struct Elapsed;

/// `future`, unless `at` passes first.
pub fn within<F: Future>(at: Instant, future: F) -> Within<F> {
    Within {
        future,
        at,
        entry: None,
    }
}

pin_project_lite::pin_project! {
    /// The future [`within`] returns. It registers its deadline when first polled, and
    /// removes it when dropped.
    #[derive(Debug)]
    pub struct Within<F> {
        #[pin]
        future: F,
        at: Instant,
        entry: Option<Entry>,
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match this.entry {
            None => *this.entry = Some(Entry::register(*this.at, cx.waker())),
            Some(entry) if entry.has_passed(cx.waker()) => return Poll::Ready(Err(Elapsed)),
            Some(_) => {}
        }
        Poll::Pending
    }
}

thread_local! {
    /// This thread's deadlines, and the runtime whose task watches them. Shared behind an
    /// `Arc`, so that a future moved to another thread (on a multi-threaded runtime) still
    /// finds its own.
    static TABLE: RefCell<Option<(runtime::Id, Arc<Table>)>> = const { RefCell::new(None) };
}

/// The table of this thread and of the current runtime: a thread may drive a second runtime
/// while the first, whose task watches the table it had, is not being driven.
fn current_table() -> Arc<Table> {
    let runtime = runtime::Handle::current().id();
    TABLE.with_borrow_mut(|table| match table {
        Some((id, table)) if *id == runtime => Arc::clone(table),
        _ => Arc::clone(&table.insert((runtime, Arc::default())).1),
    })
}

#[derive(Debug, Default)]
struct Table(Mutex<Deadlines>);

#[derive(Debug, Default)]
struct Deadlines {
    pending: Slab<Waiting>,
    /// When the watching task's timer fires; `None` while it waits with no timer.
    armed_for: Option<Instant>,
    /// The watching task, while it waits.
    watcher: Option<Waker>,
    /// Whether a task watches this table (it ends with its runtime).
    watched: bool,
}

#[derive(Debug)]
struct Waiting {
    at: Instant,
    waker: Waker,
    passed: bool,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, Deadlines> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One registered deadline.
#[derive(Debug)]
struct Entry {
    table: Arc<Table>,
    key: usize,
}

impl Entry {
    fn register(at: Instant, waker: &Waker) -> Self {
        let table = current_table();
        let mut deadlines = table.lock();
        let key = deadlines.pending.insert(Waiting {
            at,
            waker: waker.clone(),
            passed: false,
        });
        let start_watching = !deadlines.watched;
        deadlines.watched = true;
        let wake = if start_watching || deadlines.armed_for.is_some_and(|armed| armed <= at) {
            None
        } else {
            deadlines.watcher.take()
        };
        drop(deadlines);
        // Outside the lock: a task spawned on a runtime shutting down is dropped at once,
        // and its drop takes the lock.
        if start_watching {
            tokio::spawn(watch(Arc::clone(&table)));
        }
        if let Some(watcher) = wake {
            watcher.wake();
        }
        Self { table, key }
    }

    /// Whether the deadline has passed; if not, `waker` is the one to wake when it does.
    fn has_passed(&self, waker: &Waker) -> bool {
        let mut deadlines = self.table.lock();
        let Some(pending) = deadlines.pending.get_mut(self.key) else {
            return false;
        };
        if !pending.passed && !pending.waker.will_wake(waker) {
            pending.waker.clone_from(waker);
        }
        pending.passed
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.table.lock().pending.try_remove(self.key);
    }
}

/// Wakes the futures whose deadlines pass, sleeping until the earliest of the others.
async fn watch(table: Arc<Table>) {
    let _watching = Watching(Arc::clone(&table));
    let timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(timer);
    std::future::poll_fn(|cx| {
        loop {
            let now = Instant::now();
            let mut passed = Vec::new();
            let mut deadlines = table.lock();
            let mut earliest: Option<Instant> = None;
            for (_, pending) in deadlines.pending.iter_mut().filter(|(_, p)| !p.passed) {
                if pending.at <= now {
                    pending.passed = true;
                    passed.push(pending.waker.clone());
                } else {
                    earliest = Some(earliest.map_or(pending.at, |at| at.min(pending.at)));
                }
            }
            deadlines.armed_for = earliest;
            deadlines.watcher = Some(cx.waker().clone());
            drop(deadlines);
            passed.into_iter().for_each(Waker::wake);
            let Some(earliest) = earliest else {
                return Poll::<()>::Pending;
            };
            if timer.deadline() != earliest {
                timer.as_mut().reset(earliest);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    })
    .await;
}

/// Marks the table unwatched when its task ends, as it does when its runtime shuts down,
/// so that the next deadline registered starts another.
struct Watching(Arc<Table>);

impl Drop for Watching {
    fn drop(&mut self) {
        let mut deadlines = self.0.lock();
        deadlines.watched = false;
        deadlines.watcher = None;
        deadlines.armed_for = None;
    }
}

#[cfg(test)]
#[path = "deadline_tests.rs"]
mod tests;
