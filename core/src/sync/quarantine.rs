//! What the device does when the server refuses a record's changes for good
//! ([`super::wire::RefusalCode::is_final`]): nothing the officer typed is lost, and nothing refused is
//! pushed again.
//!
//! 1. The whole local document, refused changes and all, is kept in the quarantine with the
//!    server's rule, message, field and change, and the refused field values.
//! 2. The live record is rebuilt from the server's version: a fork of the local document at the
//!    newest heads the device knows the server holds (its `server_heads`, advanced by the same
//!    response's feed page), writing as this device's actor. Changes the server never accepted
//!    are not in it.
//! 3. The fields where the refused state differs from the server's version are re-applied, as
//!    one new change (action `reapply`), where the write policy
//!    ([`crate::workflow::policy::check_change`]) lets this user write them in the server
//!    version's state. Workflow steps (`meta`) are never re-applied: a refused submission is
//!    submitted again by the officer. What is not re-applied stays only in the quarantine. If
//!    the refused change is itself such a re-applied change (device and server disagree on the
//!    policy), nothing is re-applied again, so a disagreement costs one more quarantined item,
//!    not one per sync.
//! 4. A record the server never held (say, a stop-search created by a PCSO) has no server
//!    version: it leaves the live records and the outbox, and lives whole in the quarantine.
//!
//! All of it is written in the same transaction as the rest of the sync response.
//!
//! **Actor sequence numbers.** The refused change `A@n` never reached the server, so the
//! rebuilt document's next change by this device's actor `A` is `A@n` again, with other
//! content. Automerge refuses to merge two changes with one actor and sequence number, and
//! worse would follow if it did not, so the quarantined bytes must never meet the live
//! document: they are only ever read back hydrated, with a throwaway actor
//! ([`crate::device::Device::quarantined_record`]), never exported, imported or merged.
//!
//! Sans-I/O like the rest of [`super`]: no SQLite, no clock (the caller passes `now`).

use crate::doc::{ChangeAuthor, ChangeMessage, RecordDoc};
use crate::domain::{Record, RecordId, Timestamp};
use crate::error::Error;
use crate::loaded::{Loaded, document_replace};
use crate::review::{FieldDiff, content, diff_json};
use crate::storage::{Attention, NewQuarantine, SyncWrite};
use crate::sync::wire::{Hash, PushOutcome, RefusalCode};
use crate::workflow::policy::{self, Writer};
use crate::{limits, refdata};
use automerge::{ActorId, ChangeHash, ReadDoc};
use serde_json::{Map, Value};

/// The server's reason for refusing a record's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The stable rule.
    pub rule: RefusalCode,
    /// What is wrong (no personal data).
    pub message: String,
    /// The field to blame, if one.
    pub field: Option<String>,
    /// The first refused change, if named.
    pub change: Option<Hash>,
}

