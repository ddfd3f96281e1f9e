use clap::Parser;
use messaging::BrokeredServiceArgs;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "tracking-service";

/// tracking-service's configuration: flags, each with an environment fallback.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "tracking-service",
    version,
    about = "Delivery tracking: event-sourced streams and CQRS read models."
)]
#[command(mut_arg("database_url", |arg| arg.default_value("postgres://postgres@127.0.0.1:5432/tracking")))]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3005)]
    pub port: u16,
    #[command(flatten)]
    pub service: BrokeredServiceArgs,
    /// A stream's state is snapshotted every this many events.
    #[arg(long, env = "SNAPSHOT_EVERY", default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..))]
    pub snapshot_every: i32,
    /// Live streams one user may hold open at once, Server-Sent Events
    /// (`/tracking/{id}/stream`) and WebSockets (`/tracking/{id}/live`) together.
    #[arg(long, env = "STREAMS_PER_USER", default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    pub streams_per_user: u16,
    /// How long a live stream may go without a change before it is closed.
    #[arg(long, env = "STREAM_IDLE_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub stream_idle_timeout: std::time::Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_local_stores_and_the_architecture_port() {
        let config = Config::try_parse_from(["tracking-service"]).expect("the defaults parse");
        assert_eq!(config.port, 3005);
        assert_eq!(
            config.service.database.database_url.get_database(),
            Some("tracking")
        );
    }
}
