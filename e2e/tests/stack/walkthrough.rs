//! The first hour: the demo data set seeded through the public API (a second run changing
//! nothing), then the README's walkthrough run as printed there, by `scripts/demo`.

use std::{path::Path, process::Command};

use clap::Parser as _;
use serde_json::Value;

use crate::platform::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, Platform};

fn seed_config(platform: &Platform) -> seed::Config {
    seed::Config::try_parse_from([
        "seed",
        "--gateway-url",
        &platform.url(""),
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password",
        ADMIN_PASSWORD,
    ])
    .expect("the seed's settings parse")
}

/// Every restaurant with its menu's dish ids, as anyone sees them.
async fn catalogue(platform: &Platform) -> Vec<(String, Vec<String>)> {
    let (status, page) = platform
        .api
        .call(reqwest::Method::GET, "/restaurants?limit=100", None, None)
        .await;
    assert_eq!(status, 200, "{page}");
    let mut restaurants = Vec::new();
    for restaurant in page["items"].as_array().expect("a page") {
        let id = restaurant["id"].as_str().expect("an id");
        let (_, menu) = platform
            .api
            .call(
                reqwest::Method::GET,
                &format!("/restaurants/{id}/menu"),
                None,
                None,
            )
            .await;
        let dishes = menu["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|category| category["items"].as_array().cloned().unwrap_or_default())
            .map(|item: Value| item["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        restaurants.push((
            restaurant["name"].as_str().unwrap_or_default().to_owned(),
            dishes,
        ));
    }
    restaurants
}

#[tokio::test]
async fn a_seeded_platform_takes_the_readme_walkthrough_from_login_to_a_delivered_order() {
    let platform = Platform::start(Options::default()).await;
    let config = seed_config(&platform);

    let first = seed::run(&config)
        .await
        .expect("the first seeding succeeds");
    assert!(!first.created.is_empty(), "the first run creates the set");
    let seeded = catalogue(&platform).await;
    assert_eq!(seeded.len(), seed::data::RESTAURANTS.len(), "{seeded:?}");
    assert!(
        seeded.iter().all(|(_, dishes)| !dishes.is_empty()),
        "every restaurant has a menu: {seeded:?}"
    );
    let rendered = first.render(&config);
    for account in [seed::data::CUSTOMER, seed::data::OWNER] {
        assert!(
            rendered.contains(account),
            "the credentials are printed: {rendered}"
        );
    }

    let second = seed::run(&config)
        .await
        .expect("the second seeding succeeds");
    assert_eq!(
        second.created,
        Vec::<String>::new(),
        "a second run creates nothing"
    );
    assert_eq!(second.present, first.created.len() + first.present);
    assert_eq!(catalogue(&platform).await, seeded, "nor changes anything");

    let gateway = platform.url("");
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/demo"))
        .env("GATEWAY", &gateway)
        .output()
        .expect("scripts/demo runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the walkthrough runs to its end:\n{printed}"
    );
    for expected in [
        "customer@demo.food-delivery.local",
        "Bouchon des Terreaux",
        "Quenelle de brochet",
        "CONFIRMED",
        "\"state\": \"completed\"",
        "\"status\": \"captured\"",
        "READY",
        "PICKED_UP",
        "DELIVERED",
        "delivered",
    ] {
        assert!(
            printed.contains(expected),
            "the walkthrough shows {expected}:\n{printed}"
        );
    }
}
