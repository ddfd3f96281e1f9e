//! The stores' own doors: each binary reaches Redis, RabbitMQ and PostgreSQL as a user of its
//! own, allowed its own keys, names and database alone. Each store is checked on a private
//! instance (Redis, PostgreSQL) or a vhost of its own (RabbitMQ) set up by the very scripts
//! compose and scripts/provision run, and compose is checked to name every service's user.

mod compose;
mod postgres;
mod rabbitmq;
mod redis;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The repository's root.
fn repo() -> PathBuf {
    crate::compose::root()
}

/// A password no other run shares.
fn password(what: &str) -> String {
    format!("{what}-{}", uuid::Uuid::new_v4().simple())
}

/// Runs `command` to the end, failing the test with its output when it fails.
fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{command:?} runs: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Whether this process runs as root (PostgreSQL's servers then run as `postgres`).
fn is_root() -> bool {
    run(Command::new("id").arg("-u")).stdout == b"0\n"
}

/// A directory `postgres` can enter too, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Self {
        let dir =
            Path::new("/var/tmp").join(format!("doors-{what}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
