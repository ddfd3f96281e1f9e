//! `docker-compose.yml` cannot be run here (no Docker engine), so it is checked against the
//! binaries instead: every one present with its port, a command that exists, variables that
//! the binary accepts with values it parses, and health-gated dependencies.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::binaries::{self, AMBIENT_VARIABLES};

const STORES: &[&str] = &[
    "postgres",
    "orders-shard-a",
    "orders-shard-b",
    "orders-shard-c",
    "redis",
    "rabbitmq",
    "mongo",
];

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn services() -> Yaml {
    let text = std::fs::read_to_string(root().join("docker-compose.yml"))
        .expect("docker-compose.yml exists");
    let mut documents = YamlLoader::load_from_str(&text).expect("docker-compose.yml is valid YAML");
    assert_eq!(documents.len(), 1, "one YAML document");
    documents.remove(0)["services"].clone()
}

/// A key of a service, looking through `<<` merge keys (YAML anchors for shared settings).
pub fn field<'a>(service: &'a Yaml, key: &str) -> &'a Yaml {
    let own = &service[key];
    if !own.is_badvalue() {
        return own;
    }
    match &service["<<"] {
        Yaml::Array(bases) => bases
            .iter()
            .map(|base| &base[key])
            .find(|value| !value.is_badvalue())
            .unwrap_or(own),
        base => &base[key],
    }
}

/// The environment of a service, as written in either of compose's two forms, with `<<`
/// merge keys (shared settings behind a YAML anchor) expanded, and each `${VAR:-default}`
/// at its default, as compose starts it with no variable set.
pub fn environment(service: &Yaml) -> Vec<(String, String)> {
    let mut variables = Vec::new();
    for source in [&service["<<"], service] {
        collect_variables(&source["environment"], &mut variables);
    }
    variables
}

fn collect_variables(environment: &Yaml, variables: &mut Vec<(String, String)>) {
    match environment {
        Yaml::Hash(map) => {
            for (key, value) in map {
                let key = key.as_str().unwrap_or_default();
                if key == "<<" {
                    collect_variables(value, variables);
                    continue;
                }
                let value = match value {
                    Yaml::String(text) => text.clone(),
                    Yaml::Integer(number) => number.to_string(),
                    Yaml::Boolean(flag) => flag.to_string(),
                    _ => String::new(),
                };
                let value = crate::image::interpolate(&value).unwrap_or(value);
                variables.push((key.to_owned(), value));
            }
        }
        Yaml::Array(items) => variables.extend(items.iter().filter_map(Yaml::as_str).map(|item| {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            (key.to_owned(), value.to_owned())
        })),
        _ => {}
    }
}

pub fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Array(items) => items
            .iter()
            .filter_map(Yaml::as_str)
            .map(str::to_owned)
            .collect(),
        Yaml::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_binary_is_a_compose_service_with_its_command_and_port() {
    let services = services();
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile exists");
    for binary in binaries::all() {
        let service = &services[binary.name];
        assert!(
            !service.is_badvalue(),
            "{} is in docker-compose.yml",
            binary.name
        );
        assert_eq!(
            strings(field(service, "command"))
                .first()
                .map(String::as_str),
            Some(binary.name),
            "{}'s command",
            binary.name
        );
        assert!(
            dockerfile.contains(&format!("/{}", binary.name)),
            "the Dockerfile installs {}",
            binary.name
        );
        // Only the gateway faces the world, in clear and over HTTPS; the backends, and the
        // gateway's operational listener, answer on loopback alone, so that nobody reaches
        // them around it.
        let published = if binary.name == "gateway" {
            let admin = binaries::gateway_admin_port();
            vec![
                format!("{0}:{0}", binary.port),
                "3443:3443".to_owned(),
                format!("127.0.0.1:{admin}:{admin}"),
            ]
        } else {
            vec![format!("127.0.0.1:{0}:{0}", binary.port)]
        };
        assert_eq!(
            strings(field(service, "ports")),
            published,
            "{} publishes {published:?} alone",
            binary.name
        );
        let image = field(service, "image").as_str().unwrap_or_default();
        assert!(
            !field(service, "build").is_badvalue() || !image.is_empty(),
            "{} has an image to run",
            binary.name
        );
    }
}

#[test]
fn every_variable_a_binary_is_given_is_one_it_accepts_with_a_value_it_parses() {
    let services = services();
    for binary in binaries::all() {
        let command = (binary.command)();
        let mut args = vec![binary.name.to_owned()];
        for (variable, value) in environment(&services[binary.name]) {
            if AMBIENT_VARIABLES.contains(&variable.as_str()) {
                continue;
            }
            let flag = binaries::flag_for(&command, &variable)
                .unwrap_or_else(|| panic!("{} does not accept {variable}", binary.name));
            args.push(format!("{flag}={value}"));
        }
        if let Err(err) = command.try_get_matches_from(&args) {
            panic!(
                "{}'s compose environment does not parse: {err}",
                binary.name
            );
        }
        let port = environment(&services[binary.name])
            .into_iter()
            .find(|(variable, _)| variable == "PORT")
            .map(|(_, value)| value);
        assert!(
            port.is_none() || port == Some(binary.port.to_string()),
            "{} listens on {}",
            binary.name,
            binary.port
        );
    }
}

