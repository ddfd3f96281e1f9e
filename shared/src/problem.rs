//! RFC 9457 problem details: the one shape every error of every binary takes.

use std::collections::BTreeMap;

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, answered with its status and `application/problem+json`.
///
/// `type` is a relative URI (`/problems/<slug>`) naming the kind of problem; `detail` says
/// what went wrong with this request, never how the server is built.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// URI reference naming the kind of problem (`/problems/<slug>`).
    #[serde(rename = "type", serialize_with = "serialize_type")]
    #[schema(value_type = String, example = "/problems/validation")]
    pub slug: &'static str,
    /// Short summary of the kind of problem.
    #[schema(value_type = String)]
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The invalid fields, when the input was at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extension members (e.g. the `service` a gateway error is about).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: BTreeMap<String, Value>,
    #[serde(skip)]
    headers: Option<Box<HeaderMap>>,
}

fn serialize_type<S: serde::Serializer>(
    slug: &&'static str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("/problems/{slug}"))
}

/// One invalid field of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request body (`items[2].quantity`), or a header's name.
    pub field: String,
    /// Why the value is refused.
    pub detail: String,
}

impl FieldError {
    /// A field and why its value was refused.
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

impl Problem {
    /// A problem of kind `slug` with the given status and title.
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Self {
            slug,
            title,
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            extensions: BTreeMap::new(),
            headers: None,
        }
    }

    /// Adds what went wrong with this request.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds the invalid fields.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// Adds an extension member.
    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// Adds a response header (e.g. `Retry-After`, `Allow`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.get_or_insert_default().append(name, value);
        self
    }

    /// The status as a `StatusCode`.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// 400: the request cannot be read.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request").with_detail(detail)
    }

    /// 422: the request was read but some fields are invalid.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.detail),
            _ => format!("{} fields are invalid", errors.len()),
        };
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid request",
        )
        .with_detail(detail)
        .with_errors(errors)
    }

    /// 404: nothing is at this path or id.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").with_detail(detail)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict").with_detail(detail)
    }

    /// 503: a dependency or the service itself cannot take the request now.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .with_detail(detail)
    }

    /// 500: opaque to the client; the cause is logged where it happened.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_detail("The server could not complete the request; it has been logged.")
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        let status = self.status_code();
        let headers = self.headers.take();
        let mut response = (status, Json(self)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(headers) = headers {
            response.headers_mut().extend(*headers);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_rfc_9457_with_extensions_at_top_level() {
        let problem = Problem::validation(vec![FieldError::new("email", "is not an email")])
            .with_extension("service", "auth-service");
        let value = serde_json::to_value(&problem).expect("serialises");
        assert_eq!(value["type"], "/problems/validation");
        assert_eq!(value["status"], 422);
        assert_eq!(value["detail"], "email: is not an email");
        assert_eq!(value["errors"][0]["field"], "email");
        assert_eq!(value["service"], "auth-service");
    }

    #[test]
    fn answers_with_the_problem_media_type_and_headers() {
        let response = Problem::unavailable("down")
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
            .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }
}
