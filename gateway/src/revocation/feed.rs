//! Each gateway's view of the shared denylist: subscribed to the Redis channel on which
//! revocations are announced, and reloaded whole on every (re)subscription and every little
//! while, so that what was announced while this gateway was away or cut off is not missed.

use std::time::Duration;

use futures::StreamExt;
use shared::resilience::RetryPolicy;
use tokio::sync::oneshot;

use super::{denylist::Denylist, record};
use crate::store::Store;

/// Longest wait for the subscription's connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the whole list is read again while subscribed: a message lost on the way is
/// made up for by then.
const RELOAD_EVERY: Duration = Duration::from_secs(30);

/// Follows the shared denylist into `denylist` for ever, coming back after every lost
/// connection; meanwhile the gateway refuses what it already knows. `loaded` is told once
/// the list has been read the first time.
pub async fn follow(
    client: redis::Client,
    store: Store,
    denylist: Denylist,
    loaded: oneshot::Sender<()>,
) {
    let mut loaded = Some(loaded);
    let backoff = RetryPolicy {
        max_attempts: u32::MAX,
        base: Duration::from_millis(250),
        cap: Duration::from_secs(5),
    };
    let mut failures = 0_u32;
    loop {
        let error = subscribed(&client, &store, &denylist, &mut failures, &mut loaded).await;
        metrics::gauge!("gateway_revocation_feed_up").set(0.0);
        if failures == 0 {
            tracing::warn!(%error, "the revocation feed is cut; refusing what is known");
        }
        tokio::time::sleep(backoff.backoff(failures)).await;
        failures = failures.saturating_add(1);
    }
}

/// One subscription, until it fails: why.
async fn subscribed(
    client: &redis::Client,
    store: &Store,
    denylist: &Denylist,
    failures: &mut u32,
    loaded: &mut Option<oneshot::Sender<()>>,
) -> String {
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await;
    let mut pubsub = match connecting {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(err)) => return err.to_string(),
        Err(_) => return "connecting timed out".to_owned(),
    };
    if let Err(err) = pubsub.subscribe(record::channel(store)).await {
        return err.to_string();
    }
    // Subscribed first, loaded second: a revocation announced in between is in one or the
    // other, or both.
    let Some(known) = record::load(store).await else {
        return "the denylist cannot be read".to_owned();
    };
    denylist.insert(&known);
    if let Some(loaded) = loaded.take() {
        let _ = loaded.send(());
    }
    *failures = 0;
    metrics::gauge!("gateway_revocation_feed_up").set(1.0);
    tracing::info!(sessions = known.len(), "following revocations");
    let mut messages = pubsub.into_on_message();
    let mut reload = tokio::time::interval(RELOAD_EVERY);
    reload.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    return "the subscription ended".to_owned();
                };
                let announced = message.get_payload::<String>().ok();
                match announced.as_deref().and_then(record::parse) {
                    Some(entry) => {
                        denylist.insert(&[entry]);
                        metrics::counter!("gateway_revocations_received_total", "via" => "redis")
                            .increment(1);
                    }
                    None => tracing::warn!(?announced, "a revocation message that does not parse"),
                }
            }
            _ = reload.tick() => {
                if let Some(known) = record::load(store).await {
                    denylist.insert(&known);
                }
            }
        }
    }
}
