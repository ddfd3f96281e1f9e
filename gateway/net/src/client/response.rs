//! Reading an answer's head from an origin, and how its body follows (RFC 9112 §6.3).

use std::mem::MaybeUninit;

use bytes::Buf as _;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version, header};
use smallvec::SmallVec;
use tokio::io::AsyncReadExt as _;

use super::conn::{Conn, PoolError};

/// Most header fields an answer may have.
const MAX_HEADERS: usize = 100;
/// Longest head an answer may have.
const MAX_HEAD: usize = 64 * 1024;
/// Room each read of the socket gets.
pub(super) const READ_SIZE: usize = 8 * 1024;
/// Header fields a proxy may add to an answer without its map growing (and rehashing).
const ROOM: usize = 8;

/// An answer's head, and how its body follows.
#[derive(Debug)]
pub(super) struct Head {
    pub response: Response<()>,
    pub body: BodyLength,
    /// Whether the connection may carry another request once this answer is read.
    pub keep_alive: bool,
}

/// How an answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyLength {
    /// It has none (an answer to HEAD, a 204, a 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the origin closes the connection.
    UntilClose,
}

/// Why no head was read.
#[derive(Debug)]
pub(super) enum HeadError {
    /// The connection ended before a single byte came.
    NothingCame(PoolError),
    Failed(PoolError),
}

/// The offsets of one header field's name and value in the head.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
}

/// The fields of one head: most answers have far fewer than 32, which then need neither an
/// allocation nor the memory of all [`MAX_HEADERS`] cleared.
type Fields = SmallVec<[Field; 32]>;

/// A head parsed in place.
struct Parsed {
    length: usize,
    code: u16,
    version: Version,
}

/// Reads the head of the answer to a `method` request, skipping interim (1xx) answers.
pub(super) async fn read_head(conn: &mut Conn, method: &Method) -> Result<Head, HeadError> {
    let mut received = false;
    loop {
        // Between reads, not across them: the offsets stay out of this future's state.
        while !conn.read.is_empty() {
            let mut fields = Fields::new();
            match parse(&conn.read, &mut fields).map_err(HeadError::Failed)? {
                Some(parsed) if (100..200).contains(&parsed.code) && parsed.code != 101 => {
                    conn.read.advance(parsed.length);
                }
                Some(parsed) => return build(conn, method, &parsed, &fields),
                None if conn.read.len() >= MAX_HEAD => {
                    return Err(HeadError::Failed(PoolError::Malformed(
                        "its head is too long",
                    )));
                }
                None => break,
            }
        }
        conn.read.reserve(READ_SIZE);
        match conn.stream.read_buf(&mut conn.read).await {
            Ok(0) if received => return Err(HeadError::Failed(PoolError::Incomplete)),
            Ok(0) => return Err(HeadError::NothingCame(PoolError::Incomplete)),
            Ok(_) => received = true,
            Err(err) if !received => return Err(HeadError::NothingCame(err.into())),
            Err(err) => return Err(HeadError::Failed(err.into())),
        }
    }
}

/// The head at the start of `buf`, its fields' offsets in `fields`; `None` while incomplete.
fn parse(buf: &[u8], fields: &mut Fields) -> Result<Option<Parsed>, PoolError> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let length = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(PoolError::Malformed("it has too many header fields"));
        }
        Err(_) => return Err(PoolError::Malformed("its head is not HTTP/1.1")),
    };
    let start = buf.as_ptr() as usize;
    // Within a buffer read to little more than `MAX_HEAD`: the offsets fit.
    let offsets = |part: &[u8]| {
        let at = (part.as_ptr() as usize - start) as u32;
        (at, at + part.len() as u32)
    };
    fields.clear();
    fields.extend(response.headers.iter().map(|header| Field {
        name: offsets(header.name.as_bytes()),
        value: offsets(header.value),
    }));
    Ok(Some(Parsed {
        length,
        code: response.code.unwrap_or_default(),
        version: match response.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        },
    }))
}

