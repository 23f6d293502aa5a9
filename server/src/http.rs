//! The HTTP edge: routes, what a handler takes from a request (`extract`: the authenticated
//! device, a CBOR body within limits), answers, metrics per request. One file per group of
//! endpoints (`sync`: the device protocol; `audit`; `review`); what they serve is built below
//! the edge (`service`, `crate::audit`, `crate::review`), which never imports from here.
//! Every failure is a CBOR `ErrorBody`; a refused request changes nothing.

mod audit;
mod extract;
mod review;
mod sync;

pub(crate) use extract::Authenticated;

use crate::error::ApiError;
use crate::service::SyncService;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fieldbook_core::sync::wire;
use serde::Serialize;
use std::sync::Arc;

pub(crate) type App = Arc<SyncService>;

/// The router of every endpoint.
pub(crate) fn router(service: App) -> Router {
    Router::new()
        .route("/v1/enrol", post(sync::enrol))
        .route("/v1/sync", post(sync::sync))
        .route("/v1/repair", post(sync::repair))
        .route("/v1/records/{id}/audit", get(audit::audit))
        .route("/v1/review-queue", get(review::review_queue))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(service)
}

async fn health() -> &'static str {
    "ok"
}

/// For the load balancer: 200 `ready` while the database answers, holds the schema this server
/// knows and has not failed its integrity check; else 503 with the reason (the replica stays up,
/// and is taken out of rotation).
async fn ready(State(app): State<App>) -> Response {
    let service = Arc::clone(&app);
    // The reason shown is the schema's (an operator's next step); a backend's own error text
    // stays in the log.
    let checked = blocking(move || {
        Ok(service.store().ready().map_err(|e| {
            tracing::warn!(error = %e, "the database is not ready");
            match e {
                crate::store::StoreError::TooNew(..) => e.to_string(),
                // The path and the check's detail are the operator's, in the log.
                crate::store::StoreError::Damaged { .. } => {
                    "the database is damaged (see the server's log)".to_owned()
                }
                _ => "the database does not answer".to_owned(),
            }
        }))
    })
    .await;
    let (status, body) = match checked {
        Ok(Ok(())) => (StatusCode::OK, "ready".to_owned()),
        Ok(Err(reason)) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {reason}"),
            )
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready".to_owned()),
    };
    app.metrics.request("ready", status.as_u16());
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
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
