//! `GET /v1/review-queue`: a supervisor's review queue as JSON (default) or CBOR (`?format=cbor`
//! or `Accept: application/cbor`); the queue is `crate::review`'s.

use super::{App, Authenticated, blocking, finish, wants_alternative};
use crate::error::ApiError;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fieldbook_core::sync::wire;
use std::sync::Arc;

/// How the queue is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Cbor,
}

/// `?format=` wins; else an `Accept` naming CBOR; else JSON.
fn format(query: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    Ok(
        if wants_alternative(query, headers, "cbor", wire::CONTENT_TYPE)? {
            Format::Cbor
        } else {
            Format::Json
        },
    )
}

/// `GET /v1/review-queue`.
pub(crate) async fn review_queue(
    State(app): State<App>,
    device: Result<Authenticated, ApiError>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Authenticated(device) = device?;
        let format = format(query.as_deref(), &headers)?;
        let service = Arc::clone(&app);
        let queue = blocking(move || crate::review::queue(&service, &device)).await?;
        Ok(match format {
            Format::Json => (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::to_string_pretty(&queue).map_err(|_| ApiError::internal())?,
            )
                .into_response(),
            Format::Cbor => (
                [(header::CONTENT_TYPE, wire::CONTENT_TYPE)],
                wire::encode(&queue),
            )
                .into_response(),
        })
    }
    .await;
    finish(&app, "review-queue", result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_query_wins_over_accept_and_json_is_the_default() {
        let mut headers = HeaderMap::new();
        assert_eq!(format(None, &headers).ok(), Some(Format::Json));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json;q=0.5, application/cbor"),
        );
        assert_eq!(format(None, &headers).ok(), Some(Format::Cbor));
        assert_eq!(
            format(Some("format=json"), &headers).ok(),
            Some(Format::Json)
        );
        assert!(format(Some("format=csv"), &headers).is_err());
    }
}
