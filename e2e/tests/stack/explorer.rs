//! The API explorer in a real browser: headless Chromium opens the gateway's `/docs`, finds
//! the seven documents in its dropdown, picks restaurant-service's, pastes a token into
//! "Authorize", and tries operations out through the gateway: a public one (one restaurant),
//! then, in auth-service's document, one that needs the token (`GET /auth/me`).

use std::time::Duration;

use fantoccini::{Client, Locator, elements::Element};

use crate::{
    browser::Driver,
    platform::{Options, Platform},
};

/// The element `css` selects, once the page shows it (Swagger UI renders as documents load).
async fn shown(browser: &Client, css: &str) -> Element {
    browser
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("the page shows `{css}`: {err}"))
}

async fn click(browser: &Client, css: &str) {
    shown(browser, css)
        .await
        .click()
        .await
        .unwrap_or_else(|err| panic!("`{css}` is clicked: {err}"));
}

/// Opens the operation whose block is `#operation`, tries it out with `parameters`, and
/// returns the status code the page shows for the answer.
async fn try_out(browser: &Client, operation: &str, parameters: &[(&str, &str)]) -> String {
    click(browser, &format!("#{operation} .opblock-summary-control")).await;
    click(browser, &format!("#{operation} .try-out__btn")).await;
    for (name, value) in parameters {
        shown(
            browser,
            &format!("#{operation} tr[data-param-name='{name}'] input"),
        )
        .await
        .send_keys(value)
        .await
        .expect("the parameter is typed");
    }
    click(browser, &format!("#{operation} .btn.execute")).await;
    let status = shown(
        browser,
        &format!("#{operation} .live-responses-table tbody .response-col_status"),
    )
    .await;
    status.text().await.expect("the status's text")
}

/// What the page fetched from anywhere but `origin`: files, documents and calls alike.
async fn fetched_elsewhere(browser: &Client, origin: &str) -> Vec<String> {
    let fetched = browser
        .execute(
            "return performance.getEntriesByType('resource').map(entry => entry.name)",
            Vec::new(),
        )
        .await
        .expect("the page's resources");
    fetched
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|name| name.as_str())
        .filter(|name| !name.starts_with(origin))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_explorer_lists_every_document_and_tries_calls_out_through_the_gateway() {
    let platform = Platform::start(Options::default()).await;
    let admin = platform.admin().await;
    let (restaurant, _) = platform.restaurant(&admin).await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser
        .goto(&platform.url("/docs"))
        .await
        .expect("the page loads");
    assert_eq!(browser.current_url().await.expect("a URL").path(), "/docs/");

    shown(&browser, "#select option").await;
    let mut listed = Vec::new();
    for option in browser
        .find_all(Locator::Css("#select option"))
        .await
        .expect("the dropdown's entries")
    {
        listed.push(
            option
                .prop("text")
                .await
                .expect("a name")
                .unwrap_or_default(),
        );
    }
    // One document per binary, in the platform's order: the gateway's, then the services'.
    assert_eq!(listed, crate::platform::BINARIES);

    shown(&browser, "#select")
        .await
        .select_by_label("restaurant-service")
        .await
        .expect("restaurant-service's document is chosen");
    shown(&browser, "#operations-restaurants-get_restaurant").await;
    click(&browser, ".auth-wrapper .btn.authorize").await;
    shown(&browser, ".modal-ux .auth-container input")
        .await
        .send_keys(&admin)
        .await
        .expect("the token is typed");
    click(&browser, ".modal-ux .auth-btn-wrapper .btn.authorize").await;
    click(&browser, ".modal-ux .btn-done").await;

    let found = try_out(
        &browser,
        "operations-restaurants-get_restaurant",
        &[("id", &restaurant)],
    )
    .await;
    assert!(
        found.starts_with("200"),
        "GET /restaurants/{restaurant} through the gateway: {found}"
    );

    shown(&browser, "#select")
        .await
        .select_by_label("auth-service")
        .await
        .expect("auth-service's document is chosen");
    let me = try_out(&browser, "operations-accounts-get_me", &[]).await;
    let screenshot = browser.screenshot().await.expect("a screenshot");
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer-try-it-out.png");
    std::fs::write(&kept, &screenshot).expect("the screenshot is kept");
    assert!(
        me.starts_with("200"),
        "GET /auth/me with the pasted token, through the gateway: {me}"
    );
    let elsewhere = fetched_elsewhere(&browser, &platform.url("/")).await;
    assert!(
        elsewhere.is_empty(),
        "the page, its documents and its calls all come from the gateway: {elsewhere:?}"
    );
    browser.close().await.expect("the session ends");
}
