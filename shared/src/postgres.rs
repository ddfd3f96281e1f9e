//! PostgreSQL: a lazily connected pool whose migrations run at start-up, or in the
//! background until the server can be reached.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// How long a request waits for a pooled connection before the store counts as down.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait of a readiness check: a second under the probe's own limit.
const CHECK_WAIT: Duration = crate::health::CHECK_TIMEOUT.saturating_sub(Duration::from_secs(1));
/// Pause between two attempts to migrate a database that could not be reached.
const MIGRATE_RETRY: Duration = Duration::from_secs(5);

/// One PostgreSQL database: its pool and whether its schema is up to date.
#[derive(Debug, Clone)]
pub struct Database {
    pool: PgPool,
    migrated: Arc<AtomicBool>,
}

/// A migration failure that retrying cannot mend (a bad or edited migration).
#[derive(Debug, thiserror::Error)]
#[error("migrating {database} failed: {source}")]
pub struct MigrationError {
    database: String,
    #[source]
    source: MigrateError,
}

impl Database {
    /// A pool that connects on first use, so a server that is down does not stop start-up.
    pub fn connect_lazy(options: PgConnectOptions, max_connections: u32) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Self {
            pool,
            migrated: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the migrations have been applied.
    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }

    /// Applies `migrator` now if the server answers; if it does not, keeps trying in the
    /// background (the store reports "migrations pending" meanwhile). A migration that the
    /// server rejects is an error at once: retrying would not change it.
    pub async fn migrate(&self, migrator: &'static Migrator) -> Result<(), MigrationError> {
        match migrator.run(&self.pool).await {
            Ok(()) => {
                self.migrated.store(true, Ordering::Release);
                Ok(())
            }
            Err(err) if is_unreachable(&err) => {
                tracing::warn!(database = %self.name(), error = %err, "database unreachable; migrating in the background");
                tokio::spawn(self.clone().migrate_until_done(migrator));
                Ok(())
            }
            Err(source) => Err(MigrationError {
                database: self.name(),
                source,
            }),
        }
    }

    async fn migrate_until_done(self, migrator: &'static Migrator) {
        loop {
            tokio::time::sleep(MIGRATE_RETRY).await;
            match migrator.run(&self.pool).await {
                Ok(()) => {
                    self.migrated.store(true, Ordering::Release);
                    tracing::info!(database = %self.name(), "database reachable again; migrations applied");
                    return;
                }
                Err(err) if is_unreachable(&err) => {
                    tracing::debug!(database = %self.name(), error = %err, "database still unreachable");
                }
                Err(err) => {
                    tracing::error!(database = %self.name(), error = %err, "migrations failed; the database stays not ready");
                    return;
                }
            }
        }
    }

    /// Readiness: the server answers a query and the schema is current.
    pub async fn check(&self) -> Result<(), String> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        // The pool retries a refused connection until its acquire timeout; the probe gives
        // up sooner, so that a server that is down reads as unreachable, not as a slow probe.
        tokio::time::timeout(CHECK_WAIT, query)
            .await
            .map_err(|_| "unreachable".to_owned())?
            .map_err(|err| describe(&err))?;
        if self.is_migrated() {
            Ok(())
        } else {
            Err("migrations pending".into())
        }
    }

    fn name(&self) -> String {
        let options = self.pool.connect_options();
        format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        )
    }
}

impl crate::health::HealthCheck for Database {
    fn check(&self) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(Database::check(self))
    }
}

fn is_unreachable(err: &MigrateError) -> bool {
    matches!(
        err,
        MigrateError::Execute(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))
    )
}

/// A short, driver-free description of why the database did not answer.
fn describe(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => "unreachable".into(),
        sqlx::Error::Database(db) => format!("refused: {}", db.code().unwrap_or_default()),
        _ => "error".into(),
    }
}

/// Makes the transaction wait for any other holding `aggregate` (an order, say), until it
/// ends: whatever is done about one aggregate is done one at a time, each seeing what the
/// one before it committed. A transaction-scoped advisory lock, so it needs no row to exist
/// yet: the first command about an order is serialised with the others too.
#[tracing::instrument(skip_all, fields(otel.kind = "client", db.system = "postgresql"))]
pub async fn lock_aggregate(
    tx: &mut sqlx::PgConnection,
    aggregate: uuid::Uuid,
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(aggregate)
        .execute(tx)
        .await
        .map(drop)
}
