//! A delivery's live updates, in two forms with one contract: Server-Sent Events and a
//! WebSocket. Both authenticate, check visibility and take the caller's slot before anything
//! is sent, so that every refusal is a problem+json response.

use std::time::Duration;

use axum::{
    extract::{
        Path, State,
        ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    response::{IntoResponse, Response},
};
use futures::{Stream, StreamExt};
use shared::{
    Problem,
    auth::{AuthUser, Permission},
};
use tokio_stream::wrappers::BroadcastStream;
use uuid::Uuid;

use crate::{
    error::TrackingError,
    live::{self, Live, sse, websocket},
    routes::queries::visible_status,
    state::AppState,
};

/// Live updates (Server-Sent Events): the current status first, then one `status` event per
/// change. The stream ends with an `end` event (`reason`: `token_expired`, `no_longer_visible`
/// or `idle`): the client comes back with a fresh token. A user holds a few streams at once.
#[utoipa::path(get, path = "/tracking/{delivery_id}/stream", tag = "tracking", security(("bearer" = [])),
    params(("delivery_id" = Uuid, Path, description = "Delivery (order) id")),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not tracked, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The caller holds as many streams as allowed", body = Problem, content_type = "application/problem+json")))]
pub async fn stream_tracking(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(delivery): Path<Uuid>,
) -> Result<Response, TrackingError> {
    let live = open(&state, &caller, delivery).await?;
    Ok(sse::respond(live).into_response())
}

/// Live updates over a WebSocket: the same stream as `/stream`, each item a text message
/// `{"event": "status", "data": <status>}`, the last `{"event": "end", "data": {"reason": …}}`
/// followed by a Close frame (1000, the same reason). The server pings every 15 s; the stream
/// only sends, and a client's text or binary message closes it with 1003. Refusals come
/// before the upgrade, as problem+json.
#[utoipa::path(get, path = "/tracking/{delivery_id}/live", tag = "tracking", security(("bearer" = [])),
    params(("delivery_id" = Uuid, Path, description = "Delivery (order) id")),
    responses(
        (status = 101, description = "Switched to a WebSocket of status messages"),
        (status = 400, description = "A WebSocket handshake with a header missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not tracked, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket handshake", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The caller holds as many streams as allowed", body = Problem, content_type = "application/problem+json")))]
pub async fn watch_tracking(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(delivery): Path<Uuid>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, TrackingError> {
    let upgrade = upgrade?;
    let live = open(&state, &caller, delivery).await?;
    Ok(upgrade
        .on_failed_upgrade(|err| tracing::debug!(error = %err, "live WebSocket not upgraded"))
        .on_upgrade(move |socket| websocket::serve(socket, live)))
}

/// `caller`'s live stream of `delivery`, within their bounds: 404 unless they may see it, 429
/// if they hold as many streams as allowed.
async fn open(
    state: &AppState,
    caller: &AuthUser,
    delivery: Uuid,
) -> Result<impl Stream<Item = Live> + Send + use<>, TrackingError> {
    // Subscribe before reading, so no change between the two is missed.
    let updates = BroadcastStream::new(state.updates.subscribe());
    let current = visible_status(state, caller, delivery).await?;
    let slot = state
        .streams
        .take(caller.0.sub)
        .ok_or(TrackingError::TooManyStreams)?;
    let changes = updates.filter_map(move |update| async move {
        match update {
            Ok((id, view)) if id == delivery => Some(view),
            _ => None,
        }
    });
    let left = u64::try_from(caller.0.exp - chrono::Utc::now().timestamp()).unwrap_or(0);
    let (viewer, manager) = (caller.0.sub, caller.0.has(Permission::DELIVERIES_MANAGE));
    let viewer_id = viewer.to_string();
    let bounds = live::Bounds {
        slot,
        expires: tokio::time::Instant::now() + Duration::from_secs(left),
        idle: state.stream_idle,
        visible: Box::new(move |view| {
            manager || view["customer_id"] == viewer_id || view["courier_id"] == viewer_id
        }),
    };
    let current = serde_json::to_value(current).unwrap_or_default();
    Ok(live::bounded(current, Box::pin(changes), bounds))
}
