//! The real binaries as the image runs them: `healthcheck` against a running instance, one
//! that is not ready and a closed port; the warning of a development secret at start-up; and
//! the seed's variables in compose, which the seed binary must accept.

use std::{
    fs::File,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use e2e::processes::{Process, binary_dir, build_binaries, free_port};

use crate::{
    compose::{environment, services},
    platform::{env, wait_until_ready},
};

/// Runs `binary healthcheck` with exactly `variables` (and PATH), and returns its status.
fn healthcheck(binary: &str, variables: &[(&str, String)]) -> Option<i32> {
    Command::new(binary_dir().join(binary))
        .arg("healthcheck")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(variables.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the binary runs")
        .code()
}

#[tokio::test]
async fn healthcheck_exits_0_on_a_ready_instance_and_1_on_one_not_ready_or_a_closed_port() {
    build_binaries();
    let port = free_port();
    let redis = shared::testing::redis_url();
    // Each on an operational port of its own: two gateways run here at once.
    let admin = || ("ADMIN_PORT", "0".to_owned());
    let gateway = Process::start("gateway", port, &env(&[("REDIS_URL", redis), admin()]));
    wait_until_ready(&gateway).await;
    // The service's whole environment, with what the check does not read left unparseable.
    let service = |port: u16| {
        vec![
            ("PORT", port.to_string()),
            ("HOST", "127.0.0.1".to_owned()),
            ("REDIS_URL", "not a URL".to_owned()),
            ("UPSTREAM_TIMEOUT", "soon".to_owned()),
        ]
    };
    assert_eq!(healthcheck("gateway", &service(port)), Some(0), "ready");

    // Its Redis away: up, but not ready.
    let unready_port = free_port();
    let redis_away = format!("redis://127.0.0.1:{}", free_port());
    let unready = Process::start(
        "gateway",
        unready_port,
        &env(&[("REDIS_URL", redis_away), admin()]),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{}/health", unready.url()))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{}", unready.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        healthcheck("gateway", &service(unready_port)),
        Some(1),
        "not ready"
    );

    let closed = free_port();
    let started = Instant::now();
    assert_eq!(
        healthcheck("auth-service", &service(closed)),
        Some(1),
        "closed port"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a short time-out"
    );
}

/// Starts `binary` with exactly `variables` (and PATH), waits until it listens (30 s at
/// most), stops it and returns its whole log.
fn start_up_log(binary: &str, variables: &[(&str, String)]) -> String {
    let log = std::env::temp_dir().join(format!("e2e-start-up-{binary}-{}.log", free_port()));
    let output = File::create(&log).expect("a log file");
    let mut child = Command::new(binary_dir().join(binary))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(variables.iter().map(|(name, value)| (name, value)))
        .stdout(output.try_clone().expect("a second handle"))
        .stderr(output)
        .stdin(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while Instant::now() < deadline && !text.contains("\"listening\"") {
        std::thread::sleep(Duration::from_millis(100));
        text = std::fs::read_to_string(&log).unwrap_or_default();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&log);
    text
}

#[test]
fn a_binary_warns_once_of_each_secret_left_at_a_development_value() {
    build_binaries();
    let closed = free_port();
    let log = start_up_log(
        "auth-service",
        &[
            ("PORT", free_port().to_string()),
            ("HOST", "127.0.0.1".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            // Nothing answers: it starts without its stores.
            (
                "DATABASE_URL",
                format!("postgres://app:s3cret-Value@127.0.0.1:{closed}/auth"),
            ),
            (
                "AMQP_URL",
                format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"),
            ),
            ("ADMIN_EMAIL", "admin@example.com".to_owned()),
            ("ADMIN_PASSWORD", "local admin password".to_owned()),
            // SIGNING_KEY_SECRET left unset: the built-in development secret.
        ],
    );
    assert!(
        log.contains("\"listening\""),
        "auth-service started:\n{log}"
    );
    let warnings = |variable: &str| {
        log.lines()
            .filter(|line| {
                line.contains("\"WARN\"") && line.contains(&format!("\"variable\":\"{variable}\""))
            })
            .count()
    };
    for variable in ["SIGNING_KEY_SECRET", "ADMIN_PASSWORD", "AMQP_URL"] {
        assert_eq!(warnings(variable), 1, "one warning of {variable}:\n{log}");
    }
    assert_eq!(
        warnings("DATABASE_URL"),
        0,
        "a password of its own is no warning"
    );
}

#[test]
fn the_seed_accepts_every_variable_compose_gives_it() {
    build_binaries();
    let help = Command::new(binary_dir().join("seed"))
        .arg("--help")
        .env_clear()
        .output()
        .expect("the seed runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for (variable, _) in environment(&services()["seed"]) {
        assert!(
            help.contains(&format!("[env: {variable}=")),
            "the seed reads {variable}:\n{help}"
        );
    }
}
