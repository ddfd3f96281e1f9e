//! The first administrator: created only when the email is unused, never by promotion; a
//! generated password is shown once and must be changed at the first sign-in.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::{Value, json};
use shared::testing::{TestDatabase, postgres_server_url};

use crate::helpers::{
    PASSWORD, SIGNING_KEY_SECRET, TestApp, access, assert_problem_of, spawn_app, spawn_with_stores,
};

#[tokio::test]
async fn an_existing_account_with_the_admin_email_is_never_promoted() {
    let app = spawn_app().await;
    let squatter = app.signed_in("root@example.com").await;
    let restarted = spawn_with_stores(
        &app.database.url(),
        &app.broker,
        &[
            "--admin-email",
            "Root@Example.com",
            "--admin-password",
            PASSWORD,
        ],
    )
    .await;
    let me: Value = app
        .client
        .get(format!("{restarted}/auth/me"))
        .bearer_auth(access(&squatter))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(me["roles"], json!(["customer"]), "not promoted");
    let tokens: Value = app
        .login("root@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let rotate = app
        .post_json_with("/auth/admin/keys/rotate", access(&tokens), &json!({}))
        .await;
    assert_problem_of(rotate, 403, "forbidden").await;
    assert_eq!(app.count_users().await, 1, "and no other account made");
}

/// auth-service as a process, its JSON log lines sent on as they come.
struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    address: String,
}

impl Process {
    fn start(database: &TestDatabase) -> Self {
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
                ("ADMIN_EMAIL", "root@example.com".to_owned()),
                ("ADMIN_PASSWORD", String::new()),
            ])
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
    fn log_until(&self, marker: &str) -> Vec<String> {
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

fn generated_password(log: &[String]) -> Option<String> {
    log.iter().find_map(|line| {
        let (_, rest) = line.split_once("generated password `")?;
        Some(rest.split_once('`')?.0.to_owned())
    })
}

#[tokio::test]
async fn a_generated_password_is_shown_once_and_changed_at_the_first_sign_in() {
    let database = TestDatabase::create(&postgres_server_url(), "auth").await;
    let first = Process::start(&database);
    let log = first.log_until("administrator created");
    let generated = generated_password(&log).expect("the password is in the log");
    assert!(generated.len() >= 20, "a strong password: {generated}");
    first.log_until("\"listening\"");
    let app = TestApp::at(&first.address, database);
    let refused = app.login("root@example.com", &generated).await;
    assert_problem_of(refused, 403, "password-change-required").await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions").await,
        0,
        "no session before the change"
    );
    let same = app
        .post_json(
            "/auth/login",
            &json!({"email": "root@example.com", "password": generated, "new_password": generated}),
        )
        .await;
    assert_problem_of(same, 422, "validation").await;
    let changed = app
        .post_json(
            "/auth/login",
            &json!({"email": "root@example.com", "password": generated, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 200);
    let tokens: Value = changed.json().await.expect("json");
    let rotate = app
        .post_json_with("/auth/admin/keys/rotate", access(&tokens), &json!({}))
        .await;
    assert_eq!(rotate.status().as_u16(), 200, "an administrator now");
    let old = app.login("root@example.com", &generated).await;
    assert_problem_of(old, 401, "invalid-credentials").await;
    assert_eq!(app.login("root@example.com", PASSWORD).await.status(), 200);
    drop(first);

    let again = Process::start(&app.database);
    let log = again.log_until("administrator exists");
    assert_eq!(generated_password(&log), None, "shown once only");
}
