//! A fault-injecting HTTP/1.1 proxy for sync tests: it sits between a client and a server on
//! 127.0.0.1 and, on request, loses, repeats, cuts short, delays, refuses or rewrites one
//! exchange, so a test can show what the protocol promises ("a retried push, a duplicated
//! request, a response lost after the server committed: all harmless") against the real server,
//! and what a device does with bytes a broken or compromised server sends.
//!
//! It is deliberately small: one request per client connection, one upstream connection per
//! forwarded request, `Connection: close` on both sides. Request bodies must carry
//! `Content-Length` (reqwest sends it for byte bodies); a chunked request is refused with
//! `501` rather than guessed at, as is `Expect: 100-continue`. Chunked responses are de-chunked
//! and passed on with a `Content-Length` (trailers dropped); the answer to a `HEAD` request is
//! passed on with `Content-Length: 0`. It only ever connects to its configured upstream, which
//! must be a loopback address, and every socket operation has a time limit (10 s), so nothing it
//! does can hang a test; shutting it down abandons exchanges in flight, including delays.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// Longest any single socket operation (connect, read, write) may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request or response head (request line or status line plus headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest body passed through: the protocol's 16 MiB request limit with room to spare, so a
/// test of the server's own 413 still reaches the server.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Most client connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;
/// Headers the proxy drops and sets itself: hop-by-hop ones, and the body's framing (it always
/// sends a `Content-Length` and `Connection: close`).
const REWRITTEN_HEADERS: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
];

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Forward the request and return the response unchanged.
    None,
    /// Read the client's request, then close its connection without forwarding: the server never
    /// sees it.
    DropRequest,
    /// Forward the request and read the server's whole response (so the server has committed),
    /// then close the client's connection without sending it.
    DropResponse,
    /// Forward the request twice, one after the other on two upstream connections, and return
    /// the second response.
    DuplicateRequest,
    /// Forward the headers and only half the body, close the upstream connection once the
    /// server has answered or closed, then close the client's connection.
    TruncateRequestBody,
    /// Forward the request, then send the client the response headers and half the body (with
    /// the full `Content-Length`) and close.
    TruncateResponseBody,
    /// Wait this long, then forward normally.
    Delay(Duration),
    /// Answer `503 Service Unavailable` without forwarding.
    ServiceUnavailable,
    /// Forward the request, then send the client the server's response with its body passed
    /// through this function (what a broken or compromised server would send).
    RewriteResponseBody(fn(Vec<u8>) -> Vec<u8>),
}

/// A fault-injecting HTTP/1.1 proxy on `127.0.0.1:0`. Faults are queued and each applies to the
/// next request the proxy reads, whatever its path; with the queue empty, requests pass
/// unchanged. Dropping the proxy stops it too; [`FaultProxy::shutdown`] also waits.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    upstream: Mutex<SocketAddr>,
    faults: Mutex<VecDeque<Fault>>,
    requests_seen: AtomicUsize,
    faults_applied: AtomicUsize,
}

impl Shared {
    fn upstream(&self) -> SocketAddr {
        *lock(&self.upstream)
    }

    fn next_fault(&self) -> Fault {
        self.requests_seen.fetch_add(1, Ordering::SeqCst);
        let fault = lock(&self.faults).pop_front().unwrap_or(Fault::None);
        if !matches!(fault, Fault::None) {
            self.faults_applied.fetch_add(1, Ordering::SeqCst);
        }
        fault
    }
}

