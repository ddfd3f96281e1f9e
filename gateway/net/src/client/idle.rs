//! Each thread's idle connections, by pool: a request takes the most recently used one that
//! is still open, and an answer read whole puts its connection back. Connections idle for
//! longer than their pool's idle time-out are closed when the thread next uses that pool.

use std::{
    cell::RefCell,
    collections::VecDeque,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use super::conn::Conn;

/// Where a pool's idle connections are kept in each thread's [`IDLE`], and for how long.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub index: usize,
    pub idle_timeout: Duration,
}

/// A connection waiting for its next request.
struct Idle {
    conn: Conn,
    since: Instant,
}

thread_local! {
    /// Each thread's idle connections, by pool, the most recently used last.
    static IDLE: RefCell<Vec<VecDeque<Idle>>> = const { RefCell::new(Vec::new()) };
}

/// This thread's most recently used idle connection of `slot` that is still open. One that
/// has become readable while idle was closed by its origin (or sent what it should not have).
pub(super) fn checkout(slot: Slot, cx: &mut Context<'_>) -> Option<Conn> {
    IDLE.with_borrow_mut(|idle| {
        let connections = idle.get_mut(slot.index)?;
        let now = Instant::now();
        while let Some(Idle { conn, since }) = connections.pop_back() {
            if now.duration_since(since) > slot.idle_timeout {
                // The others have waited longer still.
                connections.clear();
                return None;
            }
            match conn.stream.poll_read_ready(cx) {
                Poll::Pending => return Some(conn),
                // Readiness can outlive the read that left nothing behind: look, without
                // waiting, whether anything is there.
                Poll::Ready(Ok(())) => match conn.stream.try_read(&mut [0; 1]) {
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return Some(conn),
                    _ => {}
                },
                Poll::Ready(Err(_)) => {}
            }
        }
        None
    })
}

/// Puts `conn`, whose last answer has been read whole, back among this thread's idle ones.
pub(super) fn checkin(slot: Slot, conn: Conn) {
    IDLE.with_borrow_mut(|idle| {
        if idle.len() <= slot.index {
            idle.resize_with(slot.index + 1, VecDeque::new);
        }
        let connections = &mut idle[slot.index];
        let now = Instant::now();
        while connections
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) > slot.idle_timeout)
        {
            connections.pop_front();
        }
        connections.push_back(Idle { conn, since: now });
    });
}
