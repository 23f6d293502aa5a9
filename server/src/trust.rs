//! Trust: every pushed change is checked against the write policy
//! ([`fieldbook_core::workflow::policy`]) as of its dependencies, i.e. against the record its
//! author could see, not the server's latest. A refused change, and everything pushed after it
//! for that record, never enters the server's history (no accept-then-revert).

use crate::store::Officer;
use automerge::{Automerge, Change, ChangeHash};
use fieldbook_core::doc::record_at;
use fieldbook_core::domain::Record;
use fieldbook_core::sync::wire::{Hash, PushOutcome};
use fieldbook_core::workflow::policy::{self, Writer};

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
        last = Some((change.hash(), after));
    }
    Ok(())
}

fn unreadable(change: &Change) -> PushOutcome {
    PushOutcome::Rejected {
        rule: "not-a-record".into(),
        message: "with this change the document is not a valid record: rebuild the record from the server's version".into(),
        change: Some(Hash::from(change.hash())),
        field: None,
    }
}
