//! The accept loop: HTTP/1.1 connections served by hyper with the bounds `axum::serve`
//! does not have — a maximum number of open connections, a header timeout and an idle
//! timeout per connection (the body timeout is the JSON extractor's, `error.rs`) — and a
//! graceful shutdown that gives in-flight requests a grace period and no more.
//!
//! * `limits.max_connections`: a semaphore permit per open connection. At the limit the
//!   loop stops accepting: new connections wait in the listen backlog (nothing is
//!   refused or lost) until one closes, and the timeouts below bound how long any
//!   connection can hold its permit without sending a request.
//! * `limits.header_timeout_ms`: a request head must be complete within it, counted from
//!   the accept for a connection's first request and from the first byte of each later
//!   one. A slow-header (slowloris) connection is closed when it runs out.
//! * `limits.idle_timeout_ms`: a connection with no request being handled and no byte
//!   read or written for this long is closed: a kept-alive connection waiting for its
//!   next request, or a client that stopped reading its response.
//!
//! hyper's own `header_read_timeout` is not used: it also runs while a kept-alive
//! connection waits for its next request, which would make the idle timeout the header
//! timeout. Each connection instead has a watchdog ([`watchdog`]) that reads what the
//! connection is doing ([`Activity`]), fed by its socket ([`Watched`]) and by the
//! service (a request in progress).

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use triage_core::config::Limits;

/// The per-connection bounds, from `[limits]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    header: Duration,
    idle: Duration,
    max_connections: usize,
}

impl ConnLimits {
    pub(crate) fn from_config(l: &Limits) -> Self {
        Self {
            header: Duration::from_millis(l.header_timeout_ms.max(1)),
            idle: Duration::from_millis(l.idle_timeout_ms.max(1)),
            max_connections: l.max_connections.max(1),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish and closes idle connections, and returns once every
/// connection is closed or `grace` has passed (connections still open then are left to
/// be dropped with the runtime).
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // The watchdog times heads; see the module documentation.
    http.timer(TokioTimer::new()).header_read_timeout(None);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break, // never closed
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new(Instant::now()));
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let service = {
            let activity = activity.clone();
            let app = app.clone();
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let busy = Busy::start(activity.clone());
                let app = app.clone();
                async move {
                    let response = app.oneshot(req).await;
                    drop(busy);
                    response
                }
            })
        };
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _permit = permit;
            ::metrics::gauge!("triage_http_connections").increment(1.0);
            tokio::select! {
                done = conn => {
                    if let Err(e) = done {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                reason = watchdog(&activity, limits) => {
                    // Dropping the connection closes its socket.
                    ::metrics::counter!("triage_http_connections_closed_total", "reason" => reason)
                        .increment(1);
                    tracing::debug!(reason, "connection closed");
                }
            }
            ::metrics::gauge!("triage_http_connections").decrement(1.0);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("in-flight requests did not finish within the grace period");
        }
    }
    Ok(())
}

/// An accept that failed: a connection reset before it was accepted is nothing; running
/// out of file descriptors is worth a warning and a pause, so that the loop does not
/// spin while connections close.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed; pausing 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// What one connection is doing, for its watchdog.
#[derive(Debug)]
struct Activity {
    state: Mutex<Phase>,
}

#[derive(Debug, Clone, Copy)]
struct Phase {
    /// Requests whose handler is running (more than one only with pipelining).
    in_flight: usize,
    /// When the head of the next request started: the accept, for the first request;
    /// the first byte read after the previous request, for later ones.
    head_from: Option<Instant>,
    /// The last time a byte moved, or a request ended, while no request was handled.
    quiet_since: Instant,
}

