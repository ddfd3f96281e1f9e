//! What the public port answers of the operational endpoints before the gateway's router:
//! `/health` from the cached report, `/metrics` not at all (it is on the operational
//! listener), and `/openapi.json` without `/metrics`, which the shared operational paths
//! would otherwise list.

use std::sync::Arc;

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use http::{Method, Uri};
use utoipa::openapi::OpenApi;

use super::health::PublicHealth;
use crate::name::SERVICE;

/// The public port's own answers.
#[derive(Clone)]
pub struct PublicOps {
    health: PublicHealth,
    openapi: Arc<OpenApi>,
}

impl std::fmt::Debug for PublicOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicOps")
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl PublicOps {
    /// `health` at `/health`, and the gateway's `api` documented with the operational paths
    /// the public port serves.
    pub fn new(health: PublicHealth, api: OpenApi) -> Self {
        let mut openapi = shared::openapi::document(SERVICE, api, None);
        openapi.paths.paths.remove("/metrics");
        Self {
            health,
            openapi: Arc::new(openapi),
        }
    }

    /// The answer to `method` on `uri` when it is one of these, else `None` (for the
    /// router).
    pub async fn answer(&self, method: &Method, uri: &Uri) -> Option<Response> {
        if !matches!(*method, Method::GET | Method::HEAD) {
            return None;
        }
        match uri.path() {
            "/health" => Some(self.health.answer(method).await),
            "/metrics" => Some(shared::http::not_found(uri.clone()).await.into_response()),
            "/openapi.json" => Some(Json(self.openapi.as_ref().clone()).into_response()),
            _ => None,
        }
    }
}
