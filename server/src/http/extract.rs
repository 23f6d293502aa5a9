//! What a handler takes from a request, checked: the device a bearer token belongs to
//! ([`Authenticated`]), and a CBOR body within the server's size and time limits
//! ([`cbor_body`]). A handler takes `Result<Authenticated, ApiError>` so that a refusal is
//! answered (and counted) under its endpoint, and reads its body only once the device is known:
//! nothing of an unauthenticated body is read.

use super::{App, blocking};
use crate::error::ApiError;
use crate::store::DeviceAuth;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use fieldbook_core::sync::wire;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The device whose `Authorization: Bearer` token the request carries (not revoked, not expired).
#[derive(Debug, Clone)]
pub(crate) struct Authenticated(pub DeviceAuth);

impl FromRequestParts<App> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers);
        let app = Arc::clone(app);
        blocking(move || app.authenticate(token.as_deref()))
            .await
            .map(Authenticated)
    }
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is matched without
/// regard to case and may be followed by several spaces (RFC 9110, 11.1 and 11.4).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Checks the content type and size, reads the body and decodes it as a `T`.
pub(super) async fn cbor_body<T: DeserializeOwned>(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(wire::CONTENT_TYPE) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            format!("send the body as {}", wire::CONTENT_TYPE),
        ));
    }
    let limit = app.config().max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("a request body holds at most {limit} bytes: push fewer changes per request"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // The whole body within `body_timeout`: a body trickled a byte at a time is cut off (the
    // unread rest makes hyper close the connection after the answer).
    let timeout = app.config().body_timeout;
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                format!(
                    "the request body did not arrive within {} s: send it in one go",
                    timeout.as_secs()
                ),
            )
        })?;
    let bytes = read.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit")
        {
            too_large()
        } else {
            ApiError::malformed("the request body could not be read in full")
        }
    })?;
    wire::decode(&bytes)
        .map_err(|_| ApiError::malformed("the body is not a CBOR message of the expected type"))
}
