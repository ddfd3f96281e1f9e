//! Revoked sessions refused at the gateway within a second, not when their tokens expire.
//!
//! auth-service announces every revocation (`session.revoked`) through its outbox. The
//! gateways share one durable queue, `gateway.revocations`: whichever instance takes a
//! message writes its sessions to Redis (`<prefix>:revoked:<sid>`, expiring with the
//! tokens) and announces them on a channel. Every instance follows that channel into an
//! in-memory denylist, reloaded from Redis whenever it (re)subscribes, and looks a token's
//! session up there: a request pays one lock-free map lookup, never a call.
//!
//! Without the broker or Redis the gateway goes on with what it knows and catches up when
//! they come back; without `AMQP_URL` it does not follow revocations at all.

mod consumer;
mod denylist;
mod feed;
mod record;

use std::{str::FromStr, time::Duration};

use clap::Args;
use messaging::{Amqp, topology::Topology};

pub use denylist::Denylist;

/// Longest a starting gateway waits for the revocations Redis holds before it serves: a
/// Redis that is down must not hold the start-up back.
const FIRST_LOAD_WAIT: Duration = Duration::from_secs(2);

use crate::store::Store;

/// Where revocations come from.
#[derive(Debug, Clone, Args)]
pub struct RevocationArgs {
    /// RabbitMQ, on which auth-service announces revoked sessions. Unset: the gateway
    /// honours a revoked session's access tokens until they expire.
    #[arg(long, env = "AMQP_URL", value_parser = parse_amqp_url)]
    pub amqp_url: Option<String>,
    /// Put before the broker's exchange and queue names, as for the services.
    #[arg(long, env = "AMQP_PREFIX", default_value = "")]
    pub amqp_prefix: String,
}

fn parse_amqp_url(value: &str) -> Result<String, String> {
    lapin::uri::AMQPUri::from_str(value)?;
    Ok(value.to_owned())
}

/// Starts following revocations from the broker and from the Redis at `redis_url` that
/// `store` prefixes; the denylist they feed (empty for ever without `AMQP_URL`), holding what
/// Redis held when it returns, unless Redis did not answer in time.
pub async fn start(args: &RevocationArgs, redis_url: &str, store: &Store) -> Denylist {
    let denylist = Denylist::new();
    let Some(amqp_url) = &args.amqp_url else {
        tracing::warn!(
            "AMQP_URL is not set: revoked sessions' tokens are honoured until they expire"
        );
        return denylist;
    };
    match redis::Client::open(redis_url) {
        Ok(client) => {
            let (loaded, first_load) = tokio::sync::oneshot::channel();
            tokio::spawn(feed::follow(
                client,
                store.clone(),
                denylist.clone(),
                loaded,
            ));
            if tokio::time::timeout(FIRST_LOAD_WAIT, first_load)
                .await
                .is_err()
            {
                tracing::warn!("serving before the revoked sessions could be loaded");
            }
        }
        Err(err) => tracing::warn!(error = %err, "no revocation feed from redis"),
    }
    let consumer = consumer::Consumer {
        amqp: Amqp::start(amqp_url, crate::name::SERVICE),
        topology: Topology::new(&args.amqp_prefix),
        store: store.clone(),
        denylist: denylist.clone(),
    };
    tokio::spawn(consumer.run());
    denylist
}
