//! The demo data set, created through the gateway's public API as a client would: the
//! administrator grants the roles, the owner opens the restaurants and writes their menus,
//! the couriers go on duty. Each item is looked up before it is created, so that a second
//! run changes nothing.

mod accounts;
mod catalogue;
mod client;
mod config;
mod couriers;
pub mod data;
mod error;
mod report;

pub use config::Config;
pub use error::SeedError;
pub use report::Report;

use client::Client;
use data::{COURIERS, CUSTOMER, OWNER, RESTAURANTS};

/// Seeds the platform at `config.gateway_url` (nothing when `config.seed` is false), once it
/// is healthy.
///
/// # Errors
/// The first call that fails, named.
pub async fn run(config: &Config) -> Result<Report, SeedError> {
    let mut report = Report::default();
    if !config.seed {
        return Ok(report);
    }
    if config.admin_token_file.is_none() && config.admin_password.is_empty() {
        report.skipped = Some(
            "no ADMIN_TOKEN_FILE to read and ADMIN_PASSWORD is empty, so the seed cannot act \
             as an administrator. Give auth-service a PROVISIONING_TOKEN_FILE that the seed \
             reads as ADMIN_TOKEN_FILE (compose does), or the administrator a password of your \
             own with ADMIN_MFA_REQUIRED=false (a stack of your own only)."
                .to_owned(),
        );
        return Ok(report);
    }
    let client = Client::new(config);
    client.wait_until_healthy().await?;
    // Read once the platform is up: auth-service writes the file as it starts.
    let admin = match accounts::token_from_file(config)? {
        Some(token) => token,
        None => accounts::administrator(&client, config).await?,
    };
    let owner = (OWNER, "Demo Owner", Some("restaurant_owner"));
    let owner = accounts::ensure(&client, config, &admin, owner, &mut report).await?;
    for restaurant in &RESTAURANTS {
        catalogue::ensure(&client, &owner, restaurant, &mut report).await?;
    }
    for courier in &COURIERS {
        couriers::ensure(&client, config, &admin, courier, &mut report).await?;
    }
    let customer = (CUSTOMER, "Demo Customer", None);
    accounts::ensure(&client, config, &admin, customer, &mut report).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[tokio::test]
    async fn seed_false_makes_no_call_and_leaves_the_platform_empty() {
        // Nothing listens on port 1: any call would fail.
        let config = Config::try_parse_from([
            "seed",
            "--gateway-url",
            "http://127.0.0.1:1",
            "--seed",
            "false",
        ])
        .expect("the settings parse");
        let report = run(&config).await.expect("nothing to do");
        assert!(report.created.is_empty());
        assert_eq!(report.present, 0);
        assert!(report.render(&config).starts_with("SEED=false"));
    }

    #[tokio::test]
    async fn without_the_administrator_s_password_nothing_is_seeded_and_the_report_says_why() {
        // Nothing listens on port 1: any call would fail.
        let config = Config::try_parse_from([
            "seed",
            "--gateway-url",
            "http://127.0.0.1:1",
            "--admin-password",
            "",
        ])
        .expect("the settings parse");
        let report = run(&config).await.expect("nothing to do");
        assert!(report.created.is_empty());
        let rendered = report.render(&config);
        assert!(rendered.contains("not seeded"), "{rendered}");
        assert!(rendered.contains("ADMIN_MFA_REQUIRED=false"), "{rendered}");
    }

    #[tokio::test]
    async fn an_unreachable_gateway_is_named_once_the_wait_is_over() {
        let config = Config::try_parse_from([
            "seed",
            "--gateway-url",
            "http://127.0.0.1:1",
            "--wait-secs",
            "0",
        ])
        .expect("the settings parse");
        let err = run(&config).await.expect_err("no platform there");
        assert!(
            err.to_string().contains("http://127.0.0.1:1/health"),
            "{err}"
        );
    }
}
