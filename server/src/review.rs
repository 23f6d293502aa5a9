//! `GET /v1/review-queue`: a supervisor's review queue, built at the server from its documents
//! with the core's review logic ([`fieldbook_core::review`]), so it is what the supervisor's
//! device would show if it held every record of the team: the team's submitted records and the
//! approved ones changed since their approval, oldest report first, each with its rule findings
//! ([`fieldbook_core::rules`], with the linked people, needs assessments and crime), the time
//! since the report (server clock) and the diff since the last approval.
//!
//! The HTTP handler is `http::review`; this builds the queue.
//!
//! Authorised with the device token. Supervisors only: anyone else gets 403 `supervisor-only`.
//! A supervisor sees only their team's records (the author's team when last written); one with no
//! team sees an empty queue. JSON by default; CBOR with `?format=cbor` or
//! `Accept: application/cbor` (the device protocol's encoding). Nothing of it is logged.

use crate::error::ApiError;
use crate::service::SyncService;
use crate::store::{DeviceAuth, Officer};
use axum::http::StatusCode;
use fieldbook_core::domain::{
    Record, RecordId, RecordKind, Role, Status, Timestamp, WorkflowAction,
};
use fieldbook_core::review::{self, ApprovalState};
use fieldbook_core::rules::{self, Finding, LinkedRecords, RuleContext};
use fieldbook_core::sync::wire::ReviewQueue;

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
pub(crate) fn queue(service: &SyncService, device: &DeviceAuth) -> Result<ReviewQueue, ApiError> {
    let officer = &device.officer;
    if officer.role != Role::Supervisor {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "supervisor-only",
            "the review queue is a supervisor's: ask your sergeant",
        ));
    }
    // The team's records as of every commit, whichever replica made it.
    service.catch_up()?;
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
