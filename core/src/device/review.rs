//! Supervision on the device: the review queue, approval state, records returned to their
//! author, and re-opening. The logic is [`crate::review`] (shared with the server); this file
//! reads the device's store for it.
//!
//! The projection does not carry a "changed since approval" flag: [`Device::review_queue`]
//! derives it by loading the approved records held on the device. A supervisor's device holds
//! its team's records only, so this stays small; a stored flag is the next step if it does not.

use super::Device;
use crate::domain::{Record, RecordId, Role, Status, WorkflowAction};
use crate::error::Error;
use crate::review::{self, ApprovalState, QueueItem, ReturnedItem, last_event};
use crate::rules::Finding;
use crate::storage::RecordQuery;
use crate::workflow;

impl Device {
    /// Where a record stands against its last approval, with the diff since the approved
    /// version when the approval no longer stands.
    pub fn approval_state(&mut self, id: RecordId) -> Result<ApprovalState, Error> {
        let record = self.record(id)?;
        self.approval_state_of(&record)
    }

    fn approval_state_of(&mut self, record: &Record) -> Result<ApprovalState, Error> {
        self.read(record.id(), |_, doc| review::approval_state(doc, record))
    }

    /// Supervisor: the team's records waiting for review on this device, oldest report first:
    /// every submitted record, and every approved one changed since its approval. Each comes
    /// with its rule findings, the time since the report, the diff since its last approval and
    /// whether it can be approved now. Other roles are refused.
    pub fn review_queue(&mut self) -> Result<Vec<QueueItem>, Error> {
        if self.user.role != Role::Supervisor {
            return Err(Error::Forbidden(
                "the review queue is a supervisor's: ask your sergeant".into(),
            ));
        }
        let now = self.now().millis();
        let reviewer = self.user.officer.clone();
        review::queue(&mut DeviceQueue(self), &reviewer, now)
    }

    /// Records authored or attended by this user that a supervisor returned, with the reason,
    /// who and when (from the last `returned` event), oldest return first.
    pub fn returned_to_me(&mut self) -> Result<Vec<ReturnedItem>, Error> {
        let rows = self.store.list(&RecordQuery {
            status: Some(Status::Returned),
            limit: Some(u32::MAX),
            ..RecordQuery::default()
        })?;
        let me = self.user.officer.clone();
        let mut items = Vec::new();
        for p in rows {
            let record = self.record(p.id)?;
            let meta = record.meta();
            if meta.author != me && !record.attending_officers().contains(&me) {
                continue;
            }
            let Some(event) = last_event(&record, WorkflowAction::Returned) else {
                continue;
            };
            items.push(ReturnedItem {
                id: p.id,
                kind: p.kind,
                author: meta.author.clone(),
                by: event.by.clone(),
                at: event.at,
                reason: event.reason.clone().unwrap_or_default(),
            });
        }
        items.sort_by_key(|a| (a.at, a.id));
        Ok(items)
    }

    /// Re-opens an approved record for editing, with a reason (its author or a supervisor).
    /// It goes back to review when submitted, as changed since approval.
    pub fn reopen(&mut self, id: RecordId, reason: &str) -> Result<Record, Error> {
        self.workflow_step(id, "reopen", false, |device, record, _, _| {
            workflow::reopen(record, &device.user, reason, device.now())
        })
    }
}

/// The review queue's records as this device holds them.
struct DeviceQueue<'a>(&'a mut Device);

impl review::QueueRecords for DeviceQueue<'_> {
    type Error = Error;

    fn candidates(&mut self) -> Result<Vec<(RecordId, Status)>, Error> {
        let mut rows = Vec::new();
        for status in review::QUEUE_STATUSES {
            rows.extend(
                self.0
                    .store
                    .list(&RecordQuery {
                        status: Some(status),
                        limit: Some(u32::MAX),
                        ..RecordQuery::default()
                    })?
                    .into_iter()
                    .map(|p| (p.id, p.status)),
            );
        }
        Ok(rows)
    }

    fn load(&mut self, id: RecordId) -> Result<Option<(Record, ApprovalState)>, Error> {
        let record = self.0.record(id)?;
        let approval = self.0.approval_state_of(&record)?;
        Ok(Some((record, approval)))
    }

    fn findings(&mut self, record: &Record) -> Result<Vec<Finding>, Error> {
        self.0.check(record.id())
    }
}
