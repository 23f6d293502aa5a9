//! The HTTP edge of sync: CBOR bodies POSTed with reqwest, typed errors, and retries with
//! exponential backoff and full jitter for what may pass (no connection, timeouts, 5xx), never
//! for a refusal (4xx). Every request of the protocol is idempotent, so a retry after a lost
//! response is safe.
//!
//! Holds no state between requests but the connection pool. The retry schedule is a pure
//! function ([`RetryPolicy::delay`], [`TransportError::is_retryable`]) tested without a network.
//!
//! **Redirects stay at the server.** A request carries an enrolment code, a device token or
//! person records, and reqwest would follow a redirect anywhere, re-sending the body on a 307 or
//! 308. A redirect is followed only within the server's own origin (scheme, host and port):
//! never to another host or port, never from https to http ([`redirect_allowed`]); anything
//! else is refused before a connection is made ([`TransportError::Redirected`], not retried).

use super::wire::{self, ErrorBody};
use crate::error::Error;
use serde::{Serialize, de::DeserializeOwned};
use std::time::Duration;

/// How long one attempt may take, connection to last byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed at most for one request (all within the server's origin).
const MAX_REDIRECTS: usize = 5;

/// When to retry and how long to wait: exponential backoff with full jitter (the wait before
/// retry `n` is uniform in `[0, min(cap, base × 2ⁿ)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff ceiling.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub cap: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// Base 200 ms, cap 10 s, at most 6 attempts (`docs/sync-protocol.md`).
    fn default() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            max_attempts: 6,
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling after failed attempt `attempt` (0 for the first).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait after failed attempt `attempt`, for a uniform random `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        self.ceiling(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Whether to try again after failed attempt `attempt` (0 for the first) with `error`.
    pub fn should_retry(&self, attempt: u32, error: &TransportError) -> bool {
        error.is_retryable() && attempt + 1 < self.max_attempts
    }
}

/// Why a request failed, as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection, a timeout, or the connection broke.
    #[error("offline: {0}")]
    Offline(String),
    /// The server failed (5xx).
    #[error("server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// From the error body, when there is one.
        message: String,
    },
    /// 401 `unauthenticated` (or a 401 with no known code).
    #[error("unauthenticated")]
    Unauthenticated,
    /// 401 `device-revoked`.
    #[error("device revoked")]
    DeviceRevoked,
    /// 401 `token-expired`.
    #[error("token expired")]
    TokenExpired,
    /// Any other 4xx: the request as a whole was refused.
    #[error("refused ({status}): {message} [{code}]")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's stable code.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// A success whose body is not the expected message.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The server redirected the request away from its own origin (or too many times); it was
    /// not followed, so nothing was sent there.
    #[error("redirect to {to} refused")]
    Redirected {
        /// The origin redirected to (scheme, host, port), or what went wrong.
        to: String,
    },
}

impl TransportError {
    /// Transport failures and 5xx may pass; refusals and malformed answers will not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportError::Offline(_) | TransportError::Server { .. }
        )
    }

    /// The error for a non-success `status` with `body`.
    pub fn from_status(status: u16, body: &[u8]) -> TransportError {
        let parsed: Option<ErrorBody> = wire::decode(body).ok();
        let (code, message) = match parsed {
            Some(b) => (b.code, b.message),
            None => (format!("http-{status}"), format!("status {status}")),
        };
        match status {
            401 => match code.as_str() {
                "device-revoked" => TransportError::DeviceRevoked,
                "token-expired" => TransportError::TokenExpired,
                _ => TransportError::Unauthenticated,
            },
            400..=499 => TransportError::Refused {
                status,
                code,
                message,
            },
            _ => TransportError::Server { status, message },
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Error {
        match e {
            TransportError::Offline(detail) => Error::Offline { detail },
            TransportError::Server { status, message } => Error::ServerFailed { status, message },
            TransportError::Unauthenticated => Error::Unauthenticated,
            TransportError::DeviceRevoked => Error::DeviceRevoked,
            TransportError::TokenExpired => Error::TokenExpired,
            TransportError::Refused { code, message, .. } => Error::ServerRefused { code, message },
            TransportError::Malformed(m) => Error::Protocol(m),
            TransportError::Redirected { to } => Error::RedirectRefused { to },
        }
    }
}

/// A decoded answer with what it cost.
#[derive(Debug, Clone)]
pub struct Received<T> {
    /// The message.
    pub value: T,
    /// Request body bytes sent (once).
    pub sent_bytes: usize,
    /// Response body bytes received.
    pub received_bytes: usize,
    /// Attempts made (1 when the first succeeded).
    pub attempts: u32,
}

/// POSTs protocol messages to one server.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    server: String,
    token: Option<String>,
    policy: RetryPolicy,
}

impl HttpTransport {
    /// A transport to `server` (e.g. `https://sync.force.example`), authenticating with
    /// `token` when given.
    pub fn new(
        server: &str,
        token: Option<String>,
        policy: RetryPolicy,
    ) -> Result<HttpTransport, TransportError> {
        let origin = reqwest::Url::parse(server.trim_end_matches('/'))
            .map_err(|_| TransportError::Offline("the server address is not a URL".into()))?;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let to = attempt.url().origin().ascii_serialization();
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(RedirectRefused(format!(
                    "more than {MAX_REDIRECTS} redirects"
                )))
            } else if redirect_allowed(&origin, attempt.url()) {
                attempt.follow()
            } else {
                attempt.error(RedirectRefused(to))
            }
        });
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(redirects)
            .build()
            .map_err(|e| TransportError::Offline(format!("cannot start the http client: {e}")))?;
        Ok(HttpTransport {
            client,
            server: server.trim_end_matches('/').to_owned(),
            token,
            policy,
        })
    }

    /// `POST /v1/enrol`.
    pub async fn enrol(
        &self,
        request: &wire::EnrolRequest,
    ) -> Result<Received<wire::EnrolResponse>, TransportError> {
        self.post("/v1/enrol", request).await
    }

    /// `POST /v1/sync`.
    pub async fn sync(
        &self,
        request: &wire::SyncRequest,
    ) -> Result<Received<wire::SyncResponse>, TransportError> {
        self.post("/v1/sync", request).await
    }

    /// `POST /v1/repair`.
    pub async fn repair(
        &self,
        request: &wire::RepairRequest,
    ) -> Result<Received<wire::RepairResponse>, TransportError> {
        self.post("/v1/repair", request).await
    }

    /// POSTs `message` as CBOR, retrying what may pass, and decodes the answer.
    pub async fn post<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        message: &Q,
    ) -> Result<Received<R>, TransportError> {
        let body = wire::encode(message);
        let url = format!("{}{path}", self.server);
        let mut attempt = 0u32;
        loop {
            match self.post_once(&url, body.clone()).await {
                Ok(bytes) => {
                    let value = wire::decode(&bytes)
                        .map_err(|e| TransportError::Malformed(e.to_string()))?;
                    return Ok(Received {
                        value,
                        sent_bytes: body.len(),
                        received_bytes: bytes.len(),
                        attempts: attempt + 1,
                    });
                }
                Err(e) if self.policy.should_retry(attempt, &e) => {
                    let wait = self.policy.delay(attempt, rand::random::<f64>());
                    tracing::debug!(path, attempt, ?wait, error = %e, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn post_once(&self, url: &str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, wire::CONTENT_TYPE)
            .header(reqwest::header::ACCEPT, wire::CONTENT_TYPE)
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| match refused_redirect(&e) {
                Some(to) => TransportError::Redirected { to },
                None => offline(e),
            })?;
        let status = response.status();
        // Read at most MAX_RESPONSE_BYTES: a broken or hostile server cannot exhaust the
        // phone's memory.
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(offline)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(TransportError::from_status(status.as_u16(), &bytes))
        }
    }
}

/// Largest response body the device reads.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

fn too_large() -> TransportError {
    TransportError::Malformed(format!(
        "the server's answer is larger than {MAX_RESPONSE_BYTES} bytes"
    ))
}

/// Checks a server address before any code or token is sent to it: `https://`, or plain
/// `http://` only to this machine (loopback: tests, the demo, a local proxy).
pub fn check_server_url(server: &str) -> Result<String, crate::error::Error> {
    let server = server.trim().trim_end_matches('/');
    let bad = |message: &str| crate::error::Error::invalid("server", "server-url", message);
    let url = reqwest::Url::parse(server)
        .map_err(|_| bad("give the server as a URL, e.g. https://sync.example.police.uk"))?;
    let Some(host) = url.host_str() else {
        return Err(bad("the server URL has no host"));
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(server.to_owned()),
        "http" if loopback => Ok(server.to_owned()),
        "http" => Err(bad(
            "use https:// for a server on the network: enrolment codes and device tokens must not travel in clear text",
        )),
        _ => Err(bad("the server URL must start with https://")),
    }
}

/// Whether a redirect from the server at `origin` to `to` may be followed: only within the same
/// origin (scheme, host and port), so a code, token or record never goes to another server and
/// never from https to plain http.
pub fn redirect_allowed(origin: &reqwest::Url, to: &reqwest::Url) -> bool {
    origin.origin() == to.origin()
}

/// Why the redirect policy stopped a request (carried through reqwest's error).
#[derive(Debug)]
struct RedirectRefused(String);

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to {} refused", self.0)
    }
}

