//! Boxing a future where it is made.
//!
//! `Box::pin(future)` builds the future on the stack, then copies all of it into the heap:
//! every byte of its largest state, however little of it the first state uses. A request's
//! future is kilobytes (each `async fn` it awaits nests its own state inside), so that copy
//! was a measurable share of the gateway's time per request. Allocating first and building
//! the future in the allocation lets the compiler write its few captured fields there and
//! nothing else. The language does not promise that; optimised builds do it (a profile of
//! the gateway under load shows the copy gone), and at worst it is `Box::pin` again.

use std::{future::Future, pin::Pin};

/// The future `make` builds, built in its heap allocation rather than moved into it.
pub fn in_place<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    let slot = Box::<F>::new_uninit();
    Box::into_pin(Box::write(slot, make()))
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use super::*;

    #[tokio::test]
    async fn the_boxed_future_runs_only_when_awaited_and_gives_its_output() {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let boxed = in_place(move || async move {
            flag.store(true, Ordering::SeqCst);
            41 + 1
        });
        assert!(!ran.load(Ordering::SeqCst), "built, not yet polled");
        assert_eq!(boxed.await, 42);
        assert!(ran.load(Ordering::SeqCst));
    }
}
