//! Redis on deploy/redis/users.acl, started by deploy/redis/start.sh as compose starts it:
//! each user reaches its own keys and commands, and `default` nothing.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use shared::registry::{Instance, Registry};

use super::{Scratch, password, repo};
use crate::processes::free_port;

/// A private redis-server with the repository's users, stopped when dropped.
struct PrivateRedis {
    port: u16,
    gateway: String,
    registry: String,
    exporter: String,
    server: Child,
    _dir: Scratch,
}

impl PrivateRedis {
    fn start() -> Self {
        let dir = Scratch::new("redis");
        let port = free_port();
        let (gateway, registry, exporter) = (password("g"), password("r"), password("e"));
        let server = Command::new("sh")
            .arg(repo().join("deploy/redis/start.sh"))
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir"])
            .arg(dir.path())
            .env("REDIS_ACL_FILE", dir.path().join("users.acl"))
            .env("REDIS_GATEWAY_PASSWORD", &gateway)
            .env("REDIS_REGISTRY_PASSWORD", &registry)
            .env("REDIS_EXPORTER_PASSWORD", &exporter)
            .stdout(Stdio::null())
            .spawn()
            .expect("deploy/redis/start.sh starts");
        let redis = Self {
            port,
            gateway,
            registry,
            exporter,
            server,
            _dir: dir,
        };
        for _ in 0..100 {
            if redis.as_user("exporter", &["PING"]) == "PONG" {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the private Redis did not answer the exporter's PING");
    }

    fn password_of(&self, user: &str) -> &str {
        match user {
            "gateway" => &self.gateway,
            "registry" => &self.registry,
            "exporter" => &self.exporter,
            _ => "",
        }
    }

    /// `command`'s answer to `user` (none: the connection's own, `default`), errors included.
    fn as_user(&self, user: &str, command: &[&str]) -> String {
        self.cli(Command::new("redis-cli"), user, command)
    }

    /// As [`Self::as_user`], for a command that does not end by itself (`SUBSCRIBE`): what
    /// it printed in its first two seconds.
    fn for_a_moment_as_user(&self, user: &str, command: &[&str]) -> String {
        let mut timed = Command::new("timeout");
        timed.args(["2", "redis-cli"]);
        self.cli(timed, user, command)
    }

    /// Runs `cli` (redis-cli, perhaps behind another command) against this server.
    fn cli(&self, mut cli: Command, user: &str, command: &[&str]) -> String {
        cli.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "--no-auth-warning",
        ]);
        if !user.is_empty() {
            cli.args(["--user", user, "--pass", self.password_of(user)]);
        }
        let output = cli.args(command).output().expect("redis-cli runs");
        let text =
            String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        text.trim().to_owned()
    }

    fn url(&self, user: &str) -> String {
        format!(
            "redis://{user}:{}@127.0.0.1:{}",
            self.password_of(user),
            self.port
        )
    }

    fn refused(&self, user: &str, command: &[&str]) {
        let answer = self.as_user(user, command);
        assert!(
            answer.starts_with("NOPERM")
                || answer.starts_with("NOAUTH")
                || answer.contains("WRONGPASS"),
            "{user:?} is refused {command:?}, not answered {answer:?}"
        );
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn instance() -> Instance {
    Instance {
        service: "restaurant-service".into(),
        id: uuid::Uuid::now_v7().to_string(),
        url: "http://127.0.0.1:3003".into(),
        version: "1".into(),
        colour: "blue".into(),
        metadata: Default::default(),
    }
}

#[tokio::test]
async fn the_registry_user_registers_instances_and_can_touch_nothing_else() {
    let redis = PrivateRedis::start();
    let registry = Registry::new(&redis.url("registry"), "").expect("a registry URL");
    let listed = instance();
    registry
        .beat(&listed, Duration::from_secs(10))
        .await
        .expect("the registry user registers");
    assert_eq!(
        registry
            .instances("restaurant-service")
            .await
            .expect("it lists"),
        std::slice::from_ref(&listed)
    );
    registry.withdraw(&listed).await.expect("and withdraws");
    redis.refused("registry", &["SET", "gateway:cache:x", "forged"]);
    redis.refused("registry", &["GET", "gateway:cache:x"]);
    redis.refused(
        "registry",
        &["SET", "registry:restaurant-service:live", "green"],
    );
    redis.refused("registry", &["FLUSHALL"]);
    redis.refused("registry", &["CONFIG", "SET", "appendonly", "no"]);
}

#[tokio::test]
async fn the_gateway_user_reaches_its_keys_and_the_registry_but_cannot_flush_or_reconfigure() {
    let redis = PrivateRedis::start();
    assert_eq!(
        redis.as_user("gateway", &["SET", "gateway:cache:x", "1"]),
        "OK"
    );
    assert_eq!(redis.as_user("gateway", &["GET", "gateway:cache:x"]), "1");
    assert_eq!(
        redis.as_user(
            "gateway",
            &["SET", "registry:restaurant-service:live", "green"]
        ),
        "OK"
    );
    assert_eq!(
        redis.as_user("gateway", &["PUBLISH", "gateway:revocations", "x"]),
        "0"
    );
    assert!(
        redis
            .as_user("gateway", &["INFO", "memory"])
            .contains("used_memory")
    );
    // The registry's script reads Redis's clock.
    let clock = redis.as_user("gateway", &["EVAL", "return redis.call('TIME')", "0"]);
    assert!(
        clock
            .lines()
            .next()
            .is_some_and(|seconds| seconds.parse::<u64>().is_ok()),
        "{clock}"
    );
    // The revocations' denylist: written with an expiry, read back by a scan, followed on
    // its channel.
    let revoked = "gateway:revoked:0190a8f4-0000-7000-8000-000000000001";
    assert_eq!(
        redis.as_user("gateway", &["SET", revoked, "1", "PX", "60000"]),
        "OK"
    );
    let scanned = redis.as_user(
        "gateway",
        &["SCAN", "0", "MATCH", "gateway:revoked:*", "COUNT", "500"],
    );
    assert!(scanned.contains(revoked), "{scanned}");
    assert_eq!(redis.as_user("gateway", &["MGET", revoked]), "1");
    let following = redis.for_a_moment_as_user("gateway", &["SUBSCRIBE", "gateway:revocations"]);
    assert!(
        following.contains("subscribe") && !following.contains("NOPERM"),
        "{following}"
    );
    let elsewhere = redis.for_a_moment_as_user("gateway", &["SUBSCRIBE", "elsewhere"]);
    assert!(elsewhere.contains("NOPERM"), "{elsewhere}");
    redis.refused("gateway", &["SET", "elsewhere", "1"]);
    redis.refused("gateway", &["FLUSHALL"]);
    redis.refused("gateway", &["CONFIG", "SET", "appendonly", "no"]);
}

#[tokio::test]
async fn the_exporter_reads_statistics_and_writes_nothing() {
    let redis = PrivateRedis::start();
    assert!(
        redis
            .as_user("exporter", &["INFO", "server"])
            .contains("redis_version")
    );
    redis.refused("exporter", &["SET", "gateway:cache:x", "1"]);
    redis.refused("exporter", &["FLUSHALL"]);
}

#[tokio::test]
async fn the_default_user_can_do_nothing() {
    let redis = PrivateRedis::start();
    redis.refused("", &["PING"]);
    redis.refused("", &["GET", "gateway:cache:x"]);
    redis.refused("", &["FLUSHALL"]);
}
