//! Trust: every check one record's pushed changes must pass before any of them enters the
//! server's history. A refused push stores nothing of that record (no accept-then-revert).
//!
//! In order (`docs/sync-protocol.md`, "Checks", is the reference):
//!
//! 1. **Bytes.** Each change is read bounded (no inflating past the limit, no more operations
//!    than one honest save can make); automerge never sees unbounded bytes, and a panic while
//!    reading is a refusal (`malformed-change`), never a crash.
//! 2. **Identity.** Every new change is written by an actor bound to the pushing device
//!    (`actor-not-bound`) and names the device's officer and role (`author-not-device-officer`).
//! 3. **Lineage** ([`fieldbook_core::doc::lineage`]): no gap in an actor's sequence, operation
//!    counters after the history, and no operation naming one outside the history the change
//!    declares (`history-*`). Dependencies the server lacks: `MissingDependencies`.
//! 4. **A record.** With the changes applied, the document is still a record of the pushed kind
//!    and id (`kind-mismatch`, `record-mismatch`, `not-a-record`), within the size limits the
//!    device keeps (`over-limits`), by a writer who may touch it (`author-changed`,
//!    `not-permitted`).
//! 5. **Policy, against the server's current record.** The changes are applied one at a time, in
//!    causal order, on top of the server's current version, and each step is judged by the write
//!    policy ([`fieldbook_core::workflow::policy`]) against the record as the server holds it at
//!    that step: a change whose declared dependencies are older than the server's version cannot
//!    reach past a lock or a workflow event by claiming an earlier past. A change whose
//!    dependencies are not the server's version is also judged as its author saw it (the record
//!    at its dependencies): both must allow it. An approval must pin heads of the record that it
//!    depends on (`approval-heads-unknown`).
//! 6. **Round trip.** The document with the changes saves and loads again with the same heads,
//!    within the document size limit (`history-unloadable`, `over-limits`), so no device
//!    receiving it can fail to read it.

use crate::documents::CachedDoc;
use crate::store::Officer;
use automerge::{ActorId, Automerge, Change, ChangeHash};
use fieldbook_core::doc::bounded::{self, Bounds};
use fieldbook_core::doc::lineage::{Admission, Lineage};
use fieldbook_core::doc::{ChangeMessage, RecordDoc, record_at};
use fieldbook_core::domain::{Record, Role, WorkflowAction};
use fieldbook_core::limits;
use fieldbook_core::sync::wire::{Hash, PushOutcome, RecordPush, RefusalCode};
use fieldbook_core::workflow::policy::{self, Writer};
use std::collections::{BTreeSet, HashSet};

/// What a record push is checked with, besides its bytes.
#[derive(Debug)]
pub(crate) struct PushContext<'a> {
    /// Actors bound to the pushing device.
    pub bound: &'a HashSet<ActorId>,
    /// The device's officer.
    pub writer: &'a Officer,
    /// The server's own actor (its loaded documents write as it; it never writes).
    pub actor: &'a ActorId,
    /// The team of the record's author (the writer's own for a new record); `None` turns the
    /// policy off (only to measure its cost).
    pub policy: Option<Option<&'a str>>,
    /// Operations the request may still carry (`wire::MAX_PUSH_OPERATIONS` in all).
    pub operations_left: usize,
}

/// A record push that passed every check.
#[derive(Debug)]
pub(crate) struct NewRecord {
    /// The server's document with the new changes.
    pub doc: RecordDoc,
    /// The new changes, in causal order.
    pub changes: Vec<Change>,
    /// The document as a record.
    pub record: Record,
    /// The document's lineage with the new changes.
    pub lineage: Lineage,
    /// `Automerge::save` of the document, as checked to load again.
    pub saved: Vec<u8>,
}

/// The result of checking one record's pushed changes against the server's document.
#[derive(Debug)]
pub(crate) enum Checked {
    /// Every change is already in the server's history.
    Known,
    /// New changes that pass every check.
    New(Box<NewRecord>),
    /// Refused or waiting for dependencies; nothing to store.
    Refused(PushOutcome),
    /// The push holds more operations (this many) than the request may still carry: the
    /// request as a whole is refused.
    OverBudget(usize),
}

fn refused(rule: RefusalCode, message: impl Into<String>, change: Option<ChangeHash>) -> Checked {
    Checked::Refused(rejected(rule, message, change, None))
}

fn rejected(
    rule: RefusalCode,
    message: impl Into<String>,
    change: Option<ChangeHash>,
    field: Option<String>,
) -> PushOutcome {
    PushOutcome::Rejected {
        rule,
        message: message.into(),
        change: change.map(Hash::from),
        field,
    }
}

