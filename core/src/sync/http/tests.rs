//! The retry schedule as pure functions, and the transport against a tiny HTTP responder on
//! 127.0.0.1 written here (a fixed HTTP/1.1 answer per connection; bounded, self-stopping).

use super::*;
use crate::domain::RecordId;
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
