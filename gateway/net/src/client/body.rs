//! An answer's body: whole when it came with the head (the connection is then back in its
//! pool already), or read from its connection as it is polled, which goes back to the
//! pool once the body has been read to its end.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::body::HttpBody;
use bytes::Bytes;
use http::Response;
use hyper::body::{Frame, SizeHint};

use super::{
    conn::{Conn, PoolError},
    decode::{Chunk, Decoded, Decoder},
    idle::{Slot, checkin},
    response::{BodyLength, Head, READ_SIZE},
};

/// The body of an answer from a pooled connection.
#[derive(Debug)]
pub struct PooledBody(Kind);

#[derive(Debug)]
enum Kind {
    /// All of it (`None` once handed out, or when there is none).
    Whole(Option<Bytes>),
    /// Still arriving on its connection.
    Streaming(Box<Streaming>),
}

#[derive(Debug)]
struct Streaming {
    /// `None` once the body has ended or failed.
    conn: Option<Conn>,
    decoder: Decoder,
    /// Whether the connection can carry another request once this body has been read.
    reusable: bool,
    slot: Slot,
}

impl PooledBody {
    /// The body of the answer `head` begins, on `conn`; `complete` says whether the
    /// request was sent whole (else the connection is not reused).
    pub(super) fn after(
        head: Head,
        mut conn: Conn,
        slot: Slot,
        complete: bool,
    ) -> Response<PooledBody> {
        let reusable = head.keep_alive && complete;
        let decoder = match head.body {
            BodyLength::Empty | BodyLength::Length(0) => {
                release(conn, reusable, slot);
                return head.response.map(|()| Self(Kind::Whole(None)));
            }
            BodyLength::Length(length) if length <= conn.read.len() as u64 => {
                // Came whole with the head: the connection is free at once.
                let data = conn.read.split_to(length as usize).freeze();
                release(conn, reusable, slot);
                return head.response.map(|()| Self(Kind::Whole(Some(data))));
            }
            BodyLength::Length(length) => Decoder::Length(length),
            BodyLength::Chunked => Decoder::Chunked(Chunk::Size),
            BodyLength::UntilClose => Decoder::UntilClose,
        };
        head.response.map(|()| {
            Self(Kind::Streaming(Box::new(Streaming {
                conn: Some(conn),
                decoder,
                reusable,
                slot,
            })))
        })
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = PoolError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, PoolError>>> {
        match &mut self.0 {
            Kind::Whole(data) => Poll::Ready(data.take().map(|data| Ok(Frame::data(data)))),
            Kind::Streaming(streaming) => streaming.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Whole(data) => data.is_none(),
            Kind::Streaming(streaming) => streaming.conn.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Whole(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |data| data.len() as u64))
            }
            Kind::Streaming(streaming) => match streaming.decoder {
                Decoder::Length(left) if streaming.conn.is_some() => SizeHint::with_exact(left),
                _ if streaming.conn.is_none() => SizeHint::with_exact(0),
                _ => SizeHint::default(),
            },
        }
    }
}

impl Streaming {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, PoolError>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match self.decoder.decode(&mut conn.read) {
                Ok(Decoded::Frame(frame)) => {
                    if self.decoder == Decoder::Length(0) {
                        // The server may not poll again once the length is reached.
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(Decoded::End) => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Ok(Decoded::More) => {}
                Err(err) => return self.fail(err),
            }
            if conn.read.capacity() - conn.read.len() < READ_SIZE / 2 {
                conn.read.reserve(READ_SIZE);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut conn.stream), cx, &mut conn.read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => return self.fail(err.into()),
                Poll::Ready(Ok(0)) if self.decoder == Decoder::UntilClose => {
                    self.conn = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(0)) => return self.fail(PoolError::Incomplete),
                Poll::Ready(Ok(_)) => {}
            }
        }
    }

    /// The body has been read to its end: the connection goes back to its pool if it can.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take() {
            release(conn, self.reusable, self.slot);
        }
    }

    fn fail(&mut self, err: PoolError) -> Poll<Option<Result<Frame<Bytes>, PoolError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(err)))
    }
}

/// `conn`, its answer read to the end, back to its pool when it may carry another request:
/// anything read after the answer is more than the origin should have sent, and would be
/// taken for the next answer.
fn release(conn: Conn, reusable: bool, slot: Slot) {
    if reusable && conn.read.is_empty() {
        checkin(slot, conn);
    }
}
