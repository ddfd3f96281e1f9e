use clap::Parser;
use shared::config::{CommonArgs, PostgresArgs};

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_local_stores_and_the_architecture_port() {
        let config = Config::try_parse_from(["auth-service"]).expect("the defaults parse");
        assert_eq!(config.port, 3001);
        assert_eq!(config.database.database_url.get_database(), Some("auth"));
    }
}
