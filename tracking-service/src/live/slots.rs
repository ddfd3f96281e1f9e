//! How many live streams each user holds at once, whatever their form (events or WebSocket).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

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
