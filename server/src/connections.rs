//! The accept loop: every TCP connection served by hyper's HTTP/1 with the timeouts a server on
//! a network needs, a bound on connections, and a graceful stop.
//!
//! `axum::serve` has no timeouts: a client sending half a request head, or a body one byte at a
//! time, held its connection (and a task) forever. Here:
//!
//! - **Request head:** from the first byte of a request head, the whole head must arrive within
//!   `header_read_timeout`, or the connection is closed (a watchdog per connection: the bytes
//!   read are seen by `Watched`, the head's end by the service being called).
//! - **Idle:** a connection waiting for a request (a new one, or between keep-alive requests) is
//!   closed by hyper after `idle_timeout` (hyper's header timer, which starts when a connection
//!   begins waiting for a request: so the stricter head timer above starts at the first byte).
//! - **Stalled answer:** a client that takes no byte of its answer for `idle_timeout` is
//!   disconnected (a write pending that long).
//! - **Body:** `http::read_body` reads a body within `body_timeout` (408 `request-timeout`).
//! - At most `max_connections` connections at once; more wait in the listen backlog.
//!
//! Handlers see `ConnectInfo<SocketAddr>` (the peer address) as with axum's own server.
//! Stopping: no new connection is accepted; idle ones close (also those that never sent a
//! byte); each request in flight finishes and its connection then closes; a request head being
//! received may finish (within its timeout) and is answered; the loop returns when every
//! connection is done.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, oneshot, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// The timeouts and bounds of [`serve`] (from `ServerConfig`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `stop` fires (or its sender is dropped), then waits for
/// every connection to finish as described in the module header.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let (closing, closing_seen) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let app = app.clone();
        let closing = closing_seen.clone();
        tokio::spawn(async move {
            connection(stream, peer, app, limits, closing).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    drop(closing_seen);
    // Every connection task holds a receiver: this returns once the last one finished.
    closing.closed().await;
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, is closed by a timeout, or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let seen = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        seen.request_started();
        let seen = Arc::clone(&seen);
        let answer = app.clone().oneshot(request);
        async move {
            let response = answer.await;
            seen.request_answered();
            response
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's header timer runs from the moment the connection waits for a request: that is
    // the idle timeout; the stricter head timer runs from the head's first byte (`Activity`).
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle)
        .keep_alive(true);
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(limits);
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = closing.changed(), if !stopping => {
                stopping = true;
                // hyper closes a keep-alive connection between requests, and one answering a
                // request once its answer is out; one that never sent a byte it would keep
                // until the idle timeout.
                if activity.is_quiet() {
                    return;
                }
                conn.as_mut().graceful_shutdown();
            }
            _ = activity.changed.notified() => {}
            _ = sleep_until(deadline), if deadline.is_some() => {
                if let Some(why) = activity.overdue(limits) {
                    tracing::info!(reason = why, "closing a connection that timed out");
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// What the watchdog of one connection knows: when the current request head began, and since
/// when a write has been waiting for the client.
#[derive(Debug)]
struct Activity {
    /// No request is being answered: bytes read now begin a request head.
    awaiting_head: AtomicBool,
    /// A request head arrived on this connection at some point.
    requested: AtomicBool,
    timers: Mutex<Timers>,
    /// Woken when a timer starts, so the watchdog sleeps until the new deadline.
    changed: Notify,
}

#[derive(Debug, Default)]
struct Timers {
    head_since: Option<Instant>,
    write_blocked_since: Option<Instant>,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity {
            awaiting_head: AtomicBool::new(true),
            requested: AtomicBool::new(false),
            timers: Mutex::new(Timers::default()),
            changed: Notify::new(),
        }
    }
}

impl Activity {
    fn timers(&self) -> std::sync::MutexGuard<'_, Timers> {
        self.timers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bytes_read(&self) {
        if self.awaiting_head.load(Ordering::Acquire) {
            let mut timers = self.timers();
            if timers.head_since.is_none() {
                timers.head_since = Some(Instant::now());
                drop(timers);
                self.changed.notify_one();
            }
        }
    }

    fn write_pending(&self) {
        let mut timers = self.timers();
        if timers.write_blocked_since.is_none() {
            timers.write_blocked_since = Some(Instant::now());
            drop(timers);
            self.changed.notify_one();
        }
    }

    fn write_done(&self) {
        self.timers().write_blocked_since = None;
    }

    fn request_started(&self) {
        self.requested.store(true, Ordering::Release);
        self.awaiting_head.store(false, Ordering::Release);
        self.timers().head_since = None;
    }

    fn request_answered(&self) {
        self.awaiting_head.store(true, Ordering::Release);
    }

    /// No byte of any request has arrived: nothing would be lost by closing now. (Once a request
    /// was seen, hyper's graceful shutdown knows exactly when its answer is out.)
    fn is_quiet(&self) -> bool {
        !self.requested.load(Ordering::Acquire) && self.timers().head_since.is_none()
    }

    fn deadline(&self, limits: Limits) -> Option<Instant> {
        let timers = self.timers();
        let head = timers.head_since.map(|t| t + limits.header_read);
        let write = timers.write_blocked_since.map(|t| t + limits.idle);
        head.into_iter().chain(write).min()
    }

    fn overdue(&self, limits: Limits) -> Option<&'static str> {
        let now = Instant::now();
        let timers = self.timers();
        if timers
            .head_since
            .is_some_and(|t| now >= t + limits.header_read)
        {
            return Some("request head not received in time");
        }
        if timers
            .write_blocked_since
            .is_some_and(|t| now >= t + limits.idle)
        {
            return Some("client took none of its answer");
        }
        None
    }
}

/// The TCP stream, telling `Activity` about bytes read and writes that wait.
#[derive(Debug)]
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_write(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_write(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Watched {
    fn note_write<T>(&self, polled: &Poll<T>) {
        if polled.is_pending() {
            self.activity.write_pending();
        } else {
            self.activity.write_done();
        }
    }
}

/// The warning logged when the server listens beyond loopback, or none on loopback.
pub(crate) fn plain_http_warning(listen: SocketAddr) -> Option<String> {
    if listen.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "fieldbook-server serves plain HTTP on {listen}, beyond loopback: it must sit behind a TLS-terminating proxy that alone is reachable from the network (docs/security.md, \"The server's database and network\")"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_beyond_loopback_warns_that_a_tls_proxy_is_required() {
        for quiet in ["127.0.0.1:8080", "[::1]:8080", "127.0.0.2:0"] {
            assert_eq!(plain_http_warning(quiet.parse().unwrap()), None, "{quiet}");
        }
        for loud in ["0.0.0.0:8080", "10.1.2.3:443", "[::]:8080"] {
            let warning = plain_http_warning(loud.parse().unwrap()).expect(loud);
            assert!(warning.contains("TLS-terminating proxy"), "{warning}");
        }
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address_and_stopping_waits_for_connections_to_end() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let app = Router::new().route(
            "/peer",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.to_string()
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let limits = Limits {
            header_read: Duration::from_secs(5),
            idle: Duration::from_secs(5),
            max_connections: 4,
        };
        let (stop, stopped) = oneshot::channel();
        let server = tokio::spawn(serve(listener, app, limits, stopped));
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let local = stream.local_addr().expect("local");
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            .await
            .expect("request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with(&local.to_string()), "{answer}");
        // An idle keep-alive connection does not hold the stop back.
        let _idle = TcpStream::connect(addr).await.expect("connect");
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(()).expect("running");
        tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("stopped in time")
            .expect("joined")
            .expect("served");
    }
}
