//! The dead letters over HTTP, under a service's prefix, for `messages:manage`:
//! `GET {prefix}/admin/dead-letters`, `POST {prefix}/admin/dead-letters/{message_id}/replay`
//! and `DELETE {prefix}/admin/dead-letters/{message_id}`.

// utoipa's expansion of `params(ListQuery)` qualifies a path this module imports.
#![allow(unused_qualifications)]

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{FromRef, Path, State},
    http::StatusCode,
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize};
use shared::{
    FieldError, Problem, QueryParams,
    auth::{AuthUser, Permission, Verifier},
};
use utoipa::{
    IntoParams, Modify, OpenApi, ToSchema,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use super::{DeadLetter, DeadLetters};

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: usize = 100;

/// The routes (state applied) and their OpenAPI document, for a service whose API lives
/// under `prefix` (`/payments`): to merge into its own router and document.
pub fn api(
    prefix: &str,
    dead_letters: DeadLetters,
    verifier: Arc<Verifier>,
) -> (Router, utoipa::openapi::OpenApi) {
    let prefix = match prefix.trim_matches('/') {
        "" => String::new(),
        inner => format!("/{inner}"),
    };
    let list = format!("{prefix}/admin/dead-letters");
    let one = format!("{list}/{{message_id}}");
    let router = Router::new()
        .route(&list, get(list_dead_letters))
        .route(&one, delete(discard_dead_letter))
        .route(&format!("{one}/replay"), post(replay_dead_letter))
        // A queue's contents change on their own: never served from a cache.
        .layer(axum::middleware::map_response(shared::http::not_stored))
        .with_state(ApiState {
            dead_letters,
            verifier,
        });
    let mut document = DeadLettersDoc::openapi();
    document.paths.paths = std::mem::take(&mut document.paths.paths)
        .into_iter()
        .map(|(path, item)| (format!("{prefix}{path}"), item))
        .collect();
    (router, document)
}

#[derive(Clone)]
struct ApiState {
    dead_letters: DeadLetters,
    verifier: Arc<Verifier>,
}

impl FromRef<ApiState> for Arc<Verifier> {
    fn from_ref(state: &ApiState) -> Self {
        state.verifier.clone()
    }
}

/// Paging of the dead letters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many to show, oldest first: 1 to 100 (default 20).
    pub limit: Option<i64>,
}

/// The first dead letters of a service's queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterPage {
    /// The dead-letter queue, as named on the broker.
    pub queue: String,
    /// How many dead letters wait in it.
    pub count: u32,
    /// The oldest of them, left in place.
    pub items: Vec<DeadLetter>,
}

/// The service's dead letters, oldest first; listing leaves them in place and in order.
#[utoipa::path(get, path = "/admin/dead-letters", tag = "dead-letters", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The oldest dead letters, and how many wait", body = DeadLetterPage),
        (status = 403, description = "Needs messages:manage", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` is not 1 to 100", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The broker is not connected", body = Problem, content_type = "application/problem+json")))]
async fn list_dead_letters(
    State(state): State<ApiState>,
    caller: AuthUser,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<DeadLetterPage>, Problem> {
    caller.require(Permission::MESSAGES_MANAGE)?;
    let limit = usize::try_from(query.limit.unwrap_or(DEFAULT_PAGE))
        .ok()
        .filter(|limit| (1..=MAX_PAGE).contains(limit))
        .ok_or_else(|| {
            Problem::validation(vec![FieldError::new(
                "limit",
                format!("must be 1 to {MAX_PAGE}"),
            )])
        })?;
    let dead_letters = &state.dead_letters;
    let count = dead_letters.count().await?;
    let items = dead_letters.list(limit).await?;
    Ok(Json(DeadLetterPage {
        queue: dead_letters.queue_name(),
        // Some may have arrived between the count and the list.
        count: count.max(u32::try_from(items.len()).unwrap_or(u32::MAX)),
        items,
    }))
}

/// Publishes the dead letter again to the service's queue, with its id and its attempts
/// back to 1, and removes it from the dead letters. A message that had been applied is not
/// applied again.
#[utoipa::path(post, path = "/admin/dead-letters/{message_id}/replay", tag = "dead-letters",
    security(("bearer" = [])),
    params(("message_id" = String, Path, description = "The message's id (its envelope's `id`)")),
    responses(
        (status = 200, description = "Replayed; the letter as it was", body = DeadLetter),
        (status = 403, description = "Needs messages:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dead letter among the first 10 000", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The broker is not connected, or did not take the message", body = Problem, content_type = "application/problem+json")))]
async fn replay_dead_letter(
    State(state): State<ApiState>,
    caller: AuthUser,
    Path(message_id): Path<String>,
) -> Result<Json<DeadLetter>, Problem> {
    caller.require(Permission::MESSAGES_MANAGE)?;
    let dead_letters = &state.dead_letters;
    let letter = dead_letters.replay(&message_id).await?;
    tracing::info!(operator = %caller.0.sub, queue = dead_letters.queue.name, %message_id, "dead letter replayed");
    Ok(Json(letter))
}

/// Removes the dead letter for good.
#[utoipa::path(delete, path = "/admin/dead-letters/{message_id}", tag = "dead-letters",
    security(("bearer" = [])),
    params(("message_id" = String, Path, description = "The message's id (its envelope's `id`)")),
    responses(
        (status = 204, description = "Discarded"),
        (status = 403, description = "Needs messages:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dead letter among the first 10 000", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The broker is not connected", body = Problem, content_type = "application/problem+json")))]
async fn discard_dead_letter(
    State(state): State<ApiState>,
    caller: AuthUser,
    Path(message_id): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(Permission::MESSAGES_MANAGE)?;
    let dead_letters = &state.dead_letters;
    dead_letters.discard(&message_id).await?;
    tracing::info!(operator = %caller.0.sub, queue = dead_letters.queue.name, %message_id, "dead letter discarded");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(OpenApi)]
#[openapi(
    paths(list_dead_letters, replay_dead_letter, discard_dead_letter),
    components(schemas(DeadLetterPage, DeadLetter, Problem, FieldError)),
    modifiers(&BearerAuth),
    tags((name = "dead-letters", description = "Messages the service gave up on: listed, replayed or discarded"))
)]
struct DeadLettersDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
