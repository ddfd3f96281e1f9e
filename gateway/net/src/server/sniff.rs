//! Which HTTP a plain connection speaks: HTTP/2 with prior knowledge (h2c) opens with a
//! fixed preface (RFC 9113 §3.4), anything else is taken for HTTP/1.1. The bytes read to
//! tell are given back to the connection, read first.
//!
//! Hand-written rather than hyper-util's `auto` builder, whose reading of the preface has
//! no time limit: a client sending a byte and then nothing would hold its connection for
//! ever, before any of hyper's own time-outs begins.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The first bytes of every HTTP/2 connection with prior knowledge.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    Http1,
    Http2,
}

/// Reads from `io` until its first bytes tell its protocol: the whole preface, or a byte
/// that departs from it. `None` when the connection closed first.
pub(super) async fn protocol_of<I: AsyncRead + Unpin>(
    mut io: I,
) -> io::Result<Option<(Protocol, Prefixed<I>)>> {
    let mut read = Vec::with_capacity(PREFACE.len());
    let mut buf = [0; PREFACE.len()];
    loop {
        let n = io.read(&mut buf[..PREFACE.len() - read.len()]).await?;
        if n == 0 {
            return Ok(None);
        }
        read.extend_from_slice(&buf[..n]);
        let protocol = if !PREFACE.starts_with(&read) {
            Protocol::Http1
        } else if read.len() == PREFACE.len() {
            Protocol::Http2
        } else {
            continue;
        };
        return Ok(Some((
            protocol,
            Prefixed {
                prefix: read,
                at: 0,
                io,
            },
        )));
    }
}

/// A connection whose first bytes were already read: they are read again first.
#[derive(Debug)]
pub(super) struct Prefixed<I> {
    prefix: Vec<u8>,
    at: usize,
    io: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.prefix.len() {
            let rest = &this.prefix[this.at..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    async fn sniff(sent: &[u8]) -> (Protocol, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(sent).await.expect("written");
        drop(client);
        let (protocol, mut prefixed) = protocol_of(server).await.expect("read").expect("bytes");
        let mut all = Vec::new();
        prefixed.read_to_end(&mut all).await.expect("read back");
        (protocol, all)
    }

    #[tokio::test]
    async fn the_preface_tells_http2_and_any_other_start_http1_with_nothing_lost() {
        let h2 = [PREFACE, b"\0\0\0\x04\0\0\0\0\0"].concat();
        assert_eq!(sniff(&h2).await, (Protocol::Http2, h2.clone()));
        let h1 = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(sniff(h1).await, (Protocol::Http1, h1.to_vec()));
        // "PRI" alone starts like the preface, then departs from it.
        let pri = b"PRIVATE / HTTP/1.1\r\n\r\n";
        assert_eq!(sniff(pri).await, (Protocol::Http1, pri.to_vec()));
    }

    #[tokio::test]
    async fn a_connection_closed_before_telling_is_none() {
        let (client, server) = tokio::io::duplex(64);
        drop(client);
        assert!(protocol_of(server).await.expect("read").is_none());
    }
}