impl std::error::Error for RedirectRefused {}

/// The origin of a redirect the policy refused, if that is why `e` failed.
fn refused_redirect(e: &reqwest::Error) -> Option<String> {
    if !e.is_redirect() {
        return None;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(inner) = source {
        if let Some(refused) = inner.downcast_ref::<RedirectRefused>() {
            return Some(refused.0.clone());
        }
        source = inner.source();
    }
    Some("another address".into())
}

/// A reqwest failure without a status: the network, a timeout, a broken connection.
fn offline(e: reqwest::Error) -> TransportError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "connection failed"
    };
    // reqwest's message names the url, never a body: no personal data.
    TransportError::Offline(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod url_tests {
    use super::check_server_url;

    #[test]
    fn codes_and_tokens_go_in_clear_text_only_to_this_machine() {
        for ok in [
            "https://sync.example.police.uk",
            "https://sync.example.police.uk/",
            "http://127.0.0.1:8080",
            "http://localhost:9000",
            "http://[::1]:8080",
        ] {
            assert!(check_server_url(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://sync.example.police.uk",
            "http://10.0.0.5:8080",
            "ftp://127.0.0.1",
            "sync.example.police.uk",
            "",
        ] {
            match check_server_url(refused) {
                Err(crate::error::Error::Invalid { rule, .. }) => {
                    assert_eq!(rule, "server-url", "{refused}")
                }
                other => panic!("{refused}: expected a server-url refusal, got {other:?}"),
            }
        }
    }
}
