//! Trust: every pushed change is checked against the write policy
//! ([`fieldbook_core::workflow::policy`]) as of its dependencies, i.e. against the record its
//! author could see, not the server's latest. A refused change, and everything pushed after it
//! for that record, never enters the server's history (no accept-then-revert).
//!
//! On top of the policy (which sees records, not history): an approval must pin heads that are
//! in the record's history as of the approving change's dependencies (`approval-heads-unknown`),
//! so nobody approves a version that does not exist or that the approver could not have seen.

use crate::store::Officer;
use automerge::{Automerge, Change, ChangeHash, ReadDoc};
use fieldbook_core::doc::record_at;
use fieldbook_core::domain::{Record, WorkflowAction};
use fieldbook_core::sync::wire::{Hash, PushOutcome};
use fieldbook_core::workflow::policy::{self, Writer};
use std::collections::HashSet;

/// Checks `changes` (new to the server, in causal order) inside `doc`, the document with them
/// applied: each is judged on the record as of its dependencies against the record it makes,
/// both read from `doc` at those heads (no copy of the document is made). `author_team` is
/// the record author's team.
pub(crate) fn check_changes(
    doc: &Automerge,
    changes: &[Change],
    writer: &Officer,
    author_team: Option<&str>,
) -> Result<(), PushOutcome> {
    let who = Writer {
        officer: writer.id.clone(),
        role: writer.role,
        team: writer.team.clone(),
    };
    // A run of changes usually forms a chain: one change's result is the next one's base.
    let mut last: Option<(ChangeHash, Record)> = None;
    for change in changes {
        let deps = change.deps();
        let before = match (deps, &last) {
            ([], _) => None,
            ([dep], Some((hash, record))) if dep == hash => Some(record.clone()),
            _ => Some(record_at(doc, deps).map_err(|_| unreadable(change))?),
        };
        let after = record_at(doc, &[change.hash()]).map_err(|_| unreadable(change))?;
        if let Some(v) = policy::check_change(before.as_ref(), &after, &who, author_team)
            .into_iter()
            .next()
        {
            return Err(PushOutcome::Rejected {
                rule: v.rule,
                message: v.message,
                change: Some(Hash::from(change.hash())),
                field: Some(v.field),
            });
        }
        if let Some(before) = &before {
            check_approval_heads(doc, change, before, &after)?;
        }
        last = Some((change.hash(), after));
    }
    Ok(())
}

/// When `change` appends an approval, every head it pins must be a change of this record that
/// `change` depends on (directly or not): the approved version existed and the approver saw it.
fn check_approval_heads(
    doc: &Automerge,
    change: &Change,
    before: &Record,
    after: &Record,
) -> Result<(), PushOutcome> {
    let old = before.meta().workflow.len();
    let Some(event) = after.meta().workflow.get(old) else {
        return Ok(());
    };
    if event.action != WorkflowAction::Approved {
        return Ok(());
    }
    // Changes not reachable from the change's dependencies (the change itself, concurrent ones).
    let unseen: HashSet<ChangeHash> = doc
        .get_changes_meta(change.deps())
        .iter()
        .map(|c| c.hash)
        .collect();
    let known = |head: &String| {
        head.parse::<ChangeHash>()
            .is_ok_and(|h| doc.get_change_by_hash(&h).is_some() && !unseen.contains(&h))
    };
    if event.heads.iter().all(known) {
        return Ok(());
    }
    Err(PushOutcome::Rejected {
        rule: "approval-heads-unknown".into(),
        message: "the approval pins a version this record never had before it: approve the version you read, after syncing".into(),
        change: Some(Hash::from(change.hash())),
        field: Some("meta.workflow".into()),
    })
}

fn unreadable(change: &Change) -> PushOutcome {
    PushOutcome::Rejected {
        rule: "not-a-record".into(),
        message: "with this change the document is not a valid record: rebuild the record from the server's version".into(),
        change: Some(Hash::from(change.hash())),
        field: None,
    }
}
