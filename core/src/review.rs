//! Review, pure: where a record stands against its last approval (approvals are pinned to
//! heads), the diff since the approved version, and the review-queue entry a supervisor sees
//! (findings, time since the report, whether it can be approved now). The device
//! ([`crate::device::Device::review_queue`]) and the server (`GET /v1/review-queue`) build their queues
//! with these functions, so both show the same thing.
//!
//! A record is "changed since approval" when its content (everything but `meta`) now differs
//! from the content at the approved heads, or when it was re-opened since: the approval no
//! longer stands and the record is back in the queue with the diff.
//!
//! No I/O and no clock: callers pass the document, the findings and the time.

use crate::doc::RecordDoc;
use crate::domain::{
    OfficerId, Record, RecordId, RecordKind, Status, Timestamp, WorkflowAction, WorkflowEvent,
};
use crate::error::Error;
use crate::rules::{self, Finding};
use crate::{projection, workflow};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The statuses a review queue looks at: submitted records, and approved ones (in the queue
/// only when changed since their approval).
pub const QUEUE_STATUSES: [Status; 2] = [Status::Submitted, Status::Approved];

/// One field whose value differs between two versions of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// Field path, e.g. `narrative`, `location.description`, `victims`.
    pub field: String,
    /// The value in the older version (`null` when absent).
    pub old: Value,
    /// The value now (`null` when absent).
    pub new: Value,
}

/// Where a record stands against its last approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ApprovalState {
    /// Never approved.
    NotApproved,
    /// Approved, and nothing but workflow has changed since the approved version.
    Approved {
        /// The supervisor who approved it.
        by: OfficerId,
        /// When (their device's time).
        at: Timestamp,
        /// The approved version: document heads, hex.
        heads: Vec<String>,
    },
    /// Approved once, but the approval no longer stands: the content changed after the approved
    /// version, or the record was re-opened.
    ChangedSinceApproval {
        /// The supervisor of the last approval.
        by: OfficerId,
        /// When it was given.
        at: Timestamp,
        /// The version that was approved: document heads, hex.
        approved_heads: Vec<String>,
        /// What differs now from the approved version (empty when re-opened without edits).
        changed_fields: Vec<FieldDiff>,
    },
}

impl ApprovalState {
    /// The diff since the last approval (empty unless changed since approval).
    pub fn changed_fields(&self) -> &[FieldDiff] {
        match self {
            ApprovalState::ChangedSinceApproval { changed_fields, .. } => changed_fields,
            _ => &[],
        }
    }
}

/// One record waiting for a supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Its author.
    pub author: OfficerId,
    /// Its workflow status (`submitted`, or `approved` when changed since approval).
    pub status: Status,
    /// When the incident was reported (the record's event time, else its creation), ms.
    pub reported_at: i64,
    /// Time since the report, ms, on this device's clock.
    pub waiting_ms: i64,
    /// When it was last submitted, if it was.
    pub submitted_at: Option<Timestamp>,
    /// Every rule finding, as [`Device::check`] gives them.
    pub findings: Vec<Finding>,
    /// Against its last approval, with the diff since.
    pub approval: ApprovalState,
    /// Whether this supervisor may approve it now (no error finding, not their own, submitted).
    pub can_approve: bool,
    /// Why not, when it cannot be approved.
    pub blocked_because: Option<String>,
}

/// A record returned to this user by a supervisor: a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnedItem {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Its author.
    pub author: OfficerId,
    /// The supervisor who returned it.
    pub by: OfficerId,
    /// When (their device's time).
    pub at: Timestamp,
    /// What to change.
    pub reason: String,
}

/// The last event of `action` in the record's history (list order, as status is derived).
pub(crate) fn last_event(record: &Record, action: WorkflowAction) -> Option<&WorkflowEvent> {
    record
        .meta()
        .workflow
        .iter()
        .rev()
        .find(|e| e.action == action)
}

/// The fields whose values differ between `old` and `new`, as paths. Objects are compared key
/// by key; arrays and scalars as whole values.
pub fn diff_json(old: &Value, new: &Value) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    diff_into("", old, new, &mut out);
    out
}

fn diff_into(path: &str, old: &Value, new: &Value, out: &mut Vec<FieldDiff>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff_into(
                    &child,
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ => out.push(FieldDiff {
            field: path.to_owned(),
            old: old.clone(),
            new: new.clone(),
        }),
    }
}

/// A record's content: everything but `meta` (identity and workflow, kept by Fieldbook).
pub fn content(record: &Record) -> Value {
    let mut json = record.to_json();
    if let Value::Object(map) = &mut json {
        map.remove("meta");
    }
    json
}

