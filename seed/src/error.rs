//! Why seeding stopped.

/// Why seeding stopped; each names the call or the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The gateway could not be reached.
    #[error("{call}: the gateway did not answer: {source}")]
    Transport {
        call: String,
        #[source]
        source: reqwest::Error,
    },
    /// A call was answered with a status the seed cannot go on from.
    #[error("{call} was answered {status}: {detail}")]
    Refused {
        call: String,
        status: u16,
        detail: String,
    },
    /// The platform never became healthy.
    #[error("the platform is not healthy at {url} ({seen}); is it running?")]
    NotHealthy { url: String, seen: String },
    /// A demo account exists but does not take the demo password.
    #[error("{email} exists but does not take SEED_PASSWORD; give the password it was seeded with")]
    ForeignAccount { email: String },
    /// `ADMIN_TOKEN_FILE` cannot be read.
    #[error("ADMIN_TOKEN_FILE {file} cannot be read: {detail}")]
    TokenFile { file: String, detail: String },
    /// The administrator's credentials were refused.
    #[error("the administrator {email} cannot log in (ADMIN_EMAIL, ADMIN_PASSWORD): {detail}")]
    Administrator { email: String, detail: String },
}
