//! docker-compose.yml against the image: every image pinned, every service of the platform's
//! image checking its health with its own binary, and the one-shot seed.

use yaml_rust2::Yaml;

use super::pinning::unpinned;
use crate::compose::{environment, field, services, strings};

/// The services that run the platform's own image (built here), by name.
fn own_image_services(services: &Yaml) -> Vec<(String, &Yaml)> {
    services
        .as_hash()
        .expect("services is a map")
        .iter()
        .filter(|(_, service)| !field(service, "build").is_badvalue())
        .map(|(name, service)| (name.as_str().unwrap_or_default().to_owned(), service))
        .collect()
}

#[test]
fn every_image_is_pinned_to_a_version() {
    let services = services();
    for (name, service) in services.as_hash().expect("services is a map") {
        let name = name.as_str().unwrap_or_default();
        if !field(service, "build").is_badvalue() {
            continue;
        }
        let image = field(service, "image")
            .as_str()
            .unwrap_or_else(|| panic!("{name} has an image or a build"));
        assert_eq!(unpinned(image), None, "{name}");
    }
}

#[test]
fn every_service_of_the_platform_image_checks_its_health_with_its_own_binary() {
    let services = services();
    let own = own_image_services(&services);
    assert!(
        own.len() >= 8,
        "the seven binaries and the seed: {}",
        own.len()
    );
    for (name, service) in own {
        let command = strings(field(service, "command"));
        let binary = command
            .first()
            .unwrap_or_else(|| panic!("{name} names its binary"));
        // One-shot jobs (the seed, the development certificate) end: they have no health.
        if field(service, "restart").as_str() == Some("no") {
            continue;
        }
        assert_eq!(
            strings(&field(service, "healthcheck")["test"]),
            [
                "CMD".to_owned(),
                format!("/usr/local/bin/{binary}"),
                "healthcheck".to_owned()
            ],
            "{name}"
        );
    }
}

#[test]
fn the_seed_runs_once_against_the_healthy_gateway_with_auth_services_provisioning_token() {
    let services = services();
    let seed = &services["seed"];
    assert!(!seed.is_badvalue(), "compose runs the seed");
    assert!(
        !field(seed, "build").is_badvalue(),
        "the seed is in the image"
    );
    assert_eq!(strings(field(seed, "command")), ["seed"]);
    assert_eq!(field(seed, "restart").as_str(), Some("no"), "it runs once");
    assert_eq!(
        field(seed, "depends_on")["gateway"]["condition"].as_str(),
        Some("service_healthy")
    );
    let variables = environment(seed);
    let value = |variables: &[(String, String)], name: &str| {
        variables
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(
        value(&variables, "GATEWAY_URL").as_deref(),
        Some("http://gateway:3000")
    );
    assert_eq!(value(&variables, "SEED").as_deref(), Some("true"));
    assert!(value(&variables, "SEED_PASSWORD").is_some());
    // It acts as the provisioning account, through the token file auth-service writes on
    // a volume the two alone share: no administrator's password, no second factor.
    let auth = &services["auth-service"];
    let token_file = value(&environment(auth), "PROVISIONING_TOKEN_FILE")
        .expect("auth-service writes a provisioning token");
    assert_eq!(
        value(&variables, "ADMIN_TOKEN_FILE"),
        Some(token_file.clone()),
        "the seed reads the file auth-service writes"
    );
    assert!(
        value(&variables, "ADMIN_PASSWORD").is_none(),
        "nor needs a password"
    );
    let folder = token_file
        .rsplit_once('/')
        .map(|(folder, _)| folder)
        .expect("a folder");
    let mounts = |service: &Yaml| strings(field(service, "volumes"));
    let shared = mounts(auth)
        .into_iter()
        .find(|mount| mount.ends_with(&format!(":{folder}")))
        .expect("auth-service's token folder is a volume");
    let volume = shared.split(':').next().expect("a volume name").to_owned();
    assert_eq!(
        mounts(seed),
        [format!("{volume}:{folder}:ro")],
        "the seed reads it only"
    );
    let others: Vec<&str> = services
        .as_hash()
        .expect("services is a map")
        .iter()
        .map(|(name, service)| (name.as_str().unwrap_or_default(), service))
        .filter(|(name, service)| {
            !["auth-service", "seed"].contains(name)
                && mounts(service)
                    .iter()
                    .any(|mount| mount.starts_with(&format!("{volume}:")))
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        others,
        Vec::<&str>::new(),
        "no other service mounts the token"
    );
}