/// Where `record`, the current state of `doc`, stands against its last approval, with the diff
/// since the approved version when the approval no longer stands. An approval whose version
/// `doc` does not hold is an error (`approval-heads`): sync, then ask again.
pub fn approval_state(doc: &RecordDoc, record: &Record) -> Result<ApprovalState, Error> {
    let Some(approval) = last_event(record, WorkflowAction::Approved) else {
        return Ok(ApprovalState::NotApproved);
    };
    let heads: Vec<automerge::ChangeHash> = approval
        .heads
        .iter()
        .map(|h| h.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            Error::invalid(
                "workflow",
                "approval-heads",
                "the approval does not name a version of this record",
            )
        })?;
    let missing = heads
        .iter()
        .any(|h| !crate::doc::holds_change(doc.automerge(), h));
    if missing || heads.is_empty() {
        return Err(Error::invalid(
            "workflow",
            "approval-heads",
            "the approved version is not held here: sync, then try again",
        ));
    }
    let approved = doc.hydrate_at(&heads)?;
    let changed_fields = diff_json(&content(&approved), &content(record));
    let stands = workflow::status(&record.meta().workflow) == Status::Approved;
    Ok(if stands && changed_fields.is_empty() {
        ApprovalState::Approved {
            by: approval.by.clone(),
            at: approval.at,
            heads: approval.heads.clone(),
        }
    } else {
        ApprovalState::ChangedSinceApproval {
            by: approval.by.clone(),
            at: approval.at,
            approved_heads: approval.heads.clone(),
            changed_fields,
        }
    })
}

/// The queue entry `reviewer` sees for `record`, or `None` when it does not wait for review
/// (not submitted, or approved and unchanged since). `findings` are every rule finding (as the
/// rules give them with the record's linked records); `now_ms` is the reviewer's clock.
pub fn queue_item(
    record: &Record,
    approval: ApprovalState,
    findings: Vec<Finding>,
    reviewer: &OfficerId,
    now_ms: i64,
) -> Option<QueueItem> {
    let meta = record.meta();
    let status = workflow::status(&meta.workflow);
    let waiting = match status {
        Status::Submitted => true,
        Status::Approved => matches!(approval, ApprovalState::ChangedSinceApproval { .. }),
        Status::Draft | Status::Returned => false,
    };
    if !waiting {
        return None;
    }
    let blocked_because = if meta.author == *reviewer {
        Some("a supervisor never approves their own record".to_owned())
    } else if !rules::passes(&findings) {
        Some("it fails a rule (see the findings): return it with a reason".to_owned())
    } else if status != Status::Submitted {
        Some("it changed after approval: re-open it, or ask its author to".to_owned())
    } else {
        None
    };
    let reported_at = projection::derive(record, now_ms, 0)
        .event_at
        .unwrap_or_else(|| meta.created_at.millis());
    Some(QueueItem {
        id: meta.id,
        kind: meta.kind,
        author: meta.author.clone(),
        status,
        reported_at,
        waiting_ms: now_ms.saturating_sub(reported_at),
        submitted_at: last_event(record, WorkflowAction::Submitted).map(|e| e.at),
        findings,
        approval,
        can_approve: blocked_because.is_none(),
        blocked_because,
    })
}

/// Orders a queue as supervisors read it: oldest report first (record id breaks ties).
pub fn sort_queue(items: &mut [QueueItem]) {
    items.sort_by_key(|a| (a.reported_at, a.id));
}

/// What a review queue is built from: the device's store or the server's. The queue's loop is
/// [`queue`], written once.
pub trait QueueRecords {
    /// The source's error.
    type Error;
    /// The records in [`QUEUE_STATUSES`] the reviewer may see, with their status.
    fn candidates(&mut self) -> Result<Vec<(RecordId, Status)>, Self::Error>;
    /// The record and where it stands against its last approval; `None` when it went since.
    fn load(&mut self, id: RecordId) -> Result<Option<(Record, ApprovalState)>, Self::Error>;
    /// Every rule finding of the record, with its linked records as the source holds them.
    fn findings(&mut self, record: &Record) -> Result<Vec<Finding>, Self::Error>;
}

/// The review queue `reviewer` sees at `now_ms`: every submitted candidate and every approved
/// one changed since its approval ([`queue_item`]), oldest report first. An approved record
/// unchanged since its approval (the common case) is skipped before its rules are run.
pub fn queue<S: QueueRecords>(
    source: &mut S,
    reviewer: &OfficerId,
    now_ms: i64,
) -> Result<Vec<QueueItem>, S::Error> {
    let mut items = Vec::new();
    for (id, status) in source.candidates()? {
        let Some((record, approval)) = source.load(id)? else {
            continue;
        };
        if status == Status::Approved
            && !matches!(approval, ApprovalState::ChangedSinceApproval { .. })
        {
            continue;
        }
        let findings = source.findings(&record)?;
        items.extend(queue_item(&record, approval, findings, reviewer, now_ms));
    }
    sort_queue(&mut items);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_diff_names_nested_fields_by_path_and_absent_values_as_null() {
        let old = json!({"narrative": "a", "location": {"description": "x", "lat": 1.0}, "victims": ["p1"]});
        let new = json!({"narrative": "a", "location": {"description": "y"}, "victims": ["p1", "p2"], "outcome": "16"});
        let fields: Vec<(String, Value, Value)> = diff_json(&old, &new)
            .into_iter()
            .map(|d| (d.field, d.old, d.new))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("location.description".into(), json!("x"), json!("y")),
                ("location.lat".into(), json!(1.0), Value::Null),
                ("outcome".into(), Value::Null, json!("16")),
                ("victims".into(), json!(["p1"]), json!(["p1", "p2"])),
            ]
        );
        assert!(diff_json(&old, &old).is_empty());
    }
}
