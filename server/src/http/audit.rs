//! `GET /v1/records/{id}/audit`: a record's audit trail as JSON (default) or CSV (`?format=csv`
//! or `Accept: text/csv`); who may read it and the rows are `crate::audit`'s.

use super::{App, Authenticated, blocking, finish, wants_alternative};
use crate::error::ApiError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fieldbook_core::audit;
use fieldbook_core::domain::RecordId;
use std::sync::Arc;

/// How the rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// `?format=` wins; else an `Accept` naming `text/csv`; else JSON.
fn format(query: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    Ok(if wants_alternative(query, headers, "csv", "text/csv")? {
        Format::Csv
    } else {
        Format::Json
    })
}

/// `GET /v1/records/{id}/audit`.
pub(crate) async fn audit(
    State(app): State<App>,
    device: Result<Authenticated, ApiError>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Authenticated(device) = device?;
        let format = format(query.as_deref(), &headers)?;
        let record: RecordId = id
            .parse()
            .map_err(|_| ApiError::malformed("the record id is not a UUID"))?;
        let service = Arc::clone(&app);
        let rows = blocking(move || crate::audit::rows(&service, &device, record)).await?;
        Ok(match format {
            Format::Json => (
                [(header::CONTENT_TYPE, "application/json")],
                audit::to_json(&rows),
            )
                .into_response(),
            Format::Csv => (
                [(
                    header::CONTENT_TYPE,
                    "text/csv; charset=utf-8; header=present",
                )],
                audit::to_csv(&rows),
            )
                .into_response(),
        })
    }
    .await;
    finish(&app, "audit", result)
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
            HeaderValue::from_static("application/json;q=0.5, text/csv"),
        );
        assert_eq!(format(None, &headers).ok(), Some(Format::Csv));
        assert_eq!(
            format(Some("format=json"), &headers).ok(),
            Some(Format::Json)
        );
        assert_eq!(
            format(Some("x=1&format=CSV"), &HeaderMap::new()).ok(),
            Some(Format::Csv)
        );
        assert!(format(Some("format=xml"), &headers).is_err());
    }
}
