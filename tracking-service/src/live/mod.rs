//! Live updates of a delivery, bounded: a stream ends when its token expires (the client
//! comes back with a fresh one), when its viewer may no longer see the delivery (a courier
//! reassigned), or when nothing changed for a while; and one user holds a few at most.
//!
//! The stream is the same whatever carries it: `sse` and `websocket` only put its items on
//! the wire.

mod slots;
pub mod sse;
pub mod websocket;

use std::{pin::Pin, time::Duration};

use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;

pub use slots::{Slot, StreamSlots};

/// How often a quiet stream shows it is still there: often enough for the proxies and load
/// balancers in between, whose idle time-outs are commonly 30 to 60 s.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One item of a live stream, before any protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Live {
    /// The delivery's status view, as `GET /tracking/{id}` answers it.
    Status(Value),
    /// The last item: the stream ends, for this reason.
    End(EndReason),
}

/// Why a live stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The viewer's token expired: they come back with a fresh one.
    TokenExpired,
    /// The viewer may no longer see the delivery.
    NoLongerVisible,
    /// Nothing changed for the idle time.
    Idle,
}

impl EndReason {
    /// The reason as the clients read it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenExpired => "token_expired",
            Self::NoLongerVisible => "no_longer_visible",
            Self::Idle => "idle",
        }
    }
}

impl Live {
    /// The item's name on the wire: `status` or `end`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Status(_) => "status",
            Self::End(_) => "end",
        }
    }

    /// The item's data on the wire: the status view, or `{"reason": …}`.
    pub fn into_data(self) -> Value {
        match self {
            Self::Status(view) => view,
            Self::End(reason) => json!({ "reason": reason.as_str() }),
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

/// The status views of one delivery, as they change.
pub type Changes = Pin<Box<dyn Stream<Item = Value> + Send>>;

/// `current` then each of `changes` as `Live::Status`, until one of `bounds` ends the stream
/// with a `Live::End` naming why. The slot is held until the stream is dropped.
pub fn bounded(
    current: Value,
    changes: Changes,
    bounds: Bounds,
) -> impl Stream<Item = Live> + Send {
    let first = futures::stream::once(async move { Live::Status(current) });
    let rest = futures::stream::unfold(Some((changes, bounds)), |live| async move {
        let (mut changes, bounds) = live?;
        let ended = |reason| Some((Live::End(reason), None));
        tokio::select! {
            change = changes.next() => match change {
                Some(view) if (bounds.visible)(&view) => Some((Live::Status(view), Some((changes, bounds)))),
                Some(_) => ended(EndReason::NoLongerVisible),
                None => None,
            },
            () = tokio::time::sleep_until(bounds.expires) => ended(EndReason::TokenExpired),
            () = tokio::time::sleep(bounds.idle) => ended(EndReason::Idle),
        }
    });
    first.chain(rest)
}

#[cfg(test)]
mod tests {
    use futures::stream;
    use uuid::Uuid;

    use super::*;

    fn bounds(expires_in: Duration, idle: Duration) -> Bounds {
        Bounds {
            slot: StreamSlots::new(1).take(Uuid::now_v7()).expect("a slot"),
            expires: Instant::now() + expires_in,
            idle,
            visible: Box::new(|view| view["visible"] == true),
        }
    }

    fn changes(views: Vec<Value>) -> Changes {
        Box::pin(stream::iter(views).chain(stream::pending()))
    }

    async fn all(live: impl Stream<Item = Live>) -> Vec<Live> {
        tokio::time::timeout(Duration::from_secs(5), live.collect())
            .await
            .expect("the stream ends")
    }

    #[tokio::test]
    async fn the_current_status_comes_first_then_each_change_until_idle() {
        let (current, next) = (
            json!({"v": 1, "visible": true}),
            json!({"v": 2, "visible": true}),
        );
        let live = bounded(
            current.clone(),
            changes(vec![next.clone()]),
            bounds(Duration::from_secs(60), Duration::from_millis(50)),
        );
        assert_eq!(
            all(live).await,
            [
                Live::Status(current),
                Live::Status(next),
                Live::End(EndReason::Idle)
            ]
        );
    }

    #[tokio::test]
    async fn a_change_the_viewer_may_not_see_ends_the_stream() {
        let live = bounded(
            json!({"visible": true}),
            changes(vec![json!({"visible": false})]),
            bounds(Duration::from_secs(60), Duration::from_secs(60)),
        );
        let items = all(live).await;
        assert_eq!(items.last(), Some(&Live::End(EndReason::NoLongerVisible)));
        assert_eq!(items.len(), 2);
    }

    #[tokio::test]
    async fn the_token_expiring_ends_the_stream_before_it_goes_idle() {
        let live = bounded(
            json!({"visible": true}),
            changes(vec![]),
            bounds(Duration::from_millis(50), Duration::from_secs(60)),
        );
        assert_eq!(
            all(live).await.last(),
            Some(&Live::End(EndReason::TokenExpired))
        );
    }

    #[test]
    fn an_end_carries_its_reason_as_data() {
        let end = Live::End(EndReason::NoLongerVisible);
        assert_eq!(end.name(), "end");
        assert_eq!(end.into_data(), json!({"reason": "no_longer_visible"}));
    }
}
