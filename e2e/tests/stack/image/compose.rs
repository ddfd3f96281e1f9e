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
        if binary == "seed" {
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
fn the_seed_runs_once_against_the_healthy_gateway_as_auth_services_administrator() {
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
    let auth = environment(&services["auth-service"]);
    for name in ["ADMIN_EMAIL", "ADMIN_PASSWORD"] {
        assert!(
            value(&variables, name).is_some(),
            "the seed is given {name}"
        );
        assert_eq!(
            value(&variables, name),
            value(&auth, name),
            "the seed signs in as the administrator auth-service creates"
        );
    }
    // Through the same variable, so that changing one in .env changes both.
    let raw = |service: &Yaml, name: &str| {
        field(service, "environment")[name]
            .as_str()
            .map(str::to_owned)
    };
    for name in ["ADMIN_EMAIL", "ADMIN_PASSWORD"] {
        assert_eq!(
            raw(seed, name),
            raw(&services["auth-service"], name),
            "{name}"
        );
    }
}
