//! A TCP proxy a test can cut or pause, to play a server that goes away or stops answering
//! without touching the shared server behind it.

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::watch,
};

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    /// Connections stay up but nothing passes, as with a server that hangs.
    Paused,
    /// Connections are dropped and new ones refused, as with a server that is gone.
    Cut,
}

/// A loopback TCP proxy in front of one server.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    mode: watch::Sender<Mode>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a proxy port");
        let port = listener.local_addr().expect("a local address").port();
        let (mode, mode_rx) = watch::channel(Mode::Open);
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if *mode_rx.borrow() == Mode::Cut {
                    // Cut: the connection is closed at once, as by a server that is gone.
                    continue;
                }
                let mode = mode_rx.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (from_client, to_client) = inbound.into_split();
                    let (from_server, to_server) = outbound.into_split();
                    tokio::select! {
                        () = pipe(from_client, to_server, mode.clone()) => {}
                        () = pipe(from_server, to_client, mode.clone()) => {}
                    }
                });
            }
        });
        Self { port, mode }
    }

    /// The port clients should dial.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every open connection and refuses new ones: the server looks gone.
    pub fn cut(&self) {
        let _ = self.mode.send(Mode::Cut);
    }

    /// Holds every byte, both ways, on open and new connections alike: the server looks
    /// hung. Nothing is lost: what was held passes once restored.
    pub fn pause(&self) {
        let _ = self.mode.send(Mode::Paused);
    }

    /// Forwards again: the server is back.
    pub fn restore(&self) {
        let _ = self.mode.send(Mode::Open);
    }
}

/// Copies one direction until either side closes or the proxy is cut; while paused, what
/// was read waits. Hand-written rather than `copy_bidirectional`, which cannot hold bytes.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = mode.wait_for(|mode| *mode == Mode::Cut) => return,
        };
        let Ok(n @ 1..) = read else {
            return;
        };
        match mode.wait_for(|mode| *mode != Mode::Paused).await {
            Ok(mode) if *mode == Mode::Cut => return,
            Ok(_) => {}
            Err(_) => return,
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
