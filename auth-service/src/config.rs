use std::time::Duration;

use clap::{Args, Parser};
use messaging::BrokerArgs;
use shared::{
    config::{CommonArgs, PostgresArgs},
    forwarded::{TrustedProxies, parse_trusted_proxies},
    registry::RegistryArgs,
};

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "auth-service";

/// auth-service's configuration: flags, each with an environment fallback.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "auth-service",
    version,
    about = "Users, credentials, sessions and tokens."
)]
#[command(mut_arg("database_url", |arg| arg.default_value("postgres://postgres@127.0.0.1:5432/auth")))]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3001)]
    pub port: u16,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub database: PostgresArgs,
    #[command(flatten)]
    pub tokens: TokenArgs,
    #[command(flatten)]
    pub lockout: LockoutArgs,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub registrations: RegistrationArgs,
    #[command(flatten)]
    pub resets: ResetArgs,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The secret the signing keys are sealed with at rest: 32 bytes, base64. The default
    /// is for local development only, and a start with it says so.
    #[arg(long, env = "SIGNING_KEY_SECRET", default_value = crate::seal::DEVELOPMENT_SECRET, hide_default_value = true)]
    pub signing_key_secret: String,
    /// Proxies (the gateway) whose `X-Forwarded-For` names the client: networks or
    /// addresses, comma-separated. Anyone else's is ignored, so that a client that reaches
    /// this service directly cannot pose as many to escape the per-address limits.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "127.0.0.0/8, ::1", value_parser = parse_trusted_proxies)]
    pub trusted_proxies: TrustedProxies,
}

/// Access and refresh tokens.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// `iss` of the access tokens.
    #[arg(long, env = "TOKEN_ISSUER", default_value = "food-delivery-auth")]
    pub token_issuer: String,
    /// `aud` of the access tokens.
    #[arg(long, env = "TOKEN_AUDIENCE", default_value = "food-delivery")]
    pub token_audience: String,
    /// Lifetime of an access token.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (each use issues a new one).
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "30days", value_parser = humantime::parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Longest a session lasts from its sign-in, however often it is refreshed; then the
    /// password (and second factor) are asked again.
    #[arg(long, env = "SESSION_LIFETIME", default_value = "30days", value_parser = humantime::parse_duration)]
    pub session_lifetime: Duration,
    /// Time allowed between the password and the second factor.
    #[arg(long, env = "MFA_CHALLENGE_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub mfa_challenge_ttl: Duration,
    /// Issuer shown by authenticator apps.
    #[arg(long, env = "TOTP_ISSUER", default_value = "Food Delivery")]
    pub totp_issuer: String,
}

/// Failed-login tracking.
#[derive(Debug, Clone, Args)]
pub struct LockoutArgs {
    /// Failures on one account from one client within the window, after which that client
    /// is held back from that account (429 until they age out).
    #[arg(long, env = "LOCKOUT_THRESHOLD", default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..))]
    pub lockout_threshold: i32,
    /// Failures on one account from all clients within the window, after which it is held
    /// back for everyone: high, so that no one address can lock anyone out.
    #[arg(long, env = "ACCOUNT_LOCKOUT_THRESHOLD", default_value_t = 25, value_parser = clap::value_parser!(i64).range(1..))]
    pub account_lockout_threshold: i64,
    /// The window failures are counted in.
    #[arg(long, env = "LOCKOUT_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub lockout_window: Duration,
    /// Failures from one client IP within the window before it gets 429.
    #[arg(long, env = "IP_FAILURE_LIMIT", default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    pub ip_failure_limit: i64,
}

/// How many accounts one client address may create.
#[derive(Debug, Clone, Args)]
pub struct RegistrationArgs {
    /// Registration attempts one client address may make within the window.
    #[arg(long, env = "REGISTRATION_LIMIT", default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    pub registration_limit: i64,
    /// The window registration attempts are counted in.
    #[arg(long, env = "REGISTRATION_WINDOW", default_value = "1h", value_parser = humantime::parse_duration)]
    pub registration_window: Duration,
}

/// Password resets by a single-use link.
#[derive(Debug, Clone, Args)]
pub struct ResetArgs {
    /// The page a reset link opens; the token is appended to it, URL-encoded, as `token`.
    #[arg(
        long,
        env = "PASSWORD_RESET_URL",
        default_value = "http://localhost:3000/reset-password"
    )]
    pub password_reset_url: url::Url,
    /// How long a reset link stays usable.
    #[arg(long, env = "PASSWORD_RESET_TTL", default_value = "30m", value_parser = humantime::parse_duration)]
    pub password_reset_ttl: Duration,
    /// Resets one account may be sent within the link's lifetime; further requests are
    /// answered alike and send nothing, so that no one floods a mailbox.
    #[arg(long, env = "PASSWORD_RESETS_PER_ACCOUNT", default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..))]
    pub password_resets_per_account: i64,
    /// Also write each reset link to the log, for a local stack with no mailer. Never in
    /// production: the link lets anyone who reads the log into the account.
    #[arg(long, env = "LOG_RESET_LINKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub log_reset_links: bool,
}

/// Password hashing (argon2id; the defaults are OWASP's).
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// argon2id memory, in KiB.
    #[arg(long, env = "ARGON2_MEMORY_KIB", default_value_t = 19_456, value_parser = clap::value_parser!(u32).range(8..))]
    pub argon2_memory_kib: u32,
    /// argon2id passes.
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub argon2_iterations: u32,
    /// argon2id lanes.
    #[arg(long, env = "ARGON2_PARALLELISM", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub argon2_parallelism: u32,
}

/// The first administrator, created at start if the email is unused; an existing account is
/// never promoted.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Email of the administrator to create at start if no account uses it.
    #[arg(long, env = "ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Their password, used only when the account is created. Unset or empty, a strong one
    /// is generated, written once to the log, and must be changed at the first sign-in.
    #[arg(
        long,
        env = "ADMIN_PASSWORD",
        requires = "admin_email",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
    /// Administrators must enrol a TOTP authenticator before any admin route answers; until
    /// then their tokens carry no `admin` role.
    #[arg(long, env = "ADMIN_MFA_REQUIRED", default_value_t = false, action = clap::ArgAction::Set)]
    pub admin_mfa_required: bool,
    /// Where to write, at each start, an access token of the provisioning account (an
    /// administrator no person signs in to) for the demo data seed to read; unset, none.
    #[arg(long, env = "PROVISIONING_TOKEN_FILE")]
    pub provisioning_token_file: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_local_stores_and_the_architecture_port() {
        let config = Config::try_parse_from(["auth-service"]).expect("the defaults parse");
        assert_eq!(config.port, 3001);
        assert_eq!(config.database.database_url.get_database(), Some("auth"));
        assert_eq!(config.tokens.access_token_ttl, Duration::from_secs(15 * 60));
        assert_eq!(config.lockout.lockout_threshold, 5);
    }

    #[test]
    fn an_admin_password_needs_an_email_but_not_the_other_way_round() {
        assert!(Config::try_parse_from(["auth-service", "--admin-password", "secret"]).is_err());
        let config = Config::try_parse_from(["auth-service", "--admin-email", "root@example.com"])
            .expect("a password is generated when none is given");
        assert_eq!(config.admin.admin_password, None);
        assert!(!config.admin.admin_mfa_required);
    }
}
