//! MongoDB: a client that connects lazily with short server-selection time-outs.

use std::time::Duration;

use futures::future::BoxFuture;
use mongodb::{Client, Database, bson::doc, options::ClientOptions};

use crate::health::HealthCheck;

/// Connects to `url` and returns database `name`. The driver dials servers lazily, so a
/// MongoDB that is down does not stop start-up; its operations fail fast instead.
pub async fn connect(url: &str, name: &str, app_name: &str) -> mongodb::error::Result<Database> {
    let mut options = ClientOptions::parse(url).await?;
    options.app_name = Some(app_name.to_owned());
    options.server_selection_timeout = Some(Duration::from_secs(3));
    options.connect_timeout = Some(Duration::from_secs(2));
    Ok(Client::with_options(options)?.database(name))
}

/// Readiness: the server answers `ping`.
impl HealthCheck for Database {
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.run_command(doc! { "ping": 1 })
                .await
                .map(drop)
                .map_err(|_| "unreachable".to_owned())
        })
    }
}
