//! The gateway's OpenAPI document: each backend's prefix and the errors the gateway itself
//! adds. The backends' own operations are in their documents (`/<prefix>/openapi.json`).

use utoipa::openapi::{
    HttpMethod, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, ResponseBuilder,
    content::ContentBuilder,
    path::{OperationBuilder, ParameterBuilder, ParameterIn},
};

use crate::backends::Backend;

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
            .response("502", problem("The backend could not be reached"))
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
    OpenApiBuilder::new().paths(paths).build()
}

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
