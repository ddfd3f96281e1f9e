use std::sync::Arc;

use messaging::{Broker, Outbox};
use shared::{
    auth::{KeySource, Verifier},
    health::Checks,
    postgres::Database,
    server::{Server, StartupError},
    service::ServiceDefinition,
};
use sqlx::migrate::Migrator;
use utoipa::OpenApi;

use crate::{
    at_rest,
    bootstrap::ensure_admin,
    code_key::CodeKey,
    config::AdminArgs,
    config::{Config, SERVICE},
    keys::{KeyError, KeyRing},
    password::Hasher,
    provisioning, routes,
    seal::Sealer,
    state::AppState,
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/auth");

/// auth-service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    server: Server,
}

impl Application {
    /// Migrates the database, loads (or makes) the signing keys, ensures the configured
    /// administrator and binds the configured port. With the database down it starts anyway
    /// and does the first three once the database answers; until then it issues no tokens.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let database = Database::connect_lazy(
            config.database.database_url.clone(),
            config.database.database_max_connections,
        );
        database.migrate(&MIGRATOR).await?;
        let db = database.pool().clone();
        let sealer = Sealer::new(&config.signing_key_secret)
            .map_err(|err| StartupError::Config(format!("SIGNING_KEY_SECRET: {err}")))?;
        let code_key = CodeKey::new(&config.signing_key_secret)
            .map_err(|err| StartupError::Config(format!("SIGNING_KEY_SECRET: {err}")))?;
        let keys = KeyRing::new(db.clone(), sealer.clone(), config.tokens.access_token_ttl);
        let verifier = Verifier::new(
            KeySource::Local(keys.published()),
            &config.tokens.token_issuer,
            &config.tokens.token_audience,
        );
        let hasher = Hasher::new(&config.password).map_err(|err| StartupError::Store {
            store: "argon2",
            message: err.to_string(),
        })?;
        // The broker only carries account events here: while it is away they wait in the
        // outbox, and sign-ins go on, so readiness does not depend on it.
        let broker = Broker::start(&config.broker, SERVICE);
        let outbox = Outbox::new(db.clone(), "auth");
        let workers = broker.workers().relay(&outbox);
        let state = AppState {
            db,
            keys,
            verifier: Arc::new(verifier),
            hasher,
            tokens: Arc::new(config.tokens.clone()),
            lockout: Arc::new(config.lockout.clone()),
            registrations: Arc::new(config.registrations.clone()),
            resets: Arc::new(config.resets.clone()),
            outbox,
            trusted_proxies: Arc::new(config.trusted_proxies.clone()),
            admin_mfa_required: config.admin.admin_mfa_required,
            code_key,
            sealer,
        };
        match state.keys.initialise().await {
            Ok(()) => {
                at_rest::protect(&state)
                    .await
                    .map_err(|err| StartupError::Store {
                        store: "postgres",
                        message: err.to_string(),
                    })?;
                ensure_admin(&state, &config.admin).await?;
                // Without the token only the demo seed is stopped: it says so itself.
                if let Some(file) = &config.admin.provisioning_token_file
                    && let Err(err) = provisioning::write_token(&state, file).await
                {
                    tracing::error!(error = %err, "the provisioning token cannot be written");
                }
            }
            Err(KeyError::Seal(err)) => {
                return Err(StartupError::Config(format!("SIGNING_KEY_SECRET: {err}")));
            }
            Err(err) => {
                tracing::warn!(error = %err, "signing keys not loaded; retrying in the background");
                tokio::spawn(initialise_later(state.clone(), config.admin.clone()));
            }
        }
        tokio::spawn(follow_rotations(state.keys.clone()));
        let router = ServiceDefinition::new(SERVICE, Some("/auth"), config.common.request_timeout)
            .api(routes::router(state), routes::ApiDoc::openapi())
            .readiness(Checks::new().with("postgres", database))
            .into_router();
        let server = Server::bind_with(router, &config.common, config.port)
            .await?
            .register(SERVICE, &config.registry)?
            .after_serving(workers.shutdown());
        Ok(Self { server })
    }

    /// The port bound (useful when the configured port was 0).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.server.run_until_stopped().await
    }
}

/// Another instance may rotate the keys: re-read them now and then.
async fn follow_rotations(keys: KeyRing) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        every.tick().await;
        if let Err(err) = keys.reload().await {
            tracing::debug!(error = %err, "cannot re-read the signing keys");
        }
    }
}

async fn initialise_later(state: AppState, admin: AdminArgs) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        if state.keys.initialise().await.is_ok() {
            tracing::info!("signing keys loaded");
            if let Err(err) = at_rest::protect(&state).await {
                tracing::error!(error = %err, "secrets stored unprotected cannot be protected");
            }
            if let Err(err) = ensure_admin(&state, &admin).await {
                tracing::error!(error = %err, "the configured administrator cannot be ensured");
            }
            if let Some(file) = &admin.provisioning_token_file
                && let Err(err) = provisioning::write_token(&state, file).await
            {
                tracing::error!(error = %err, "the provisioning token cannot be written");
            }
            return;
        }
    }
}
