//! Taking a body off the bytes read from its connection: by its length, in chunks (with
//! their trailers), or to the end of the connection.

use bytes::{Buf as _, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};
use hyper::body::Frame;

use super::conn::PoolError;

/// Longest chunk-size line or trailer section a chunked body may have.
const MAX_CHUNK_LINE: usize = 16 * 1024;

/// Where a body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoder {
    /// This many bytes are still to come.
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// A chunk-size line comes next.
    Size,
    /// This many bytes of the current chunk are still to come.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The trailer section after the last chunk.
    Trailers,
    /// Nothing: the body has ended.
    Done,
}

/// What the decoder made of the buffered bytes.
pub(super) enum Decoded {
    Frame(Frame<Bytes>),
    /// The body has ended.
    End,
    /// It needs more bytes.
    More,
}

impl Decoder {
    /// Takes what it can of the body off the front of `buf`.
    pub(super) fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, PoolError> {
        loop {
            match self {
                Self::Length(0) => return Ok(Decoded::End),
                Self::Length(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::More);
                    }
                    let taken = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= taken as u64;
                    return Ok(Decoded::Frame(Frame::data(buf.split_to(taken).freeze())));
                }
                Self::UntilClose if buf.is_empty() => return Ok(Decoded::More),
                Self::UntilClose => return Ok(Decoded::Frame(Frame::data(buf.split().freeze()))),
                Self::Chunked(chunk) => match chunk.decode(buf)? {
                    Some(decoded) => return Ok(decoded),
                    None => continue,
                },
            }
        }
    }
}

impl Chunk {
    /// One step through a chunked body: `None` when the step consumed framing only.
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, PoolError> {
        let malformed = PoolError::Malformed;
        match *self {
            Self::Size => match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    buf.advance(used);
                    *self = if size == 0 {
                        Self::Trailers
                    } else {
                        Self::Data(size)
                    };
                    Ok(None)
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_CHUNK_LINE => {
                    Ok(Some(Decoded::More))
                }
                _ => Err(malformed("a chunk's size is invalid")),
            },
            Self::Data(left) => {
                if buf.is_empty() {
                    return Ok(Some(Decoded::More));
                }
                let taken = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let left = left - taken as u64;
                *self = if left == 0 {
                    Self::DataEnd
                } else {
                    Self::Data(left)
                };
                Ok(Some(Decoded::Frame(Frame::data(
                    buf.split_to(taken).freeze(),
                ))))
            }
            Self::DataEnd => match buf.get(..2) {
                None => Ok(Some(Decoded::More)),
                Some(b"\r\n") => {
                    buf.advance(2);
                    *self = Self::Size;
                    Ok(None)
                }
                Some(_) => Err(malformed("a chunk does not end where its size says")),
            },
            Self::Trailers => {
                let mut fields = [httparse::EMPTY_HEADER; 32];
                match httparse::parse_headers(buf, &mut fields) {
                    Ok(httparse::Status::Complete((used, fields))) => {
                        let trailers = trailers(fields);
                        buf.advance(used);
                        *self = Self::Done;
                        Ok(Some(match trailers {
                            Some(trailers) => Decoded::Frame(Frame::trailers(trailers)),
                            None => Decoded::End,
                        }))
                    }
                    Ok(httparse::Status::Partial) if buf.len() < MAX_CHUNK_LINE => {
                        Ok(Some(Decoded::More))
                    }
                    _ => Err(malformed("its trailer section is invalid")),
                }
            }
            Self::Done => Ok(Some(Decoded::End)),
        }
    }
}

/// The trailer fields, those that are valid; `None` when there are none.
fn trailers(fields: &[httparse::Header<'_>]) -> Option<HeaderMap> {
    let map: HeaderMap = fields
        .iter()
        .filter_map(|field| {
            Some((
                HeaderName::from_bytes(field.name.as_bytes()).ok()?,
                HeaderValue::from_bytes(field.value).ok()?,
            ))
        })
        .collect();
    (!map.is_empty()).then_some(map)
}
