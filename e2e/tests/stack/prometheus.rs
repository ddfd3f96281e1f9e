//! A real Prometheus server (Debian's `prometheus`, which `scripts/provision` installs),
//! scraping the platform's processes with the compose stack's configuration pointed at them,
//! and Redis through Debian's `prometheus-redis-exporter`, as compose scrapes it.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use shared::testing::redis_url;

use crate::{compose::root, processes::free_port};

/// The exporter's port in the compose stack.
const REDIS_EXPORTER: (&str, u16) = ("redis-exporter", 9121);

/// A program the tests start, killed when dropped, its output in `log`.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(program: &str, args: &[String], log: PathBuf) -> Self {
        let output = File::create(&log).expect("a log file");
        let child = Command::new(program)
            .args(args)
            .stdout(output.try_clone().expect("a second handle"))
            .stderr(output)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{program} runs (scripts/provision installs it): {err}"));
        Self { child, log }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Prometheus server and the Redis exporter it scrapes; its data removed when dropped.
pub struct Prometheus {
    server: Daemon,
    _redis_exporter: Daemon,
    dir: PathBuf,
    url: String,
    client: reqwest::Client,
}

impl Prometheus {
    /// Starts Prometheus with `deploy/prometheus/prometheus.yml`, each `name:port` target
    /// of the compose stack replaced by the loopback port `targets` gives for `name` (and
    /// the Redis exporter's by one started here), every second instead of every five.
    pub async fn scraping(targets: &[(&str, u16, u16)]) -> Self {
        let port = free_port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("prometheus-{port}"));
        std::fs::create_dir_all(&dir).expect("a data directory");
        let exporter_port = free_port();
        let redis_exporter = Daemon::start(
            "prometheus-redis-exporter",
            &[
                format!("-redis.addr={}", redis_url()),
                format!("-web.listen-address=127.0.0.1:{exporter_port}"),
            ],
            dir.join("redis-exporter.log"),
        );
        let exporter = [(REDIS_EXPORTER.0, REDIS_EXPORTER.1, exporter_port)];
        let config_file = write_config(&dir, targets.iter().chain(&exporter));
        let server = Daemon::start(
            "prometheus",
            &[
                format!("--config.file={}", config_file.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ],
            dir.join("prometheus.log"),
        );
        let prometheus = Self {
            server,
            _redis_exporter: redis_exporter,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        prometheus.wait_until_ready().await;
        prometheus
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self
                .client
                .get(format!("{}/-/ready", self.url))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus is not ready: {}",
                self.server.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The series an instant query finds (failing on a query Prometheus refuses).
    pub async fn series(&self, expr: &str) -> Vec<Value> {
        let answer: Value = self
            .client
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .expect("Prometheus answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.server.child.kill();
        let _ = self.server.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The compose stack's configuration with its targets moved to loopback, in `dir`.
fn write_config<'a>(dir: &Path, targets: impl Iterator<Item = &'a (&'a str, u16, u16)>) -> PathBuf {
    let mut config = std::fs::read_to_string(root().join("deploy/prometheus/prometheus.yml"))
        .expect("the compose stack's configuration");
    for (name, compose_port, port) in targets {
        let target = format!("\"{name}:{compose_port}\"");
        assert!(config.contains(&target), "{target} is scraped");
        config = config.replace(&target, &format!("\"127.0.0.1:{port}\""));
    }
    config = config.replace("interval: 5s", "interval: 1s");
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).expect("the configuration written");
    std::fs::copy(
        root().join("deploy/prometheus/alerts.yml"),
        dir.join("alerts.yml"),
    )
    .expect("the alerting rules beside it");
    file
}
