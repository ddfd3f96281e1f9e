//! The HTTPS of the stack as compose runs it: the `dev-certificate` job's command writes an
//! authority and a certificate (and keeps them on a second run), and the gateway started
//! with compose's TLS settings serves HTTP/2 that curl trusts by that authority alone.

use std::process::Command;

use e2e::processes::{Process, binary_dir, build_binaries, free_port};

use crate::{
    compose::{environment, field, services, strings},
    platform::{env, wait_until_ready},
};

/// The folder compose mounts the `tls` volume on.
const MOUNTED: &str = "/var/lib/food-delivery/tls";

#[tokio::test]
async fn the_certificate_job_writes_what_the_gateway_serves_https_with_as_compose_sets_it() {
    build_binaries();
    let services = services();
    let dir = std::env::temp_dir().join(format!("compose-tls-{}", uuid::Uuid::now_v7()));
    let job = strings(field(&services["dev-certificate"], "command"));
    assert_eq!(job[..2], ["gateway", "dev-certificate"]);
    let job_volumes = strings(field(&services["dev-certificate"], "volumes"));
    assert!(
        job_volumes.contains(&format!("tls:{MOUNTED}")),
        "the job writes into the volume the gateway reads: {job_volumes:?}"
    );
    let run_job = || {
        let args: Vec<String> = job[1..]
            .iter()
            .map(|arg| arg.replace(MOUNTED, &dir.display().to_string()))
            .collect();
        let status = Command::new(binary_dir().join("gateway"))
            .args(&args)
            .status()
            .expect("the job runs");
        assert!(status.success(), "{args:?}");
    };
    run_job();
    let first = std::fs::read(dir.join("ca.pem")).expect("an authority");
    run_job();
    assert_eq!(
        std::fs::read(dir.join("ca.pem")).expect("still there"),
        first,
        "a second start keeps the authority its users trust"
    );

    let gateway = &services["gateway"];
    let volumes = strings(field(gateway, "volumes"));
    assert!(
        volumes.contains(&format!("tls:{MOUNTED}:ro")),
        "{volumes:?}"
    );
    let tls_port = free_port();
    let mut variables = vec![
        ("REDIS_URL", shared::testing::redis_url()),
        ("ADMIN_PORT", "0".to_owned()),
    ];
    let compose_sets = environment(gateway);
    for name in [
        "TLS_PORT",
        "TLS_CERT_FILES",
        "TLS_KEY_FILES",
        "HSTS_MAX_AGE",
    ] {
        let Some((_, value)) = compose_sets.iter().find(|(set, _)| set == name) else {
            continue;
        };
        let value = match name {
            "TLS_PORT" => tls_port.to_string(),
            _ => value.replace(MOUNTED, &dir.display().to_string()),
        };
        variables.push((name, value));
    }
    assert_eq!(
        variables.len(),
        6,
        "compose gives the gateway its TLS settings: {variables:?}"
    );
    let process = Process::start("gateway", free_port(), &env(&variables));
    wait_until_ready(&process).await;

    let output = Command::new("curl")
        .args(["-sS", "-i", "--http2", "--cacert"])
        .arg(dir.join("ca.pem"))
        .arg(format!("https://localhost:{tls_port}/health"))
        .output()
        .expect("curl runs");
    let answer = String::from_utf8_lossy(&output.stdout);
    assert!(
        answer.starts_with("HTTP/2 "),
        "{answer}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        answer.contains("strict-transport-security: max-age=300"),
        "{answer}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