/// Checks one record push against `base`, the server's current document of the record (None:
/// the server does not hold it). A panic anywhere in reading or applying the changes is a
/// refusal of this record (`malformed-change`), never of the request.
pub(crate) fn check_push(
    base: Option<&CachedDoc>,
    push: &RecordPush,
    ctx: &PushContext<'_>,
) -> Checked {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(base, push, ctx))) {
        Ok(checked) => checked,
        Err(_) => {
            tracing::error!(record = %push.record, "checking a pushed record panicked; refused");
            refused(
                RefusalCode::MalformedChange,
                "the changes could not be read: push them again from the device's document",
                None,
            )
        }
    }
}

/// Reads one pushed change, bounded ([`bounded::read_change`]): the refusal's rule and message
/// when it may not be read. Bytes that are not a whole change are `malformed-change` (the device
/// may push them again whole); a change beyond a bound is refused under the bound's own code.
fn read_change(bytes: &[u8]) -> Result<Change, (RefusalCode, String)> {
    bounded::read_change(bytes, &Bounds::RECORD).map_err(|e| {
        let rule = if e.is_malformed() {
            RefusalCode::MalformedChange
        } else {
            RefusalCode::parse(e.code())
        };
        (rule, e.to_string())
    })
}

fn check(base: Option<&CachedDoc>, push: &RecordPush, ctx: &PushContext<'_>) -> Checked {
    // 1. Bytes.
    let mut decoded = Vec::with_capacity(push.changes.len());
    let mut operations = 0usize;
    for (i, bytes) in push.changes.iter().enumerate() {
        match read_change(&bytes.0) {
            Ok(c) => {
                operations += c.len();
                decoded.push(c);
            }
            Err((rule, message)) => {
                return refused(rule, format!("change {i}: {message}"), None);
            }
        }
    }
    if operations > ctx.operations_left {
        return Checked::OverBudget(operations);
    }
    let mut seen = HashSet::new();
    let unknown: Vec<Change> = decoded
        .into_iter()
        .filter(|c| seen.insert(c.hash()))
        .filter(|c| {
            base.is_none_or(|b| {
                b.doc
                    .automerge()
                    .get_change_meta_by_hash(&c.hash())
                    .is_none()
            })
        })
        .collect();
    if unknown.is_empty() {
        return match base {
            Some(_) => Checked::Known,
            None => refused(
                RefusalCode::NotARecord,
                "the server does not hold this record and the push carries no change: push all of its changes",
                None,
            ),
        };
    }
    // 2. Identity.
    if let Some(c) = unknown.iter().find(|c| !ctx.bound.contains(c.actor_id())) {
        return refused(
            RefusalCode::ActorNotBound,
            "a change was written by an actor that is not enrolled to this device: write with the device's enrolled actor",
            Some(c.hash()),
        );
    }
    // Every new change names the device's own officer and role, so history's "who" cannot be
    // forged by a device for someone else.
    if let Some(c) = unknown.iter().find(|c| {
        !ChangeMessage::parse(c.message())
            .is_some_and(|m| m.by == ctx.writer.id && m.role == ctx.writer.role)
    }) {
        return refused(
            RefusalCode::AuthorNotDeviceOfficer,
            "a change names another officer or role than the one enrolled on this device: write with the device's own user",
            Some(c.hash()),
        );
    }
    if let Some(b) = base
        && b.kind != push.kind
    {
        return refused(
            RefusalCode::KindMismatch,
            format!(
                "the server holds this record as a {}, not a {}",
                b.kind.label(),
                push.kind.label()
            ),
            None,
        );
    }
    // 3. Lineage.
    let mut lineage = match base {
        Some(b) => match &b.lineage {
            Ok(l) => l.clone(),
            Err(e) => return refused(RefusalCode::parse(e.rule()), e.to_string(), None),
        },
        None => Lineage::new(),
    };
    let changes = match lineage.admit(base.map(|b| b.doc.automerge()), unknown) {
        Ok(Admission::Admitted(changes)) => changes,
        Ok(Admission::MissingDependencies(missing)) => {
            return Checked::Refused(PushOutcome::MissingDependencies {
                missing: missing.into_iter().map(Hash::from).collect(),
            });
        }
        Err(e) => {
            return refused(RefusalCode::parse(e.rule()), e.to_string(), e.change());
        }
    };
    // 4. A record.
    let (doc, saved) = match base {
        Some(b) => {
            let mut fork = b.doc.fork_as(ctx.actor);
            if fork.apply(changes.clone()).is_err() {
                return refused(
                    RefusalCode::MalformedChange,
                    "the changes could not be applied: push them again from the device's document",
                    None,
                );
            }
            (fork, None)
        }
        None => {
            let mut plain = Automerge::new();
            if bounded::apply_changes(&mut plain, changes.clone()).is_err() {
                return refused(
                    RefusalCode::MalformedChange,
                    "the changes could not be applied: push them again from the device's document",
                    None,
                );
            }
            let saved = plain.save();
            match RecordDoc::load(&saved, ctx.actor) {
                Ok(doc) => (doc, Some(saved)),
                Err(_) => {
                    return refused(
                        RefusalCode::NotARecord,
                        "these changes do not create a Fieldbook record: push the record's first change with the rest",
                        None,
                    );
                }
            }
        }
    };
    let record = match doc.hydrate() {
        Ok(r) => r,
        Err(_) => {
            return refused(
                RefusalCode::NotARecord,
                "with these changes the document is no longer a valid record: rebuild the record from the server's version",
                None,
            );
        }
    };
    if record.kind() != push.kind {
        return refused(
            RefusalCode::KindMismatch,
            format!(
                "the document holds a {}, not a {}",
                record.kind().label(),
                push.kind.label()
            ),
            None,
        );
    }
    if record.id() != push.record {
        return refused(
            RefusalCode::RecordMismatch,
            "the document holds another record's id: push each record under its own id",
            None,
        );
    }
    if let Err(fieldbook_core::Invalid { field, message, .. }) = limits::check(&record.to_json()) {
        return Checked::Refused(rejected(
            RefusalCode::OverLimits,
            format!("{field} {message}"),
            None,
            Some(field),
        ));
    }
    let before = match base.map(|b| b.doc.hydrate()).transpose() {
        Ok(before) => before,
        Err(_) => {
            return refused(
                RefusalCode::NotARecord,
                "the server's copy of this record cannot be read",
                None,
            );
        }
    };
    if let Some(outcome) = check_writer(before.as_ref(), &record, ctx.writer) {
        return Checked::Refused(outcome);
    }
    // 5. Policy.
    if let Some(author_team) = ctx.policy {
        let team = if base.is_none() {
            ctx.writer.team.as_deref()
        } else {
            author_team
        };
        let base_heads = base.map(|b| b.doc.heads()).unwrap_or_default();
        if let Err(outcome) = check_policy(
            doc.automerge(),
            before.as_ref(),
            &base_heads,
            &changes,
            ctx.writer,
            team,
        ) {
            return Checked::Refused(outcome);
        }
    }
    // 6. Round trip (a new record's document was built by loading its save: done).
    let loaded_from_save = saved.is_some();
    let saved = match saved {
        Some(s) => s,
        None => doc.automerge().save(),
    };
    if saved.len() > limits::MAX_DOCUMENT_BYTES {
        return Checked::Refused(rejected(
            RefusalCode::OverLimits,
            format!(
                "with these changes the record's document is {} bytes; at most {} are kept",
                saved.len(),
                limits::MAX_DOCUMENT_BYTES
            ),
            None,
            None,
        ));
    }
    if !loaded_from_save && !round_trips(&saved, &doc.heads()) {
        tracing::warn!(record = %push.record, "a push would leave a document that does not load again; refused");
        return refused(
            RefusalCode::HistoryUnloadable,
            "with these changes the record's history no longer saves and loads: rebuild the record from the server's version",
            None,
        );
    }
    Checked::New(Box::new(NewRecord {
        doc,
        changes,
        record,
        lineage,
        saved,
    }))
}

