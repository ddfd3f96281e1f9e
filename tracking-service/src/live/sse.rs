//! A live stream as Server-Sent Events: each item an event named after it (`status`, `end`),
//! its data as JSON.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};

use super::{KEEP_ALIVE, Live};

/// `live` as an event stream, with a comment line every `KEEP_ALIVE` while it is quiet.
pub fn respond(
    live: impl Stream<Item = Live> + Send + 'static,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + Send> {
    Sse::new(live.map(|item| Ok(event(item)))).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// One item as an event.
fn event(item: Live) -> Event {
    Event::default()
        .event(item.name())
        .json_data(item.into_data())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use serde_json::json;

    use super::*;
    use crate::live::EndReason;

    #[tokio::test]
    async fn each_item_is_an_event_named_after_it_with_json_data() {
        let items = futures::stream::iter([
            Live::Status(json!({"version": 2})),
            Live::End(EndReason::Idle),
        ]);
        let body = axum::body::to_bytes(respond(items).into_response().into_body(), usize::MAX)
            .await
            .expect("the whole body");
        assert_eq!(
            body,
            "event: status\ndata: {\"version\":2}\n\nevent: end\ndata: {\"reason\":\"idle\"}\n\n"
        );
    }
}
