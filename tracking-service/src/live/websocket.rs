//! A live stream over a WebSocket: each item a text message `{"event": …, "data": …}`, and
//! after the `end` one a Close frame whose reason is the end's.

use std::time::Duration;

use axum::{
    body::Bytes,
    extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code},
};
use futures::{Stream, StreamExt};
use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior};

use super::{EndReason, KEEP_ALIVE, Live};

/// How long the client has to answer a Close frame before the connection is dropped.
const CLOSING: Duration = Duration::from_secs(5);

/// Sends `live` over `socket` until it ends or the client leaves, with a Ping every
/// `KEEP_ALIVE`. The stream, and the viewer's slot with it, is dropped as soon as either side
/// closes. The stream only sends: a client's text or binary message closes it with 1003.
pub async fn serve(mut socket: WebSocket, live: impl Stream<Item = Live> + Send + 'static) {
    let closing = match relay(&mut socket, live).await {
        Stop::Gone => return,
        Stop::ClosedByClient => Ok(()),
        Stop::Close(frame) => socket.send(Message::Close(Some(frame))).await,
    };
    if closing.is_err() {
        return;
    }
    // Reading on sends the answer to a client's Close, or waits for the answer to ours: the
    // closing handshake completes before the connection is dropped, as RFC 6455 asks.
    let _ = tokio::time::timeout(CLOSING, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}

/// Why relaying stopped.
enum Stop {
    /// The server closes, with this frame.
    Close(CloseFrame),
    /// The client sent a Close frame.
    ClosedByClient,
    /// The connection failed or was dropped.
    Gone,
}

/// Sends `live`'s items and the pings until one side stops. It owns the stream, so that the
/// slot is given back when it returns, not after the closing handshake.
async fn relay(socket: &mut WebSocket, live: impl Stream<Item = Live> + Send) -> Stop {
    let mut live = std::pin::pin!(live);
    let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            item = live.next() => {
                let Some(item) = item else { return Stop::Close(shutting_down()) };
                let end = match &item {
                    Live::End(reason) => Some(ended(*reason)),
                    Live::Status(_) => None,
                };
                if socket.send(message(item)).await.is_err() {
                    return Stop::Gone;
                }
                if let Some(frame) = end {
                    return Stop::Close(frame);
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(_) | Message::Binary(_))) => return Stop::Close(unsupported()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) => return Stop::ClosedByClient,
                Some(Err(_)) | None => return Stop::Gone,
            },
            _ = keep_alive.tick() => {
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    return Stop::Gone;
                }
            }
        }
    }
}

/// One item as a text message.
fn message(item: Live) -> Message {
    let event = item.name();
    Message::text(json!({ "event": event, "data": item.into_data() }).to_string())
}

/// The Close frame after an `end` message: 1000, whatever the reason. Each is one of the
/// stream's own bounds, not a fault of the client: 1008 (policy violation) is for a peer
/// that sent something the endpoint refuses, and clients commonly take it as final, when one
/// whose token expired is meant to come back at once with a fresh token.
fn ended(reason: EndReason) -> CloseFrame {
    CloseFrame {
        code: close_code::NORMAL,
        reason: Utf8Bytes::from_static(reason.as_str()),
    }
}

/// The Close frame when the service stops, and its updates with it.
fn shutting_down() -> CloseFrame {
    CloseFrame {
        code: close_code::AWAY,
        reason: Utf8Bytes::from_static("shutting_down"),
    }
}

/// The Close frame for a client that sent a message: nothing is read from clients.
fn unsupported() -> CloseFrame {
    CloseFrame {
        code: close_code::UNSUPPORTED,
        reason: Utf8Bytes::from_static("the stream only sends"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn json_of(message: Message) -> Value {
        let Message::Text(text) = message else {
            panic!("a text message, not {message:?}");
        };
        serde_json::from_str(text.as_str()).expect("JSON")
    }

    #[test]
    fn a_status_is_a_text_message_naming_its_event() {
        let status = message(Live::Status(json!({"version": 2})));
        assert_eq!(
            json_of(status),
            json!({"event": "status", "data": {"version": 2}})
        );
    }

    #[test]
    fn an_end_is_a_text_message_with_its_reason_then_a_normal_close() {
        let end = message(Live::End(EndReason::TokenExpired));
        assert_eq!(
            json_of(end),
            json!({"event": "end", "data": {"reason": "token_expired"}})
        );
        let close = ended(EndReason::TokenExpired);
        assert_eq!((close.code, close.reason.as_str()), (1000, "token_expired"));
    }
}