/// The changes a repair message carries, as raw change chunks for [`check_push`]. Automerge's
/// sync messages carry change chunks (one per item in version 1, concatenated in version 2) or,
/// when a peer sends everything, a whole saved document: its changes are taken out of it (the
/// document is read bounded first). Bundles are refused.
pub(crate) fn repair_changes(items: &[&[u8]]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut out = Vec::new();
    for item in items {
        let mut rest: &[u8] = item;
        while !rest.is_empty() {
            let (kind, len) = chunk_header(rest).ok_or("a change in the message is truncated")?;
            let (chunk, tail) = rest.split_at(len);
            rest = tail;
            match kind {
                1 | 2 => out.push(chunk.to_vec()),
                0 => {
                    if chunk.len() > limits::MAX_DOCUMENT_BYTES {
                        return Err("a document in the message is over the size limit");
                    }
                    let doc = std::panic::catch_unwind(|| Automerge::load(chunk))
                        .ok()
                        .and_then(Result::ok)
                        .ok_or("a document in the message does not load")?;
                    out.extend(doc.get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()));
                }
                _ => return Err("the message carries a kind of chunk this server does not take"),
            }
        }
    }
    Ok(out)
}

/// The type byte and whole length of the automerge chunk at the start of `bytes`.
fn chunk_header(bytes: &[u8]) -> Option<(u8, usize)> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    if bytes.get(..4)? != MAGIC {
        return None;
    }
    let kind = *bytes.get(8)?;
    let mut len: u64 = 0;
    let mut at = 9;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(at)?;
        at += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            let total = at.checked_add(usize::try_from(len).ok()?)?;
            return (total <= bytes.len()).then_some((kind, total));
        }
    }
    None
}

