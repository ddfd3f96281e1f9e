//! The first hour: the demo data set seeded through the public API (a second run changing
//! nothing), then the README's walkthrough run as printed there, by `scripts/demo`, with the
//! gateway's default rate limits: the seed and the walkthrough sign in more often together
//! than a minute's limit of sign-ins allows, and both wait their turn.

use std::{path::Path, process::Command};

use serde_json::Value;

use crate::{
    platform::{ADMIN_EMAIL, ADMIN_PASSWORD, Options, Platform},
    processes::{binary_dir, build_binaries},
};

/// Runs `scripts/` `name` with `env`, to its end: whether it succeeded, and what it printed.
fn script(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts")
            .join(name),
    )
    .envs(env.iter().copied())
    .output()
    .unwrap_or_else(|err| panic!("scripts/{name} runs: {err}"));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
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
    let platform = Platform::start(Options {
        rate_limits: true,
        ..Options::default()
    })
    .await;
    build_binaries();
    let bin_dir = binary_dir();
    let gateway = platform.url("");
    let seeding = [
        ("FD_BIN_DIR", bin_dir.to_str().expect("a UTF-8 path")),
        ("GATEWAY_URL", gateway.as_str()),
        ("ADMIN_EMAIL", ADMIN_EMAIL),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD),
    ];

    let (seeded_once, first) = script("seed", &seeding);
    assert!(seeded_once, "the first seeding succeeds:\n{first}");
    assert!(first.starts_with("Seeded 5 restaurants"), "{first}");
    for account in [
        seed::data::CUSTOMER,
        seed::data::OWNER,
        "demo password 2026",
    ] {
        assert!(
            first.contains(account),
            "the credentials are printed: {first}"
        );
    }
    let seeded = catalogue(&platform).await;
    assert_eq!(seeded.len(), seed::data::RESTAURANTS.len(), "{seeded:?}");
    assert!(
        seeded.iter().all(|(_, dishes)| !dishes.is_empty()),
        "every restaurant has a menu: {seeded:?}"
    );

    let (seeded_twice, second) = script("seed", &seeding);
    assert!(seeded_twice, "the second seeding succeeds:\n{second}");
    assert!(second.contains("nothing changed"), "{second}");
    assert_eq!(catalogue(&platform).await, seeded, "nor changes anything");

    let (walked, printed) = script("demo", &[("GATEWAY", gateway.as_str())]);
    assert!(walked, "the walkthrough runs to its end:\n{printed}");
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

#[tokio::test]
async fn as_compose_runs_it_the_seed_needs_no_administrator_s_password_nor_second_factor() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("provisioning-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let token_file = dir.join("token");
    let token_path = token_file.to_str().expect("a UTF-8 path").to_owned();
    let platform = Platform::start(Options {
        extra: vec![
            ("auth-service", "ADMIN_MFA_REQUIRED", "true".to_owned()),
            (
                "auth-service",
                "PROVISIONING_TOKEN_FILE",
                token_path.clone(),
            ),
        ],
        ..Options::default()
    })
    .await;
    build_binaries();
    let bin_dir = binary_dir();
    let gateway = platform.url("");
    let (seeded, printed) = script(
        "seed",
        &[
            ("FD_BIN_DIR", bin_dir.to_str().expect("a UTF-8 path")),
            ("GATEWAY_URL", gateway.as_str()),
            ("ADMIN_PASSWORD", ""),
            ("ADMIN_TOKEN_FILE", token_path.as_str()),
        ],
    );
    assert!(seeded, "the seeding succeeds:\n{printed}");
    assert!(printed.starts_with("Seeded 5 restaurants"), "{printed}");
    let restaurants = catalogue(&platform).await;
    assert_eq!(
        restaurants.len(),
        seed::data::RESTAURANTS.len(),
        "{restaurants:?}"
    );

    // And without the token file, nothing is seeded, and the report says how to.
    let (skipped, said) = script(
        "seed",
        &[
            ("FD_BIN_DIR", bin_dir.to_str().expect("a UTF-8 path")),
            ("GATEWAY_URL", gateway.as_str()),
            ("ADMIN_PASSWORD", ""),
        ],
    );
    assert!(skipped, "{said}");
    assert!(
        said.contains("not seeded") && said.contains("PROVISIONING_TOKEN_FILE"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
