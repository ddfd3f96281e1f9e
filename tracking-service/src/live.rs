//! Live updates of a delivery, bounded: a stream ends when its token expires (the client
//! comes back with a fresh one), when its viewer may no longer see the delivery (a courier
//! reassigned), or when nothing changed for a while; and one user holds a few at most.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::response::sse::Event as SseEvent;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

/// How many live streams each user holds at once.
#[derive(Debug, Clone)]
pub struct StreamSlots {
    held: Arc<Mutex<HashMap<Uuid, usize>>>,
    per_user: usize,
}

/// One user's hold on a stream, given back when the stream is dropped.
#[derive(Debug)]
pub struct Slot {
    held: Arc<Mutex<HashMap<Uuid, usize>>>,
    user: Uuid,
}

impl StreamSlots {
    /// At most `per_user` streams per user.
    pub fn new(per_user: usize) -> Self {
        Self {
            held: Arc::default(),
            per_user,
        }
    }

    /// A slot for `user`, if they hold fewer than the most.
    pub fn take(&self, user: Uuid) -> Option<Slot> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = held.entry(user).or_default();
        if *count >= self.per_user {
            return None;
        }
        *count += 1;
        Some(Slot {
            held: self.held.clone(),
            user,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = held.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.user);
            }
        }
    }
}

/// What ends a stream early, and who watches it.
pub struct Bounds {
    pub slot: Slot,
    /// When the viewer's token expires.
    pub expires: Instant,
    /// How long the stream may go without a change.
    pub idle: Duration,
    /// Whether the viewer may still see a delivery in this status.
    pub visible: Box<dyn Fn(&Value) -> bool + Send>,
}

impl std::fmt::Debug for Bounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bounds")
            .field("slot", &self.slot)
            .field("expires", &self.expires)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

type Changes = Pin<Box<dyn Stream<Item = Value> + Send>>;

/// `current` then each of `changes` as `status` events, until one of `bounds` ends the
/// stream with an `end` event naming why.
pub fn bounded(
    current: Value,
    changes: Changes,
    bounds: Bounds,
) -> impl Stream<Item = SseEvent> + Send {
    let first = futures::stream::once(async move { status(current) });
    let rest = futures::stream::unfold(Some((changes, bounds)), |live| async move {
        let (mut changes, bounds) = live?;
        let ended = |reason: &str| Some((end(reason), None));
        tokio::select! {
            change = changes.next() => match change {
                Some(view) if (bounds.visible)(&view) => Some((status(view), Some((changes, bounds)))),
                Some(_) => ended("no_longer_visible"),
                None => None,
            },
            () = tokio::time::sleep_until(bounds.expires) => ended("token_expired"),
            () = tokio::time::sleep(bounds.idle) => ended("idle"),
        }
    });
    first.chain(rest)
}

fn status(view: Value) -> SseEvent {
    SseEvent::default()
        .event("status")
        .json_data(view)
        .unwrap_or_default()
}

fn end(reason: &str) -> SseEvent {
    SseEvent::default()
        .event("end")
        .json_data(json!({ "reason": reason }))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_only_so_many_slots_and_gets_them_back() {
        let slots = StreamSlots::new(2);
        let user = Uuid::now_v7();
        let first = slots.take(user).expect("one");
        let _second = slots.take(user).expect("two");
        assert!(slots.take(user).is_none(), "a third is refused");
        assert!(
            slots.take(Uuid::now_v7()).is_some(),
            "others have their own"
        );
        drop(first);
        assert!(
            slots.take(user).is_some(),
            "a dropped stream gives its slot back"
        );
    }
}
