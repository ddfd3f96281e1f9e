//! Starting the binaries as real processes, and stopping them whatever happens.

use std::{
    collections::BTreeMap,
    fs::File,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

/// Where the binaries under test are: `E2E_BIN_DIR` when set (another build, say the
/// commit before a fix, to see a test fail without it), else where cargo put this build's
/// (the directory above `deps/` for a test, the executable's own for a binary).
pub fn binary_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("E2E_BIN_DIR") {
        return PathBuf::from(dir);
    }
    build_dir()
}

fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable's own path");
    let dir = exe.parent().expect("target/<profile>");
    if dir.ends_with("deps") {
        dir.parent().expect("target/<profile>").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Where the binaries' logs go: the build's scratch space.
fn log_dir() -> PathBuf {
    let dir = build_dir()
        .parent()
        .map_or_else(std::env::temp_dir, |target| target.join("tmp"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Builds the binaries (a no-op when they are up to date) so that the test never runs stale
/// ones, whichever way it was started; nothing when `E2E_BIN_DIR` names others.
pub fn build_binaries() {
    if std::env::var_os("E2E_BIN_DIR").is_some() {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["build", "--bins", "--workspace", "--quiet"]);
    // Cargo gives the test its package's variables; ring's build script watches some of them,
    // so with them cargo would rebuild much of the workspace here, and again from a shell.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || ["CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE"].contains(&&*name)
        {
            command.env_remove(&*name);
        }
    }
    if build_dir().ends_with("release") {
        command.arg("--release");
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "the binaries build");
}

/// A free loopback port for a binary to take: bound, then released. Taken below Linux's
/// ephemeral range (32768 and up), where the kernel picks the local ports of outgoing
/// connections: a port released there can be taken by any connection the tests open before
/// the binary binds it, and the binary then fails to start while its port answers for
/// another. And never the same twice in one test process, whose tests start binaries at once.
pub fn free_port() -> u16 {
    // Below the dev-script test's ports too (20000 to 30006).
    const FIRST: u32 = 10_000;
    const SPAN: u32 = 10_000;
    static TAKEN: AtomicU32 = AtomicU32::new(0);
    // Each test process starts elsewhere, so that two run at once seldom meet.
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let offset = (start + TAKEN.fetch_add(1, Ordering::Relaxed)) % SPAN;
        let port = u16::try_from(FIRST + offset).expect("below 20000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port from {FIRST} to {}", FIRST + SPAN)
}

/// A running binary, killed when dropped; its output goes to a log file.
#[derive(Debug)]
pub struct Process {
    pub name: &'static str,
    pub port: u16,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `name` with exactly `env` (plus `PATH`), listening on `port`.
    pub fn start(name: &'static str, port: u16, env: &BTreeMap<&str, String>) -> Self {
        let log = log_dir().join(format!("e2e-{name}-{port}.log"));
        let output = File::create(&log).expect("a log file");
        let child = Command::new(binary_dir().join(name))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdout(output.try_clone().expect("a second handle"))
            .stderr(output)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{name} starts: {err}"));
        Self {
            name,
            port,
            child,
            log,
        }
    }

    /// The base URL it serves.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The end of its log, to explain a failure.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to `limit` for it to exit, without holding the runtime
    /// (whose tasks may be the proxies it talks through).
    pub async fn stop(&mut self, limit: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Sends SIGTERM and waits up to `limit` for it to exit.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
