//! The OpenAPI document of a binary: its own paths plus the operational ones.

use utoipa::{
    OpenApi,
    openapi::{OpenApi as Document, PathItem},
};

use crate::{
    health::{CheckReport, CheckStatus, HealthReport},
    problem::{FieldError, Problem},
};

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::health::get_health,
        crate::health::get_readiness,
        crate::health::get_openapi,
        crate::health::get_metrics
    ),
    components(schemas(Problem, FieldError, HealthReport, CheckReport, CheckStatus)),
    tags((name = "operations", description = "Health, readiness, metrics and this document"))
)]
struct OperationsApi;

/// Completes `api` (the binary's own paths) with its name, version and the operational
/// paths, which are also documented under `prefix` when the binary serves them there.
pub fn document(service: &str, mut api: Document, prefix: Option<&str>) -> Document {
    let operations = OperationsApi::openapi();
    if let Some(prefix) = prefix {
        for (path, item) in &operations.paths.paths {
            if path != "/metrics" {
                api.paths
                    .paths
                    .insert(format!("{prefix}{path}"), prefixed(item, prefix));
            }
        }
    }
    api.merge(operations);
    api.info.title = service.to_owned();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api
}

/// A copy of `item` whose operation ids stay unique under the prefix.
fn prefixed(item: &PathItem, prefix: &str) -> PathItem {
    let mut item = item.clone();
    let slug = prefix.trim_matches('/').replace('/', "_");
    if let Some(operation) = item.get.as_mut() {
        operation.operation_id = operation
            .operation_id
            .as_ref()
            .map(|id| format!("{slug}_{id}"));
    }
    item
}
