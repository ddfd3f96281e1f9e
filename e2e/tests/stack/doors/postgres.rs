//! PostgreSQL as compose sets it up: a private cluster with scram-sha-256 for every
//! connection and deploy/postgres/service-databases.sh run with compose's settings. Each
//! service's role reaches its own database with its own password alone, and migrates it.

use std::{collections::BTreeMap, process::Command};

use sqlx::{Connection, PgConnection, migrate::Migrator};

use super::{Scratch, is_root, password, repo, run};
use crate::{
    compose::{environment, services},
    processes::free_port,
};

/// A private cluster, stopped and removed when dropped.
struct Cluster {
    port: u16,
    bin: String,
    dir: Scratch,
}

fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", program]);
        command
    } else {
        Command::new(program)
    }
}

impl Cluster {
    fn start(superuser: &str) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|mut versions| versions.next())
            .and_then(Result::ok)
            .map(|version| format!("{}/bin", version.path().display()))
            .expect("PostgreSQL's server binaries under /usr/lib/postgresql");
        let dir = Scratch::new("postgres");
        let pwfile = dir.path().join("superuser");
        std::fs::write(&pwfile, superuser).expect("the superuser's password file");
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path()));
        }
        let data = dir.path().join("data");
        run(as_postgres(&format!("{bin}/initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "--no-instructions",
            ])
            .arg(format!("--pwfile={}", pwfile.display())));
        let port = free_port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            dir.path().display()
        );
        run(as_postgres(&format!("{bin}/pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]));
        Self { port, bin, dir }
    }

    fn url(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&format!("{}/pg_ctl", self.bin))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// compose's `SERVICE_DATABASES` of the main server and of a shard: (database, role).
fn compose_databases() -> Vec<(String, String)> {
    let services = services();
    ["postgres", "orders-shard-a"]
        .iter()
        .flat_map(|name| {
            let value = environment(&services[*name])
                .into_iter()
                .find(|(key, _)| key == "SERVICE_DATABASES")
                .unwrap_or_else(|| panic!("compose gives {name} its SERVICE_DATABASES"))
                .1;
            value
                .split_whitespace()
                .map(|pair| pair.split_once('=').expect("DATABASE=ROLE"))
                .map(|(database, role)| (database.to_owned(), role.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn each_service_role_reaches_its_own_database_alone_and_migrates_it() {
    let superuser = password("postgres");
    let cluster = Cluster::start(&superuser);
    let databases = compose_databases();
    assert_eq!(
        databases.len(),
        5,
        "four databases on the main server and the orders"
    );
    let passwords: BTreeMap<&str, String> = databases
        .iter()
        .map(|(_, role)| (role.as_str(), password("db")))
        .collect();
    let mut script = Command::new("bash");
    script
        .arg(repo().join("deploy/postgres/service-databases.sh"))
        .args(
            databases
                .iter()
                .map(|(database, role)| format!("{database}={role}")),
        )
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", cluster.port.to_string())
        .env("PGPASSWORD", &superuser)
        .env("LOCK_POSTGRES_DATABASE", "true");
    for (role, password) in &passwords {
        let name = role.trim_end_matches("_service").to_uppercase();
        script.env(format!("POSTGRES_{name}_PASSWORD"), password);
    }
    run(&mut script);

    for (database, role) in &databases {
        let own = &passwords[role.as_str()];
        let mut connection = PgConnection::connect(&cluster.url(role, own, database))
            .await
            .unwrap_or_else(|err| panic!("{role} connects to {database}: {err}"));
        let migrator = Migrator::new(repo().join("migrations").join(database))
            .await
            .expect("the service's migrations");
        migrator
            .run(&mut connection)
            .await
            .unwrap_or_else(|err| panic!("{role} migrates {database}: {err}"));
        let refused = |url: String, what: String| async move {
            assert!(
                PgConnection::connect(&url).await.is_err(),
                "{what} is refused"
            );
        };
        refused(
            cluster.url(role, "", database),
            format!("{role} without a password"),
        )
        .await;
        refused(
            cluster.url(role, "wrong", database),
            format!("{role} with a wrong password"),
        )
        .await;
        for (other_database, other_role) in &databases {
            if other_role == role {
                continue;
            }
            let theirs = &passwords[other_role.as_str()];
            refused(
                cluster.url(role, theirs, database),
                format!("{role} with {other_role}'s password"),
            )
            .await;
            refused(
                cluster.url(role, own, other_database),
                format!("{role} on {other_database}"),
            )
            .await;
        }
        refused(
            cluster.url(role, own, "postgres"),
            format!("{role} on postgres"),
        )
        .await;
    }
}
