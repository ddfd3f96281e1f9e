//! Secrets whose development values are published in this repository, and the warning a
//! binary logs at start-up while it runs with one: anyone who reads the repository knows
//! them.

use std::sync::OnceLock;

use clap::{ArgMatches, Command};

/// The development values of the secrets, all of them public: auth-service's built-in
/// `SIGNING_KEY_SECRET`, and the defaults of `docker-compose.yml` (`.env.example`) and
/// `scripts/dev`.
pub const DEVELOPMENT_VALUES: &[&str] = &[
    // auth-service's built-in signing-key secret.
    "ZGV2ZWxvcG1lbnQgb25seSwgbmV2ZXIgaW4gcHJvZCE=",
    // The compose stack's signing-key secret.
    "bG9jYWwgY29tcG9zZSBzdGFjayBvbmx5LCBjaGFuZ2U=",
    // The first administrator's password in compose and scripts/dev.
    "local admin password",
    // PostgreSQL's password in compose.
    "postgres",
    // RabbitMQ's built-in account, the default of AMQP_URL.
    "guest",
    // The services' own users of the stores, in compose and scripts/dev.
    "dev-auth-db",
    "dev-order-db",
    "dev-payment-db",
    "dev-delivery-db",
    "dev-tracking-db",
    "dev-redis-gateway",
    "dev-redis-registry",
    "dev-redis-exporter",
    "dev-amqp-auth",
    "dev-amqp-order",
    "dev-amqp-payment",
    "dev-amqp-delivery",
    "dev-amqp-tracking",
    "dev-amqp-gateway",
];

/// The variables that hold a secret: whole, or as the password of the URLs in them.
pub const SECRET_VARIABLES: &[&str] = &[
    "SIGNING_KEY_SECRET",
    "ADMIN_PASSWORD",
    "DATABASE_URL",
    "ORDER_SHARDS",
    "AMQP_URL",
    "REDIS_URL",
    "REGISTRY_URL",
    "MONGODB_URL",
];

/// The secret variables of `command` that `matches` (a parse of it, from flags, the
/// environment or defaults) give a development value, in the command's order.
pub fn in_use(command: &Command, matches: &ArgMatches) -> Vec<&'static str> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?;
            let variable = SECRET_VARIABLES
                .iter()
                .copied()
                .find(|known| *known == env)?;
            let mut values = matches.get_raw(arg.get_id().as_str())?;
            values
                .any(|value| value.to_str().is_some_and(is_development_value))
                .then_some(variable)
        })
        .collect()
}

/// Whether `value` is a development value, or holds URLs one of which has a development
/// password (`ORDER_SHARDS` holds several, each after its shard's name).
pub fn is_development_value(value: &str) -> bool {
    if !value.contains("://") {
        return DEVELOPMENT_VALUES.contains(&value);
    }
    value.split(',').any(|part| {
        url_password(part).is_some_and(|password| DEVELOPMENT_VALUES.contains(&password))
    })
}

/// The password in `url`'s authority, if any.
fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (user_info, _) = authority.rsplit_once('@')?;
    user_info.split_once(':').map(|(_, password)| password)
}

/// The findings of the configuration's parse, kept until logging has started.
static FOUND: OnceLock<Vec<&'static str>> = OnceLock::new();

/// Keeps what [`in_use`] found in the binary's configuration, for [`warn`].
pub(crate) fn note(variables: Vec<&'static str>) {
    let _ = FOUND.set(variables);
}

/// Logs one warning per secret variable that the configuration gave a development value.
pub(crate) fn warn() {
    for variable in FOUND.get().into_iter().flatten() {
        tracing::warn!(
            variable,
            "{variable} has a development value, published in the repository: set it before anyone else can reach this service"
        );
    }
}

#[cfg(test)]
mod tests {
    use clap::Arg;

    use super::*;

    #[test]
    fn development_passwords_in_urls_are_found_and_others_are_not() {
        assert!(is_development_value("amqp://guest:guest@rabbitmq:5672/%2f"));
        assert!(is_development_value(
            "a=postgres://postgres:secret@a/orders,b=postgres://postgres:postgres@b/orders"
        ));
        assert!(!is_development_value(
            "postgres://postgres@127.0.0.1:5432/auth"
        ));
        assert!(!is_development_value(
            "amqp://guest:s3cr3t@rabbitmq:5672/%2f"
        ));
        assert!(!is_development_value("redis://redis:6379"));
        assert!(is_development_value("local admin password"));
        assert!(!is_development_value("another password"));
    }

    #[test]
    fn only_secret_variables_are_looked_at_whatever_gave_them_their_value() {
        let command = Command::new("sample")
            .arg(
                Arg::new("amqp")
                    .long("amqp")
                    .env("AMQP_URL")
                    .default_value("amqp://guest:guest@h/"),
            )
            .arg(Arg::new("admin").long("admin").env("ADMIN_PASSWORD"))
            .arg(Arg::new("name").long("name").env("SAMPLE_NAME"));
        let matches = command
            .clone()
            .try_get_matches_from([
                "sample",
                "--admin",
                "local admin password",
                "--name",
                "guest",
            ])
            .expect("parses");
        assert_eq!(in_use(&command, &matches), ["AMQP_URL", "ADMIN_PASSWORD"]);
        let matches = command
            .clone()
            .try_get_matches_from(["sample", "--amqp", "amqp://app:long-secret@h/"])
            .expect("parses");
        assert!(in_use(&command, &matches).is_empty());
    }
}
