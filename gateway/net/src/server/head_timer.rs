//! The head and keep-alive time-outs, enforced by hyper's own `header_read_timeout`: hyper
//! asks this connection's timer for a sleep whenever the connection starts waiting for a
//! request's head (at accept, and after each answer), and closes the connection when it
//! ends before the head is whole.
//!
//! A timer of the connection's own, rather than hyper-util's `TokioTimer` alone, because
//! hyper counts the idle wait between two requests and the next head's reading as one:
//! with `TokioTimer` a keep-alive connection would be closed after the head time-out even
//! when idle. Here the sleep of a wait after an answer lasts the keep-alive time-out until
//! the first byte of the next head is read (the socket below tells), then the head time-out
//! from that byte; the first wait is the head time-out from the accept, as nginx's.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

use super::registry::Activity;

/// hyper's timer for one connection.
#[derive(Debug)]
pub(super) struct HeadTimer {
    activity: Arc<Activity>,
    header_read_timeout: Duration,
    keepalive_timeout: Duration,
    /// Whether a head has been awaited before: the next wait follows an answer.
    answered: AtomicBool,
}

impl HeadTimer {
    pub fn new(activity: Arc<Activity>, header: Duration, keepalive: Duration) -> Self {
        Self {
            activity,
            header_read_timeout: header,
            keepalive_timeout: keepalive,
            answered: AtomicBool::new(false),
        }
    }
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        hyper_util::rt::TokioTimer::new().sleep(duration)
    }

    /// A head is awaited from now on: the deadline hyper asks for is now and the head
    /// time-out, which this sleep keeps for the first wait; after an answer it waits the
    /// keep-alive time-out for the head's first byte instead.
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let now = Instant::now();
        self.activity.wait_for_head();
        let idle = self.answered.swap(true, Ordering::Relaxed);
        let until = if idle {
            now + self.keepalive_timeout
        } else {
            deadline
        };
        Box::pin(HeadSleep {
            sleep: Box::pin(tokio::time::sleep_until(until.into())),
            activity: Arc::clone(&self.activity),
            header_read_timeout: self.header_read_timeout,
            idle,
        })
    }
}

/// The sleep of one wait for a head; dropped by hyper once the head is read.
struct HeadSleep {
    sleep: Pin<Box<tokio::time::Sleep>>,
    activity: Arc<Activity>,
    header_read_timeout: Duration,
    /// Still waiting for the first byte of a head after an answer.
    idle: bool,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.idle
            && let Some(started) = this.activity.head_started()
        {
            this.idle = false;
            let deadline = started + this.header_read_timeout;
            this.sleep.as_mut().reset(deadline.into());
        }
        this.sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HeadSleep {}

impl Drop for HeadSleep {
    fn drop(&mut self) {
        self.activity.head_read();
    }
}

/// A connection's socket, telling its activity when bytes are read and written, and
/// holding `H` (what counts the connection) for as long as the socket lives: past an
/// upgrade too, when the socket has left hyper's connection for a tunnel.
#[derive(Debug)]
pub(super) struct Watched<H> {
    stream: TcpStream,
    activity: Arc<Activity>,
    _held: H,
}

impl<H> Watched<H> {
    pub fn new(stream: TcpStream, activity: Arc<Activity>, held: H) -> Self {
        Self {
            stream,
            activity,
            _held: held,
        }
    }

    /// Bytes written are told with the time the write began: a thread preempted just after
    /// it would take a later one, after the peer has read them and moved on.
    fn wrote(&self, began: Instant, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(bytes)) if *bytes > 0) {
            self.activity.bytes_written(began);
        }
    }
}

impl<H: Unpin> AsyncRead for Watched<H> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        read
    }
}

impl<H: Unpin> AsyncWrite for Watched<H> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let began = Instant::now();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.wrote(began, &written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let began = Instant::now();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.wrote(began, &written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
