//! `scripts/dev` on ports and stores of its own: it starts the seven binaries, keeps the others
//! running when one is stopped or dies, brings one back, and stops them all on Ctrl-C.

mod harness;
mod listening;
mod stores;

use std::{net::TcpListener, process::Command, time::Duration};

use serde_json::Value;
use shared::testing::assert_problem;

use self::{harness::Dev, stores::Stores};
use crate::{binaries, stack::prefix_of};

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.expect("the gateway answers")
}

/// An admin's token for the run's gateway.
async fn admin_token(client: &reqwest::Client, dev: &Dev) -> String {
    let login: Value = client
        .post(dev.url("/auth/login"))
        .json(&serde_json::json!({
            "email": "admin@food-delivery.local",
            "password": "local admin password",
        }))
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("json");
    login["access_token"].as_str().expect("a token").to_owned()
}

/// The gateway's view of the registry once `accept` holds for it, or after five seconds.
async fn registry_view(
    client: &reqwest::Client,
    dev: &Dev,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let admin = admin_token(client, dev).await;
    let mut view = Value::Null;
    for _ in 0..50 {
        view = client
            .get(dev.url("/admin/registry"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("the gateway answers")
            .json()
            .await
            .expect("json");
        if accept(&view) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    view
}

/// The gateway lists `count` instances of `service`.
async fn assert_instances_listed(client: &reqwest::Client, dev: &Dev, service: &str, count: usize) {
    let listed = |view: &Value| {
        view["services"][service]["instances"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let view = registry_view(client, dev, |view| listed(view) == count).await;
    assert_eq!(listed(&view), count, "{view}");
}

/// Every backend lists itself in the run's registry, and the gateway reads it.
async fn assert_every_service_is_registered(client: &reqwest::Client, dev: &Dev) {
    let backends: Vec<_> = binaries::all()
        .into_iter()
        .filter(|binary| binary.name != "gateway")
        .collect();
    let view = registry_view(client, dev, |view| {
        backends
            .iter()
            .all(|binary| view["services"][binary.name]["source"] == "registry")
    })
    .await;
    for binary in &backends {
        let listed = &view["services"][binary.name];
        assert_eq!(listed["source"], "registry", "{}: {view}", binary.name);
        assert_eq!(
            listed["instances"][0]["url"],
            format!("http://127.0.0.1:{}", dev.port(binary.name)),
            "{view}"
        );
    }
}

#[tokio::test]
async fn the_dev_script_keeps_the_rest_running_when_one_stops_or_dies_and_stops_all_on_ctrl_c() {
    let stores = Stores::new();
    let mut dev = Dev::start(&stores);
    dev.await_output("Every service is ready.", Duration::from_secs(240));
    dev.assert_status(&[]);
    let client = reqwest::Client::new();
    let health: Value = get(&client, &dev.url("/health"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok", "{health}");
    for expected in ["MISS", "HIT"] {
        let browse = get(&client, &dev.url("/restaurants")).await;
        assert_eq!(browse.status().as_u16(), 200);
        assert_eq!(browse.headers()["x-cache"], expected);
    }
    assert_every_service_is_registered(&client, &dev).await;
    listening::assert_every_binary_listens_on_loopback_alone(&dev);
    // HTTPS with the certificate the script made, trusted by its authority alone.
    let ca = dev.dir.join("tls/ca.pem");
    let https = Command::new("curl")
        .args([
            "-sS",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
        ])
        .arg("--cacert")
        .arg(&ca)
        .arg(dev.https_url("/health"))
        .output()
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&https.stdout),
        "2 200",
        "{}",
        String::from_utf8_lossy(&https.stderr)
    );

    let (stopped, text) = dev.run(&["stop", "restaurant-service"]);
    assert!(stopped, "{text}");
    dev.await_output(
        "dev: restaurant-service is stopped",
        Duration::from_secs(10),
    );
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = get(&client, &dev.url("/restaurants?cuisine=thai")).await;
        let status = response.status().as_u16();
        let body = assert_problem(response, status).await;
        assert_eq!(body["service"], "restaurant-service", "{body}");
        statuses.push(status);
    }
    assert!(
        statuses.first() == Some(&502)
            && statuses.last() == Some(&503)
            && statuses.is_sorted()
            && statuses.iter().all(|status| [502, 503].contains(status)),
        "the first failures, then the open breaker: {statuses:?}"
    );
    let cached = get(&client, &dev.url("/restaurants")).await;
    assert_eq!(cached.status().as_u16(), 200, "still served from the cache");
    assert_eq!(cached.headers()["x-cache"], "HIT");
    // On the gateway's operational listener, at its default port.
    let admin = format!(
        "http://127.0.0.1:{}/stats/circuit-breakers",
        binaries::gateway_admin_port()
    );
    let table: Value = get(&client, &admin).await.json().await.expect("json");
    let breakers = table["breakers"].as_array().expect("one row per backend");
    for row in breakers {
        let expected = if row["service"] == "restaurant-service" {
            "OPEN"
        } else {
            "CLOSED"
        };
        assert_eq!(row["state"], expected, "{table}");
    }
    assert_eq!(breakers.len(), 6, "{table}");
    for binary in binaries::all() {
        if binary.name == "gateway" || binary.name == "restaurant-service" {
            continue;
        }
        let ready = get(
            &client,
            &dev.url(&format!("{}/ready", prefix_of(binary.name))),
        )
        .await;
        assert_eq!(
            ready.status().as_u16(),
            200,
            "{} still answers",
            binary.name
        );
    }
    dev.assert_status(&["restaurant-service"]);

    let (restarted, text) = dev.run(&["restart", "restaurant-service"]);
    assert!(restarted, "{text}");
    assert!(text.contains("restaurant-service is ready again"), "{text}");
    dev.await_output(
        "dev: restaurant-service is running again",
        Duration::from_secs(10),
    );
    dev.assert_status(&[]);

    // Another instance beside the first, in green: registered, and the gateway reads it.
    let (added, text) = dev.run(&["add", "restaurant-service", "green", "2.0.0"]);
    assert!(added, "{text}");
    let green_port = dev.port("restaurant-service") + 10;
    assert!(
        text.contains(&format!(
            "restaurant-service (green) is ready on port {green_port}"
        )),
        "{text}"
    );
    let green = format!("restaurant-service@{green_port}");
    dev.pid(&green).expect("its pid file");
    assert_instances_listed(&client, &dev, "restaurant-service", 2).await;
    dev.assert_status(&[]);

    let crashed = dev.pid("delivery-service").expect("delivery-service's pid");
    let killed = Command::new("kill")
        .args(["-KILL", &crashed.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    dev.await_output(
        "dev: delivery-service exited; the others keep running",
        Duration::from_secs(10),
    );
    dev.assert_status(&["delivery-service"]);
    let (restarted, text) = dev.run(&["restart", "delivery-service"]);
    assert!(restarted, "{text}");
    dev.assert_status(&[]);

    for name in binaries::all().map(|binary| binary.name) {
        dev.pid(name);
    }
    dev.signal_group("INT");
    let status = dev
        .await_exit(Duration::from_secs(60))
        .expect("scripts/dev exits after Ctrl-C");
    assert!(status.success(), "{status}:\n{}", dev.output());
    assert!(dev.output().contains("dev: stopped"), "{}", dev.output());
    assert_eq!(
        dev.left_running(),
        Vec::<u32>::new(),
        "no binary outlives it"
    );
    for binary in binaries::all() {
        let port = dev.port(binary.name);
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "{}'s port {port} is free",
            binary.name
        );
    }
    let pid_files: Vec<_> = std::fs::read_dir(dev.dir.join("run"))
        .expect("the run directory")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "pid"))
        .map(|entry| entry.file_name())
        .collect();
    assert!(pid_files.is_empty(), "pid files left: {pid_files:?}");
}