impl Activity {
    fn new(now: Instant) -> Self {
        Self {
            state: Mutex::new(Phase {
                in_flight: 0,
                head_from: Some(now),
                quiet_since: now,
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Phase) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    fn read(&self, now: Instant) {
        self.with(|p| {
            if p.in_flight == 0 {
                p.head_from.get_or_insert(now);
                p.quiet_since = now;
            }
        })
    }

    fn wrote(&self, now: Instant) {
        self.with(|p| {
            if p.in_flight == 0 {
                p.quiet_since = now;
            }
        })
    }

    fn request_started(&self) {
        self.with(|p| {
            p.in_flight += 1;
            p.head_from = None;
        })
    }

    fn request_ended(&self, now: Instant) {
        self.with(|p| {
            p.in_flight = p.in_flight.saturating_sub(1);
            if p.in_flight == 0 {
                p.quiet_since = now;
            }
        })
    }

    /// When the connection is to be closed if nothing changes, and why; `None` while a
    /// request is handled (its body has its own timeout; the handler is bounded by the
    /// engine's queue).
    fn deadline(&self, limits: ConnLimits) -> Option<(Instant, &'static str)> {
        self.with(|p| match (p.in_flight, p.head_from) {
            (0, Some(head)) => Some((head + limits.header, "header_timeout")),
            (0, None) => Some((p.quiet_since + limits.idle, "idle_timeout")),
            _ => None,
        })
    }
}

/// Marks a request in progress from the service's call until its response is ready, or
/// its future is dropped (the client went away).
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Self {
        activity.request_started();
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.request_ended(Instant::now());
    }
}

/// Resolves with the reason when the connection's deadline passes. A deadline that moved
/// (bytes arrived, a request started) is looked at again when the old one is reached;
/// while a request is handled it looks again every so often, which can only be early:
/// the deadline that follows a request counts from its end.
async fn watchdog(activity: &Activity, limits: ConnLimits) -> &'static str {
    loop {
        match activity.deadline(limits) {
            Some((at, why)) if at <= Instant::now() => return why,
            Some((at, _)) => tokio::time::sleep_until(at.into()).await,
            None => tokio::time::sleep(limits.header.min(limits.idle)).await,
        }
    }
}

/// A socket that tells its [`Activity`] when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read(Instant::now());
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote(Instant::now());
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote(Instant::now());
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnLimits {
        ConnLimits {
            header: Duration::from_secs(2),
            idle: Duration::from_secs(10),
            max_connections: 1,
        }
    }

    #[test]
    fn the_first_head_is_timed_from_the_accept_later_ones_from_their_first_byte() {
        let t0 = Instant::now();
        let s = |n| Duration::from_secs(n);
        let a = Activity::new(t0);
        assert_eq!(a.deadline(limits()), Some((t0 + s(2), "header_timeout")));
        // Bytes trickling in do not move the header deadline.
        a.read(t0 + s(1));
        assert_eq!(a.deadline(limits()), Some((t0 + s(2), "header_timeout")));
        // A request handled: no deadline; then the idle one, from its end.
        a.request_started();
        assert_eq!(a.deadline(limits()), None);
        a.request_ended(t0 + s(5));
        assert_eq!(a.deadline(limits()), Some((t0 + s(15), "idle_timeout")));
        // Writing the response keeps the connection from idling out.
        a.wrote(t0 + s(6));
        assert_eq!(a.deadline(limits()), Some((t0 + s(16), "idle_timeout")));
        // The next request's first byte starts its header timeout.
        a.read(t0 + s(20));
        assert_eq!(a.deadline(limits()), Some((t0 + s(22), "header_timeout")));
        a.read(t0 + s(21));
        assert_eq!(a.deadline(limits()), Some((t0 + s(22), "header_timeout")));
    }

    #[test]
    fn bytes_read_while_a_request_is_handled_start_no_head() {
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(t0));
        {
            let _busy = Busy::start(a.clone());
            // The body, or a pipelined request.
            a.read(t0 + Duration::from_secs(1));
            assert_eq!(a.deadline(limits()), None);
        }
        // The request's end (here its future dropped, as when the client goes away)
        // starts the idle timeout, not a header timeout.
        assert!(matches!(a.deadline(limits()), Some((_, "idle_timeout"))));
    }
}
