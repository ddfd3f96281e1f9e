//! Every open connection of the server, across its threads: the cap on them, with the
//! longest idle closed to make room (as nginx reuses its keep-alive connections when out of
//! them), and the cap per client address.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::Notify;

use super::limits::ConnectionLimits;

/// The open connections, shared by the accepting thread and the serving ones.
#[derive(Debug)]
pub(super) struct Connections {
    pub limits: ConnectionLimits,
    /// What the connections' times are counted from.
    epoch: Instant,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, Arc<Activity>>,
    per_address: HashMap<IpAddr, usize>,
}

/// Where one connection is in its life, as its head timer and its socket see it.
#[derive(Debug)]
pub(super) struct Activity {
    epoch: Instant,
    /// Waiting for a request's head (from accept, or from the previous answer).
    waiting: AtomicBool,
    /// Microseconds from the epoch to the start of the last write, or to the accept before
    /// any: since when it has been idle if it waits. The answer's end, rather than the moment
    /// the connection's task next asks for a head: on a loaded machine that task may run
    /// much later, and a connection answered first would look idle for less time than one
    /// answered after it.
    written_at: AtomicU64,
    /// Microseconds from the epoch to the first byte of the awaited head; 0: none yet.
    head_since: AtomicU64,
    /// HTTP/2: its streams, not its bytes, tell whether it is idle (a client's pings and
    /// window updates are not requests).
    multiplexed: AtomicBool,
    /// Asked to close to make room.
    evicted: AtomicBool,
    close: Notify,
}

impl Activity {
    fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            waiting: AtomicBool::new(true),
            written_at: AtomicU64::new(micros(epoch, Instant::now())),
            head_since: AtomicU64::new(0),
            multiplexed: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    /// The connection waits for a request's head from now on.
    pub fn wait_for_head(&self) {
        self.head_since.store(0, Ordering::Relaxed);
        self.waiting.store(true, Ordering::Relaxed);
    }

    /// Bytes were written to the socket by a write begun `at`.
    pub fn bytes_written(&self, at: Instant) {
        self.written_at
            .store(micros(self.epoch, at), Ordering::Relaxed);
    }

    /// The awaited head has arrived whole (or the wait ended otherwise).
    pub fn head_read(&self) {
        self.waiting.store(false, Ordering::Relaxed);
    }

    /// The connection speaks HTTP/2: it waits for a request while it has no stream open.
    pub fn multiplexed(&self) {
        self.multiplexed.store(true, Ordering::Relaxed);
    }

    /// Bytes were read from the socket: the first of a head, if one is awaited.
    pub fn bytes_read(&self) {
        if self.waiting.load(Ordering::Relaxed)
            && !self.multiplexed.load(Ordering::Relaxed)
            && self.head_since.load(Ordering::Relaxed) == 0
        {
            self.head_since
                .store(micros(self.epoch, Instant::now()), Ordering::Relaxed);
        }
    }

    /// When the awaited head's first byte came, if it has.
    pub fn head_started(&self) -> Option<Instant> {
        match self.head_since.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(self.epoch + Duration::from_micros(micros)),
        }
    }

    /// Since when it has been idle (its last answer's end, else its accept), if it is:
    /// waiting for a head of which nothing came yet.
    fn idle_since(&self) -> Option<u64> {
        (self.waiting.load(Ordering::Relaxed) && self.head_since.load(Ordering::Relaxed) == 0)
            .then(|| self.written_at.load(Ordering::Relaxed))
    }

    /// Asks it to close, if it has not been asked already.
    fn evict(&self) {
        if !self.evicted.swap(true, Ordering::Relaxed) {
            self.close.notify_one();
        }
    }

    /// Whether it is idle, and so may be closed as asked; if not, it stays a candidate for
    /// a later request to close one.
    pub fn may_close(&self) -> bool {
        let idle = self.idle_since().is_some();
        if !idle {
            self.evicted.store(false, Ordering::Relaxed);
        }
        idle
    }

    /// Completes when the registry asks for the connection to be closed to make room.
    pub async fn closing(&self) {
        self.close.notified().await;
    }
}

