//! The retry schedule and the redirect rule as pure functions, and the transport against tiny
//! HTTP responders on 127.0.0.1 written here (a fixed HTTP/1.1 answer per connection; bounded,
//! stopped by the test), two of them on different ports for redirects across origins.

use super::*;
use crate::domain::RecordId;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn tiny() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(4),
        max_attempts: 6,
    }
}

#[test]
fn backoff_ceilings_double_from_the_base_up_to_the_cap() {
    let p = RetryPolicy::default();
    let ceilings: Vec<u128> = (0..8).map(|a| p.ceiling(a).as_millis()).collect();
    assert_eq!(
        ceilings,
        vec![200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]
    );
    assert_eq!(p.ceiling(200), Duration::from_secs(10), "no overflow");
}

#[test]
fn full_jitter_delays_stay_within_zero_and_the_ceiling() {
    let p = RetryPolicy::default();
    for attempt in 0..10 {
        for unit in [0.0, 0.25, 0.5, 0.999, 1.0, -3.0, 7.0] {
            let d = p.delay(attempt, unit);
            assert!(d <= p.ceiling(attempt), "{attempt} {unit} {d:?}");
        }
        let d = p.delay(attempt, rand::random::<f64>());
        assert!(d <= p.ceiling(attempt));
    }
    assert_eq!(p.delay(3, 0.0), Duration::ZERO);
    assert_eq!(p.delay(0, 0.5), Duration::from_millis(100));
}

#[test]
fn transport_failures_and_5xx_are_retried_up_to_six_attempts_and_4xx_never() {
    let p = RetryPolicy::default();
    let offline = TransportError::Offline("x".into());
    let server = TransportError::from_status(503, b"");
    assert!((0..5).all(|a| p.should_retry(a, &offline) && p.should_retry(a, &server)));
    assert!(
        !p.should_retry(5, &offline),
        "the sixth attempt is the last"
    );
    for status in [400, 401, 403, 404, 409, 413, 415, 429] {
        let e = TransportError::from_status(status, b"");
        assert!(!p.should_retry(0, &e), "{status} must not be retried");
    }
    assert!(!p.should_retry(0, &TransportError::Malformed("x".into())));
}

#[test]
fn error_bodies_map_to_typed_errors() {
    let body = |code: &str| {
        wire::encode(&ErrorBody {
            code: code.into(),
            message: "why".into(),
        })
    };
    assert_eq!(
        TransportError::from_status(401, &body("device-revoked")),
        TransportError::DeviceRevoked
    );
    assert_eq!(
        TransportError::from_status(401, &body("token-expired")),
        TransportError::TokenExpired
    );
    assert_eq!(
        TransportError::from_status(401, &body("unauthenticated")),
        TransportError::Unauthenticated
    );
    assert_eq!(
        TransportError::from_status(403, &body("bad-code")),
        TransportError::Refused {
            status: 403,
            code: "bad-code".into(),
            message: "why".into()
        }
    );
    assert!(matches!(
        Error::from(TransportError::from_status(413, &body("too-large"))),
        Error::ServerRefused { code, .. } if code == "too-large"
    ));
    assert!(matches!(
        TransportError::from_status(502, b"<html>gateway</html>"),
        TransportError::Server { status: 502, .. }
    ));
}

/// Serves one fixed response per connection, in order, then stops. Returns the address and a
/// handle yielding the requests it read (head and body).
async fn responder(
    responses: Vec<(u16, Vec<u8>)>,
) -> (String, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        let mut seen = Vec::new();
        for (status, body) in responses {
            let (mut socket, _) = listener.accept().await.unwrap();
            seen.push(read_request(&mut socket).await);
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/cbor\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(&body).await.unwrap();
            socket.shutdown().await.unwrap();
        }
        seen
    });
    (format!("http://{addr}"), handle)
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return buf;
            }
        }
    }
}

fn pull() -> wire::SyncRequest {
    wire::SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 3,
        page_limit: 10,
        push: Vec::new(),
    }
}

#[tokio::test]
async fn a_503_then_a_200_is_retried_and_the_answer_decoded() {
    let answer = wire::SyncResponse {
        results: Vec::new(),
        page: wire::FeedPage {
            entries: vec![wire::FeedEntry::Evict {
                record: RecordId::generate(),
            }],
            cursor: 8,
            more: false,
        },
    };
    let busy = wire::encode(&ErrorBody {
        code: "internal".into(),
        message: "busy".into(),
    });
    let (server, handle) = responder(vec![(503, busy), (200, wire::encode(&answer))]).await;
    let transport = HttpTransport::new(&server, Some("secret-token".into()), tiny()).unwrap();
    let received = tokio::time::timeout(Duration::from_secs(10), transport.sync(&pull()))
        .await
        .expect("bounded")
        .expect("retried to success");
    assert_eq!(received.value, answer);
    assert_eq!(received.attempts, 2);

    let requests = handle.await.unwrap();
    assert_eq!(requests.len(), 2);
    let head = String::from_utf8_lossy(&requests[1]).to_lowercase();
    assert!(head.starts_with("post /v1/sync http/1.1"), "{head}");
    assert!(head.contains("content-type: application/cbor"), "{head}");
    assert!(
        head.contains("authorization: bearer secret-token"),
        "{head}"
    );
}

