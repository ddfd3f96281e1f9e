//! `scripts/dev` on ports and stores of its own: it starts the seven binaries, keeps the others
//! running when one is stopped or dies, brings one back, and stops them all on Ctrl-C.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs::File,
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

use messaging::{RetryDelays, testing::TestBroker};
use serde_json::Value;
use shared::testing::{TestMongo, assert_problem};
use sqlx::{Connection, Executor, PgConnection};

use crate::{
    binaries,
    processes::{binary_dir, build_binaries},
    stack::prefix_of,
};

/// Where `scripts/dev` finds the stores: their usual ports, since `command` passes on neither
/// FD_SHARD_PORT nor FD_MONGO_PORT.
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const SHARD_PORTS: [u16; 3] = [5433, 5434, 5435];
const MONGODB: &str = "mongodb://127.0.0.1:27017/?directConnection=true";
/// The retry delays the script leaves at their default, which name the broker's retry queues.
const RETRY_DELAYS: [u64; 3] = [1, 5, 30];

/// The stores of one run, named with its prefix: dropped when this is dropped.
struct Stores {
    prefix: String,
    _mongo: TestMongo,
    _broker: TestBroker,
}

impl Stores {
    fn new() -> Self {
        let prefix = format!("test_dev_{}_", uuid::Uuid::now_v7().simple());
        Self {
            _mongo: TestMongo {
                url: MONGODB.to_owned(),
                name: format!("{prefix}restaurants"),
            },
            _broker: TestBroker::with_prefix(
                &prefix,
                RetryDelays(RETRY_DELAYS.map(Duration::from_secs).to_vec()),
            ),
            prefix,
        }
    }
}

impl Drop for Stores {
    fn drop(&mut self) {
        let mut databases: Vec<(String, String)> = ["auth", "payments", "delivery", "tracking"]
            .iter()
            .map(|name| (POSTGRES.to_owned(), format!("{}{name}", self.prefix)))
            .collect();
        for port in SHARD_PORTS {
            databases.push((
                format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                format!("{}orders", self.prefix),
            ));
        }
        // Drop runs inside the test's runtime, which cannot block on async work; a thread
        // with a runtime of its own can.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                for (server, name) in databases {
                    let Ok(mut connection) = PgConnection::connect(&server).await else {
                        eprintln!(
                            "could not drop database {name}; it lingers until removed by hand"
                        );
                        continue;
                    };
                    let _ = connection
                        .execute(
                            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                        )
                        .await;
                }
                Some(())
            })
        })
        .join();
    }
}

/// `scripts/dev` running in a process group of its own, with the settings every command of
/// the run is given. Dropping it stops the script and kills whatever it started.
struct Dev {
    script: Child,
    base: u16,
    prefix: String,
    dir: PathBuf,
    /// Every pid read from a pid file, to kill should the script leave one behind.
    pids: Mutex<BTreeSet<u32>>,
}

