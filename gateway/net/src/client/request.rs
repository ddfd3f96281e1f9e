//! Writing a request to an origin: its head in one buffer, its body after it, framed by its
//! length when that is known and in chunks when it is not.

use axum::body::{Body, HttpBody as _};
use bytes::{Buf, Bytes};
use futures::FutureExt as _;
use http::{HeaderName, HeaderValue, Method, header, request::Parts, uri::PathAndQuery};
use http_body_util::BodyExt as _;
use hyper::body::Frame;
use tokio::io::AsyncWriteExt as _;

use super::conn::Conn;

/// A body's first chunk up to this size goes out in the same write as the head.
const COALESCED_BODY: usize = 16 * 1024;

/// How a request's body follows its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// It has none.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Why a request could not be written whole.
#[derive(Debug)]
pub(super) enum WriteError {
    /// Writing its head failed: the origin saw nothing of it.
    HeadUnsent(std::io::Error),
    /// Writing its body to the origin failed.
    Origin(std::io::Error),
    /// The body itself failed, or its length was not the one declared.
    Body(axum::Error),
}

/// What a request's head is written from.
#[derive(Debug)]
pub(super) struct Head<'a> {
    pub parts: &'a Parts,
    /// Header fields written after the request's own, in place of any of the same name.
    pub extra: &'a [(HeaderName, HeaderValue)],
    /// The `Host` of a request that has none.
    pub host: &'a str,
}

impl Head<'_> {
    /// Writes the head into `out` and says how `body` will follow it. The framing headers
    /// are this client's own: any `Content-Length` or `Transfer-Encoding` the request had is
    /// replaced.
    pub fn encode(&self, body: &Body, out: &mut Vec<u8>) -> Framing {
        let parts = self.parts;
        out.clear();
        let target = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        for piece in [parts.method.as_str(), " ", target, " HTTP/1.1\r\n"] {
            out.extend_from_slice(piece.as_bytes());
        }
        let mut has_host = false;
        let mut declared: Option<&HeaderValue> = None;
        for (name, value) in &parts.headers {
            if *name == header::CONTENT_LENGTH {
                declared = Some(value);
                continue;
            }
            if *name == header::TRANSFER_ENCODING
                || self.extra.iter().any(|(replaced, _)| replaced == name)
            {
                continue;
            }
            has_host |= *name == header::HOST;
            line(out, name.as_str().as_bytes(), value.as_bytes());
        }
        for (name, value) in self.extra {
            has_host |= *name == header::HOST;
            line(out, name.as_str().as_bytes(), value.as_bytes());
        }
        if !has_host {
            line(out, b"host", self.host.as_bytes());
        }
        let framing = if body.is_end_stream() {
            Framing::Empty
        } else if let Some(length) = body.size_hint().exact() {
            Framing::Length(length)
        } else if let Some(length) = declared.and_then(|value| value.to_str().ok()?.parse().ok()) {
            Framing::Length(length)
        } else {
            Framing::Chunked
        };
        match framing {
            // Some servers refuse a POST without a length (411), even an empty one.
            Framing::Empty if declared.is_some() || expects_body(&parts.method) => {
                line(out, b"content-length", b"0");
            }
            Framing::Empty => {}
            Framing::Length(length) => {
                line(
                    out,
                    b"content-length",
                    itoa::Buffer::new().format(length).as_bytes(),
                );
            }
            Framing::Chunked => line(out, b"transfer-encoding", b"chunked"),
        }
        out.extend_from_slice(b"\r\n");
        framing
    }
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn expects_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// Writes the head `conn.write` holds, then `body` framed as `framing` says. A first chunk
/// of the body that is ready at once and small goes out with the head, in one write.
pub(super) async fn write(
    conn: &mut Conn,
    framing: Framing,
    mut body: Body,
) -> Result<(), WriteError> {
    let mut sent = 0;
    let mut ended = framing == Framing::Empty;
    let mut large_first = None;
    if !ended && let Some(first) = body.frame().now_or_never() {
        match data_of(first)? {
            None => ended = true,
            Some(data) if data.is_empty() => {}
            Some(data) => {
                sent = counted(framing, sent, data.len())?;
                if data.len() <= COALESCED_BODY {
                    frame_into(&mut conn.write, framing, &data);
                } else {
                    large_first = Some(data);
                }
            }
        }
    }
    conn.stream
        .write_all(&conn.write)
        .await
        .map_err(WriteError::HeadUnsent)?;
    if let Some(data) = large_first {
        write_chunk(conn, framing, data).await?;
    }
    while !ended {
        match data_of(body.frame().await)? {
            None => ended = true,
            Some(data) if data.is_empty() => {}
            Some(data) => {
                sent = counted(framing, sent, data.len())?;
                write_chunk(conn, framing, data).await?;
            }
        }
    }
    match framing {
        Framing::Empty => Ok(()),
        Framing::Length(declared) if sent == declared => Ok(()),
        Framing::Length(_) => Err(length_mismatch()),
        Framing::Chunked => conn
            .stream
            .write_all(b"0\r\n\r\n")
            .await
            .map_err(WriteError::Origin),
    }
}

/// The data of a polled frame (empty for trailers, which are not sent on); `None` at the
/// body's end.
fn data_of(polled: Option<Result<Frame<Bytes>, axum::Error>>) -> Result<Option<Bytes>, WriteError> {
    match polled.transpose().map_err(WriteError::Body)? {
        None => Ok(None),
        Some(frame) => Ok(Some(frame.into_data().unwrap_or_default())),
    }
}

/// `sent` plus `more` bytes, refused when that is over the declared length.
fn counted(framing: Framing, sent: u64, more: usize) -> Result<u64, WriteError> {
    let total = sent + more as u64;
    match framing {
        Framing::Length(declared) if total > declared => Err(length_mismatch()),
        _ => Ok(total),
    }
}

fn length_mismatch() -> WriteError {
    WriteError::Body(axum::Error::new(
        "the request body's length is not the one it declared",
    ))
}

/// Appends `data` to `out` as the framing wants it.
fn frame_into(out: &mut Vec<u8>, framing: Framing, data: &[u8]) {
    if framing == Framing::Chunked {
        chunk_size_into(out, data.len());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(data);
    }
}

fn chunk_size_into(out: &mut Vec<u8>, size: usize) {
    out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
}

/// Writes one chunk of the body, its framing and data in one vectored write.
async fn write_chunk(conn: &mut Conn, framing: Framing, data: Bytes) -> Result<(), WriteError> {
    let written = if framing == Framing::Chunked {
        let mut size = Vec::with_capacity(18);
        chunk_size_into(&mut size, data.len());
        let mut chunk = Bytes::from(size)
            .chain(data)
            .chain(Bytes::from_static(b"\r\n"));
        conn.stream.write_all_buf(&mut chunk).await
    } else {
        let mut data = data;
        conn.stream.write_all_buf(&mut data).await
    };
    written.map_err(WriteError::Origin)
}
