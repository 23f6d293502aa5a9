//! The HTTP edge: routes, body and header checks, CBOR in and out, metrics per request.
//! Every failure is a CBOR `ErrorBody`; a refused request changes nothing.

use crate::error::ApiError;
use crate::service::SyncService;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fieldbook_core::sync::wire::{self, EnrolRequest, RepairRequest, SyncRequest, SyncResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub(crate) type App = Arc<SyncService>;

/// The router of every endpoint.
pub(crate) fn router(service: App) -> Router {
    Router::new()
        .route("/v1/enrol", post(enrol))
        .route("/v1/sync", post(sync))
        .route("/v1/repair", post(repair))
        .route("/v1/records/{id}/audit", get(crate::audit::audit))
        .route("/v1/review-queue", get(crate::review::review_queue))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(service)
}

async fn health() -> &'static str {
    "ok"
}

async fn metrics(State(app): State<App>) -> Response {
    app.metrics.request("metrics", 200);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(app.document_cache_usage()),
    )
        .into_response()
}

fn cbor<T: Serialize>(message: &T) -> Response {
    (
        [(header::CONTENT_TYPE, wire::CONTENT_TYPE)],
        wire::encode(message),
    )
        .into_response()
}

pub(crate) fn finish(
    app: &SyncService,
    endpoint: &'static str,
    result: Result<Response, ApiError>,
) -> Response {
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(
                endpoint,
                code = e.code,
                status = e.status.as_u16(),
                "request refused"
            );
            e.into_response()
        }
    };
    app.metrics.request(endpoint, response.status().as_u16());
    response
}

/// Runs blocking work (SQLite, automerge) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(ApiError::internal()))
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

pub(crate) async fn authenticate(
    app: &App,
    headers: &HeaderMap,
) -> Result<crate::store::DeviceAuth, ApiError> {
    let token = bearer(headers);
    let app = Arc::clone(app);
    blocking(move || app.authenticate(token.as_deref())).await
}

/// Checks the content type and size, reads the body and decodes it as a `T`.
async fn read_body<T: DeserializeOwned>(
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

async fn enrol(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(retry_after) = app.enrol_limiter.admit(client.ip()) {
        tracing::warn!(client = %client.ip(), reason = "rate-limited", "enrolment refused");
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!("too many enrolment attempts: try again in {retry_after} s"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return finish(&app, "enrol", Ok(response));
    }
    let result: Result<Response, ApiError> = async {
        let request: EnrolRequest = read_body(&app, &headers, body).await?;
        let service = Arc::clone(&app);
        let response = blocking(move || service.enrol(request)).await?;
        Ok(cbor(&response))
    }
    .await;
    if let Err(e) = &result {
        // No part of the code is logged: who asked, and why it was refused.
        tracing::warn!(client = %client.ip(), reason = e.code, status = e.status.as_u16(), "enrolment refused");
    }
    finish(&app, "enrol", result)
}

async fn sync(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let result = async {
        let device = authenticate(&app, &headers).await?;
        let request: SyncRequest = read_body(&app, &headers, body).await?;
        app.check_sync_request(request.protocol, &request.push)?;
        let turn = app.device_turn(&device.device_id);
        let _turn = turn.lock().await;
        let service = Arc::clone(&app);
        let response = blocking(move || {
            let results = service.push(&device, &request.push)?;
            let page = service.feed(&device, request.cursor, request.page_limit)?;
            tracing::debug!(
                device = %device.device_id,
                records = request.push.len(),
                entries = page.entries.len(),
                cursor = page.cursor,
                "sync"
            );
            Ok(SyncResponse { results, page })
        })
        .await?;
        Ok(cbor(&response))
    }
    .await;
    app.metrics.sync_duration(started.elapsed());
    finish(&app, "sync", result)
}

async fn repair(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let device = authenticate(&app, &headers).await?;
        let request: RepairRequest = read_body(&app, &headers, body).await?;
        let turn = app.device_turn(&device.device_id);
        let _turn = turn.lock().await;
        let service = Arc::clone(&app);
        let response = blocking(move || service.repair(&device, request)).await?;
        Ok(cbor(&response))
    }
    .await;
    finish(&app, "repair", result)
}

/// Content negotiation for the read endpoints that answer JSON or one alternative (`name`, e.g.
/// `csv`, served as `media_type`): `?format=` wins, else an `Accept` naming `media_type`, else
/// JSON. True when the alternative is asked for.
pub(crate) fn wants_alternative(
    query: Option<&str>,
    headers: &HeaderMap,
    name: &str,
    media_type: &str,
) -> Result<bool, ApiError> {
    let asked = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "format")
        .map(|(_, v)| v);
    match asked {
        Some(v) if v.eq_ignore_ascii_case("json") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case(name) => Ok(true),
        Some(_) => Err(ApiError::malformed(format!(
            "ask for format=json or format={name}"
        ))),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            Ok(accept.split(',').any(|m| {
                m.split(';')
                    .next()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case(media_type))
            }))
        }
    }
}
