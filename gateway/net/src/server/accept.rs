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
    session::Door,
};

/// An accepted connection on its way to the thread that will serve it, already counted as
/// that thread's (else a burst of connections would all go to a thread yet to count them).
pub(super) type Handed = (
    std::net::TcpStream,
    SocketAddr,
    Door,
    OpenConnection,
    Admitted,
);

/// The server's bound ports.
#[derive(Debug)]
pub(super) struct Listeners {
    pub plain: std::net::TcpListener,
    pub tls: Option<std::net::TcpListener>,
}

/// Accepts connections on `listeners` until `stop` completes, each for the thread that has
/// the fewest open (`hand_to[k]` reaching thread `k + 1`; this one is thread 0), then waits
/// for this thread's open connections to finish their requests.
pub(super) async fn accept_connections<S: Serve>(
    listeners: Listeners,
    share: Share<S>,
    hand_to: Vec<mpsc::UnboundedSender<Handed>>,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let plain = TcpListener::from_std(listeners.plain)?;
    let tls = listeners.tls.map(TcpListener::from_std).transpose()?;
    let serving = Serving::new(share);
    let mut next = 0;
    tokio::pin!(stop);
    loop {
        let (accepted, door) = tokio::select! {
            accepted = plain.accept() => (accepted, Door::Plain),
            accepted = accept_on(tls.as_ref()) => (accepted, Door::Tls),
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
            serving.serve(stream, peer, door, open, admitted);
            continue;
        };
        // Taken off this thread's reactor, for the other's to register.
        match stream.into_std() {
            Ok(stream) => {
                let open = OpenConnection::new(&serving.share.open, target);
                if let Err(unsent) = worker.send((stream, peer, door, open, admitted)) {
                    let (stream, peer, door, _, admitted) = unsent.0;
                    let open = OpenConnection::new(&serving.share.open, 0);
                    serving.serve_std(stream, peer, door, open, admitted);
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot hand over an accepted connection"),
        }
    }
    drop((plain, tls));
    serving.finish().await;
    Ok(())
}

/// The next connection on `listener`, if there is one; else never.
async fn accept_on(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
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
        let Some((stream, peer, door, open, admitted)) = next else {
            break;
        };
        serving.serve_std(stream, peer, door, open, admitted);
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
