//! A real Prometheus server (Debian's `prometheus`, which `scripts/provision` installs),
//! scraping the platform's processes with the compose stack's configuration pointed at them.

use std::{
    fs::File,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{compose::root, processes::free_port};

/// A Prometheus server, killed and its data removed when dropped.
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    url: String,
    client: reqwest::Client,
}

impl Prometheus {
    /// Starts Prometheus with `deploy/prometheus/prometheus.yml`, each `name:port` target
    /// of the compose stack replaced by the loopback port `targets` gives for `name`, every
    /// second instead of every five.
    pub async fn scraping(targets: &[(&str, u16, u16)]) -> Self {
        let port = free_port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("prometheus-{port}"));
        std::fs::create_dir_all(&dir).expect("a data directory");
        let mut config = std::fs::read_to_string(root().join("deploy/prometheus/prometheus.yml"))
            .expect("the compose stack's configuration");
        for (name, compose_port, port) in targets {
            let target = format!("\"{name}:{compose_port}\"");
            assert!(config.contains(&target), "{target} is scraped");
            config = config.replace(&target, &format!("\"127.0.0.1:{port}\""));
        }
        config = config.replace("interval: 5s", "interval: 1s");
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("the configuration written");
        let log = dir.join("prometheus.log");
        let output = File::create(&log).expect("a log file");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(output.try_clone().expect("a second handle"))
            .stderr(output)
            .stdin(Stdio::null())
            .spawn()
            .expect("prometheus runs (scripts/provision installs it)");
        let prometheus = Self {
            child,
            dir,
            log,
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
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The answer to an instant query: `status` and `data`, or `error`.
    pub async fn query(&self, expr: &str) -> Value {
        self.client
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .expect("Prometheus answers")
            .json()
            .await
            .expect("JSON")
    }

    /// The series an instant query finds (failing on a query Prometheus refuses).
    pub async fn series(&self, expr: &str) -> Vec<Value> {
        let answer = self.query(expr).await;
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
