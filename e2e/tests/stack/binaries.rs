//! The seven binaries: name, port, and the configuration each one accepts.

use clap::{Command, CommandFactory};

/// One binary of the platform.
pub struct Binary {
    pub name: &'static str,
    pub port: u16,
    pub command: fn() -> Command,
}

/// Every binary, with its port as the README's table of services gives it.
pub fn all() -> [Binary; 7] {
    [
        Binary {
            name: "gateway",
            port: 3000,
            command: gateway::Config::command,
        },
        Binary {
            name: "auth-service",
            port: 3001,
            command: auth_service::Config::command,
        },
        Binary {
            name: "order-service",
            port: 3002,
            command: order_service::Config::command,
        },
        Binary {
            name: "restaurant-service",
            port: 3003,
            command: restaurant_service::Config::command,
        },
        Binary {
            name: "delivery-service",
            port: 3004,
            command: delivery_service::Config::command,
        },
        Binary {
            name: "tracking-service",
            port: 3005,
            command: tracking_service::Config::command,
        },
        Binary {
            name: "payment-service",
            port: 3006,
            command: payment_service::Config::command,
        },
    ]
}

/// The port of the gateway's operational listener (`/metrics`, `/stats/*`), its
/// `ADMIN_PORT` by default: where Prometheus scrapes it.
pub fn gateway_admin_port() -> u16 {
    gateway::Config::command()
        .get_arguments()
        .find(|arg| arg.get_env().is_some_and(|env| env == "ADMIN_PORT"))
        .and_then(|arg| arg.get_default_values().first()?.to_str()?.parse().ok())
        .expect("the gateway has an ADMIN_PORT with a default")
}

/// Environment variables read outside the flags (by `tracing` and the OTel SDK).
pub const AMBIENT_VARIABLES: &[&str] =
    &["RUST_LOG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"];

/// The flag that `variable` sets on `command`, if any.
pub fn flag_for(command: &Command, variable: &str) -> Option<String> {
    command
        .get_arguments()
        .find(|arg| arg.get_env().is_some_and(|env| env == variable))
        .and_then(|arg| arg.get_long().map(|long| format!("--{long}")))
}

#[test]
fn every_binary_starts_from_its_defaults_alone() {
    for binary in all() {
        let matches = (binary.command)().try_get_matches_from([binary.name]);
        assert!(
            matches.is_ok(),
            "{} needs no argument: {:?}",
            binary.name,
            matches.err()
        );
    }
}