/// The answer whose head `parsed` describes, taken off the front of `conn.read`.
fn build(
    conn: &mut Conn,
    method: &Method,
    parsed: &Parsed,
    fields: &Fields,
) -> Result<Head, HeadError> {
    let failed = |reason| HeadError::Failed(PoolError::Malformed(reason));
    if parsed.code == 101 {
        return Err(failed("it switches protocols, which is not supported"));
    }
    let status = StatusCode::from_u16(parsed.code).map_err(|_| failed("its status is invalid"))?;
    let head = conn.read.split_to(parsed.length).freeze();
    let mut headers = HeaderMap::with_capacity(fields.len() + ROOM);
    let mut framing = FramingFields::default();
    for field in fields {
        let (name, value) = (field.name, field.value);
        let name = HeaderName::from_bytes(&head[name.0 as usize..name.1 as usize])
            .map_err(|_| failed("a header field's name is invalid"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(value.0 as usize..value.1 as usize))
            .map_err(|_| failed("a header field's value is invalid"))?;
        framing.note(&name, &value).map_err(failed)?;
        headers.append(name, value);
    }
    let mut keep_alive = match parsed.version {
        Version::HTTP_10 => framing.keep_alive && !framing.close,
        _ => !framing.close,
    };
    let body = if *method == Method::HEAD || matches!(parsed.code, 204 | 304) {
        BodyLength::Empty
    } else if framing.transfer_encoding {
        if parsed.version == Version::HTTP_10 {
            return Err(failed("it is HTTP/1.0 with a Transfer-Encoding"));
        }
        if framing.length.is_some() {
            // Both: the length is ignored (RFC 9112 §6.3), and the connection trusted no more.
            headers.remove(header::CONTENT_LENGTH);
            keep_alive = false;
        }
        BodyLength::Chunked
    } else {
        match framing.length {
            Some(length) => BodyLength::Length(length),
            None => BodyLength::UntilClose,
        }
    };
    if body == BodyLength::UntilClose {
        keep_alive = false;
    }
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = parsed.version;
    *response.headers_mut() = headers;
    Ok(Head {
        response,
        body,
        keep_alive,
    })
}

/// What an answer's header fields say of its framing and its connection.
#[derive(Debug, Default)]
struct FramingFields {
    length: Option<u64>,
    /// `Transfer-Encoding: chunked`, the one coding accepted.
    transfer_encoding: bool,
    close: bool,
    keep_alive: bool,
}

impl FramingFields {
    fn note(&mut self, name: &HeaderName, value: &HeaderValue) -> Result<(), &'static str> {
        if *name == header::CONTENT_LENGTH {
            for item in value.as_bytes().split(|&byte| byte == b',') {
                let length =
                    parse_length(item.trim_ascii()).ok_or("its Content-Length is invalid")?;
                if self.length.is_some_and(|known| known != length) {
                    return Err("it has differing Content-Lengths");
                }
                self.length = Some(length);
            }
        } else if *name == header::TRANSFER_ENCODING {
            // chunked once and nothing else: another coding (gzip, say), or chunked twice,
            // would reach the client undecoded with nothing to say so once the hop-by-hop
            // field is dropped, so it is refused instead.
            let mut codings = value.as_bytes().split(|&byte| byte == b',');
            let once = codings
                .next()
                .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            if self.transfer_encoding || !once || codings.next().is_some() {
                return Err("its transfer coding is not chunked alone");
            }
            self.transfer_encoding = true;
        } else if *name == header::CONNECTION {
            for option in value.as_bytes().split(|&byte| byte == b',') {
                let option = option.trim_ascii();
                self.close |= option.eq_ignore_ascii_case(b"close");
                self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        Ok(())
    }
}

/// Decimal digits only: no sign, no spaces, nothing that overflows.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}