/// Locks a mutex, ignoring poisoning: the data behind these locks is always left consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn require_loopback(addr: SocketAddr) -> io::Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the fault proxy only forwards to loopback addresses, not {addr}"),
        ))
    }
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream` (a loopback address). Returns once
    /// the socket is bound, so requests may be sent at once.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        require_loopback(upstream)?;
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            faults: Mutex::new(VecDeque::new()),
            requests_seen: AtomicUsize::new(0),
            faults_applied: AtomicUsize::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(FaultProxy {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, the base URL clients use instead of the server's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `fault` to the next request (then back to passing requests unchanged), replacing
    /// any faults still queued.
    pub fn set_fault(&self, fault: Fault) {
        let mut faults = lock(&self.shared.faults);
        faults.clear();
        faults.push_back(fault);
    }

    /// Queues faults for the next requests, one each, in order ([`Fault::None`] lets one pass).
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.shared.faults).extend(faults);
    }

    /// Requests read from clients and handled so far, whatever then happened to them (a
    /// request the proxy refuses, such as a chunked one, is not counted).
    pub fn requests_seen(&self) -> usize {
        self.shared.requests_seen.load(Ordering::SeqCst)
    }

    /// Faults other than [`Fault::None`] applied so far.
    pub fn faults_applied(&self) -> usize {
        self.shared.faults_applied.load(Ordering::SeqCst)
    }

    /// Forwards later requests to `addr` (a server restarted on a new port).
    ///
    /// # Panics
    ///
    /// If `addr` is not a loopback address: the proxy never connects anywhere else.
    pub fn set_upstream(&self, addr: SocketAddr) {
        if let Err(e) = require_loopback(addr) {
            panic!("{e}");
        }
        *lock(&self.shared.upstream) = addr;
    }

    /// Stops accepting, abandons exchanges in flight (their clients see the connection close),
    /// and returns once every task has ended.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut exchanges = JoinSet::new();
    loop {
        while exchanges.try_join_next().is_some() {}
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) if exchanges.len() < MAX_CONNECTIONS => {
                    let shared = Arc::clone(&shared);
                    exchanges.spawn(async move {
                        // A failed exchange only means its client sees the connection close.
                        let _ = serve_one(client, &shared).await;
                    });
                }
                Ok((too_many, _)) => drop(too_many),
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    exchanges.shutdown().await;
}

/// One HTTP message: its first line, its headers, and its whole body.
#[derive(Debug)]
struct Message {
    start_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// The head as sent on: hop-by-hop headers dropped, `Content-Length` set to `content_length`
    /// and `Connection: close` added.
    fn head_bytes(&self, content_length: usize) -> Vec<u8> {
        let mut head = format!("{}\r\n", self.start_line);
        for (name, value) in &self.headers {
            if !REWRITTEN_HEADERS
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h))
            {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str(&format!(
            "content-length: {content_length}\r\nconnection: close\r\n\r\n"
        ));
        head.into_bytes()
    }
}

fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

async fn timed<T>(op: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, op)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "socket operation timed out"))?
}

/// Reads a head up to the blank line; returns its lines and whatever body bytes came with it.
/// `Ok(None)` when the peer closed before sending anything.
async fn read_head(
    stream: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
) -> io::Result<Option<(String, Vec<(String, String)>)>> {
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(protocol_error("head too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = timed(stream.read(&mut chunk)).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head =
        String::from_utf8(buf[..end].to_vec()).map_err(|_| protocol_error("head not utf-8"))?;
    buf.drain(..end + 4);
    let mut lines = head.split("\r\n");
    let start_line = lines.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| protocol_error(format!("not a header line: {line:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(Some((start_line, headers)))
}

/// Reads until `buf` holds at least `len` bytes (it may hold more: what followed them).
async fn fill(
    stream: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    len: usize,
) -> io::Result<()> {
    if len > MAX_BODY_BYTES {
        return Err(protocol_error("body too large"));
    }
    while buf.len() < len {
        let mut chunk = vec![0u8; (len - buf.len()).min(64 * 1024)];
        let n = timed(stream.read(&mut chunk)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Reads exactly `len` body bytes, starting with those already in `buf`. Anything after them is
/// dropped: every connection carries one message each way.
async fn read_exact_body(
    stream: &mut (impl AsyncRead + Unpin),
    mut buf: Vec<u8>,
    len: usize,
) -> io::Result<Vec<u8>> {
    fill(stream, &mut buf, len).await?;
    buf.truncate(len);
    Ok(buf)
}

/// Reads a chunked body to its final 0-size chunk (trailers are read and dropped).
async fn read_chunked_body(
    stream: &mut (impl AsyncRead + Unpin),
    mut buf: Vec<u8>,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(stream, &mut buf).await?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| protocol_error(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            while !read_line(stream, &mut buf).await?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(protocol_error("body too large"));
        }
        fill(stream, &mut buf, size + 2).await?;
        if &buf[size..size + 2] != b"\r\n" {
            return Err(protocol_error("a chunk does not end with CRLF"));
        }
        body.extend(buf.drain(..size + 2).take(size));
    }
}

/// Reads one CRLF-terminated line, keeping any bytes after it in `buf`.
async fn read_line(stream: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> io::Result<String> {
    loop {
        if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..pos]).into_owned();
            buf.drain(..pos + 2);
            return Ok(line);
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(protocol_error("line too long"));
        }
        let mut chunk = [0u8; 4096];
        let n = timed(stream.read(&mut chunk)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads to end of stream (a response with neither length nor chunking ends when closed).
async fn read_to_close(
    stream: &mut (impl AsyncRead + Unpin),
    mut buf: Vec<u8>,
) -> io::Result<Vec<u8>> {
    loop {
        if buf.len() > MAX_BODY_BYTES {
            return Err(protocol_error("body too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = timed(stream.read(&mut chunk)).await?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(message_headers: &Message) -> io::Result<Option<usize>> {
    message_headers
        .header("content-length")
        .map(|v| v.parse().map_err(|_| protocol_error("bad content-length")))
        .transpose()
}

/// Reads one request from a client. `Ok(Err(reason))` is a request the proxy refuses to handle.
async fn read_request(client: &mut TcpStream) -> io::Result<Option<Result<Message, &'static str>>> {
    let mut buf = Vec::new();
    let Some((start_line, headers)) = read_head(client, &mut buf).await? else {
        return Ok(None);
    };
    let mut request = Message {
        start_line,
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Ok(Some(Err(
            "the fault proxy does not support chunked request bodies; send a content-length",
        )));
    }
    if request.header("expect").is_some() {
        return Ok(Some(Err("the fault proxy does not support expect")));
    }
    let len = content_length(&request)?.unwrap_or(0);
    request.body = read_exact_body(client, buf, len).await?;
    Ok(Some(Ok(request)))
}

/// Reads one whole response from the server for a request with method `method`.
async fn read_response(upstream: &mut TcpStream, method: &str) -> io::Result<Message> {
    let mut buf = Vec::new();
    loop {
        let (start_line, headers) = read_head(upstream, &mut buf)
            .await?
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let status: u16 = start_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| protocol_error(format!("bad status line {start_line:?}")))?;
        if (100..200).contains(&status) {
            continue; // interim response: the real one follows
        }
        let mut response = Message {
            start_line,
            headers,
            body: Vec::new(),
        };
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        response.body = if method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            read_chunked_body(upstream, buf).await?
        } else if let Some(len) = content_length(&response)? {
            read_exact_body(upstream, buf, len).await?
        } else {
            read_to_close(upstream, buf).await?
        };
        return Ok(response);
    }
}

async fn write_all(stream: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> io::Result<()> {
    timed(async {
        stream.write_all(bytes).await?;
        stream.flush().await
    })
    .await
}

/// Sends `request` to the upstream on a new connection and reads the whole response.
async fn forward(shared: &Shared, request: &Message) -> io::Result<Message> {
    let mut upstream = timed(TcpStream::connect(shared.upstream())).await?;
    let mut bytes = request.head_bytes(request.body.len());
    bytes.extend_from_slice(&request.body);
    write_all(&mut upstream, &bytes).await?;
    let method = request.start_line.split(' ').next().unwrap_or_default();
    read_response(&mut upstream, method).await
}

/// Sends the headers and half the body, half-closes, then waits for the server to answer or
/// close (so it has seen the cut-short request before the client hears anything).
async fn forward_half(shared: &Shared, request: &Message) -> io::Result<()> {
    let mut upstream = timed(TcpStream::connect(shared.upstream())).await?;
    let mut bytes = request.head_bytes(request.body.len());
    bytes.extend_from_slice(&request.body[..request.body.len() / 2]);
    write_all(&mut upstream, &bytes).await?;
    timed(upstream.shutdown()).await?;
    let _ = read_to_close(&mut upstream, Vec::new()).await;
    Ok(())
}

async fn answer(client: &mut TcpStream, status: &str, text: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    write_all(client, response.as_bytes()).await
}

async fn send_response(
    client: &mut TcpStream,
    response: &Message,
    truncate: bool,
) -> io::Result<()> {
    let mut bytes = response.head_bytes(response.body.len());
    let sent = if truncate {
        response.body.len() / 2
    } else {
        response.body.len()
    };
    bytes.extend_from_slice(&response.body[..sent]);
    write_all(client, &bytes).await
}

/// Serves one client connection: one request, one fault, then close.
async fn serve_one(mut client: TcpStream, shared: &Shared) -> io::Result<()> {
    let request = match read_request(&mut client).await? {
        None => return Ok(()),
        Some(Err(refusal)) => return answer(&mut client, "501 Not Implemented", refusal).await,
        Some(Ok(request)) => request,
    };
    let fault = shared.next_fault();
    let response = match fault {
        Fault::DropRequest => return Ok(()),
        Fault::ServiceUnavailable => {
            return answer(&mut client, "503 Service Unavailable", "injected fault").await;
        }
        Fault::TruncateRequestBody => return forward_half(shared, &request).await,
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            forward(shared, &request).await
        }
        Fault::DuplicateRequest => match forward(shared, &request).await {
            Ok(_) => forward(shared, &request).await,
            Err(e) => Err(e),
        },
        Fault::None
        | Fault::DropResponse
        | Fault::TruncateResponseBody
        | Fault::RewriteResponseBody(_) => forward(shared, &request).await,
    };
    let response = match response {
        Ok(response) => response,
        Err(e) => {
            let text = format!("the fault proxy could not reach its upstream: {e}");
            return answer(&mut client, "502 Bad Gateway", &text).await;
        }
    };
    match fault {
        Fault::DropResponse => Ok(()),
        Fault::TruncateResponseBody => send_response(&mut client, &response, true).await,
        Fault::RewriteResponseBody(rewrite) => {
            let mut response = response;
            response.body = rewrite(std::mem::take(&mut response.body));
            send_response(&mut client, &response, false).await
        }
        _ => send_response(&mut client, &response, false).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot upstream on 127.0.0.1:0 that reads one request and writes `pieces` with
    /// short pauses between them, so the proxy must join reads.
    async fn upstream_answering(pieces: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let Ok(Ok((mut stream, _))) = tokio::time::timeout(IO_TIMEOUT, listener.accept()).await
            else {
                return;
            };
            let mut buf = Vec::new();
            let _ = read_head(&mut stream, &mut buf).await;
            for piece in pieces {
                let _ = write_all(&mut stream, piece).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        addr
    }

    async fn get_through(proxy: &FaultProxy) -> String {
        let mut client = TcpStream::connect(proxy.addr()).await.expect("connect");
        write_all(&mut client, b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n")
            .await
            .expect("request");
        let response = read_to_close(&mut client, Vec::new())
            .await
            .expect("response");
        String::from_utf8(response).expect("text")
    }

    #[tokio::test]
    async fn a_chunked_response_is_passed_on_whole_with_a_content_length() {
        let upstream = upstream_answering(vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-kept: yes\r\n\r\n",
            b"5\r\nhello\r\n7;ext=1\r\n, world\r\n",
            b"1\r",
            b"\n!\r\n0\r\ntrailer: dropped\r\n\r\n",
        ])
        .await;
        let proxy = FaultProxy::start(upstream).await.expect("proxy");
        let response = get_through(&proxy).await;
        assert_eq!(
            response,
            "HTTP/1.1 200 OK\r\nx-kept: yes\r\ncontent-length: 13\r\nconnection: close\r\n\r\nhello, world!"
        );
        proxy.shutdown().await;
    }

    #[tokio::test]
    async fn an_upstream_that_answers_garbage_is_a_502_for_the_client() {
        let upstream = upstream_answering(vec![b"not http at all\r\n\r\n"]).await;
        let proxy = FaultProxy::start(upstream).await.expect("proxy");
        let response = get_through(&proxy).await;
        assert!(response.starts_with("HTTP/1.1 502 "), "{response}");
        proxy.shutdown().await;
    }

    #[tokio::test]
    async fn only_loopback_upstreams_are_accepted() {
        let elsewhere: SocketAddr = "192.0.2.1:80".parse().expect("addr");
        assert!(FaultProxy::start(elsewhere).await.is_err());
    }
}
