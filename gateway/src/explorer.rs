//! The API explorer: Swagger UI at `/docs/`, with a dropdown of the gateway's own OpenAPI
//! document and each backend's (`/<prefix>/openapi.json`, fetched through the gateway). Its
//! files are embedded in the binary, so that the page needs no network beyond the gateway.
//!
//! "Try it out" goes through the gateway too: no document names `servers`, so Swagger UI
//! calls the origin it fetched the document from, and the backends write their paths with
//! their prefix (`/restaurants/{id}`), which the gateway routes. Every document declares the
//! `bearer` scheme, hence the "Authorize" button; the token is kept across reloads.

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, Uri, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use shared::Problem;
use utoipa_swagger_ui::{Config, Url};

use gateway_upstream::Backend;

/// Where the explorer's files are served from.
const ROOT: &str = "/docs/";

/// The page's own policy in place of the gateway's `default-src 'none'`: its scripts and
/// styles from the gateway, the inline styles and `data:` icons Swagger UI renders, and calls
/// to the gateway alone.
const PAGE_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
    style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// The files that change with the configuration or name the others: always revalidated.
/// The others change only with the gateway's build, so a browser may keep them an hour.
const ENTRY_FILES: [&str; 3] = ["", "index.html", "swagger-initializer.js"];

/// The documents the explorer lists, each as its name in the dropdown and its URL.
#[derive(Debug)]
pub struct Explorer {
    documents: Vec<(&'static str, String)>,
}

impl Explorer {
    /// The gateway's own document first, then each backend's under its prefix.
    pub fn new(backends: &[Backend]) -> Self {
        let own = (crate::name::SERVICE, "/openapi.json".to_owned());
        let documents = std::iter::once(own)
            .chain(
                backends
                    .iter()
                    .map(|backend| (backend.name, format!("{}/openapi.json", backend.prefix))),
            )
            .collect();
        Self { documents }
    }

    fn config(&self) -> Arc<Config<'_>> {
        let urls = self.documents.iter().map(|(name, url)| Url::new(name, url));
        Arc::new(
            Config::new(urls)
                .persist_authorization(true)
                .display_request_duration(true)
                .filter(true)
                // Swagger UI would otherwise have swagger.io validate each document.
                .validator_url("none"),
        )
    }

    /// The explorer's file at `path` (below [`ROOT`]; empty for the page).
    fn answer(&self, path: &str) -> Response {
        let file = match utoipa_swagger_ui::serve(path, self.config()) {
            Ok(Some(file)) => file,
            Ok(None) => {
                return Problem::not_found(format!("The explorer has no file `{path}`."))
                    .into_response();
            }
            Err(err) => {
                tracing::error!(error = %err, "the explorer's configuration did not render");
                return Problem::internal().into_response();
            }
        };
        let entry = ENTRY_FILES.contains(&path);
        let caching = if entry {
            "no-cache"
        } else {
            "public, max-age=3600"
        };
        let mut response = (
            [(header::CONTENT_TYPE, file.content_type)],
            file.bytes.into_owned(),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching));
        if entry {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            );
        }
        response
    }
}

/// The explorer's routes, with their state.
pub fn routes<S: Clone + Send + Sync + 'static>(backends: &[Backend]) -> Router<S> {
    Router::new()
        .route("/docs", get(get_docs))
        .route(ROOT, get(get_docs_page))
        .route(&format!("{ROOT}{{*file}}"), get(get_docs_file))
        .with_state(Arc::new(Explorer::new(backends)))
}

/// The explorer's address without its slash: on to `/docs/`, against which the page's
/// files are named.
#[utoipa::path(get, path = "/docs", tag = "docs",
    responses((status = 307, description = "To the explorer's page, `/docs/`",
        headers(("location" = String, description = "`/docs/`")))))]
pub async fn get_docs() -> Redirect {
    Redirect::temporary(ROOT)
}

/// The API explorer (Swagger UI): every document of the platform, tried through the gateway.
#[utoipa::path(get, path = "/docs/", tag = "docs",
    responses((status = 200, description = "The page (HTML)", content_type = "text/html")))]
pub async fn get_docs_page(State(explorer): State<Arc<Explorer>>) -> Response {
    explorer.answer("")
}

/// One of the explorer's files: its scripts, styles, icons and configuration
/// (`swagger-initializer.js`, which lists the documents).
#[utoipa::path(get, path = "/docs/{file}", tag = "docs",
    params(("file" = String, Path, description = "The file's name, `swagger-ui-bundle.js` say")),
    responses(
        (status = 200, description = "The file, with its content type"),
        (status = 404, description = "No such file", body = Problem, content_type = "application/problem+json")))]
pub async fn get_docs_file(State(explorer): State<Arc<Explorer>>, uri: Uri) -> Response {
    // The raw path rather than an extractor, so that no name, however encoded, is refused
    // before it is looked up.
    explorer.answer(uri.path().strip_prefix(ROOT).unwrap_or_default())
}
