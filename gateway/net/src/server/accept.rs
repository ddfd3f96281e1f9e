//! Accepting connections for several serving threads: one thread accepts, and hands each
//! connection to the thread serving the fewest (itself included).
//!
//! One thread accepts and balances, rather than each accepting from the shared socket:
//! then whichever thread won the race for a burst of new connections took most of them,
//! and under a load of long-lived connections one core worked while the other idled.

use std::{future::Future, net::SocketAddr, time::Duration};

use tokio::{net::TcpListener, sync::mpsc};

use super::{
    connections::{OpenConnection, Serve, Serving, Share},
    registry::Admitted,
};

/// An accepted connection on its way to the thread that will serve it, already counted as
/// that thread's (else a burst of connections would all go to a thread yet to count them).
pub(super) type Handed = (std::net::TcpStream, SocketAddr, OpenConnection, Admitted);

/// Accepts connections on `listener` until `stop` completes, each for the thread that has
/// the fewest open (`hand_to[k]` reaching thread `k + 1`; this one is thread 0), then waits
/// for this thread's open connections to finish their requests.
pub(super) async fn accept_connections<S: Serve>(
    listener: std::net::TcpListener,
    share: Share<S>,
    hand_to: Vec<mpsc::UnboundedSender<Handed>>,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let serving = Serving::new(share);
    let mut next = 0;
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                wait_after_accept_error(&err).await;
                continue;
            }
        };
        // Refused: dropped, so closed, at once.
        let Some(admitted) = serving.share.connections.admit(peer.ip()) else {
            continue;
        };
        next = (next + 1) % (hand_to.len() + 1);
        let target = serving.share.open.fewest(next);
        let Some(worker) = target.checked_sub(1).and_then(|k| hand_to.get(k)) else {
            let open = OpenConnection::new(&serving.share.open, 0);
            serving.serve(stream, peer, open, admitted);
            continue;
        };
        // Taken off this thread's reactor, for the other's to register.
        match stream.into_std() {
            Ok(stream) => {
                let open = OpenConnection::new(&serving.share.open, target);
                if let Err(unsent) = worker.send((stream, peer, open, admitted)) {
                    let (stream, peer, _, admitted) = unsent.0;
                    let open = OpenConnection::new(&serving.share.open, 0);
                    serving.serve_std(stream, peer, open, admitted);
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot hand over an accepted connection"),
        }
    }
    drop(listener);
    serving.finish().await;
    Ok(())
}

/// Serves the connections handed to this thread until `stop` completes or the accepting
/// thread stops, then waits for those still open to finish their requests.
pub(super) async fn serve_handed<S: Serve>(
    mut handed: mpsc::UnboundedReceiver<Handed>,
    share: Share<S>,
    stop: impl Future<Output = ()>,
) {
    let serving = Serving::new(share);
    tokio::pin!(stop);
    loop {
        let next = tokio::select! {
            next = handed.recv() => next,
            () = &mut stop => break,
        };
        let Some((stream, peer, open, admitted)) = next else {
            break;
        };
        serving.serve_std(stream, peer, open, admitted);
    }
    serving.finish().await;
}

/// A connection that failed while being accepted is the client's problem; anything else
/// (out of file descriptors, say) is the server's, and retrying at once would spin.
async fn wait_after_accept_error(err: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::error!(error = %err, "cannot accept connections; retrying in 1 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