#[test]
fn every_host_a_binary_is_pointed_at_is_a_compose_service() {
    let services = services();
    let names: Vec<&str> = services
        .as_hash()
        .expect("services is a map")
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    for binary in binaries::all() {
        for (variable, value) in environment(&services[binary.name]) {
            for url in value
                .split(',')
                .filter_map(|part| part.split_once("://").map(|(_, rest)| rest))
            {
                let authority = url.split('/').next().unwrap_or_default();
                let host = authority
                    .rsplit('@')
                    .next()
                    .unwrap_or_default()
                    .split(':')
                    .next()
                    .unwrap_or_default();
                assert!(
                    names.contains(&host),
                    "{}'s {variable} points at {host}, which compose does not run",
                    binary.name
                );
            }
        }
    }
}

#[test]
fn every_service_waits_for_healthy_dependencies_and_has_a_healthcheck() {
    let services = services();
    for name in STORES
        .iter()
        .copied()
        .chain(binaries::all().iter().map(|binary| binary.name))
    {
        let service = &services[name];
        assert!(!service.is_badvalue(), "{name} is in docker-compose.yml");
        assert!(
            !field(service, "healthcheck")["test"].is_badvalue(),
            "{name} has a healthcheck"
        );
        if let Yaml::Hash(dependencies) = field(service, "depends_on") {
            for (dependency, settings) in dependencies {
                let dependency = dependency.as_str().unwrap_or_default();
                assert!(
                    !services[dependency].is_badvalue(),
                    "{name} depends on {dependency}, which exists"
                );
                // A one-shot job (restart "no") is waited for to have finished well.
                let waited = if field(&services[dependency], "restart").as_str() == Some("no") {
                    "service_completed_successfully"
                } else {
                    "service_healthy"
                };
                assert_eq!(
                    settings["condition"].as_str(),
                    Some(waited),
                    "{name} waits for {dependency} ({waited})"
                );
            }
        }
    }
    let gateway_dependencies = field(&services["gateway"], "depends_on");
    for binary in binaries::all().iter().skip(1) {
        assert!(
            !gateway_dependencies[binary.name].is_badvalue(),
            "the gateway waits for {}",
            binary.name
        );
    }
}

#[test]
fn no_store_or_management_port_faces_the_world() {
    let services = services();
    for store in STORES {
        for port in strings(field(&services[*store], "ports")) {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{store} publishes {port} on every interface"
            );
        }
    }
}

#[test]
fn every_binary_checks_its_own_health_at_its_own_port() {
    let services = services();
    for binary in binaries::all() {
        let service = &services[binary.name];
        let test = strings(&field(service, "healthcheck")["test"]);
        assert_eq!(
            test,
            [
                "CMD".to_owned(),
                format!("/usr/local/bin/{}", binary.name),
                "healthcheck".to_owned()
            ],
            "{} runs its own health check",
            binary.name
        );
        // The check reads the service's own PORT and HOST, as the binary does.
        let healthcheck = shared::healthcheck::command(&(binary.command)())
            .unwrap_or_else(|| panic!("{} has a healthcheck subcommand", binary.name));
        let mut args = vec!["healthcheck".to_owned()];
        for (variable, value) in environment(service) {
            if let Some(flag) = binaries::flag_for(&healthcheck, &variable) {
                args.push(format!("{flag}={value}"));
            }
        }
        let matches = healthcheck
            .try_get_matches_from(&args)
            .unwrap_or_else(|err| panic!("{}'s healthcheck: {err}", binary.name));
        let probe = shared::healthcheck::Probe::from_matches(&matches).expect("a probe");
        assert_eq!(
            probe.url(),
            format!("http://127.0.0.1:{}/ready", binary.port),
            "{} checks its own port",
            binary.name
        );
    }
}

#[test]
fn a_green_restaurant_service_stands_beside_the_blue_one_under_its_own_profile() {
    let services = services();
    let green = &services["restaurant-service-green"];
    assert_eq!(strings(field(green, "profiles")), ["green"]);
    assert_eq!(strings(field(green, "command")), ["restaurant-service"]);
    let variables = environment(green);
    let value = |name: &str| {
        variables
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(value("INSTANCE_COLOUR"), Some("green"));
    assert_eq!(
        value("ADVERTISE_URL"),
        Some("http://restaurant-service-green:3003"),
        "reached at its own name"
    );
    assert_eq!(
        value("REGISTRY_URL"),
        Some("redis://registry:dev-redis-registry@redis:6379")
    );
    let blue = environment(&services["restaurant-service"]);
    assert_eq!(
        value("MONGODB_DATABASE"),
        blue.iter()
            .find(|(key, _)| key == "MONGODB_DATABASE")
            .map(|(_, value)| value.as_str()),
        "the same data as the blue one"
    );
    assert!(
        strings(field(green, "ports")).is_empty(),
        "reached through the gateway only"
    );
}