impl Refusal {
    /// The record's "needs attention" mark for this refusal (when it is not quarantined).
    pub fn attention(&self) -> Attention {
        Attention {
            rule: self.rule.to_string(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }

    /// The refusal a push outcome carries, if it is one.
    pub fn of(outcome: &PushOutcome) -> Option<Refusal> {
        match outcome {
            PushOutcome::Rejected {
                rule,
                message,
                change,
                field,
            } => Some(Refusal {
                rule: rule.clone(),
                message: message.clone(),
                field: field.clone(),
                change: change.clone(),
            }),
            _ => None,
        }
    }
}

/// What became of the live record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Rebuilt from the server's version, with the allowed edits re-applied.
    Rebuilt,
    /// Removed: the server never held it; it lives only in the quarantine.
    Removed,
}

/// The result of [`keep_refused`].
#[derive(Debug)]
pub struct Kept {
    /// The quarantine entry to store.
    pub entry: NewQuarantine,
    /// The rebuilt live document; `None` when the server never held the record.
    pub live: Option<RecordDoc>,
}

/// Keeps the refused state of `doc` and rebuilds the live record from the server's version at
/// `server_heads` (those of them `doc` holds; none or `None`: the server never held it), as
/// described in the module documentation. `writer` is this device's user, `actor` its actor.
pub fn keep_refused(
    doc: &RecordDoc,
    server_heads: Option<&[ChangeHash]>,
    refusal: &Refusal,
    writer: &Writer,
    actor: &ActorId,
    now: Timestamp,
) -> Result<Kept, Error> {
    let typed = doc.hydrate()?;
    let known: Vec<ChangeHash> = server_heads
        .unwrap_or_default()
        .iter()
        .filter(|h| crate::doc::holds_change(doc.automerge(), h))
        .copied()
        .collect();
    let (live, live_json) = if known.is_empty() {
        (None, Value::Object(Map::new()))
    } else {
        let mut live = doc.fork_at(&known, actor)?;
        let server = live.hydrate()?;
        let reapplied = if refuses_a_reapplied_change(doc, refusal) {
            server.clone()
        } else {
            reapply(&server, &typed, writer)
        };
        if reapplied != server {
            let author = ChangeAuthor {
                by: writer.officer.clone(),
                role: writer.role,
            };
            live.update(&reapplied, &author, REAPPLY, now)?;
        }
        (Some(live), reapplied.to_json())
    };
    let refused = if live.is_some() {
        diff_json(&live_json, &typed.to_json())
    } else {
        // Nothing of it is live: every field the officer filled in.
        diff_json(&live_json, &content(&typed))
    };
    let am = doc.automerge();
    let document = crate::doc::guarded("keeping the refused document", || am.save())?;
    let entry = NewQuarantine {
        record: typed.id(),
        kind: typed.kind(),
        rule: refusal.rule.to_string(),
        message: refusal.message.clone(),
        field: refusal.field.clone(),
        change: refusal.change.as_ref().map(|h| h.0.clone()),
        at: now.millis(),
        removed: live.is_none(),
        document,
        refused: serde_json::to_string(&refused).unwrap_or_else(|_| "[]".to_owned()),
    };
    Ok(Kept { entry, live })
}

/// Keeps the refused state of the stored record in `loaded` and adds everything to `write`: the
/// quarantine entry, and either the rebuilt document (replacing the stored one, only if the
/// store still holds what `loaded` was read at) or the record's removal. `loaded` becomes the
/// rebuilt document. The caller drops the record from memory when it is removed.
#[expect(
    clippy::too_many_arguments,
    reason = "the push and the repair paths pass what they each hold; a struct would only rename them"
)]
pub(crate) fn quarantine_into(
    id: RecordId,
    loaded: &mut Loaded,
    server_heads: Option<&[ChangeHash]>,
    refusal: &Refusal,
    writer: &Writer,
    actor: &ActorId,
    now: Timestamp,
    write: &mut SyncWrite,
) -> Result<Disposition, Error> {
    // What the store holds of the record: the refused state was read from there.
    let stored = loaded.doc.saved_heads_bytes();
    let kept = keep_refused(&loaded.doc, server_heads, refusal, writer, actor, now)?;
    write.quarantine.push(kept.entry);
    write.attention.push((id, None));
    match kept.live {
        None => {
            write.removals.push((id, stored));
            Ok(Disposition::Removed)
        }
        Some(doc) => {
            *loaded = Loaded::new(doc);
            write.saves.push(document_replace(id, loaded, stored, now)?);
            Ok(Disposition::Rebuilt)
        }
    }
}

/// Whether the change the server named as refused is one this device wrote to re-apply edits
/// after an earlier refusal.
fn refuses_a_reapplied_change(doc: &RecordDoc, refusal: &Refusal) -> bool {
    refusal
        .change
        .as_ref()
        .and_then(|h| ChangeHash::try_from(h).ok())
        .and_then(|h| doc.automerge().get_change_by_hash(&h))
        .and_then(|c| ChangeMessage::parse(c.message()))
        .is_some_and(|m| m.action == REAPPLY)
}

/// The action of the change that re-applies allowed edits after a refusal.
pub const REAPPLY: &str = "reapply";

/// The server's version with every content field the officer changed that the policy lets
/// `writer` write in the server version's state. Each field is tried on its own against the
/// server's version; then all the allowed ones together must still be a valid, allowed record
/// within the limits, or nothing is re-applied (everything stays in the quarantine).
fn reapply(server: &Record, typed: &Record, writer: &Writer) -> Record {
    let kind = server.kind();
    let base = server.to_json();
    let mut merged = base.clone();
    let mut any = false;
    for FieldDiff { field, new, .. } in diff_json(&content(server), &content(typed)) {
        let mut trial = base.clone();
        set_path(&mut trial, &field, new.clone());
        let allowed = Record::from_json(kind, trial)
            .is_ok_and(|r| policy::check_change(Some(server), &r, writer, None).is_empty());
        if allowed {
            set_path(&mut merged, &field, new);
            any = true;
        }
    }
    if !any {
        return server.clone();
    }
    let Ok(mut record) = Record::from_json(kind, merged) else {
        return server.clone();
    };
    record.derive_fields(refdata::current());
    let fits = limits::check(&record.to_json()).is_ok()
        && policy::check_change(Some(server), &record, writer, None).is_empty();
    if fits { record } else { server.clone() }
}

