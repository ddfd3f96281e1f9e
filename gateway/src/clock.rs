//! Times as the gateway's records and answers write them: RFC 3339, UTC, to the millisecond.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, as the records write times.
pub fn now() -> String {
    rfc3339(Utc::now())
}

/// `at`, as the records write times.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
