//! A query-string extractor whose rejections are problem documents naming the parameter.

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::{FieldError, Problem};

/// Query parameters deserialised into `T`, rejected with a 400 problem naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        // As in JSON bodies: no store of the platform keeps U+0000.
        if query.contains("%00")
            && let Some((name, _)) = form_urlencoded_parse(query)
                .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            let detail = "must not contain the NUL character (U+0000)";
            return Err(Problem::bad_request(format!(
                "The query parameter {name} is invalid: {detail}."
            ))
            .with_errors(vec![FieldError::new(name.into_owned(), detail)]));
        }
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(deserializer)
            .map(QueryParams)
            .map_err(|err| {
                let field = err.path().to_string();
                let detail = err.into_inner().to_string();
                let field = if field == "." {
                    "query".to_owned()
                } else {
                    field
                };
                Problem::bad_request(format!("The query parameter {field} is invalid: {detail}."))
                    .with_errors(vec![FieldError::new(field, detail)])
            })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<u32>,
        cuisine: Option<String>,
    }

    async fn extract(uri: &str) -> Result<Page, Problem> {
        let (mut parts, ()) = http::Request::get(uri)
            .body(())
            .expect("a request")
            .into_parts();
        QueryParams::<Page>::from_request_parts(&mut parts, &())
            .await
            .map(|QueryParams(page)| page)
    }

    #[tokio::test]
    async fn parameters_parse_and_a_bad_one_is_named() {
        let page = extract("/r?limit=5&cuisine=thai%20food")
            .await
            .expect("valid");
        assert_eq!(
            (page.limit, page.cuisine.as_deref()),
            (Some(5), Some("thai food"))
        );
        let problem = extract("/r?limit=many").await.expect_err("invalid");
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "limit");
    }

    #[tokio::test]
    async fn a_parameter_holding_nul_is_refused_and_named() {
        let problem = extract("/r?limit=5&cuisine=thai%00")
            .await
            .expect_err("invalid");
        assert_eq!(
            (problem.status, problem.errors[0].field.as_str()),
            (400, "cuisine")
        );
    }
}