/// Microseconds from `epoch` to `at`, at least 1: 0 says "none".
fn micros(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl Connections {
    pub fn new(limits: ConnectionLimits) -> Self {
        Self {
            limits,
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
        }
    }

    /// Takes a connection from `peer` in, closing the longest idle one if the server is at
    /// its cap; `None` when it is refused: its address is at its own cap, or the server is at
    /// its cap with no connection idle.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let limited = self.limits.counts_per_address(peer);
        if limited
            && let Some(max) = self.limits.max_per_address
            && open.per_address.get(&peer).copied().unwrap_or(0) >= max
        {
            tracing::debug!(%peer, "connection refused: its address is at its limit");
            return None;
        }
        if open.by_id.len() >= self.limits.max_connections {
            // Ties (within a microsecond) go to the one accepted first.
            let idlest = open
                .by_id
                .iter()
                .filter(|(_, activity)| !activity.evicted.load(Ordering::Relaxed))
                .filter_map(|(id, activity)| Some(((activity.idle_since()?, *id), activity)))
                .min_by_key(|(since, _)| *since);
            let Some((_, idlest)) = idlest else {
                tracing::debug!(%peer, "connection refused: every connection is busy");
                return None;
            };
            idlest.evict();
        }
        let activity = Arc::new(Activity::new(self.epoch));
        let id = open.next_id;
        open.next_id += 1;
        open.by_id.insert(id, Arc::clone(&activity));
        if limited {
            *open.per_address.entry(peer).or_default() += 1;
        }
        Some(Admitted {
            connections: Arc::clone(self),
            id,
            peer: limited.then_some(peer),
            activity,
        })
    }
}

/// One admitted connection, counted until it is dropped.
#[derive(Debug)]
pub(super) struct Admitted {
    connections: Arc<Connections>,
    id: u64,
    /// Its address, when the per-address limit counts it.
    peer: Option<IpAddr>,
    pub activity: Arc<Activity>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.by_id.remove(&self.id);
        if let Some(peer) = self.peer
            && let Some(count) = open.per_address.get_mut(&peer)
        {
            *count -= 1;
            if *count == 0 {
                open.per_address.remove(&peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    /// Connections capped at `max` in all, and the one address they come from.
    fn capped_at(max: usize) -> (Arc<Connections>, IpAddr) {
        let limits = ConnectionLimits {
            max_connections: max,
            max_per_address: None,
            ..ConnectionLimits::default()
        };
        (
            Arc::new(Connections::new(limits)),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        )
    }

    /// A connection asked, and answered at once.
    fn answered(admitted: &Admitted) {
        admitted.activity.bytes_read();
        admitted.activity.head_read();
        admitted.activity.bytes_written(Instant::now());
    }

    #[test]
    fn at_the_cap_the_connection_answered_first_is_closed_whenever_its_task_next_waits() {
        let (connections, peer) = capped_at(2);
        let first = connections.admit(peer).expect("admitted");
        let second = connections.admit(peer).expect("admitted");
        answered(&first);
        std::thread::sleep(Duration::from_millis(2));
        answered(&second);
        // The first one's task is scheduled late: it waits for the next head after the
        // second's does.
        second.activity.wait_for_head();
        std::thread::sleep(Duration::from_millis(2));
        first.activity.wait_for_head();

        let _third = connections.admit(peer).expect("room is made");
        assert!(
            first.activity.evicted.load(Ordering::Relaxed),
            "the longest idle goes"
        );
        assert!(!second.activity.evicted.load(Ordering::Relaxed));
    }

    #[test]
    fn at_the_cap_a_connection_whose_head_is_coming_is_not_closed() {
        let (connections, peer) = capped_at(1);
        let reading = connections.admit(peer).expect("admitted");
        reading.activity.bytes_read();
        assert!(connections.admit(peer).is_none(), "no connection is idle");
        assert!(!reading.activity.evicted.load(Ordering::Relaxed));
    }
}
