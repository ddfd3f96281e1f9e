//! `POST /admin/cache/purge`: drops one entry by its exact resource, or every entry whose
//! path starts with a prefix, for every user.

use axum::{
    Json, Router,
    extract::{FromRef, State},
    routing::post,
};
use serde::{Deserialize, Serialize};
use shared::{FieldError, JsonBody, Problem};
use utoipa::ToSchema;

use super::state::Cache;

/// What to purge: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// A path with its query as clients request it (`/restaurants?cuisine=thai`): its entries,
    /// shared and per user, go.
    pub key: Option<String>,
    /// A path prefix (`/restaurants/`): every entry whose path starts with it goes.
    pub prefix: Option<String>,
}

/// How many entries went.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgeResult {
    pub purged: u64,
}

/// Purges cached responses by exact key or by prefix (admin only: `cache:purge`).
#[utoipa::path(post, path = "/admin/cache/purge", tag = "cache", request_body = PurgeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Entries purged", body = PurgeResult),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of key and prefix, or not a path", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable", body = Problem, content_type = "application/problem+json")))]
pub async fn purge_cache(
    State(cache): State<Cache>,
    JsonBody(request): JsonBody<PurgeRequest>,
) -> Result<Json<PurgeResult>, Problem> {
    let (field, value) = match (&request.key, &request.prefix) {
        (Some(key), None) => ("key", key),
        (None, Some(prefix)) => ("prefix", prefix),
        _ => {
            return Err(Problem::validation(vec![FieldError::new(
                "key",
                "give exactly one of `key` and `prefix`",
            )]));
        }
    };
    if !value.starts_with('/') || value.len() > 2048 {
        return Err(Problem::validation(vec![FieldError::new(
            field,
            "must be a path starting with `/`, at most 2048 characters",
        )]));
    }
    let store = cache.store();
    // Entry keys are `<ns>:cache:<scope>:GET:<path?query>`.
    let resource = if field == "key" {
        let (path, query) = match value.split_once('?') {
            Some((path, query)) => (path, gateway_http_cache::normalise_query(query)),
            None => (value.as_str(), String::new()),
        };
        if query.is_empty() {
            escape_glob(path)
        } else {
            escape_glob(&format!("{path}?{query}"))
        }
    } else {
        format!("{}*", escape_glob(value))
    };
    let pattern = format!("{}cache:*:GET:{resource}", store.namespace());
    // One bounded Redis call per round of the scan, not one for the whole keyspace: the
    // Redis timeout caps each round, and a large cache still gets purged whole.
    let (mut cursor, mut purged) = (0_u64, 0_u64);
    loop {
        let pattern = pattern.clone();
        let (next, deleted) = store
            .run("cache purge", move |mut connection| async move {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut connection)
                    .await?;
                let deleted = if keys.is_empty() {
                    0
                } else {
                    redis::cmd("DEL")
                        .arg(&keys)
                        .query_async::<u64>(&mut connection)
                        .await?
                };
                Ok((next, deleted))
            })
            .await
            .ok_or_else(|| Problem::unavailable("The cache cannot be reached right now."))?;
        purged += deleted;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    tracing::info!(field, value = %value, purged, "cache purged");
    Ok(Json(PurgeResult { purged }))
}

/// `text` as a Redis glob that matches only itself.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The cache's administration route.
pub fn router<S>() -> Router<S>
where
    Cache: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/admin/cache/purge", post(purge_cache))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_match_only_themselves() {
        assert_eq!(escape_glob("/a?b=[1]*"), "/a\\?b=\\[1\\]\\*");
    }
}