/// Sets the value at a dotted path of objects (as [`diff_json`] names fields), creating the
/// objects on the way.
fn set_path(json: &mut Value, path: &str, value: Value) {
    let mut at = json;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(map) = at else { return };
        if keys.peek().is_none() {
            map.insert(key.to_owned(), value);
            return;
        }
        at = map.entry(key.to_owned()).or_insert(Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OfficerId, RecordKind, Role, Status, WorkflowAction, WorkflowEvent};
    use crate::workflow::{self, User};
    use serde_json::json;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(1_790_000_000_000 + ms).expect("valid")
    }

    fn writer() -> Writer {
        Writer {
            officer: OfficerId::new("PC1").expect("valid"),
            role: Role::Officer,
            team: Some("A".into()),
        }
    }

    fn author() -> ChangeAuthor {
        ChangeAuthor {
            by: writer().officer,
            role: Role::Officer,
        }
    }

    fn refusal(rule: &str) -> Refusal {
        Refusal {
            rule: RefusalCode::parse(rule),
            message: "refused".into(),
            field: None,
            change: None,
        }
    }

    fn edit(doc: &mut RecordDoc, at: i64, f: impl FnOnce(&mut Record)) {
        let mut r = doc.hydrate().expect("record");
        f(&mut r);
        doc.update(&r, &author(), "edit", t(at)).expect("update");
    }

    fn issue_narrative(r: &Record) -> String {
        match r {
            Record::Issue(i) => i.narrative.clone(),
            _ => panic!("an issue"),
        }
    }

    #[test]
    fn set_path_creates_the_objects_on_the_way_and_replaces_what_is_there() {
        let mut v = json!({"a": {"b": 1}, "c": null});
        set_path(&mut v, "a.b", json!(2));
        set_path(&mut v, "c.d.e", json!("x"));
        set_path(&mut v, "f", json!([1]));
        assert_eq!(v, json!({"a": {"b": 2}, "c": {"d": {"e": "x"}}, "f": [1]}));
    }

    #[test]
    fn the_allowed_narrative_is_reapplied_and_a_forged_workflow_step_stays_in_quarantine() {
        let actor = ActorId::from(&[1u8; 16][..]);
        let record = Record::new(
            RecordKind::NeighbourhoodIssue,
            RecordId::generate(),
            writer().officer,
            t(0),
        );
        let mut doc = RecordDoc::create(&record, &actor, &author(), t(0)).expect("doc");
        let server = doc.heads();
        // One save: a narrative edit and an approval the officer may not give.
        edit(&mut doc, 1, |r| {
            if let Record::Issue(i) = r {
                i.narrative = "Typed at the scene.".into();
            }
            r.meta_mut().workflow.push(WorkflowEvent {
                action: WorkflowAction::Approved,
                by: writer().officer,
                role: Role::Officer,
                at: t(1),
                reason: None,
                heads: vec!["00".repeat(32)],
            });
        });
        let kept = keep_refused(
            &doc,
            Some(&server),
            &refusal("policy-supervisor-only"),
            &writer(),
            &actor,
            t(2),
        )
        .expect("kept");
        let live = kept.live.expect("rebuilt").hydrate().expect("record");
        assert_eq!(issue_narrative(&live), "Typed at the scene.");
        assert_eq!(workflow::status(&live.meta().workflow), Status::Draft);
        let refused: Vec<FieldDiff> = serde_json::from_str(&kept.entry.refused).expect("json");
        assert_eq!(
            refused.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
            vec!["meta.workflow"]
        );
        assert!(!kept.entry.removed);
        // The kept bytes are the refused state, whole.
        let back = RecordDoc::load(&kept.entry.document, &ActorId::random()).expect("loads");
        assert_eq!(
            back.hydrate().expect("record"),
            doc.hydrate().expect("record")
        );
    }

    #[test]
    fn nothing_is_reapplied_to_an_approved_server_version() {
        let actor = ActorId::from(&[1u8; 16][..]);
        let pc = User {
            officer: writer().officer,
            role: Role::Officer,
        };
        let ps = User {
            officer: OfficerId::new("PS1").expect("valid"),
            role: Role::Supervisor,
        };
        let record = Record::new(
            RecordKind::NeighbourhoodIssue,
            RecordId::generate(),
            pc.officer.clone(),
            t(0),
        );
        let mut doc = RecordDoc::create(&record, &actor, &author(), t(0)).expect("doc");
        edit(&mut doc, 1, |r| {
            workflow::submit(r, &pc, &[], t(1)).expect("submit")
        });
        let heads = doc.heads_hex();
        let mut approved = doc.hydrate().expect("record");
        workflow::approve(&mut approved, &ps, &[], heads, t(2)).expect("approve");
        let ps_author = ChangeAuthor {
            by: ps.officer.clone(),
            role: Role::Supervisor,
        };
        doc.update(&approved, &ps_author, "approve", t(2))
            .expect("approve");
        let server = doc.heads();
        edit(&mut doc, 3, |r| {
            if let Record::Issue(i) = r {
                i.narrative = "Changed after approval.".into();
                i.asb_type = Some("noise".into());
            }
        });
        let kept = keep_refused(
            &doc,
            Some(&server),
            &refusal("policy-approved-locked"),
            &writer(),
            &actor,
            t(4),
        )
        .expect("kept");
        let live = kept.live.expect("rebuilt");
        assert_eq!(live.heads(), server, "no change was written");
        let refused: Vec<FieldDiff> = serde_json::from_str(&kept.entry.refused).expect("json");
        let fields: Vec<&str> = refused.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, vec!["asb_type", "narrative"]);
        assert_eq!(refused[1].old, json!(""));
        assert_eq!(refused[1].new, json!("Changed after approval."));
    }

    #[test]
    fn a_refused_reapplied_change_is_not_reapplied_a_second_time() {
        let actor = ActorId::from(&[1u8; 16][..]);
        let record = Record::new(
            RecordKind::NeighbourhoodIssue,
            RecordId::generate(),
            writer().officer,
            t(0),
        );
        let mut doc = RecordDoc::create(&record, &actor, &author(), t(0)).expect("doc");
        let server = doc.heads();
        let mut edited = doc.hydrate().expect("record");
        if let Record::Issue(i) = &mut edited {
            i.narrative = "Re-applied once already.".into();
        }
        let refused = doc
            .update(&edited, &author(), REAPPLY, t(1))
            .expect("update")
            .expect("a change");
        let mut once_more = refusal("policy-edit-disagreement");
        once_more.change = Some(Hash::from(refused));
        let kept =
            keep_refused(&doc, Some(&server), &once_more, &writer(), &actor, t(2)).expect("kept");
        assert_eq!(
            kept.live.expect("rebuilt").heads(),
            server,
            "nothing re-applied"
        );
        let refused: Vec<FieldDiff> = serde_json::from_str(&kept.entry.refused).expect("json");
        assert_eq!(refused.len(), 1, "the narrative stays in the quarantine");
        // Any other refused change is re-applied as usual.
        let kept = keep_refused(
            &doc,
            Some(&server),
            &refusal("policy-edit-disagreement"),
            &writer(),
            &actor,
            t(2),
        )
        .expect("kept");
        assert_ne!(kept.live.expect("rebuilt").heads(), server);
    }

    #[test]
    fn a_record_the_server_never_held_is_kept_whole_and_not_rebuilt() {
        let actor = ActorId::from(&[1u8; 16][..]);
        let pcso = Writer {
            officer: OfficerId::new("PCSO7").expect("valid"),
            role: Role::Pcso,
            team: None,
        };
        let mut record = Record::new(
            RecordKind::StopSearch,
            RecordId::generate(),
            pcso.officer.clone(),
            t(0),
        );
        if let Record::StopSearch(s) = &mut record {
            s.grounds = Some("Saw him hide a knife in his waistband".into());
        }
        let by = ChangeAuthor {
            by: pcso.officer.clone(),
            role: Role::Pcso,
        };
        let doc = RecordDoc::create(&record, &actor, &by, t(0)).expect("doc");
        for heads in [None, Some(&[][..])] {
            let kept = keep_refused(
                &doc,
                heads,
                &refusal("policy-pcso-stop-search"),
                &pcso,
                &actor,
                t(1),
            )
            .expect("kept");
            assert!(kept.live.is_none() && kept.entry.removed);
            let refused: Vec<FieldDiff> = serde_json::from_str(&kept.entry.refused).expect("json");
            assert!(
                refused
                    .iter()
                    .any(|d| d.field == "grounds" && d.old.is_null()),
                "{refused:?}"
            );
            assert!(refused.iter().all(|d| !d.field.starts_with("meta")));
        }
    }
}
