//! The sessions whose tokens this gateway refuses, in memory, each until its tokens would
//! have expired anyway. Read on every request with a token, written a few times a minute:
//! readers take a snapshot without a lock, writers replace the whole set.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use arc_swap::ArcSwap;
use uuid::Uuid;

/// Revoked session ids, each with the Unix time (milliseconds) until which it is refused.
/// Cloning shares the set.
#[derive(Debug, Clone, Default)]
pub struct Denylist {
    sessions: Arc<ArcSwap<HashMap<Uuid, u64>>>,
}

impl Denylist {
    /// An empty denylist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the tokens of session `sid` are refused now.
    pub fn contains(&self, sid: &Uuid) -> bool {
        let sessions = self.sessions.load();
        // The usual case, with nothing revoked lately: no hashing, no clock.
        if sessions.is_empty() {
            return false;
        }
        sessions.get(sid).is_some_and(|until| *until > now_ms())
    }

    /// Refuses each `(session, until)` until then (a later time of one already held wins);
    /// entries past their time are dropped on the way.
    pub fn insert(&self, entries: &[(Uuid, u64)]) {
        let now = now_ms();
        self.sessions.rcu(|current| {
            let mut next: HashMap<Uuid, u64> = current
                .iter()
                .filter(|(_, until)| **until > now)
                .map(|(sid, until)| (*sid, *until))
                .collect();
            for (sid, until) in entries.iter().filter(|(_, until)| *until > now) {
                let held = next.entry(*sid).or_insert(*until);
                *held = (*held).max(*until);
            }
            next
        });
        metrics::gauge!("gateway_revoked_sessions").set(self.held() as f64);
    }

    /// The sessions held, expired ones not yet dropped included.
    fn held(&self) -> usize {
        self.sessions.load().len()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_refused_until_its_time_and_no_longer() {
        let denylist = Denylist::new();
        let (revoked, past, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        denylist.insert(&[(revoked, now_ms() + 60_000), (past, now_ms() - 1)]);
        assert!(denylist.contains(&revoked));
        assert!(!denylist.contains(&past), "already expired");
        assert!(!denylist.contains(&other));
        assert_eq!(denylist.held(), 1, "the expired one was never kept");
    }

    #[test]
    fn the_later_time_wins_and_expired_entries_go_at_the_next_insert() {
        let denylist = Denylist::new();
        let (sid, soon) = (Uuid::now_v7(), Uuid::now_v7());
        denylist.insert(&[(sid, now_ms() + 60_000), (soon, now_ms() + 20)]);
        denylist.insert(&[(sid, now_ms() + 1_000)]);
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert!(denylist.contains(&sid), "kept until the later time");
        assert!(!denylist.contains(&soon));
        denylist.insert(&[]);
        assert_eq!(denylist.held(), 1);
    }
}
