//! One keep-alive connection to an origin, and why a request on one failed: what every
//! part of the client shares, below the pool that hands connections out.

use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;

/// Longest wait for a new connection to an origin.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One connection to an origin, and what it has read but not yet handed out.
#[derive(Debug)]
pub(super) struct Conn {
    pub stream: TcpStream,
    pub read: BytesMut,
    /// The head of the request being sent; kept between requests for its capacity.
    pub write: Vec<u8>,
}

impl Conn {
    /// A new connection to `address` (`host:port`), given up after [`CONNECT_TIMEOUT`].
    pub async fn open(address: &str) -> Result<Self, PoolError> {
        Ok(Self {
            stream: connect(address).await?,
            read: BytesMut::new(),
            write: Vec::new(),
        })
    }
}

/// A new TCP connection to an origin at `address` (`host:port`), given up after
/// [`CONNECT_TIMEOUT`]: the pool's, an upgrade's own, a shared HTTP/2 connection's.
pub async fn connect(address: &str) -> Result<TcpStream, PoolError> {
    let failed = |message: String| PoolError::Connect {
        address: address.to_owned(),
        message,
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| failed("timed out".into()))?
        .map_err(|err| failed(err.to_string()))?;
    // Requests are written whole; Nagle's algorithm would only hold their last segment.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Why a request sent over a hyper connection of its own (an upgrade's, a shared HTTP/2
/// connection's) got no answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    /// No connection could be opened.
    #[error(transparent)]
    Connect(#[from] PoolError),
    /// The connection failed.
    #[error("the backend's connection failed: {0}")]
    Http(#[from] hyper::Error),
}

/// Why a request got no answer, or its answer no whole body.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No connection could be opened.
    #[error("cannot connect to {address}: {message}")]
    Connect {
        /// Where.
        address: String,
        /// What went wrong.
        message: String,
    },
    /// The connection failed while the request was sent or its answer read.
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The origin closed the connection before its answer was complete.
    #[error("the origin closed the connection before its answer was complete")]
    Incomplete,
    /// The origin's answer is not HTTP/1.1 this client can read.
    #[error("the origin's answer is malformed: {0}")]
    Malformed(&'static str),
    /// The request's own body failed, or did not match its declared length.
    #[error("the request body could not be sent: {0}")]
    Body(axum::Error),
}
