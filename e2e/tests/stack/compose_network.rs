//! The compose network: the gateway at a fixed address, the only one whose
//! `X-Forwarded-For` auth-service believes.

use std::net::Ipv4Addr;

use yaml_rust2::{Yaml, YamlLoader};

use crate::compose::{environment, field, root, services};

/// Whether `address` is in `network` (`172.28.0.0/16`).
fn contains(network: &str, address: Ipv4Addr) -> bool {
    let (base, bits) = network.split_once('/').expect("a network");
    let base: Ipv4Addr = base.parse().expect("an address");
    let bits: u32 = bits.parse().expect("a prefix length");
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(base) & mask == u32::from(address) & mask
}

fn network_config() -> Yaml {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("readable");
    let document = YamlLoader::load_from_str(&text).expect("YAML").remove(0);
    document["networks"]["default"]["ipam"]["config"][0].clone()
}

#[test]
fn auth_service_believes_the_forwarded_addresses_of_the_gateways_fixed_address_alone() {
    let services = services();
    let gateway = field(&services["gateway"], "networks")["default"]["ipv4_address"]
        .as_str()
        .expect("the gateway has a fixed address on the default network")
        .to_owned();
    let trusted = environment(&services["auth-service"])
        .into_iter()
        .find(|(variable, _)| variable == "TRUSTED_PROXIES")
        .map(|(_, value)| value)
        .expect("auth-service is told whom to trust");
    assert_eq!(trusted, gateway, "the gateway's address, not a network");

    let address: Ipv4Addr = gateway.parse().expect("an IPv4 address");
    let config = network_config();
    let subnet = config["subnet"].as_str().expect("a fixed subnet");
    let pool = config["ip_range"]
        .as_str()
        .expect("a range the other containers are given addresses from");
    assert!(contains(subnet, address), "{address} is on {subnet}");
    assert!(
        !contains(pool, address),
        "no other container can be given {address} first ({pool})"
    );
    assert!(contains(
        subnet,
        pool.split_once('/')
            .expect("a network")
            .0
            .parse()
            .expect("an address")
    ));
}
