//! A JSON body extractor whose every rejection is a problem document naming the field.
//!
//! axum's own `Json` rejects with plain text; this one answers 415 for a wrong media type,
//! 413 for a body over the limit, 400 for JSON that does not parse and 422 (with the path of
//! the field) for JSON of the wrong shape.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
};
use http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::problem::{FieldError, Problem};

/// A request body deserialised from JSON, rejected with problem+json.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            )
            .with_detail(
                "The request body must be JSON, sent with `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(reject_bytes)?;
        parse(&bytes).map(JsonBody)
    }
}

/// Deserialises `bytes`, turning every error into the problem a client should see.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    reject_nul(bytes)?;
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            Problem::validation(vec![field_error(&path, &inner)])
        } else {
            Problem::bad_request(format!("The body is not valid JSON: {inner}."))
        }
    })
}

/// Refuses a string holding U+0000, which JSON allows and no store of the platform keeps
/// (PostgreSQL's text refuses it), naming the field. Scanned for on the raw bytes first, so
/// that only a body holding the escape is parsed twice.
fn reject_nul(bytes: &[u8]) -> Result<(), Problem> {
    const ESCAPE: &[u8] = br"\u0000";
    if !bytes.windows(ESCAPE.len()).any(|window| window == ESCAPE) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        // Not JSON: the parse that follows says so.
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        Some(path) => Err(Problem::validation(vec![FieldError::new(
            if path.is_empty() {
                ".".to_owned()
            } else {
                path
            },
            "must not contain the NUL character (U+0000)",
        )])),
        None => Ok(()),
    }
}

/// The path of the first string (or key) in `value` that holds U+0000.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(text) => text.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_path(item, format!("{path}[{index}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, field)| {
            if key.contains('\0') {
                Some(join(key))
            } else {
                nul_path(field, join(key))
            }
        }),
        _ => None,
    }
}

fn is_json(headers: &http::HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn reject_bytes(rejection: BytesRejection) -> Problem {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
        )
        .with_detail("The request body is larger than this endpoint accepts.")
    } else {
        Problem::bad_request(format!("The request body could not be read: {rejection}."))
    }
}

/// Names the field of a data error. serde reports a missing or unknown field at its parent's
/// path with the field's name in the message, so the name is taken from there.
fn field_error(path: &str, err: &serde_json::Error) -> FieldError {
    let message = err.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_owned();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|marker| message.split_once(marker))
        .and_then(|(_, rest)| rest.split('`').next());
    let field = match (path, named) {
        (".", Some(name)) => name.to_owned(),
        // An unknown field is reported at its own path, a missing one at its parent's.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_owned(),
    };
    FieldError::new(field, message)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        customer: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        quantity: u32,
    }

    fn problem(body: &str) -> Problem {
        parse::<Order>(body.as_bytes()).expect_err("the body is invalid")
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let problem = problem(r#"{"customer": "#);
        assert_eq!(problem.status, 400);
        assert!(problem.errors.is_empty());
    }

    #[test]
    fn a_missing_field_is_named() {
        let problem = problem(r#"{"items": []}"#);
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "customer");
    }

    #[test]
    fn a_nested_field_of_the_wrong_type_is_named_by_its_path() {
        let problem =
            problem(r#"{"customer": "c", "items": [{"quantity": 1}, {"quantity": "two"}]}"#);
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "items[1].quantity");
    }

    #[test]
    fn a_missing_nested_field_is_named_by_its_path() {
        let problem = problem(r#"{"customer": "c", "items": [{}]}"#);
        assert_eq!(problem.errors[0].field, "items[0].quantity");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let problem = problem(r#"{"customer": "c", "items": [], "total": 1}"#);
        assert_eq!(problem.errors[0].field, "total");
    }

    #[test]
    fn a_string_holding_nul_is_refused_and_named() {
        let top = problem(r#"{"customer": "c\u0000", "items": []}"#);
        assert_eq!(
            (top.status, top.errors[0].field.as_str()),
            (422, "customer")
        );
        let nested = problem(r#"{"customer": "c", "items": [{"quantity": 1}, {"x\u0000": 1}]}"#);
        assert_eq!(nested.errors[0].field, "items[1].x\0");
        // An escaped backslash before `u0000` is no NUL.
        let order = parse::<Order>(br#"{"customer": "c\\u0000", "items": []}"#);
        assert_eq!(order.expect("valid").customer, r"c\u0000");
    }

    #[test]
    fn json_media_types_are_recognised() {
        let mut headers = http::HeaderMap::new();
        assert!(!is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().expect("valid"),
        );
        assert!(is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().expect("valid"),
        );
        assert!(is_json(&headers));
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().expect("valid"));
        assert!(!is_json(&headers));
    }
}
