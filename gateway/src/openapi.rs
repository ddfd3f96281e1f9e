//! The gateway's OpenAPI document: its own operations (aggregation, statistics, cache
//! purge), each backend's prefix, and the errors the gateway itself adds. The backends' own
//! operations are in their documents (`/<prefix>/openapi.json`).

use shared::openapi::problem;
use utoipa::{
    Modify, OpenApi as _,
    openapi::{
        HttpMethod, OpenApi, OpenApiBuilder, PathItem, PathsBuilder,
        path::{OperationBuilder, ParameterBuilder, ParameterIn},
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

use crate::{aggregate, cache, dashboard, deploy, discovery, experiment, explorer};
use gateway_upstream::Backend;

/// The gateway's own operations.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    aggregate::get_order_details,
    cache::purge::purge_cache,
    dashboard::http::create_dashboard_session,
    dashboard::http::delete_dashboard_session,
    dashboard::http::get_dashboard,
    dashboard::http::get_dashboard_snapshot,
    dashboard::http::stream_dashboard,
    deploy::http::create_deployment,
    deploy::http::get_deployment,
    deploy::http::rollback_deployment,
    discovery::http::get_registry,
    experiment::http::create_experiment,
    experiment::http::delete_experiment,
    experiment::http::get_experiment,
    experiment::http::list_experiments,
    experiment::http::stop_experiment,
    explorer::get_docs,
    explorer::get_docs_file,
    explorer::get_docs_page,
), modifiers(&BearerAuth))]
struct Own;

/// The `bearer` scheme the secured operations name (and the explorer's "Authorize").
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

const METHODS: [HttpMethod; 5] = [
    HttpMethod::Get,
    HttpMethod::Post,
    HttpMethod::Put,
    HttpMethod::Patch,
    HttpMethod::Delete,
];

/// Documents `{prefix}/{path}` of every backend.
pub fn document(backends: &[Backend]) -> OpenApi {
    let paths = backends.iter().fold(PathsBuilder::new(), |paths, backend| {
        let operation = OperationBuilder::new()
            .tag("routing")
            .summary(Some(format!("Forwarded to {}", backend.name)))
            .description(Some(format!(
                "Streamed to {} unchanged; see `{}/openapi.json` for its operations.",
                backend.name, backend.prefix
            )))
            .parameter(
                ParameterBuilder::new()
                    .name("path")
                    .parameter_in(ParameterIn::Path)
                    .required(utoipa::openapi::Required::True)
                    .description(Some("The rest of the path")),
            )
            .response("401", problem("No valid token on a route that needs one"))
            .response("403", problem("The token lacks the route's permission"))
            .response("413", problem("The body is over the size limit"))
            .response("429", problem("Over the route's rate limit; see `Retry-After`"))
            .response("502", problem("The backend could not be reached"))
            .response(
                "503",
                problem("The backend's circuit breaker is open (see `Retry-After`), or the gateway is shedding load"),
            )
            .response(
                "504",
                problem("The backend did not answer within the upstream timeout"),
            )
            .build();
        let item = METHODS[1..].iter().fold(
            PathItem::new(METHODS[0].clone(), operation.clone()),
            |mut item, method| {
                item.merge_operations(PathItem::new(method.clone(), operation.clone()));
                item
            },
        );
        paths.path(format!("{}/{{path}}", backend.prefix), item)
    });
    let mut document = OpenApiBuilder::new().paths(paths).build();
    document.merge(Own::openapi());
    document
}
