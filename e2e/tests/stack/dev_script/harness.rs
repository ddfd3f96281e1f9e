//! Running `scripts/dev` for a test: the run's own stores and ports, its output awaited, its
//! processes always stopped.

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

use crate::{
    binaries,
    processes::{binary_dir, build_binaries},
};

use super::stores::Stores;

/// `scripts/dev` running in a process group of its own, with the settings every command of
/// the run is given. Dropping it stops the script and kills whatever it started.
pub(super) struct Dev {
    script: Child,
    base: u16,
    prefix: String,
    pub(super) dir: PathBuf,
    /// Every pid read from a pid file, to kill should the script leave one behind.
    pids: Mutex<BTreeSet<u32>>,
}

impl Dev {
    /// Starts `scripts/dev` on this build's binaries (built first when stale), with `stores`
    /// and ports of its own.
    pub(super) fn start(stores: &Stores) -> Self {
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

    /// The gateway's HTTPS base URL.
    pub(super) fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.base + 443)
    }

    /// `scripts/dev args` with this run's settings.
    pub(super) fn command(&self, args: &[&str]) -> Command {
        command(self.base, &self.prefix, &self.dir, args)
    }

    /// Runs `scripts/dev args` to its end: whether it succeeded, and what it printed.
    pub(super) fn run(&self, args: &[&str]) -> (bool, String) {
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
    pub(super) fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("output.log")).unwrap_or_default()
    }

    /// Waits up to `limit` for the running script to print `text`.
    pub(super) fn await_output(&mut self, text: &str, limit: Duration) {
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
    pub(super) fn status(&self) -> BTreeMap<String, String> {
        let (success, text) = self.run(&["status"]);
        assert!(success, "scripts/dev status:\n{text}");
        let mut states = BTreeMap::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [name, port, state @ ..] = words.as_slice() else {
                continue;
            };
            // Another instance (`scripts/dev add`) is NAME@PORT.
            let expected = match name.split_once('@') {
                Some((service, port)) => {
                    assert!(self.port(service) > 0);
                    port.parse().ok()
                }
                None => Some(self.port(name)),
            };
            assert_eq!(
                port.parse::<u16>().ok(),
                expected,
                "the port of {name}: {line}"
            );
            states.insert((*name).to_owned(), state.join(" "));
        }
        let services = states.keys().filter(|name| !name.contains('@')).count();
        assert_eq!(services, 7, "one line per service:\n{text}");
        states
    }

    /// Asserts that `scripts/dev status` lists `stopped` as stopped and every other service
    /// as ready.
    pub(super) fn assert_status(&self, stopped: &[&str]) {
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
    pub(super) fn port(&self, name: &str) -> u16 {
        let binary = binaries::all()
            .into_iter()
            .find(|binary| binary.name == name)
            .unwrap_or_else(|| panic!("{name} is a binary"));
        self.base + (binary.port - 3000)
    }

    /// A URL of the gateway.
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.base)
    }

    /// The pid in `name`'s pid file, if there is one.
    pub(super) fn pid(&self, name: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.join(format!("run/{name}.pid"))).ok()?;
        let pid = text.trim().parse().ok()?;
        self.pids.lock().expect("the pids").insert(pid);
        Some(pid)
    }

    /// Sends `signal` to the script and to whatever runs in its foreground, as a terminal does.
    pub(super) fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([
                &format!("-{signal}"),
                "--",
                &format!("-{}", self.script.id()),
            ])
            .status();
    }

    /// Waits up to `limit` for the script to exit.
    pub(super) fn await_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
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
    pub(super) fn left_running(&self) -> Vec<u32> {
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
    // A shell started with SIGINT ignored (as a background job of a non-interactive shell
    // starts its children) can never trap it, so Ctrl-C is given back its default first.
    let mut command = Command::new("env");
    command
        .arg("--default-signal=INT")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dev"))
        .args(args)
        .env_clear();
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

/// A first port with the six after it free, and the HTTPS port 443 above it, below the
/// kernel's range for outgoing connections and the other tests' ports.
fn free_port_base() -> u16 {
    for _ in 0..100 {
        let random = uuid::Uuid::now_v7().as_u128() % 10_000;
        let base = 20_000 + u16::try_from(random).expect("below 10 000");
        if (base..base + 7)
            .chain([base + 443])
            .all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok())
        {
            return base;
        }
    }
    panic!("no seven free ports in a row from 20000 to 30006");
}
