//! The dashboard in a real browser: headless Chromium, driven over WebDriver (chromedriver,
//! which `scripts/provision` installs), signs in with an admin's token, sees
//! restaurant-service's breaker open once the service is killed and close once it is back,
//! without reloading the page. A screenshot of the open breaker is kept.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use crate::{
    browser::Driver,
    platform::{Options, Platform},
};

/// The state the page shows for `service`'s breaker.
async fn shown_state(browser: &Client, service: &str) -> String {
    let Ok(table) = browser.find(Locator::Id("breakers")).await else {
        return String::new();
    };
    let text = table.text().await.unwrap_or_default();
    text.lines()
        .find(|line| line.starts_with(service))
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_owned()
}

/// Reads restaurants through the gateway until the page shows `state`, or thirty seconds.
async fn until_shown(platform: &Platform, browser: &Client, state: &str) -> String {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    loop {
        n += 1;
        let _ = client
            .get(platform.url(&format!("/restaurants?q=probe{n}")))
            .send()
            .await;
        let shown = shown_state(browser, "restaurant-service").await;
        if shown == state || Instant::now() >= deadline {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_dashboard_shows_a_breaker_open_when_a_service_dies_and_closed_when_it_returns() {
    let mut platform = Platform::start(Options {
        extra: vec![("gateway", "BREAKER_OPEN_FOR", "2s".to_owned())],
        ..Options::default()
    })
    .await;
    let admin = platform.admin().await;
    let (status, snapshot) = platform.get("/admin/dashboard", &admin).await;
    assert_eq!(status, 200, "{snapshot}");
    assert!(
        snapshot["sagas"]["counts"]["running"].is_i64(),
        "order-service's sagas, asked as the admin: {snapshot}"
    );
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser
        .goto(&platform.url("/dashboard"))
        .await
        .expect("the page loads");
    browser
        .find(Locator::Id("token"))
        .await
        .expect("the sign-in form")
        .send_keys(&admin)
        .await
        .expect("typed");
    browser
        .find(Locator::Css("#tokenform button"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("clicked");
    assert_eq!(until_shown(&platform, &browser, "CLOSED").await, "CLOSED");

    platform.backend("restaurant-service").kill();
    assert_eq!(until_shown(&platform, &browser, "OPEN").await, "OPEN");
    let screenshot = browser.screenshot().await.expect("a screenshot");
    assert!(screenshot.starts_with(b"\x89PNG"), "a PNG");
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-breaker-open.png");
    std::fs::write(&kept, &screenshot).expect("the screenshot is kept");

    platform.restart("restaurant-service").await;
    assert_eq!(until_shown(&platform, &browser, "CLOSED").await, "CLOSED");
    browser.close().await.expect("the session ends");
}
