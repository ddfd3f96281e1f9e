//! Every binary's `/metrics` after an order has gone through: Prometheus's conventions, as
//! `promtool check metrics` holds them, and the Grafana board's every query answered by a real
//! Prometheus scraping the platform.

use std::{
    io::Write,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    binaries,
    board::{board, metric_names, queries},
    compose::root,
    platform::{Options, Platform},
    prometheus::Prometheus,
};

/// Metrics recorded only when something happens (a retry, a refusal, a timeout, a dead
/// letter, a deployment, an experiment): the board's queries of them may find nothing on a
/// healthy platform left alone.
const RECORDED_ON_EVENTS: &[&str] = &[
    "circuit_breaker_transitions_total",
    "gateway_retries_total",
    "gateway_retry_budget_exhausted_total",
    "gateway_rate_limited_total",
    "gateway_shed_requests_total",
    "gateway_outlier_ejections_total",
    "gateway_deployment_steps_total",
    "gateway_experiment_requests_total",
    "gateway_experiment_conversions_total",
    "saga_step_timeouts_total",
    "messages_retried_total",
    "messages_dead_lettered_total",
];

/// Whether a Rust source of the project records `name` (`counter!("name"`, `gauge!(...` or
/// `histogram!(...`): a help text naming it is not enough.
fn recorded_in_sources(name: &str) -> bool {
    fn search(dir: &std::path::Path, needles: &[String]) -> bool {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                let path = entry.path();
                if path.is_dir() {
                    !path.ends_with("target") && !path.ends_with("tests") && search(&path, needles)
                } else {
                    path.extension().is_some_and(|ext| ext == "rs")
                        && std::fs::read_to_string(&path).is_ok_and(|text| {
                            needles.iter().any(|needle| text.contains(needle.as_str()))
                        })
                }
            })
    }
    let needles: Vec<String> = ["counter", "gauge", "histogram"]
        .iter()
        .map(|kind| format!("{kind}!(\"{name}\""))
        .collect();
    binaries::all()
        .iter()
        .map(|binary| binary.name)
        .chain(["shared", "messaging"])
        // A binary's folder holds its crate and any crates of its own (the gateway's four).
        .any(|krate| search(&root().join(krate), &needles))
}

/// The platform, with one order confirmed and a restaurant read twice through the cache.
async fn platform_after_an_order() -> Platform {
    let platform = Platform::start(Options::default()).await;
    let admin = platform.admin().await;
    let menu = platform.restaurant(&admin).await;
    platform.courier(&admin, "rider@metrics.test").await;
    let customer = platform.customer("ada@metrics.test").await;
    let order = platform
        .order(&customer, &menu, "pm_card_ok")
        .await
        .expect("the order is placed");
    let confirmed = platform
        .wait_for(&customer, &order, &["CONFIRMED"], Duration::from_secs(30))
        .await;
    assert_eq!(confirmed["status"], "CONFIRMED", "{confirmed}");
    for _ in 0..2 {
        let read = reqwest::get(platform.url(&format!("/restaurants/{}", menu.0)))
            .await
            .expect("the gateway answers");
        assert_eq!(read.status().as_u16(), 200);
    }
    platform
}

/// Each binary's name, and the compose port and port here of its `/metrics` (the gateway's
/// operational listener's).
fn ports(platform: &mut Platform) -> Vec<(&'static str, u16, u16)> {
    binaries::all()
        .iter()
        .map(|binary| {
            if binary.name == "gateway" {
                (
                    binary.name,
                    binaries::gateway_admin_port(),
                    platform.admin_port(),
                )
            } else {
                (binary.name, binary.port, platform.backend(binary.name).port)
            }
        })
        .collect()
}

fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/provision installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("written");
    let output = child.wait_with_output().expect("promtool ends");
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_binarys_metrics_follow_prometheus_conventions_once_an_order_has_gone_through() {
    let mut platform = platform_after_an_order().await;
    let wanted: &[(&str, &[&str])] = &[
        (
            "gateway",
            &[
                r#"circuit_breaker_state{breaker="order-service",state="closed"} 1"#,
                r#"gateway_upstream_requests_total{service="order-service",outcome="response"}"#,
                r#"gateway_cache_requests_total{result="HIT"}"#,
                "gateway_redis_up 1",
            ],
        ),
        (
            "order-service",
            &[
                r#"http_client_requests_total{upstream="restaurant-service",method="GET",route="/restaurants/{id}/menu",status="200"}"#,
                r#"sagas_finished_total{outcome="confirmed"} 1"#,
                r#"saga_duration_seconds_count{outcome="confirmed"} 1"#,
                r#"sagas_unfinished{state="running""#,
                "outbox_messages_pending{",
                "messages_consumed_total{",
            ],
        ),
        (
            "payment-service",
            &["messages_consumed_total{", "messages_published_total{"],
        ),
        (
            "delivery-service",
            &["messages_consumed_total{", "messages_published_total{"],
        ),
        ("tracking-service", &["messages_consumed_total{"]),
    ];
    for (name, _, port) in ports(&mut platform) {
        let lines: Vec<&str> = wanted
            .iter()
            .filter(|(binary, _)| *binary == name)
            .flat_map(|(_, lines)| lines.iter().copied())
            .chain(["http_requests_total{"])
            .collect();
        // Gauges kept by a background task (the sagas' count) are set within seconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
                .await
                .expect("answered")
                .text()
                .await
                .expect("text");
            match lines.iter().find(|line| !text.contains(**line)) {
                None => break text,
                Some(line) => assert!(
                    Instant::now() < deadline,
                    "{name}'s metrics hold {line}:\n{text}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let (clean, said) = promtool_check(&text);
        assert!(
            clean && said.trim().is_empty(),
            "promtool on {name}'s metrics: {said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_binary_and_answers_every_query_of_the_grafana_board() {
    let mut platform = platform_after_an_order().await;
    let prometheus = Prometheus::scraping(&ports(&mut platform)).await;
    let board = board();
    let queries = queries(&board);
    assert!(queries.len() >= 20, "the board has its panels");
    for name in RECORDED_ON_EVENTS {
        assert!(
            recorded_in_sources(name),
            "{name} is a metric the platform records"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pending: Vec<(String, String)> = Vec::new();
    loop {
        let up = prometheus.series("up == 1").await;
        let missing: Vec<&str> = binaries::all()
            .iter()
            .map(|binary| binary.name)
            .filter(|name| !up.iter().any(|series| series["metric"]["job"] == *name))
            .collect();
        pending.clear();
        for (title, expr) in &queries {
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: {expr} selects a metric");
            let may_be_empty = names
                .iter()
                .all(|name| RECORDED_ON_EVENTS.contains(&name.as_str()));
            // Every query is valid PromQL; one of metrics recorded all along finds series.
            if prometheus.series(expr).await.is_empty() && !may_be_empty {
                pending.push((title.clone(), expr.clone()));
            }
        }
        if missing.is_empty() && pending.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not scraped: {missing:?}; queries finding nothing: {pending:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
