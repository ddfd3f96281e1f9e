//! A TCP proxy a test can cut, to lose a server without stopping it.

/// A TCP proxy in front of a real server, which a test can cut (and restore) to simulate
/// losing that server without stopping it for everyone else.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a proxy port");
        let port = listener.local_addr().expect("a local address").port();
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if *cut_rx.borrow() {
                    // Cut: the connection is closed at once, as by a server that is gone.
                    continue;
                }
                let mut connection_cut = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = connection_cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut }
    }

    /// The port clients should dial.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every open connection and refuses new ones: the server looks gone.
    pub fn cut(&self) {
        let _ = self.cut.send(true);
    }

    /// Forwards again: the server is back.
    pub fn restore(&self) {
        let _ = self.cut.send(false);
    }
}
