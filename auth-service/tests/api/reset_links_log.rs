//! A reset link lets whoever reads it into the account: it is written to the log only when
//! `LOG_RESET_LINKS` says so.

use serde_json::json;
use shared::testing::{TestDatabase, postgres_server_url};

use crate::{helpers::TestApp, process::Process};

#[tokio::test]
async fn a_reset_link_is_logged_only_when_log_reset_links_is_set() {
    for (setting, logged) in [(None, false), (Some("false"), false), (Some("true"), true)] {
        let database = TestDatabase::create(&postgres_server_url(), "auth").await;
        let settings: Vec<(&str, &str)> = setting
            .map(|value| ("LOG_RESET_LINKS", value))
            .into_iter()
            .collect();
        let process = Process::start(&database, &settings);
        process.log_until("\"listening\"");
        let app = TestApp::at(&process.address, database);
        app.register("ada@example.com").await;
        let asked = app
            .post_json("/auth/password/reset", &json!({"email": "ada@example.com"}))
            .await;
        assert_eq!(asked.status().as_u16(), 202);
        let log = process.log_until("password reset link");
        assert_eq!(
            log.iter().any(|line| line.contains("token=")),
            logged,
            "LOG_RESET_LINKS={setting:?}:\n{}",
            log.join("\n")
        );
    }
}
