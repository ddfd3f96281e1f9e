//! docker-compose.yml's stores with their doors: no `trust`, no `guest`, every binary's URL
//! naming its own user, and each store given the passwords of the users the repository lists.

use std::collections::BTreeMap;

use super::repo;
use crate::{
    binaries,
    compose::{environment, field, services, strings},
};

fn env_of(name: &str) -> BTreeMap<String, String> {
    environment(&services()[name]).into_iter().collect()
}

/// The user in a URL's authority (`scheme://user:password@host`).
fn user_of(url: &str) -> &str {
    let (_, rest) = url.split_once("://").expect("a URL");
    let (user_info, _) = rest
        .split_once('@')
        .unwrap_or_else(|| panic!("{url} names a user"));
    user_info.split(':').next().unwrap_or_default()
}

#[test]
fn compose_trusts_no_connection_and_knows_no_guest() {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).expect("compose");
    for trusting in ["=trust", ": trust", "\"trust\""] {
        assert!(
            !text.contains(trusting),
            "no PostgreSQL server trusts a connection"
        );
    }
    assert!(
        !text.contains("guest:") && !text.contains(":-guest"),
        "no one uses RabbitMQ's guest"
    );
    for name in [
        "postgres",
        "orders-shard-a",
        "orders-shard-b",
        "orders-shard-c",
    ] {
        let env = env_of(name);
        assert_eq!(
            env["POSTGRES_INITDB_ARGS"], "--auth=scram-sha-256",
            "{name}"
        );
        assert_eq!(env["POSTGRES_HOST_AUTH_METHOD"], "scram-sha-256", "{name}");
        assert!(
            strings(field(&services()[name], "volumes"))
                .iter()
                .any(|volume| volume.starts_with(
                    "./deploy/postgres/service-databases.sh:/docker-entrypoint-initdb.d/"
                )),
            "{name} gives each service its role at its first start"
        );
    }
}

#[test]
fn every_binary_reaches_each_store_as_its_own_user() {
    let role = |name: &str| name.replace("-service", "_service");
    for binary in binaries::all() {
        let env = env_of(binary.name);
        let expect = |variable: &str, user: &str| {
            if let Some(value) = env.get(variable) {
                for url in value.split(',') {
                    assert_eq!(user_of(url), user, "{}'s {variable}", binary.name);
                }
            }
        };
        expect("DATABASE_URL", &role(binary.name));
        expect("ORDER_SHARDS", "order_service");
        expect("AMQP_URL", binary.name);
        let redis_user = if binary.name == "gateway" {
            "gateway"
        } else {
            "registry"
        };
        expect("REGISTRY_URL", redis_user);
        expect("REDIS_URL", "gateway");
        assert!(
            env.contains_key("REGISTRY_URL"),
            "{} lists itself or reads the registry",
            binary.name
        );
    }
    assert_eq!(env_of("redis-exporter")["REDIS_USER"], "exporter");
}

/// Each user named on a line `KEYWORD USER …` of `file`, first-seen order.
fn users_in(file: &str, keyword: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join(file)).expect("the users' file");
    let mut users: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some(keyword)
            && let Some(user) = words.next()
            && !users.iter().any(|known| known == user)
        {
            users.push(user.to_owned());
        }
    }
    users
}

#[test]
fn redis_and_rabbitmq_are_given_the_password_of_every_user_the_repository_lists() {
    let redis = env_of("redis");
    let acl = users_in("deploy/redis/users.acl", "user");
    assert!(
        acl.iter().any(|user| user == "default"),
        "the ACL file turns `default` off"
    );
    for user in acl.iter().filter(|user| *user != "default") {
        assert!(
            redis.contains_key(&format!("REDIS_{}_PASSWORD", user.to_uppercase())),
            "{user}"
        );
    }
    assert!(
        strings(field(&services()["redis"], "command"))
            .iter()
            .any(|arg| arg.ends_with("redis/start.sh"))
    );
    let rabbitmq = env_of("rabbitmq");
    let permitted = users_in("deploy/rabbitmq/permissions", "permit");
    assert_eq!(permitted.len(), 6, "the six binaries that use the broker");
    for user in permitted {
        let name = user.trim_end_matches("-service").to_uppercase();
        assert!(
            rabbitmq.contains_key(&format!("RABBITMQ_{name}_PASSWORD")),
            "{user}"
        );
    }
    assert!(
        strings(field(&services()["rabbitmq"], "command"))
            .iter()
            .any(|arg| arg.ends_with("rabbitmq/start.sh"))
    );
}
