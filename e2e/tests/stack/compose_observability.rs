//! The compose stack's observability, checked as the rest of the compose file is: Prometheus
//! scrapes every binary, Grafana reads that Prometheus and loads the board, and every
//! binary's spans reach Jaeger through the OpenTelemetry collector. Prometheus's own
//! `promtool` checks its configuration.

use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::{
    binaries,
    compose::{environment, field, root, services, strings},
};

fn yaml_file(path: &str) -> Yaml {
    let text =
        std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|err| panic!("{path} is not YAML: {err}"))
        .remove(0)
}

/// Where compose mounts the project's `source` in `service`.
fn mount(service: &str, source: &str) -> String {
    strings(field(&services()[service], "volumes"))
        .into_iter()
        .find_map(|volume| {
            let mut parts = volume.split(':');
            (parts.next() == Some(source)).then(|| parts.next().unwrap_or_default().to_owned())
        })
        .unwrap_or_else(|| panic!("{service} mounts {source}"))
}

/// The value of `--name=value` in `service`'s command.
fn flag(service: &str, name: &str) -> String {
    let prefix = format!("--{name}=");
    strings(field(&services()[service], "command"))
        .iter()
        .find_map(|argument| argument.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("{service} is given --{name}"))
}

#[test]
fn prometheus_scrapes_every_binary_by_its_compose_name_and_port_in_a_job_of_its_own_and_redis_through_its_exporter()
 {
    let config = yaml_file("deploy/prometheus/prometheus.yml");
    let jobs = config["scrape_configs"].as_vec().expect("scrape_configs");
    for binary in binaries::all() {
        let job = jobs
            .iter()
            .find(|job| job["job_name"].as_str() == Some(binary.name))
            .unwrap_or_else(|| panic!("a job for {}", binary.name));
        assert!(
            matches!(job["metrics_path"].as_str(), None | Some("/metrics")),
            "{} is scraped at /metrics",
            binary.name
        );
        let targets: Vec<String> = job["static_configs"]
            .as_vec()
            .expect("static_configs")
            .iter()
            .flat_map(|config| strings(&config["targets"]))
            .collect();
        // The gateway's on its operational listener, which compose does not publish.
        let port = if binary.name == "gateway" {
            binaries::gateway_admin_port()
        } else {
            binary.port
        };
        assert_eq!(targets, [format!("{}:{port}", binary.name)]);
    }
    let redis = jobs
        .iter()
        .find(|job| job["job_name"].as_str() == Some("redis"))
        .expect("a job for Redis");
    assert_eq!(
        strings(&redis["static_configs"][0]["targets"]),
        ["redis-exporter:9121"],
        "Redis is scraped through its exporter"
    );
    let exporter = environment(&services()["redis-exporter"]);
    assert!(
        exporter.contains(&("REDIS_ADDR".to_owned(), "redis://redis:6379".to_owned())),
        "the exporter reads the stack's Redis"
    );
    assert_eq!(
        mount("prometheus", "./deploy/prometheus/prometheus.yml"),
        flag("prometheus", "config.file"),
        "Prometheus reads the project's configuration"
    );
    assert_eq!(
        mount("prometheus", "./deploy/prometheus/alerts.yml"),
        "/etc/prometheus/alerts.yml",
        "the alerting rules sit beside the configuration, which names them"
    );
    assert_eq!(strings(&config["rule_files"]), ["alerts.yml"]);
    // Also checks the rules the configuration names.
    let checked = Command::new("promtool")
        .args(["check", "config"])
        .arg(root().join("deploy/prometheus/prometheus.yml"))
        .output()
        .expect("promtool runs (scripts/provision installs it)");
    assert!(
        checked.status.success(),
        "promtool check config: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn grafana_reads_the_stacks_prometheus_and_loads_the_board_whose_panels_use_it() {
    let datasources = yaml_file("deploy/grafana/provisioning/datasources/prometheus.yml");
    let datasource = &datasources["datasources"][0];
    assert_eq!(datasource["type"].as_str(), Some("prometheus"));
    assert_eq!(datasource["url"].as_str(), Some("http://prometheus:9090"));
    let uid = datasource["uid"].as_str().expect("a fixed uid");
    assert_eq!(
        mount("grafana", "./deploy/grafana/provisioning"),
        "/etc/grafana/provisioning",
        "Grafana finds its provisioning"
    );
    let providers = yaml_file("deploy/grafana/provisioning/dashboards/food-delivery.yml");
    assert_eq!(
        providers["providers"][0]["options"]["path"].as_str(),
        Some(mount("grafana", "./deploy/grafana/dashboards").as_str()),
        "the provider loads the mounted boards"
    );
    let grafana = &services()["grafana"];
    assert_eq!(
        field(grafana, "depends_on")["prometheus"]["condition"].as_str(),
        Some("service_healthy")
    );
    let board = crate::board::board();
    let mut ids = std::collections::HashSet::new();
    for panel in board["panels"].as_array().expect("panels") {
        assert!(ids.insert(panel["id"].as_i64()), "panel ids are unique");
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().expect("a title");
        assert_eq!(panel["datasource"]["uid"], uid, "{title}'s data source");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has queries");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], uid, "{title}'s data source");
            assert!(target["expr"].is_string(), "{title}'s query");
        }
    }
}

#[test]
fn every_binary_sends_its_spans_to_the_collector_which_passes_them_to_jaeger() {
    let services = services();
    for binary in binaries::all() {
        let endpoint = environment(&services[binary.name])
            .into_iter()
            .find(|(variable, _)| variable == "OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|(_, value)| value);
        assert_eq!(
            endpoint.as_deref(),
            Some("http://otel-collector:4318"),
            "{} exports to the collector over OTLP/HTTP",
            binary.name
        );
    }
    let collector = yaml_file("deploy/otel-collector.yaml");
    assert_eq!(
        mount("otel-collector", "./deploy/otel-collector.yaml"),
        flag("otel-collector", "config"),
        "the collector reads the project's configuration"
    );
    let listens = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
        .as_str()
        .expect("an OTLP/HTTP receiver");
    assert!(listens.ends_with(":4318"), "{listens}");
    let pipeline = &collector["service"]["pipelines"]["traces"];
    assert!(strings(&pipeline["receivers"]).contains(&"otlp".to_owned()));
    for processor in strings(&pipeline["processors"]) {
        assert!(
            !collector["processors"][processor.as_str()].is_badvalue(),
            "{processor} is configured"
        );
    }
    let exporters = strings(&pipeline["exporters"]);
    assert!(!exporters.is_empty(), "traces go somewhere");
    for exporter in exporters {
        let endpoint = collector["exporters"][exporter.as_str()]["endpoint"]
            .as_str()
            .unwrap_or_else(|| panic!("{exporter} is configured"));
        assert_eq!(
            endpoint, "jaeger:4317",
            "{exporter} sends to Jaeger over OTLP/gRPC"
        );
    }
    let jaeger = environment(&services["jaeger"]);
    assert!(
        jaeger.contains(&("COLLECTOR_OTLP_ENABLED".to_owned(), "true".to_owned())),
        "Jaeger takes OTLP"
    );
    assert_eq!(
        strings(field(&services["jaeger"], "ports")),
        ["127.0.0.1:16686:16686"],
        "Jaeger's UI, on this machine only"
    );
}
