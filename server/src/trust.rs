//! Trust: every pushed change is checked against the write policy
//! ([`fieldbook_core::workflow::policy`]) as of its dependencies, i.e. against the record its
//! author could see, not the server's latest. A refused change, and everything pushed after it
//! for that record, never enters the server's history (no accept-then-revert).

use crate::store::Officer;
use automerge::{Automerge, Change};
use fieldbook_core::doc::record_at;
use fieldbook_core::sync::wire::{Hash, PushOutcome};
use fieldbook_core::workflow::policy::{self, Writer};

/// Checks `changes` (new to the server, in causal order) on top of `base` (the server's
/// document before them; empty for a new record). `author_team` is the record author's team.
pub(crate) fn check_changes(
    base: &Automerge,
    changes: &[Change],
    writer: &Officer,
    author_team: Option<&str>,
) -> Result<(), PushOutcome> {
    let who = Writer {
        officer: writer.id.clone(),
        role: writer.role,
        team: writer.team.clone(),
    };
    let mut working = base.clone();
    for change in changes {
        let deps = change.deps().to_vec();
        let before = if deps.is_empty() {
            None
        } else {
            Some(record_at(&working, &deps).map_err(|_| unreadable(change))?)
        };
        working
            .apply_changes([change.clone()])
            .map_err(|_| unreadable(change))?;
        let after = record_at(&working, &[change.hash()]).map_err(|_| unreadable(change))?;
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
