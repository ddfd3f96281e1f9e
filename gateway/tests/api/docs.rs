//! The API explorer: its page and files served by the gateway itself, to anyone, listing the
//! gateway's document and every backend's.

use reqwest::{Client, Response, StatusCode, redirect::Policy};
use shared::testing::{TestIssuer, assert_problem};

use crate::helpers::GatewayBuilder;

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn docs_answer_the_page_and_its_script_without_a_token() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let client = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("a client");

    let bare = client
        .get(format!("{gateway}/docs"))
        .send()
        .await
        .expect("sent");
    assert_eq!(bare.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(header(&bare, "location"), "/docs/");

    let page = client
        .get(format!("{gateway}/docs/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(header(&page, "content-type").starts_with("text/html"));
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert!(
        header(&page, "content-security-policy").contains("default-src 'self'"),
        "the page may load its own files"
    );
    let html = page.text().await.expect("a page");
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");

    let script = client
        .get(format!("{gateway}/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .expect("sent");
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        header(&script, "content-type").contains("javascript"),
        "{:?}",
        script.headers()
    );
    assert!(header(&script, "cache-control").starts_with("public, max-age="));
    assert!(
        script.bytes().await.expect("a script").len() > 100_000,
        "Swagger UI itself, not a stub"
    );
}

#[tokio::test]
async fn the_configuration_lists_the_gateway_and_every_backend_and_keeps_the_token() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let initializer = reqwest::get(format!("{gateway}/docs/swagger-initializer.js"))
        .await
        .expect("sent");
    assert_eq!(initializer.status(), StatusCode::OK);
    assert_eq!(header(&initializer, "cache-control"), "no-cache");
    let script = initializer.text().await.expect("a script");
    let compact: String = script.split_whitespace().collect();
    for (name, url) in [
        ("gateway", "/openapi.json"),
        ("auth-service", "/auth/openapi.json"),
        ("order-service", "/orders/openapi.json"),
        ("restaurant-service", "/restaurants/openapi.json"),
        ("delivery-service", "/delivery/openapi.json"),
        ("tracking-service", "/tracking/openapi.json"),
        ("payment-service", "/payments/openapi.json"),
    ] {
        let entry = format!(r#"{{"name":"{name}","url":"{url}"}}"#);
        assert!(compact.contains(&entry), "{entry} in {script}");
    }
    assert_eq!(compact.matches(r#""url":"#).count(), 7, "{script}");
    assert!(
        compact.contains(r#""persistAuthorization":true"#),
        "{script}"
    );
    assert!(compact.contains(r#""validatorUrl":"none""#), "{script}");
}

#[tokio::test]
async fn an_unknown_file_is_a_problem_and_the_document_describes_the_explorer() {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer).spawn().await;
    let missing = reqwest::get(format!("{gateway}/docs/nothing-here.js"))
        .await
        .expect("sent");
    let problem = assert_problem(missing, 404).await;
    assert_eq!(
        problem["detail"],
        "The explorer has no file `nothing-here.js`."
    );

    let document: serde_json::Value = reqwest::get(format!("{gateway}/openapi.json"))
        .await
        .expect("sent")
        .json()
        .await
        .expect("a document");
    for path in ["/docs", "/docs/", "/docs/{file}"] {
        assert!(document["paths"][path]["get"].is_object(), "{path}");
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "the scheme the secured operations name, for the explorer's Authorize"
    );
}
