//! The dashboard's page, its live stream, its snapshot as JSON, and the session cookie that
//! lets a browser's `EventSource` (which sends no `Authorization` header) open the stream.

use std::{convert::Infallible, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{
        Html, IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::Stream;
use shared::{
    Problem,
    auth::{Claims, bearer_token},
};

use super::{Snapshot, snapshot};
use crate::{access, cookies, state::GatewayState};

/// How often the stream sends a snapshot.
const EVERY: Duration = Duration::from_secs(1);

/// The cookie holding an admin's access token for the dashboard (`__Host-` prefixed with
/// `COOKIE_SECURE`).
const COOKIE: &str = cookies::DASHBOARD;

const PAGE: &str = include_str!("page.html");

fn unauthorized() -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized").with_detail(
        "Sign in as an administrator: a bearer token, or the dashboard's session cookie.",
    )
}

/// The bearer token, else (with `cookie`) the session cookie's, under the one name the
/// gateway gives it (`secure`: only the `__Host-` one, which no other origin could set).
fn token_of(headers: &HeaderMap, cookie: bool, secure: bool) -> Option<String> {
    let name = cookies::name(COOKIE, secure);
    bearer_token(headers)
        .or_else(|| cookie.then(|| access::cookie(headers, &name)).flatten())
        .map(str::to_owned)
}

/// The caller's token and claims, if they are an administrator's.
async fn admin(
    state: &GatewayState,
    headers: &HeaderMap,
    cookie: bool,
) -> Result<(String, Claims), Problem> {
    let secure = state.experiments.secure_cookies();
    let token = token_of(headers, cookie, secure).ok_or_else(unauthorized)?;
    let claims = state
        .access
        .verify(&token)
        .await
        .map_err(|_| unauthorized())?;
    if !claims.has_role("admin") {
        return Err(
            Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                .with_detail("The dashboard is for administrators."),
        );
    }
    Ok((token, claims))
}

/// The dashboard's page: it signs in, then shows the live stream.
#[utoipa::path(get, path = "/dashboard", tag = "dashboard",
    responses((status = 200, description = "The page (HTML); its data comes from `/dashboard/events`", content_type = "text/html")))]
pub async fn get_dashboard() -> Response {
    let mut response = Html(PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ),
    );
    response
}

/// What the dashboard shows, once, as JSON (admins only).
#[utoipa::path(get, path = "/admin/dashboard", tag = "dashboard",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One snapshot", body = Snapshot),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")))]
pub async fn get_dashboard_snapshot(
    State(state): State<GatewayState>,
    headers: HeaderMap,
) -> Json<Snapshot> {
    let token = token_of(&headers, false, false).unwrap_or_default();
    Json(snapshot(&state, &token).await)
}

/// A snapshot every second as Server-Sent Events (`event: snapshot`), until the token
/// expires; an admin's bearer token or the session cookie.
#[utoipa::path(get, path = "/dashboard/events", tag = "dashboard",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stream (text/event-stream)", content_type = "text/event-stream"),
        (status = 401, description = "No valid token or session cookie", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")))]
pub async fn stream_dashboard(
    State(state): State<GatewayState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let (token, claims) = admin(&state, &headers, true).await?;
    let stream = futures::stream::unfold((state, true), move |(state, first)| {
        let token = token.clone();
        async move {
            if !first {
                tokio::time::sleep(EVERY).await;
            }
            // The stream ends with the token: the page signs in again.
            if chrono::Utc::now().timestamp() >= claims.exp {
                return None;
            }
            let snapshot = snapshot(&state, &token).await;
            let event = Event::default()
                .event("snapshot")
                .json_data(&snapshot)
                .unwrap_or_else(|_| Event::default().comment("a snapshot that did not serialise"));
            Some((Ok(event), (state, false)))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Keeps an admin's bearer token in an `HttpOnly` cookie for the dashboard's stream, for as
/// long as the token lasts.
#[utoipa::path(post, path = "/dashboard/session", tag = "dashboard",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The cookie is set"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")))]
pub async fn create_dashboard_session(
    State(state): State<GatewayState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (token, claims) = admin(&state, &headers, false).await?;
    let lifetime = (claims.exp - chrono::Utc::now().timestamp()).max(0);
    let attributes = format!("Max-Age={lifetime}; HttpOnly; SameSite=Strict");
    let secure = state.experiments.secure_cookies();
    let cookie = cookies::set_cookie(COOKIE, &token, "/dashboard", &attributes, secure);
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Signs the dashboard out: the cookie is dropped.
#[utoipa::path(delete, path = "/dashboard/session", tag = "dashboard",
    responses((status = 204, description = "The cookie is dropped")))]
pub async fn delete_dashboard_session(State(state): State<GatewayState>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let attributes = "Max-Age=0; HttpOnly; SameSite=Strict";
    let secure = state.experiments.secure_cookies();
    let dropped = cookies::set_cookie(COOKIE, "", "/dashboard", attributes, secure);
    if let Ok(value) = HeaderValue::from_str(&dropped) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The dashboard's routes: its page, its snapshot, its stream and its session.
pub fn router() -> Router<GatewayState> {
    Router::new()
        .route("/admin/dashboard", get(get_dashboard_snapshot))
        .route("/dashboard", get(get_dashboard))
        .route("/dashboard/events", get(stream_dashboard))
        .route(
            "/dashboard/session",
            post(create_dashboard_session).delete(delete_dashboard_session),
        )
}
