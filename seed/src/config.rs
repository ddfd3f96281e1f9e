//! Where the platform is, who may create the data set, and the demo accounts' password.

use clap::Parser;

/// The seed's settings; each a flag with an environment variable behind it.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "seed",
    about = "Creates the demo data set through the gateway (a second run changes nothing)"
)]
pub struct Config {
    /// The gateway's base URL.
    #[arg(long, env = "GATEWAY_URL", default_value = "http://localhost:3000")]
    pub gateway_url: String,
    /// `false` seeds nothing: the platform stays empty.
    #[arg(long, env = "SEED", default_value_t = true, action = clap::ArgAction::Set)]
    pub seed: bool,
    /// The administrator who grants the demo owner's and couriers' roles.
    #[arg(long, env = "ADMIN_EMAIL", default_value = "admin@food-delivery.local")]
    pub admin_email: String,
    /// The administrator's password; empty, nothing is seeded (the administrator's password
    /// was generated, and is the operator's alone).
    #[arg(long, env = "ADMIN_PASSWORD", default_value = "local admin password")]
    pub admin_password: String,
    /// A file holding an administrator's access token (auth-service's
    /// `PROVISIONING_TOKEN_FILE`), used in place of signing in with `ADMIN_PASSWORD`.
    #[arg(long, env = "ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<std::path::PathBuf>,
    /// The password of every demo account (customer, owner, couriers).
    #[arg(long, env = "SEED_PASSWORD", default_value = "demo password 2026")]
    pub password: String,
    /// How long to wait for the gateway to answer `/health` before giving up, in seconds.
    #[arg(long, env = "SEED_WAIT_SECS", default_value_t = 120)]
    pub wait_secs: u64,
}

impl Config {
    /// A URL of the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway_url.trim_end_matches('/'))
    }
}
