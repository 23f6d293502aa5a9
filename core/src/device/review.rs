//! Supervision on the device: approvals pinned to versions, the review queue, and the records
//! returned to their author.
//!
//! An approval event records the heads it approved. The record is "changed since approval" when
//! its content (everything but `meta`) now differs from the content at those heads, or when it
//! was re-opened since: the approval no longer stands, and the record goes back into the queue
//! with the diff since the approved version.
//!
//! The projection does not carry a "changed since approval" flag: [`Device::review_queue`]
//! derives it by loading the approved records held on the device. A supervisor's device holds
//! its team's records only, so this stays small; a stored flag is the next step if it does not.

use super::Device;
use crate::Error;
use crate::domain::{
    OfficerId, Record, RecordId, RecordKind, Role, Status, Timestamp, WorkflowAction, WorkflowEvent,
};
use crate::rules::{self, Finding};
use crate::storage::RecordQuery;
use crate::workflow;
use automerge::ReadDoc;
use serde::Serialize;
use serde_json::Value;

/// One field whose value differs between two versions of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    /// Field path, e.g. `narrative`, `location.description`, `victims`.
    pub field: String,
    /// The value in the older version (`null` when absent).
    pub old: Value,
    /// The value now (`null` when absent).
    pub new: Value,
}

/// Where a record stands against its last approval.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
fn last_event(record: &Record, action: WorkflowAction) -> Option<&WorkflowEvent> {
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
fn content(record: &Record) -> Value {
    let mut json = record.to_json();
    if let Value::Object(map) = &mut json {
        map.remove("meta");
    }
    json
}

impl Device {
    /// Where a record stands against its last approval, with the diff since the approved
    /// version when the approval no longer stands.
    pub fn approval_state(&mut self, id: RecordId) -> Result<ApprovalState, Error> {
        let record = self.record(id)?;
        self.approval_state_of(&record)
    }

    fn approval_state_of(&mut self, record: &Record) -> Result<ApprovalState, Error> {
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
        let id = record.id();
        let loaded = self.take(id)?;
        let missing = heads
            .iter()
            .any(|h| loaded.doc.automerge().get_change_by_hash(h).is_none());
        let approved = if missing || heads.is_empty() {
            None
        } else {
            Some(loaded.doc.hydrate_at(&heads))
        };
        self.cache.put(id, loaded);
        let Some(approved) = approved else {
            return Err(Error::invalid(
                "workflow",
                "approval-heads",
                "the approved version is not held on this device: sync, then try again",
            ));
        };
        let changed_fields = diff_json(&content(&approved?), &content(record));
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
        let mut rows = self.store.list(&RecordQuery {
            status: Some(Status::Submitted),
            limit: Some(u32::MAX),
            ..RecordQuery::default()
        })?;
        rows.extend(self.store.list(&RecordQuery {
            status: Some(Status::Approved),
            limit: Some(u32::MAX),
            ..RecordQuery::default()
        })?);
        let now = self.now().millis();
        let mut items = Vec::new();
        for p in rows {
            let record = self.record(p.id)?;
            let approval = self.approval_state_of(&record)?;
            if p.status == Status::Approved
                && !matches!(approval, ApprovalState::ChangedSinceApproval { .. })
            {
                continue;
            }
            let findings = self.check(p.id)?;
            let blocked_because = if p.author == self.user.officer {
                Some("a supervisor never approves their own record".to_owned())
            } else if !rules::passes(&findings) {
                Some("it fails a rule (see the findings): return it with a reason".to_owned())
            } else if p.status != Status::Submitted {
                Some("it changed after approval: re-open it, or ask its author to".to_owned())
            } else {
                None
            };
            let reported_at = p.event_at.unwrap_or(p.created_at);
            items.push(QueueItem {
                id: p.id,
                kind: p.kind,
                author: p.author,
                status: p.status,
                reported_at,
                waiting_ms: now.saturating_sub(reported_at),
                submitted_at: last_event(&record, WorkflowAction::Submitted).map(|e| e.at),
                findings,
                approval,
                can_approve: blocked_because.is_none(),
                blocked_because,
            });
        }
        items.sort_by_key(|a| (a.reported_at, a.id));
        Ok(items)
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
        let mut record = self.record(id)?;
        workflow::reopen(&mut record, &self.user, reason, self.now())?;
        self.write(record.clone(), "reopen")?;
        Ok(record)
    }
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