impl Dev {
    /// Starts `scripts/dev` on this build's binaries (built first when stale), with `stores`
    /// and ports of its own.
    fn start(stores: &Stores) -> Self {
        build_binaries();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("dev-{}", stores.prefix.trim_end_matches('_')));
        std::fs::create_dir_all(&dir).expect("a directory for the run");
        let output = File::create(dir.join("output.log")).expect("a file for the output");
        let base = free_port_base();
        let script = command(base, &stores.prefix, &dir, &[])
            .stdout(output.try_clone().expect("a second handle"))
            .stderr(output)
            .stdin(Stdio::null())
            // As a terminal runs it, so that Ctrl-C reaches the whole group.
            .process_group(0)
            .spawn()
            .expect("scripts/dev starts");
        Self {
            script,
            base,
            prefix: stores.prefix.clone(),
            dir,
            pids: Mutex::new(BTreeSet::new()),
        }
    }

    /// `scripts/dev args` with this run's settings.
    fn command(&self, args: &[&str]) -> Command {
        command(self.base, &self.prefix, &self.dir, args)
    }

    /// Runs `scripts/dev args` to its end: whether it succeeded, and what it printed.
    fn run(&self, args: &[&str]) -> (bool, String) {
        let output = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .expect("scripts/dev runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    /// What the running script has printed so far.
    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("output.log")).unwrap_or_default()
    }

    /// Waits up to `limit` for the running script to print `text`.
    fn await_output(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.output().contains(text) {
            if let Ok(Some(status)) = self.script.try_wait() {
                panic!(
                    "scripts/dev exited ({status}) before printing {text:?}:\n{}",
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "scripts/dev did not print {text:?} within {limit:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `scripts/dev status`: each service's state by name, its port checked on the way.
    fn status(&self) -> BTreeMap<String, String> {
        let (success, text) = self.run(&["status"]);
        assert!(success, "scripts/dev status:\n{text}");
        let mut states = BTreeMap::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [name, port, state @ ..] = words.as_slice() else {
                continue;
            };
            assert_eq!(
                port.parse::<u16>().ok(),
                Some(self.port(name)),
                "the port of {name}: {line}"
            );
            states.insert((*name).to_owned(), state.join(" "));
        }
        assert_eq!(states.len(), 7, "one line per service:\n{text}");
        states
    }

    /// Asserts that `scripts/dev status` lists `stopped` as stopped and every other service
    /// as ready.
    fn assert_status(&self, stopped: &[&str]) {
        let states = self.status();
        for (name, state) in &states {
            if stopped.contains(&name.as_str()) {
                assert_eq!(state, "stopped", "{name}: {states:?}");
            } else {
                assert!(state.starts_with("ready (pid "), "{name}: {states:?}");
            }
        }
    }

    /// The port of service `name` in this run.
    fn port(&self, name: &str) -> u16 {
        let binary = binaries::all()
            .into_iter()
            .find(|binary| binary.name == name)
            .unwrap_or_else(|| panic!("{name} is a binary"));
        self.base + (binary.port - 3000)
    }

    /// A URL of the gateway.
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.base)
    }

    /// The pid in `name`'s pid file, if there is one.
    fn pid(&self, name: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.join(format!("run/{name}.pid"))).ok()?;
        let pid = text.trim().parse().ok()?;
        self.pids.lock().expect("the pids").insert(pid);
        Some(pid)
    }

    /// Sends `signal` to the script and to whatever runs in its foreground, as a terminal does.
    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([
                &format!("-{signal}"),
                "--",
                &format!("-{}", self.script.id()),
            ])
            .status();
    }

    /// Waits up to `limit` for the script to exit.
    fn await_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.script.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// The pids read so far whose process still runs one of the binaries.
    fn left_running(&self) -> Vec<u32> {
        let binaries = binary_dir();
        self.pids
            .lock()
            .expect("the pids")
            .iter()
            .copied()
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // A zombie has exited; whether anyone collects it is up to its parent.
                let running = stat
                    .rsplit_once(") ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z'));
                running
                    && std::fs::read_link(format!("/proc/{pid}/exe"))
                        .is_ok_and(|exe| exe.starts_with(&binaries))
            })
            .collect()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        for name in binaries::all().map(|binary| binary.name) {
            self.pid(name);
        }
        if self.script.try_wait().ok().flatten().is_none() {
            self.signal_group("TERM");
            if self.await_exit(Duration::from_secs(30)).is_none() {
                self.signal_group("KILL");
                let _ = self.script.wait();
            }
        }
        for pid in self.left_running() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        if std::thread::panicking() {
            eprintln!(
                "scripts/dev's output and logs are kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `scripts/dev args` on ports from `base`, stores named with `prefix`, logs and pid files in
/// `dir` and the binaries of this build; nothing else from the test's environment reaches it.
fn command(base: u16, prefix: &str, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dev"));
    command.args(args).env_clear();
    for inherited in ["PATH", "HOME", "FD_DATA_DIR"] {
        if let Some(value) = std::env::var_os(inherited) {
            command.env(inherited, value);
        }
    }
    command
        .env("FD_PORT_BASE", base.to_string())
        .env("FD_STORE_PREFIX", prefix)
        .env("FD_DEV_DIR", dir)
        .env("FD_BIN_DIR", binary_dir());
    command
}

/// A first port with the six after it free, below the kernel's range for outgoing connections
/// and the other tests' ports.
fn free_port_base() -> u16 {
    for _ in 0..100 {
        let random = uuid::Uuid::now_v7().as_u128() % 10_000;
        let base = 20_000 + u16::try_from(random).expect("below 10 000");
        if (base..base + 7).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return base;
        }
    }
    panic!("no seven free ports in a row from 20000 to 30006");
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.expect("the gateway answers")
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
    let table: Value = get(&client, &dev.url("/stats/circuit-breakers"))
        .await
        .json()
        .await
        .expect("json");
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
