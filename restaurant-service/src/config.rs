use clap::Parser;
use shared::{
    config::{AuthArgs, CommonArgs, parse_mongodb_url},
    registry::RegistryArgs,
};

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "restaurant-service";

/// restaurant-service's configuration: flags, each with an environment fallback.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "restaurant-service",
    version,
    about = "Restaurants and menus, on MongoDB."
)]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3003)]
    pub port: u16,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// MongoDB connection string.
    #[arg(long, env = "MONGODB_URL", default_value = "mongodb://127.0.0.1:27017/?directConnection=true", value_parser = parse_mongodb_url)]
    pub mongodb_url: String,
    /// Database holding the restaurants and menus.
    #[arg(long, env = "MONGODB_DATABASE", default_value = "restaurants")]
    pub mongodb_database: String,
    #[command(flatten)]
    pub auth: AuthArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_local_stores_and_the_architecture_port() {
        let config = Config::try_parse_from(["restaurant-service"]).expect("the defaults parse");
        assert_eq!(config.port, 3003);
        assert_eq!(config.mongodb_database, "restaurants");
        assert!(config.mongodb_url.contains("127.0.0.1:27017"));
        assert!(
            config
                .auth
                .auth_jwks_url
                .ends_with("/.well-known/jwks.json")
        );
    }
}
