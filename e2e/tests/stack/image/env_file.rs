//! The variables compose reads (`${VAR:-default}`) against `.env.example`, and the secrets'
//! development values against the binaries' warnings of them.

use std::collections::{BTreeMap, BTreeSet};

use shared::dev_defaults::{self, SECRET_VARIABLES};
use yaml_rust2::Yaml;

use super::{compose_document, env_example, strings_in, variables};
use crate::{
    binaries::{self, AMBIENT_VARIABLES},
    compose::{field, services},
};

/// Every variable compose reads, with its default; each must have one, the same wherever
/// it is read.
fn compose_variables() -> BTreeMap<String, String> {
    let mut values = Vec::new();
    strings_in(&compose_document(), &mut values);
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for value in values {
        let read = variables(&value).unwrap_or_else(|err| panic!("docker-compose.yml: {err}"));
        for (name, default) in read {
            let default = default.unwrap_or_else(|| {
                panic!("docker-compose.yml reads {name} with no default: `docker compose up` would need it set")
            });
            if let Some(earlier) = found.insert(name.clone(), default.clone()) {
                assert_eq!(earlier, default, "{name} has one default everywhere");
            }
        }
    }
    found
}

#[test]
fn env_example_lists_exactly_the_variables_compose_reads_with_their_defaults() {
    let compose = compose_variables();
    let example = env_example();
    for (name, default) in &compose {
        assert_eq!(
            example.get(name),
            Some(default),
            ".env.example lists {name} with compose's default"
        );
    }
    for name in example.keys() {
        assert!(
            compose.contains_key(name),
            ".env.example lists {name}, which docker-compose.yml does not read"
        );
    }
}

/// `service`'s environment as written in the compose file, `<<` merge keys expanded.
fn written(service: &Yaml) -> Vec<(String, String)> {
    fn collect(map: &Yaml, out: &mut Vec<(String, String)>) {
        for (key, value) in map.as_hash().into_iter().flatten() {
            match (key.as_str(), value.as_str()) {
                (Some("<<"), _) => collect(value, out),
                (Some(key), Some(value)) => out.push((key.to_owned(), value.to_owned())),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    collect(field(service, "environment"), &mut out);
    out
}

/// The secret variables `binary` reports at a development value when started by `service`,
/// after `rewrite` on each value as written in the compose file.
fn reported(
    binary: &binaries::Binary,
    service: &Yaml,
    rewrite: &dyn Fn(&str) -> String,
) -> BTreeSet<&'static str> {
    let command = (binary.command)();
    let mut args = vec![binary.name.to_owned()];
    for (variable, value) in written(service) {
        if AMBIENT_VARIABLES.contains(&variable.as_str()) {
            continue;
        }
        let flag = binaries::flag_for(&command, &variable)
            .unwrap_or_else(|| panic!("{} does not accept {variable}", binary.name));
        args.push(format!("{flag}={}", rewrite(&value)));
    }
    let matches = command
        .clone()
        .try_get_matches_from(&args)
        .unwrap_or_else(|err| panic!("{}: {err}", binary.name));
    dev_defaults::in_use(&command, &matches)
        .into_iter()
        .collect()
}

#[test]
fn every_secret_compose_fills_is_reported_at_its_default_and_silent_once_set() {
    let services = services();
    let defaults = |value: &str| super::interpolate(value).expect("a default");
    // What `.env` holds once every value is changed: none of them public.
    let changed = |value: &str| {
        let mut out = value.to_owned();
        for (name, default) in variables(value).expect("compose syntax") {
            let default = default.unwrap_or_default();
            // A switch (`ADMIN_MFA_REQUIRED`) is no secret, and must stay a boolean.
            let replacement = match default.as_str() {
                "true" | "false" => default.clone(),
                _ => format!("changed-{name}"),
            };
            out = out.replace(&format!("${{{name}:-{default}}}"), &replacement);
        }
        out
    };
    for binary in binaries::all() {
        let service = &services[binary.name];
        // A secret whose default is empty ships no value (the binary makes its own).
        let filled: BTreeSet<&str> = written(service)
            .into_iter()
            .filter(|(_, value)| value.contains("${") && !defaults(value).is_empty())
            .filter_map(|(variable, _)| {
                SECRET_VARIABLES
                    .iter()
                    .copied()
                    .find(|secret| *secret == variable)
            })
            .collect();
        assert_eq!(
            reported(&binary, service, &defaults),
            filled,
            "{} warns of each secret compose fills, left at its default",
            binary.name
        );
        assert_eq!(
            reported(&binary, service, &changed),
            BTreeSet::new(),
            "{} is silent once every secret is set",
            binary.name
        );
    }
}

#[test]
fn auth_services_built_in_secrets_are_known_development_values() {
    let auth = binaries::all()
        .into_iter()
        .find(|binary| binary.name == "auth-service")
        .expect("auth-service");
    let command = (auth.command)();
    let matches = command
        .clone()
        .try_get_matches_from(["auth-service"])
        .expect("the defaults parse");
    let built_in = dev_defaults::in_use(&command, &matches);
    for variable in ["SIGNING_KEY_SECRET", "AMQP_URL"] {
        assert!(
            built_in.contains(&variable),
            "auth-service's built-in {variable} is a development value: {built_in:?}"
        );
    }
}

#[test]
fn compose_ships_no_administrator_password_and_logs_no_reset_link() {
    let services = services();
    let auth: BTreeMap<String, String> = written(&services["auth-service"]).into_iter().collect();
    let default = |name: &str| {
        let value = auth
            .get(name)
            .unwrap_or_else(|| panic!("compose sets auth-service's {name}"));
        super::interpolate(value).expect("a default")
    };
    assert_eq!(
        default("ADMIN_PASSWORD"),
        "",
        "generated at the first start"
    );
    assert_eq!(default("ADMIN_MFA_REQUIRED"), "true");
    assert_eq!(
        default("LOG_RESET_LINKS"),
        "false",
        "a reset link stays out of the log unless the operator asks"
    );
    let example = env_example();
    assert_eq!(example.get("ADMIN_PASSWORD").map(String::as_str), Some(""));
    assert_eq!(
        example.get("LOG_RESET_LINKS").map(String::as_str),
        Some("false")
    );
}
