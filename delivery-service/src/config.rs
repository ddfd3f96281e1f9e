use clap::Parser;
use messaging::BrokeredServiceArgs;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "delivery-service";

/// delivery-service's configuration: flags, each with an environment fallback.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "delivery-service",
    version,
    about = "Couriers and shipments, the saga's shipping step."
)]
#[command(mut_arg("database_url", |arg| arg.default_value("postgres://postgres@127.0.0.1:5432/delivery")))]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3004)]
    pub port: u16,
    #[command(flatten)]
    pub service: BrokeredServiceArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_local_stores_and_the_architecture_port() {
        let config = Config::try_parse_from(["delivery-service"]).expect("the defaults parse");
        assert_eq!(config.port, 3004);
        assert_eq!(
            config.service.database.database_url.get_database(),
            Some("delivery")
        );
    }
}
