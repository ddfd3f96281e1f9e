//! auth-service run as its binary, for what only its log shows.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use shared::testing::TestDatabase;

use crate::helpers::SIGNING_KEY_SECRET;

/// auth-service as a process, its JSON log lines sent on as they come.
pub struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub address: String,
}

impl Process {
    /// Starts it on a free port against `database`, with `settings` besides the tests' own.
    pub fn start(database: &TestDatabase, settings: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let closed = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_auth-service"))
            .env_clear()
            .envs([
                ("HOST", "127.0.0.1".to_owned()),
                ("PORT", port.to_string()),
                ("LOG_FORMAT", "json".to_owned()),
                ("RUST_LOG", "info".to_owned()),
                ("DATABASE_URL", database.url()),
                (
                    "AMQP_URL",
                    format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"),
                ),
                ("SIGNING_KEY_SECRET", SIGNING_KEY_SECRET.to_owned()),
                ("ARGON2_MEMORY_KIB", "64".to_owned()),
                ("ARGON2_ITERATIONS", "1".to_owned()),
            ])
            .envs(settings.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("auth-service starts");
        let stdout = child.stdout.take().expect("its output");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The log up to the first line that contains `marker`.
    pub fn log_until(&self, marker: &str) -> Vec<String> {
        let mut log = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(30)) {
            let done = line.contains(marker);
            log.push(line);
            if done {
                return log;
            }
        }
        panic!("no `{marker}` in the log:\n{}", log.join("\n"));
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
