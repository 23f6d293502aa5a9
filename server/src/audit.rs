//! `GET /v1/records/{id}/audit`: a record's audit trail, field by field, as JSON (default) or
//! CSV (`?format=csv` or `Accept: text/csv`). Built from the server's document of the record,
//! the receipt time of each change and the device that pushed it ([`fieldbook_core::audit`]).
//!
//! The HTTP handler is `http::audit`; this is who may read a trail, and the rows.
//!
//! Authorised: the device's officer reads the audit of records they write or attend (a PCSO:
//! their team's neighbourhood issues), a supervisor that of their team's records (the author's
//! team) and their own; anyone else gets 403 `forbidden`. Nothing of an export is logged.

use crate::error::ApiError;
use crate::scope::Viewer;
use crate::service::SyncService;
use crate::store::{DeviceAuth, RecordFacts};
use automerge::ActorId;
use axum::http::StatusCode;
use fieldbook_core::audit::{self, AuditRow};
use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{RecordId, Role};

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
pub(crate) fn rows(
    service: &SyncService,
    device: &DeviceAuth,
    record: RecordId,
) -> Result<Vec<AuditRow>, ApiError> {
    let store = service.store();
    // Facts as of every commit, whichever replica made it.
    service.catch_up()?;
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
