//! `GET /v1/review-queue`: a supervisor's review queue, built at the server from its documents
//! with the core's review logic ([`fieldbook_core::review`]), so it is what the supervisor's
//! device would show if it held every record of the team: the team's submitted records and the
//! approved ones changed since their approval, oldest report first, each with its rule findings
//! ([`fieldbook_core::rules`], with the linked people, needs assessments and crime), the time
//! since the report (server clock) and the diff since the last approval.
//!
//! Authorised with the device token. Supervisors only: anyone else gets 403 `supervisor-only`.
//! A supervisor sees only their team's records (the author's team when last written); one with no
//! team sees an empty queue. JSON by default; CBOR with `?format=cbor` or
//! `Accept: application/cbor` (the device protocol's encoding). Nothing of it is logged.

use crate::error::ApiError;
use crate::http::{App, authenticate, blocking, finish};
use crate::service::SyncService;
use crate::store::{DeviceAuth, Officer};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldbook_core::domain::{
    Record, RecordId, RecordKind, Role, Status, Timestamp, WorkflowAction,
};
use fieldbook_core::review::{self, ApprovalState};
use fieldbook_core::rules::{self, Finding, LinkedRecords, RuleContext};
use fieldbook_core::sync::wire::{self, ReviewQueue};
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
        if crate::http::wants_alternative(query, headers, "cbor", wire::CONTENT_TYPE)? {
            Format::Cbor
        } else {
            Format::Json
        },
    )
}

/// The server's documents, as the rules read linked records.
struct ServerRecords<'a>(&'a SyncService);

impl LinkedRecords for ServerRecords<'_> {
    type Error = ApiError;

    fn record(&mut self, id: RecordId) -> Result<Option<Record>, ApiError> {
        Ok(self.0.document(id)?.and_then(|d| d.doc.hydrate().ok()))
    }

    fn assessments_of(&mut self, crime: RecordId) -> Result<Vec<RecordId>, ApiError> {
        let store = self.0.store();
        let mut found = Vec::new();
        for from in store.linking_to(crime)? {
            let is_assessment = store.facts(from)?.is_some_and(|f| {
                f.kind == RecordKind::VictimNeedsAssessment
                    && f.links
                        .iter()
                        .any(|(role, to)| role == "crime" && *to == crime)
            });
            if is_assessment {
                found.push(from);
            }
        }
        Ok(found)
    }
}

/// The queue of the device's supervisor.
fn queue(service: &SyncService, device: &DeviceAuth) -> Result<ReviewQueue, ApiError> {
    let officer = &device.officer;
    if officer.role != Role::Supervisor {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "supervisor-only",
            "the review queue is a supervisor's: ask your sergeant",
        ));
    }
    let now_ms = service.now_ms();
    let now = Timestamp::from_millis(now_ms).ok_or_else(ApiError::internal)?;
    let Some(team) = officer.team.as_deref() else {
        return Ok(ReviewQueue {
            team: None,
            at: now,
            items: Vec::new(),
        });
    };
    let mut source = ServerQueue {
        service,
        team,
        reviewer: officer,
        now,
    };
    let items = review::queue(&mut source, &officer.id, now_ms)?;
    Ok(ReviewQueue {
        team: Some(team.to_owned()),
        at: now,
        items,
    })
}

/// The review queue's records as the server holds them: the team's, by the author's team.
struct ServerQueue<'a> {
    service: &'a SyncService,
    team: &'a str,
    reviewer: &'a Officer,
    now: Timestamp,
}

impl review::QueueRecords for ServerQueue<'_> {
    type Error = ApiError;

    fn candidates(&mut self) -> Result<Vec<(RecordId, Status)>, ApiError> {
        Ok(self
            .service
            .store()
            .team_records(self.team, &review::QUEUE_STATUSES)?
            .into_iter()
            .map(|facts| (facts.id, facts.status))
            .collect())
    }

    fn load(&mut self, id: RecordId) -> Result<Option<(Record, ApprovalState)>, ApiError> {
        let Some(doc) = self.service.document(id)? else {
            return Ok(None);
        };
        let record = doc.doc.hydrate().map_err(|e| {
            tracing::error!(record = %id, error = %e, "stored document is not a record");
            ApiError::internal()
        })?;
        let approval = match review::approval_state(&doc.doc, &record) {
            Ok(a) => a,
            Err(e) => {
                // Pushed approvals pin heads the record has (`approval-heads-unknown`); one
                // stored before that check is shown as changed, with no diff, not hidden.
                tracing::warn!(record = %id, error = %e, "an approval names no version of its record");
                let approved = record
                    .meta()
                    .workflow
                    .iter()
                    .rev()
                    .find(|e| e.action == WorkflowAction::Approved);
                ApprovalState::ChangedSinceApproval {
                    by: approved.map_or_else(|| self.reviewer.id.clone(), |e| e.by.clone()),
                    at: approved.map_or(self.now, |e| e.at),
                    approved_heads: approved.map(|e| e.heads.clone()).unwrap_or_default(),
                    changed_fields: Vec::new(),
                }
            }
        };
        Ok(Some((record, approval)))
    }

    fn findings(&mut self, record: &Record) -> Result<Vec<Finding>, ApiError> {
        let ctx = RuleContext::gather(
            record,
            self.now,
            self.reviewer.role,
            &mut ServerRecords(self.service),
        )?;
        Ok(rules::check(
            record,
            &ctx,
            fieldbook_core::refdata::current(),
        ))
    }
}

/// `GET /v1/review-queue`.
pub(crate) async fn review_queue(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let device = authenticate(&app, &headers).await?;
        let format = format(query.as_deref(), &headers)?;
        let service = Arc::clone(&app);
        let queue = blocking(move || queue(&service, &device)).await?;
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