/// Whether `saved` loads again as a document with exactly `heads`.
fn round_trips(saved: &[u8], heads: &[ChangeHash]) -> bool {
    let options = automerge::LoadOptions::new()
        .on_partial_load(automerge::OnPartialLoad::Error)
        .text_encoding(automerge::TextEncoding::UnicodeCodePoint);
    Automerge::load_with_options(saved, options).is_ok_and(|d| d.get_heads() == heads)
}

/// Who may write a record at all: a new record is the device officer's own; an existing one is
/// written by its author, an attending officer, a supervisor, or (for a person's details) any
/// officer; nobody changes its author. Field-level policy by role and workflow state is checked
/// on top of this.
fn check_writer(before: Option<&Record>, record: &Record, writer: &Officer) -> Option<PushOutcome> {
    let refusal = |rule: RefusalCode, message: &str| {
        rejected(rule, message, None, Some("meta.author".to_owned()))
    };
    let Some(before) = before else {
        return (record.meta().author != writer.id).then(|| {
            refusal(
                RefusalCode::AuthorMismatch,
                "a new record must be authored by the officer enrolled on this device",
            )
        });
    };
    if before.meta().author != record.meta().author {
        return Some(refusal(
            RefusalCode::AuthorChanged,
            "a record's author never changes",
        ));
    }
    let may_write = before.meta().author == writer.id
        || before.attending_officers().contains(&writer.id)
        || before.kind().profile().shared
        || writer.role == Role::Supervisor;
    (!may_write).then(|| {
        refusal(
            RefusalCode::NotPermitted,
            "this device's officer neither wrote nor attends this record: ask its author to add them as attending",
        )
    })
}

/// Step 5 of the module header: `changes` (new, in causal order, applied in `doc`) one at a
/// time on top of the server's version (`base`, at `base_heads`), each judged against the record
/// as the server holds it at that step, and, when its dependencies are not that version, also
/// against the record at its dependencies. `author_team` is the record author's team.
fn check_policy(
    doc: &Automerge,
    base: Option<&Record>,
    base_heads: &[ChangeHash],
    changes: &[Change],
    writer: &Officer,
    author_team: Option<&str>,
) -> Result<(), PushOutcome> {
    let who = Writer {
        officer: writer.id.clone(),
        role: writer.role,
        team: writer.team.clone(),
    };
    let mut heads: BTreeSet<ChangeHash> = base_heads.iter().copied().collect();
    let mut current: Option<Record> = base.cloned();
    for change in changes {
        let deps: BTreeSet<ChangeHash> = change.deps().iter().copied().collect();
        let on_current = deps == heads;
        for d in change.deps() {
            heads.remove(d);
        }
        heads.insert(change.hash());
        let at: Vec<ChangeHash> = heads.iter().copied().collect();
        let after = record_at(doc, &at).map_err(|_| unreadable(change))?;
        judge(current.as_ref(), &after, &who, author_team, change)?;
        if on_current {
            if let Some(before) = &current {
                check_approval_heads(doc, change, before, &after)?;
            }
        } else {
            // As its author saw it.
            let before = match change.deps() {
                [] => None,
                deps => Some(record_at(doc, deps).map_err(|_| unreadable(change))?),
            };
            let own = record_at(doc, &[change.hash()]).map_err(|_| unreadable(change))?;
            judge(before.as_ref(), &own, &who, author_team, change)?;
            if let Some(before) = &before {
                check_approval_heads(doc, change, before, &own)?;
            }
        }
        current = Some(after);
    }
    Ok(())
}

fn judge(
    before: Option<&Record>,
    after: &Record,
    who: &Writer,
    author_team: Option<&str>,
    change: &Change,
) -> Result<(), PushOutcome> {
    match policy::check_change(before, after, who, author_team)
        .into_iter()
        .next()
    {
        None => Ok(()),
        Some(v) => Err(rejected(
            RefusalCode::parse(&v.rule),
            v.message,
            Some(change.hash()),
            Some(v.field),
        )),
    }
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
            .is_ok_and(|h| doc.get_change_meta_by_hash(&h).is_some() && !unseen.contains(&h))
    };
    if event.heads.iter().all(known) {
        return Ok(());
    }
    Err(rejected(
        RefusalCode::ApprovalHeadsUnknown,
        "the approval pins a version this record never had before it: approve the version you read, after syncing",
        Some(change.hash()),
        Some("meta.workflow".into()),
    ))
}

fn unreadable(change: &Change) -> PushOutcome {
    rejected(
        RefusalCode::NotARecord,
        "with this change the document is not a valid record: rebuild the record from the server's version",
        Some(change.hash()),
        None,
    )
}
