//! The denylist shared by every gateway in Redis: a key per revoked session, expiring when
//! its tokens would, and a channel announcing each new one.
//!
//! `<prefix>:revoked:<sid>` holds the Unix time in milliseconds until which the session is
//! refused (and expires then); `<prefix>:revocations` carries `<sid> <until>` messages.

use redis::AsyncCommands;
use uuid::Uuid;

use super::denylist::now_ms;
use crate::store::Store;

/// Keys scanned per Redis call while reloading.
const SCAN_COUNT: u64 = 500;

/// The channel new revocations are published on.
pub fn channel(store: &Store) -> String {
    store.key(&["revocations"])
}

fn key(store: &Store, sid: &Uuid) -> String {
    store.key(&["revoked", &sid.to_string()])
}

/// Writes `entries` to Redis and announces them; whether Redis took them.
pub async fn publish(store: &Store, entries: &[(Uuid, u64)]) -> bool {
    let now = now_ms();
    let mut pipe = redis::pipe();
    for (sid, until) in entries.iter().filter(|(_, until)| *until > now) {
        // At the instant itself, not a span counted from when Redis runs the call: the key
        // then goes no later than every gateway's in-memory entry does.
        pipe.cmd("SET")
            .arg(key(store, sid))
            .arg(until)
            .arg("PXAT")
            .arg(until)
            .ignore();
        pipe.cmd("PUBLISH")
            .arg(channel(store))
            .arg(format!("{sid} {until}"))
            .ignore();
    }
    store
        .run("revocation write", move |mut connection| async move {
            pipe.query_async::<()>(&mut connection).await
        })
        .await
        .is_some()
}

/// Every revocation Redis holds, or `None` when it cannot be read whole.
pub async fn load(store: &Store) -> Option<Vec<(Uuid, u64)>> {
    let pattern = format!("{}revoked:*", store.namespace());
    let (mut cursor, mut entries) = (0_u64, Vec::new());
    loop {
        let pattern = pattern.clone();
        // One bounded call per round of the scan: the Redis timeout caps each.
        let (next, found) = store
            .run("revocation load", move |mut connection| async move {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(&mut connection)
                    .await?;
                let values: Vec<Option<u64>> = if keys.is_empty() {
                    Vec::new()
                } else {
                    connection.mget(&keys).await?
                };
                Ok((next, keys.into_iter().zip(values).collect::<Vec<_>>()))
            })
            .await?;
        entries.extend(found.into_iter().filter_map(|(key, until)| {
            let sid = key.rsplit(':').next()?.parse().ok()?;
            Some((sid, until?))
        }));
        if next == 0 {
            return Some(entries);
        }
        cursor = next;
    }
}

/// The revocation a channel message announces.
pub fn parse(message: &str) -> Option<(Uuid, u64)> {
    let (sid, until) = message.split_once(' ')?;
    Some((sid.parse().ok()?, until.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_a_session_and_a_time_or_is_ignored() {
        let sid = Uuid::now_v7();
        assert_eq!(
            parse(&format!("{sid} 1700000000000")),
            Some((sid, 1_700_000_000_000))
        );
        assert_eq!(parse("nonsense"), None);
        assert_eq!(parse(&format!("{sid} soon")), None);
    }
}