#[tokio::test]
async fn a_401_device_revoked_is_not_retried_and_maps_to_device_revoked() {
    let revoked = wire::encode(&ErrorBody {
        code: "device-revoked".into(),
        message: "revoked".into(),
    });
    let (server, handle) = responder(vec![(401, revoked)]).await;
    let transport = HttpTransport::new(&server, Some("t".into()), tiny()).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), transport.sync(&pull()))
        .await
        .expect("bounded")
        .unwrap_err();
    assert_eq!(err, TransportError::DeviceRevoked);
    assert!(matches!(Error::from(err), Error::DeviceRevoked));
    assert_eq!(handle.await.unwrap().len(), 1, "asked once");
}

#[tokio::test]
async fn a_server_that_is_not_listening_is_offline_after_the_last_attempt() {
    // Bind then drop: nothing listens on this port now.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let transport = HttpTransport::new(&format!("http://127.0.0.1:{port}"), None, tiny()).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), transport.sync(&pull()))
        .await
        .expect("bounded")
        .unwrap_err();
    assert!(matches!(err, TransportError::Offline(_)), "{err:?}");
}

#[test]
fn a_redirect_is_followed_only_within_the_servers_own_origin() {
    let origin = reqwest::Url::parse("https://sync.example.police.uk").unwrap();
    let cases = [
        ("https://sync.example.police.uk/v1/sync-moved", true),
        ("https://sync.example.police.uk:443/v1/sync", true),
        ("http://sync.example.police.uk/v1/sync", false),
        ("https://sync.example.police.uk:8443/v1/sync", false),
        ("https://elsewhere.example/v1/sync", false),
        (
            "https://sync.example.police.uk.elsewhere.example/v1/sync",
            false,
        ),
    ];
    for (to, allowed) in cases {
        let to = reqwest::Url::parse(to).unwrap();
        assert_eq!(redirect_allowed(&origin, &to), allowed, "{to}");
    }
}

/// Answers every connection with a `307` to `location`, counting the requests it reads, until
/// the returned handle is aborted.
async fn redirecting(location: String) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            read_request(&mut socket).await;
            counter.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (format!("http://{addr}"), seen, task)
}

/// Accepts connections and keeps what each sent, until the returned handle is aborted.
async fn recording() -> (
    String,
    Arc<Mutex<Vec<Vec<u8>>>>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let request = read_request(&mut socket).await;
            kept.lock().unwrap().push(request);
            let _ = socket
                .write_all(b"HTTP/1.1 500 X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (format!("http://{addr}"), seen, task)
}

fn enrolment() -> wire::EnrolRequest {
    wire::EnrolRequest {
        protocol: wire::PROTOCOL_VERSION,
        code: "SECRET-CODE-7".into(),
        actors: vec!["00".repeat(16)],
        label: "phone".into(),
    }
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_and_the_code_never_reaches_it() {
    let (elsewhere, received, elsewhere_task) = recording().await;
    let (server, asked, server_task) = redirecting(format!("{elsewhere}/v1/enrol")).await;
    let transport = HttpTransport::new(&server, Some("device-token".into()), tiny()).unwrap();

    let err = tokio::time::timeout(Duration::from_secs(10), transport.enrol(&enrolment()))
        .await
        .expect("bounded")
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::Redirected {
            to: elsewhere.clone()
        }
    );
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "a refused redirect is not retried"
    );
    let message = Error::from(err).to_string();
    assert!(
        message.contains(&format!("redirected the request to {elsewhere}"))
            && message.contains("nothing was sent there"),
        "{message}"
    );
    // A followed redirect would have connected before the request returned: none did.
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing reached the other origin"
    );
    server_task.abort();
    elsewhere_task.abort();
}

#[tokio::test]
async fn a_redirect_within_the_servers_origin_is_followed() {
    let answer = wire::EnrolResponse {
        device_id: "dev-1".into(),
        token: "t".into(),
        officer: crate::domain::OfficerId::new("PC1").unwrap(),
        role: crate::domain::Role::Officer,
        team: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = wire::encode(&answer);
    let task = tokio::spawn(async move {
        let mut paths = Vec::new();
        for moved in [true, false] {
            let (mut socket, _) = listener.accept().await.unwrap();
            let request = read_request(&mut socket).await;
            let text = String::from_utf8_lossy(&request).to_string();
            paths.push(text.split_whitespace().nth(1).unwrap_or("").to_owned());
            let reply = if moved {
                b"HTTP/1.1 307 X\r\nlocation: /v1/enrol-here\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
            } else {
                let mut r = format!(
                    "HTTP/1.1 200 X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            };
            socket.write_all(&reply).await.unwrap();
            socket.shutdown().await.unwrap();
        }
        paths
    });
    let transport = HttpTransport::new(&format!("http://{addr}"), None, tiny()).unwrap();
    let received = tokio::time::timeout(Duration::from_secs(10), transport.enrol(&enrolment()))
        .await
        .expect("bounded")
        .expect("followed");
    assert_eq!(received.value, answer);
    assert_eq!(task.await.unwrap(), vec!["/v1/enrol", "/v1/enrol-here"]);
}
