//! The device protocol: `POST /v1/enrol`, `/v1/sync` and `/v1/repair`, CBOR in and out.

use super::extract::cbor_body;
use super::{App, Authenticated, blocking, cbor, finish};
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldbook_core::sync::wire::{EnrolRequest, RepairRequest, SyncRequest, SyncResponse};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub(super) async fn enrol(
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
        let request: EnrolRequest = cbor_body(&app, &headers, body).await?;
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

pub(super) async fn sync(
    State(app): State<App>,
    device: Result<Authenticated, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let result = async {
        let Authenticated(device) = device?;
        let request: SyncRequest = cbor_body(&app, &headers, body).await?;
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

pub(super) async fn repair(
    State(app): State<App>,
    device: Result<Authenticated, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let Authenticated(device) = device?;
        let request: RepairRequest = cbor_body(&app, &headers, body).await?;
        let turn = app.device_turn(&device.device_id);
        let _turn = turn.lock().await;
        let service = Arc::clone(&app);
        let response = blocking(move || service.repair(&device, request)).await?;
        Ok(cbor(&response))
    }
    .await;
    finish(&app, "repair", result)
}
