//! `GET /v1/records/{id}/audit`: a record's audit trail, field by field, as JSON (default) or
//! CSV (`?format=csv` or `Accept: text/csv`). Built from the server's document of the record,
//! the receipt time of each change and the device that pushed it ([`fieldbook_core::audit`]).
//!
//! Authorised: the device's officer reads the audit of records they write or attend (a PCSO:
//! their team's neighbourhood issues), a supervisor that of their team's records (the author's
//! team) and their own; anyone else gets 403 `forbidden`. Nothing of an export is logged.

use crate::error::ApiError;
use crate::http::{App, authenticate, blocking, finish};
use crate::scope::Viewer;
use crate::service::SyncService;
use crate::store::{DeviceAuth, RecordFacts};
use automerge::ActorId;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldbook_core::audit::{self, AuditRow};
use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{RecordId, Role};
use std::sync::Arc;

/// How the rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// `?format=` wins; else an `Accept` naming `text/csv`; else JSON.
fn format(query: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    Ok(
        if crate::http::wants_alternative(query, headers, "csv", "text/csv")? {
            Format::Csv
        } else {
            Format::Json
        },
    )
}

/// Whether the device's officer may read the audit trail of a record.
fn may_audit(device: &DeviceAuth, facts: &RecordFacts) -> bool {
    let officer = &device.officer;
    let viewer = Viewer {
        officer: officer.id.as_str(),
        role: officer.role,
        team: officer.team.as_deref(),
    };
    match officer.role {
        Role::Supervisor => {
            facts.author == officer.id.as_str()
                || matches!((officer.team.as_deref(), facts.team.as_deref()),
                    (Some(a), Some(b)) if a == b)
        }
        Role::Officer | Role::Pcso => viewer.holds_directly(facts),
    }
}

fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "this record is outside your scope: its author, attending officers and their team's supervisors read its audit trail",
    )
}

/// The audit rows of a record, if the device may read them.
fn rows(
    service: &SyncService,
    device: &DeviceAuth,
    record: RecordId,
) -> Result<Vec<AuditRow>, ApiError> {
    let store = service.store();
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-record",
            "the server holds no such record",
        )
    };
    let facts = store.facts(record)?.ok_or_else(not_found)?;
    if !may_audit(device, &facts) {
        return Err(forbidden());
    }
    // The document first, then the origins: every change of the document has its origin.
    let stored = store.load_document(record)?.ok_or_else(not_found)?;
    let doc = RecordDoc::load(&stored.bytes, &ActorId::from(b"fieldbook-audit".as_slice()))
        .map_err(|e| {
            tracing::error!(record = %record, error = %e, "stored document does not load");
            ApiError::internal()
        })?;
    let origins = store.change_origins(record)?;
    let history = doc.try_history().map_err(|e| {
        tracing::error!(record = %record, error = %e, "stored document's history does not read");
        ApiError::internal()
    })?;
    let origins = audit::Origins::of_pushes(
        &history,
        origins
            .iter()
            .map(|o| (o.hash.as_str(), o.device.as_str(), o.received_at)),
    );
    Ok(audit::rows(record, &history, &origins))
}

/// `GET /v1/records/{id}/audit`.
pub(crate) async fn audit(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let device = authenticate(&app, &headers).await?;
        let format = format(query.as_deref(), &headers)?;
        let record: RecordId = id
            .parse()
            .map_err(|_| ApiError::malformed("the record id is not a UUID"))?;
        let service = Arc::clone(&app);
        let rows = blocking(move || rows(&service, &device, record)).await?;
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
