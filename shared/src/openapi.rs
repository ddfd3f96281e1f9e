//! The OpenAPI document of a binary: its own paths plus the operational ones.

use utoipa::{
    OpenApi,
    openapi::{
        OpenApi as Document, PathItem, Ref, RefOr, ResponseBuilder, Schema,
        content::ContentBuilder,
        path::{Operation, Parameter, ParameterIn},
        schema::{SchemaType, Type},
    },
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
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            document_shared_answers(operation);
        }
    }
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

/// Adds the answers every operation can give whatever its handler says, because the shared
/// layers and extractors give them: 500 and 503 (an internal error, a store unreachable or
/// the request timed out) everywhere; 401 where a token is needed; 400, 413, 415 and 422 where
/// a JSON body is read (`JsonBody`); 400 where a parameter must parse. What a handler
/// documents itself is kept.
fn document_shared_answers(operation: &mut Operation) {
    let mut answers = vec![
        ("500", "Internal error; logged, opaque to the client"),
        (
            "503",
            "A store it needs is unreachable, or the request took longer than allowed",
        ),
    ];
    let needs_token = operation.security.as_ref().is_some_and(|requirements| {
        !requirements.is_empty()
            && requirements.iter().all(|requirement| {
                serde_json::to_value(requirement)
                    .is_ok_and(|value| value.as_object().is_some_and(|o| !o.is_empty()))
            })
    });
    if needs_token {
        answers.push(("401", "No valid bearer token"));
    }
    if operation.request_body.is_some() {
        answers.extend([
            ("400", "The body is not JSON"),
            ("413", "The body is larger than this operation accepts"),
            ("415", "The body is not sent as `application/json`"),
            (
                "422",
                "A field of the body is missing or invalid; `errors` names it",
            ),
        ]);
    }
    let parsed = operation.parameters.iter().flatten().any(must_parse);
    if parsed {
        answers.push(("400", "A parameter does not parse; `errors` names it"));
    }
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(problem(description)));
    }
}

/// Whether a path or query parameter can be refused before the handler runs: any but a
/// free string.
fn must_parse(parameter: &Parameter) -> bool {
    if !matches!(
        parameter.parameter_in,
        ParameterIn::Path | ParameterIn::Query
    ) {
        return false;
    }
    match &parameter.schema {
        Some(RefOr::T(Schema::Object(object))) => {
            object.schema_type != SchemaType::Type(Type::String)
                || object.format.is_some()
                || object.enum_values.is_some()
        }
        Some(_) => true,
        // No schema: any text, as the gateway's forwarded rest of a path.
        None => false,
    }
}

/// A problem+json answer described as `description`.
pub fn problem(description: &str) -> utoipa::openapi::Response {
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

#[cfg(test)]
mod tests {
    use utoipa::openapi::{
        Required,
        path::{OperationBuilder, ParameterBuilder},
        request_body::RequestBodyBuilder,
        schema::{KnownFormat, ObjectBuilder, SchemaFormat},
        security::SecurityRequirement,
    };

    use super::*;

    fn statuses(operation: &Operation) -> Vec<&str> {
        operation
            .responses
            .responses
            .keys()
            .map(String::as_str)
            .collect()
    }

    fn path_parameter(schema: ObjectBuilder) -> Parameter {
        ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(schema))
            .build()
    }

    #[test]
    fn a_secured_operation_with_a_body_lists_what_the_layers_and_extractors_answer() {
        let mut operation = OperationBuilder::new()
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .request_body(Some(RequestBodyBuilder::new().build()))
            .response("200", ResponseBuilder::new().description("Done"))
            .response("422", ResponseBuilder::new().description("Its own words"))
            .build();
        document_shared_answers(&mut operation);
        assert_eq!(
            statuses(&operation),
            ["200", "400", "401", "413", "415", "422", "500", "503"]
        );
        let RefOr::T(kept) = &operation.responses.responses["422"] else {
            panic!("inline")
        };
        assert_eq!(kept.description, "Its own words");
    }

    #[test]
    fn only_a_parameter_that_must_parse_adds_a_400() {
        let mut free = OperationBuilder::new()
            .parameter(path_parameter(
                ObjectBuilder::new().schema_type(Type::String),
            ))
            .build();
        document_shared_answers(&mut free);
        assert_eq!(
            statuses(&free),
            ["500", "503"],
            "an open operation, a free string"
        );

        let mut uuid = OperationBuilder::new()
            .parameter(path_parameter(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
            ))
            .build();
        document_shared_answers(&mut uuid);
        assert_eq!(statuses(&uuid), ["400", "500", "503"]);
    }
}
