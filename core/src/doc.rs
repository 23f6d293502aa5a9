//! One automerge document per record, and the mapping between it and the typed records.
//!
//! The mapping is driven by the records' serde derives: a record becomes a JSON tree, and the tree
//! is reconciled into the document by one generic, conflict-preserving walk (see
//! `docs/adr/0002-document-mapping.md` for why not autosurgeon's reconcile):
//!
//! - scalars are last-writer-wins registers, written **only when their value changed**; a field
//!   that holds concurrent values after a merge keeps them until a person chooses one
//!   ([`RecordDoc::resolve`]), so a later unrelated save never settles a legal conflict silently;
//! - free-text fields ([`crate::limits::NARRATIVE_FIELDS`]) are automerge text, edited by splices
//!   computed from a diff of its words, so two officers adding to one account both keep their
//!   words, none split by the other's;
//! - lists are diffed item by item, so concurrent additions (victims, workflow events) both stay;
//! - a coded value (an object with a `code`) whose code changes is replaced whole, so code and
//!   label can never come from two different writers; a legal object field (classification,
//!   recording decision, referral...) that changes at all is replaced whole, so a concurrent
//!   change or clear collides at its key and is reported;
//! - a cleared field is written as null, never deleted: a delete cannot be concurrent with a
//!   value, so a clear would lose (or win) silently.
//!
//! One save is one automerge change, committed with a message naming the officer, their role and
//! the action, and the device time in milliseconds. This module does no I/O.
//!
//! Bytes from elsewhere (a pushed change, a fed snapshot, an imported document) are read through
//! [`bounded`] first: [`RecordDoc::load_untrusted`] and [`RecordDoc::apply_untrusted_change`]
//! bound what automerge may inflate and count before it sees them, and turn an automerge panic
//! into an error. Reading a document never walks deeper than
//! [`crate::limits::MAX_NESTING_DEPTH`], so no document can exhaust the stack.
//!
//! **No panic leaves this boundary.** A document can load and still be inconsistent (changes
//! crafted so that they do not fit together: an actor's sequence with a gap in its ancestry, an
//! operation counter far ahead of its history), and automerge then panics deep inside a read, a
//! merge or an apply. Every call into automerge that can meet such a document runs under
//! [`guarded`], so the panic becomes [`DocError::Inconsistent`] and the caller drops the
//! document (the stored version stays the truth). The unguarded [`RecordDoc::history`],
//! [`RecordDoc::conflicts`], [`RecordDoc::conflict_count`], [`RecordDoc::to_json`] and
//! [`RecordDoc::save`] remain for documents known to be consistent (fixtures, a server that
//! round-trips what it accepts); the device reads through their `try_` twins.

pub mod bounded;
mod heads;
mod history;
pub mod lineage;
mod mapping;

pub use bounded::{Bounds, BoundsError};
pub use heads::{Heads, HeadsParseError};
pub use history::FieldChange;

use crate::domain::{OfficerId, Record, RecordKind, Role, Timestamp};
use automerge::{
    ActorId, Automerge, ChangeHash, LoadOptions, ReadDoc, TextEncoding, VerificationMode,
    transaction::CommitOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a document could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// The bytes are not an automerge document (or are truncated).
    #[error("not a Fieldbook document: {0}")]
    NotADocument(String),
    /// An automerge document, but not one of a Fieldbook record.
    #[error("the document is not a Fieldbook record: {0}")]
    NotARecord(String),
    /// Automerge refused an operation.
    #[error("document operation failed: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A save was based on a version this document does not hold.
    #[error("the record was read at a version this device does not hold: read it again")]
    UnknownVersion,
    /// A conflict resolution named a field that has no conflict.
    #[error("{0} holds no conflict to resolve")]
    NoConflict(String),
    /// Bytes from elsewhere were refused before (or while) automerge read them.
    #[error(transparent)]
    Bounds(#[from] BoundsError),
    /// Automerge failed (panicked) on this document: it loaded, but its changes do not fit
    /// together. Nothing was changed; the document must be dropped, never kept in memory.
    #[error(
        "the record's document is inconsistent: automerge failed while {0}; nothing was changed and other records are not affected: report the record id to your IT team"
    )]
    Inconsistent(&'static str),
}

/// Whether `doc` holds the change with `hash`. Reads the change graph only: automerge's
/// `get_change_by_hash` rebuilds the whole change from the operations, which made this question
/// a large part of applying a feed page.
pub fn holds_change(doc: &Automerge, hash: &ChangeHash) -> bool {
    doc.get_change_meta_by_hash(hash).is_some()
}

/// Runs `f`, an automerge call on a document that may be inconsistent: a panic inside it
/// becomes [`DocError::Inconsistent`] naming `what` was being done. The document `f` touched
/// must then be dropped (automerge may have been stopped half-way through changing it).
pub(crate) fn guarded<T>(what: &'static str, f: impl FnOnce() -> T) -> Result<T, DocError> {
    GUARDED.with(|depth| depth.set(depth.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|depth| depth.set(depth.get().saturating_sub(1)));
    result.map_err(|_| {
        tracing::warn!(what, "automerge panicked on an inconsistent document");
        DocError::Inconsistent(what)
    })
}

thread_local! {
    /// How many [`guarded`] calls the current thread is inside.
    static GUARDED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether the current thread is inside a guarded automerge call, whose panic becomes
/// [`DocError::Inconsistent`]. A program's panic hook can use it to keep such a panic out of
/// its output (the error says what happened) while still reporting every other panic.
pub fn in_guarded_call() -> bool {
    GUARDED.with(|depth| depth.get() > 0)
}

/// Who makes a change, written into every change's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeAuthor {
    /// The officer.
    pub by: OfficerId,
    /// Their role.
    pub role: Role,
}

/// The structured message of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMessage {
    /// The officer.
    pub by: OfficerId,
    /// Their role.
    pub role: Role,
    /// What the change does, e.g. "create", "edit", "submit".
    pub action: String,
}

impl ChangeMessage {
    /// Reads a change message; `None` for changes not written by Fieldbook.
    pub fn parse(message: Option<&str>) -> Option<ChangeMessage> {
        serde_json::from_str(message?).ok()
    }
}

/// A legally significant field holding concurrent different values after a merge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// Field path, e.g. `outcome` or `classification.category`.
    pub field: String,
    /// The value shown now (automerge's deterministic winner).
    pub current: Value,
    /// Every concurrent value, each with who wrote it.
    pub values: Vec<ConflictValue>,
}

/// One of the concurrent values of a conflicted field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictValue {
    /// The value.
    pub value: Value,
    /// The officer who wrote it, when known.
    pub by: Option<OfficerId>,
}

/// Legally significant field paths per kind: concurrent values here are conflicts for a person.
/// A path matches itself and everything below it.
pub fn legal_fields(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::CrimeReport => &[
            "classification",
            "outcome",
            "recording_decision",
            "reported_at",
            "occurred_from",
            "occurred_to",
            "victims",
            "victim_decision",
        ],
        RecordKind::StopSearch => &[
            "grounds",
            "authorisation_ref",
            "legislation",
            "object_of_search",
            "outcome",
            "outcome_linked_to_object_of_search",
            "detained_at",
            "searched_at",
            "removal_of_more_than_outer_clothing",
        ],
        RecordKind::VictimNeedsAssessment => &["crime_id", "victim_id", "referral", "assessed_at"],
        RecordKind::NeighbourhoodIssue => &["reported_at", "asb_type", "qualifier"],
        RecordKind::Person => &["date_of_birth"],
    }
}

/// A record's automerge document.
#[derive(Debug)]
pub struct RecordDoc {
    /// Boxed: an automerge document is several kilobytes inline, and a feed page moves many
    /// records through maps and the cache.
    doc: Box<Automerge>,
    /// Heads at the last save to storage; the next incremental save starts after these.
    saved_heads: Vec<ChangeHash>,
    /// The record as of `state_heads` (hydrated or last written), so reads and saves need not
    /// walk the document again while nothing else changed it.
    state: Option<State>,
}

#[derive(Debug, Clone)]
struct State {
    heads: Vec<ChangeHash>,
    json: Value,
    record: Record,
    /// Whether a value of the document has concurrent values: `Some(false)` when it was read
    /// and none had (so no conflict awaits), `None` when not known.
    conflicted: Option<bool>,
}

impl RecordDoc {
    /// A new document holding `record`, as one change by `author`.
    pub fn create(
        record: &Record,
        actor: &ActorId,
        author: &ChangeAuthor,
        at: Timestamp,
    ) -> Result<RecordDoc, DocError> {
        let doc =
            Automerge::new_with_encoding(TextEncoding::UnicodeCodePoint).with_actor(actor.clone());
        let mut this = RecordDoc {
            doc: Box::new(doc),
            saved_heads: Vec::new(),
            state: None,
        };
        this.update(record, author, "create", at)?;
        Ok(this)
    }

    /// Loads a document from saved bytes (whole or concatenated incremental chunks), writing as
    /// `actor` from now on. Refuses anything that is not a whole, valid automerge document.
    pub fn load(bytes: &[u8], actor: &ActorId) -> Result<RecordDoc, DocError> {
        RecordDoc::load_with(bytes, actor, VerificationMode::Check)
    }

    /// [`RecordDoc::load`] of bytes this store wrote itself: a device's saved chunks, each made
    /// by automerge's own save or verified when it arrived (a received snapshot is loaded with
    /// [`RecordDoc::load_untrusted`], a compaction is loaded back before it replaces anything),
    /// inside an encrypted store whose pages are authenticated. Their head hashes are not
    /// recomputed from every change, which is most of the cost of a load.
    pub fn load_stored(bytes: &[u8], actor: &ActorId) -> Result<RecordDoc, DocError> {
        RecordDoc::load_with(bytes, actor, VerificationMode::DontCheck)
    }

    /// [`RecordDoc::load_stored`] without reading the record: for a document about to change
    /// (a feed entry), which is read once, after the change. A document that loads but is no
    /// valid record shows it at that read.
    pub(crate) fn load_stored_unread(bytes: &[u8], actor: &ActorId) -> Result<RecordDoc, DocError> {
        RecordDoc::load_unread(bytes, actor, VerificationMode::DontCheck)
    }

    fn load_with(
        bytes: &[u8],
        actor: &ActorId,
        verification: VerificationMode,
    ) -> Result<RecordDoc, DocError> {
        let mut this = RecordDoc::load_unread(bytes, actor, verification)?;
        // Hydrating now refuses a document that is not a valid record, and remembers it.
        this.hydrate_cached()?;
        Ok(this)
    }

    fn load_unread(
        bytes: &[u8],
        actor: &ActorId,
        verification: VerificationMode,
    ) -> Result<RecordDoc, DocError> {
        let mut doc = guarded("loading it", || {
            Automerge::load_with_options(bytes, load_options().verification_mode(verification))
        })?
        .map_err(|e| DocError::NotADocument(e.to_string()))?;
        if doc.get_heads().is_empty() {
            return Err(DocError::NotADocument("the document has no changes".into()));
        }
        doc.set_actor(actor.clone());
        let saved_heads = doc.get_heads();
        Ok(RecordDoc {
            doc: Box::new(doc),
            saved_heads,
            state: None,
        })
    }

    /// [`RecordDoc::load`] for bytes from elsewhere (a fed snapshot, an imported file): the bytes
    /// are checked against `bounds` first ([`bounded::check_document`]), a panic inside
    /// automerge is an error ([`BoundsError::Panicked`]), not a crash, and no object its history
    /// ever made may nest deeper than [`crate::limits::MAX_NESTING_DEPTH`].
    pub fn load_untrusted(
        bytes: &[u8],
        actor: &ActorId,
        bounds: &Bounds,
    ) -> Result<RecordDoc, DocError> {
        bounded::check_document(bytes, bounds)?;
        // Every object its history ever made, deleted ones too, within the nesting bound: read
        // from a document chunk's columns before automerge loads it, or from the changes of
        // bytes that hold change chunks too.
        let documents_only = bounded::document_nesting(bytes, bounds)?;
        let doc = bounded::guarded(|| RecordDoc::load(bytes, actor))??;
        if !documents_only {
            let mut nesting = bounded::Nesting::default();
            for change in doc.doc.get_changes(&[]) {
                nesting.check(&change, |_| 0)?;
            }
        }
        Ok(doc)
    }

    /// Applies one change from elsewhere (a pushed or fed change chunk, compressed or not), read
    /// within `bounds` ([`bounded::read_change`]). Returns its hash. A change whose dependencies
    /// are missing waits in automerge's queue, as with [`RecordDoc::apply_changes`].
    ///
    /// If automerge panics while applying ([`BoundsError::Panicked`]), this document's state is
    /// unknown: drop it and load the record again (the stored version stays the truth).
    pub fn apply_untrusted_change(
        &mut self,
        bytes: &[u8],
        bounds: &Bounds,
    ) -> Result<ChangeHash, DocError> {
        let change = bounded::read_change(bytes, bounds)?;
        let hash = change.hash();
        // Objects made inside this document's objects nest from their depth here.
        let doc = &mut self.doc;
        bounded::Nesting::default().check(&change, |id| {
            doc.import(&format!("{}@{}", id.0, id.1))
                .ok()
                .and_then(|(obj, _)| doc.parents(&obj).ok())
                .map_or(0, |parents| parents.count())
        })?;
        bounded::guarded(|| doc.apply_changes(std::iter::once(change)))??;
        Ok(hash)
    }

    /// The kind of record this document holds.
    pub fn kind(&self) -> Result<RecordKind, DocError> {
        // A document hydrated on its current heads knows its kind (meta.kind) already.
        if let Some(state) = self.current_state() {
            return Ok(state.record.kind());
        }
        let json = guarded("reading its kind", || {
            mapping::read_path(&*self.doc, &["meta", "kind"], None)
        })?;
        let kind = json
            .as_ref()
            .and_then(Value::as_str)
            .ok_or_else(|| DocError::NotARecord("it has no meta.kind".into()))?;
        kind.parse().map_err(|_| {
            DocError::NotARecord(format!("unknown kind '{}'", crate::limits::preview(kind)))
        })
    }

    /// The document as a JSON tree (winning values of any conflicts). May panic on an
    /// inconsistent document: see [`RecordDoc::try_to_json`].
    pub fn to_json(&self) -> Value {
        mapping::read_doc(&*self.doc, None)
    }

    /// [`RecordDoc::to_json`], with automerge's panic on an inconsistent document as an error.
    pub fn try_to_json(&self) -> Result<Value, DocError> {
        guarded("reading it", || self.to_json())
    }

    /// The document as a typed record.
    pub fn hydrate(&self) -> Result<Record, DocError> {
        if let Some(state) = self.current_state() {
            return Ok(state.record.clone());
        }
        self.read_record().map(|(record, _)| record)
    }

    /// The record read from the document, and whether any value read had concurrent values.
    fn read_record(&self) -> Result<(Record, bool), DocError> {
        let kind = self.kind()?;
        let (json, conflicted) = guarded("reading it", || {
            mapping::read_doc_noting_conflicts(&*self.doc)
        })?;
        let record = Record::from_json(kind, json)
            .map_err(|e| DocError::NotARecord(crate::limits::redact_quoted(&e.to_string())))?;
        Ok((record, conflicted))
    }

    /// [`RecordDoc::hydrate`], remembering the result until the document changes.
    pub fn hydrate_cached(&mut self) -> Result<Record, DocError> {
        Ok(self.hydrated()?.0.clone())
    }

    /// The record on the current heads and its JSON, read now unless remembered (without the
    /// copy [`RecordDoc::hydrate_cached`] hands out).
    pub fn hydrated(&mut self) -> Result<(&Record, &Value), DocError> {
        if self.current_state().is_none() {
            let (record, conflicted) = self.read_record()?;
            self.state = Some(State {
                heads: self.doc.get_heads(),
                json: record.to_json(),
                record,
                conflicted: Some(conflicted),
            });
        }
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| DocError::NotARecord("it was not read".into()))?;
        Ok((&state.record, &state.json))
    }

    /// The current version was read and no value of it had concurrent values.
    fn known_unconflicted(&self) -> bool {
        self.current_state().and_then(|s| s.conflicted) == Some(false)
    }

    fn current_state(&self) -> Option<&State> {
        self.state
            .as_ref()
            .filter(|s| s.heads == self.doc.get_heads())
    }

    /// The record as it was at `heads`.
    pub fn hydrate_at(&self, heads: &[ChangeHash]) -> Result<Record, DocError> {
        let kind = self.kind()?;
        let json = guarded("reading an earlier version", || {
            mapping::read_doc(&*self.doc, Some(heads))
        })?;
        Record::from_json(kind, json)
            .map_err(|e| DocError::NotARecord(crate::limits::redact_quoted(&e.to_string())))
    }

    /// Writes `record` into the document as one change (no change when nothing differs).
    /// Returns the new change's hash.
    pub fn update(
        &mut self,
        record: &Record,
        author: &ChangeAuthor,
        action: &str,
        at: Timestamp,
    ) -> Result<Option<ChangeHash>, DocError> {
        let json = record.to_json();
        let Value::Object(map) = &json else {
            return Err(DocError::NotARecord(
                "a record must be a JSON object".into(),
            ));
        };
        let whole = legal_fields(record.kind());
        // Diff against the remembered state when it is current: only changed fields are read.
        let current = self.current_state();
        let old = current.and_then(|s| s.json.as_object().cloned());
        // A change on every head makes no concurrent value: none before, none after.
        let conflicted = current.and_then(|s| s.conflicted).filter(|c| !c);
        let options = commit_options(author, action, at);
        let doc = &mut self.doc;
        let hash = guarded("writing a change", || {
            let mut tx = doc.transaction();
            mapping::reconcile_map(&mut tx, &automerge::ROOT, old.as_ref(), map, "", whole)?;
            Ok::<_, DocError>(tx.commit_with(options).0)
        })??;
        // The document now shows exactly `record`.
        self.state = Some(State {
            heads: self.doc.get_heads(),
            json,
            record: record.clone(),
            conflicted,
        });
        Ok(hash)
    }

    /// Writes `record` as one change made on top of `base` heads: the version its author read.
    /// Changes merged since then are kept (they are concurrent with this one), where
    /// [`RecordDoc::update`] would write over them.
    pub fn update_at(
        &mut self,
        record: &Record,
        base: &[ChangeHash],
        author: &ChangeAuthor,
        action: &str,
        at: Timestamp,
    ) -> Result<Option<ChangeHash>, DocError> {
        if base == self.doc.get_heads().as_slice() {
            return self.update(record, author, action, at);
        }
        if base.iter().any(|h| !holds_change(&self.doc, h)) {
            return Err(DocError::UnknownVersion);
        }
        let json = record.to_json();
        let Value::Object(map) = &json else {
            return Err(DocError::NotARecord(
                "a record must be a JSON object".into(),
            ));
        };
        let whole = legal_fields(record.kind());
        let options = commit_options(author, action, at);
        let doc = &mut self.doc;
        guarded("writing a change on an earlier version", || {
            let mut tx = doc
                .transaction_at(automerge::PatchLog::inactive(), base)
                .map_err(|_| DocError::UnknownVersion)?;
            mapping::reconcile_map(&mut tx, &automerge::ROOT, None, map, "", whole)?;
            Ok(tx.commit_with(options).0)
        })?
    }

    /// Chooses `value` for a conflicted field, as one change. Only fields with concurrent values
    /// can be resolved this way.
    pub fn resolve(
        &mut self,
        field: &str,
        value: &Value,
        author: &ChangeAuthor,
        at: Timestamp,
    ) -> Result<ChangeHash, DocError> {
        let options = commit_options(author, "resolve-conflict", at);
        let doc = &mut *self.doc;
        guarded("resolving a conflict", || {
            let (obj, key) = mapping::locate(doc, field)
                .ok_or_else(|| DocError::NoConflict(field.to_owned()))?;
            if doc.get_all(&obj, key.as_str())?.len() < 2 {
                return Err(DocError::NoConflict(field.to_owned()));
            }
            let mut tx = doc.transaction();
            mapping::put_value(&mut tx, &obj, &key, value, key.as_str())?;
            tx.commit_with(options)
                .0
                .ok_or_else(|| DocError::NoConflict(field.to_owned()))
        })?
    }

    /// [`RecordDoc::conflicts`], with automerge's panic on an inconsistent document as an
    /// error.
    pub fn try_conflicts(&self) -> Result<Vec<Conflict>, DocError> {
        guarded("reading its conflicts", || self.conflicts())
    }

    /// Legal fields holding concurrent different values, each value with the officer who wrote
    /// it. Walks the current state only; the change history is read only if a conflict exists.
    /// May panic on an inconsistent document: see [`RecordDoc::try_conflicts`].
    pub fn conflicts(&self) -> Vec<Conflict> {
        if self.known_unconflicted() {
            return Vec::new();
        }
        let Ok(kind) = self.kind() else {
            return Vec::new();
        };
        let mut officers = None;
        let mut authors = |actor: &ActorId| {
            officers
                .get_or_insert_with(|| history::actor_officers(&self.doc))
                .get(actor)
                .cloned()
        };
        mapping::conflicts(&*self.doc, legal_fields(kind), &mut authors)
    }

    /// [`RecordDoc::conflict_count`], with automerge's panic on an inconsistent document as an
    /// error.
    pub fn try_conflict_count(&self) -> Result<usize, DocError> {
        guarded("counting its conflicts", || self.conflict_count())
    }

    /// How many legal conflicts await resolution (cheap: no history is read). May panic on an
    /// inconsistent document: see [`RecordDoc::try_conflict_count`].
    pub fn conflict_count(&self) -> usize {
        if self.known_unconflicted() {
            return 0;
        }
        let Ok(kind) = self.kind() else {
            return 0;
        };
        mapping::conflicts(&*self.doc, legal_fields(kind), &mut |_| None).len()
    }

    /// Field-level history: who changed what, when, from what to what. May panic on an
    /// inconsistent document: see [`RecordDoc::try_history`].
    pub fn history(&self) -> Vec<FieldChange> {
        history::field_changes(&self.doc)
    }

    /// [`RecordDoc::history`], with automerge's panic on an inconsistent document as an error.
    pub fn try_history(&self) -> Result<Vec<FieldChange>, DocError> {
        guarded("reading its history", || self.history())
    }

    /// Merges another replica of the same record into this one. On an error this document must
    /// be dropped: it may hold part of the other.
    pub fn merge(&mut self, other: &mut RecordDoc) -> Result<(), DocError> {
        let (doc, theirs) = (&mut *self.doc, &mut other.doc);
        guarded("merging another copy into it", || doc.merge(theirs))??;
        Ok(())
    }

    /// Applies changes received from elsewhere (raw change bytes, e.g. from sync). On an error
    /// this document must be dropped: it may hold some of the changes.
    pub fn apply_changes(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        let doc = &mut self.doc;
        guarded("applying received changes", || doc.load_incremental(bytes))?
            .map_err(|e| DocError::NotADocument(e.to_string()))?;
        Ok(())
    }

    /// Applies changes read with [`bounded::read_change`] (and checked: see [`lineage`]) to this
    /// document, within the nesting bound ([`bounded::apply_changes`]). After an error the
    /// document's state is unknown: drop it.
    pub fn apply(&mut self, changes: Vec<automerge::Change>) -> Result<(), DocError> {
        bounded::apply_changes(&mut self.doc, changes)?;
        Ok(())
    }

    /// Bytes for storage since the last save: an incremental chunk, or `None` if nothing changed.
    pub fn save_incremental(&mut self) -> Option<Vec<u8>> {
        let heads = self.doc.get_heads();
        if heads == self.saved_heads {
            return None;
        }
        let bytes = self.doc.save_after(&self.saved_heads);
        self.saved_heads = heads;
        Some(bytes)
    }

    /// [`RecordDoc::save_incremental`], with automerge's panic on an inconsistent document as
    /// an error (nothing is then marked saved).
    pub fn try_save_incremental(&mut self) -> Result<Option<Vec<u8>>, DocError> {
        let heads = self.doc.get_heads();
        if heads == self.saved_heads {
            return Ok(None);
        }
        let (doc, saved) = (&*self.doc, &self.saved_heads);
        let bytes = guarded("saving its latest changes", || doc.save_after(saved))?;
        self.saved_heads = heads;
        Ok(Some(bytes))
    }

    /// The whole document, compacted. May panic on an inconsistent document, and its bytes may
    /// then not load: see [`RecordDoc::try_save`] and [`RecordDoc::save_compacted`].
    pub fn save(&mut self) -> Vec<u8> {
        self.saved_heads = self.doc.get_heads();
        self.doc.save()
    }

    /// [`RecordDoc::save`], with automerge's panic on an inconsistent document as an error
    /// (nothing is then marked saved). The bytes are not loaded back: a document that was just
    /// loaded whole, or created here, saves to bytes that load.
    pub fn try_save(&mut self) -> Result<Vec<u8>, DocError> {
        let heads = self.doc.get_heads();
        let doc = &self.doc;
        let bytes = guarded("saving it whole", || doc.save())?;
        self.saved_heads = heads;
        Ok(bytes)
    }

    /// The whole document compacted into one chunk, checked: the bytes are loaded back, as the
    /// next load from the store would load them, and must give the same heads. A document whose
    /// changes do not fit together can be stored as incremental chunks that load, yet compact
    /// into bytes that do not (automerge's "missing ops"); then this is an error, nothing is
    /// marked saved, and [`RecordDoc::try_save_incremental`] still gives the chunk to append.
    /// Costs a whole load: for compaction, not for every save.
    pub fn save_compacted(&mut self) -> Result<Vec<u8>, DocError> {
        let heads = self.doc.get_heads();
        let doc = &self.doc;
        let bytes = guarded("compacting it", || doc.save())?;
        let reloaded = guarded("loading it back after compacting it", || {
            Automerge::load_with_options(&bytes, load_options())
        })?
        .map_err(|e| DocError::NotADocument(e.to_string()))?;
        if reloaded.get_heads() != heads {
            return Err(DocError::NotADocument(
                "the compacted document loads with other heads".into(),
            ));
        }
        self.saved_heads = heads;
        Ok(bytes)
    }

    /// True when nothing changed the document since it was loaded or last saved.
    pub fn is_saved(&self) -> bool {
        self.doc.get_heads() == self.saved_heads
    }

    /// Heads at the last save to storage (or load), concatenated: what the store holds.
    pub fn saved_heads_bytes(&self) -> Vec<u8> {
        Heads::from(self.saved_heads.as_slice()).to_bytes()
    }

    /// Current heads.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Current heads as concatenated 32-byte hashes (the form storage keeps).
    pub fn heads_bytes(&self) -> Vec<u8> {
        self.version().to_bytes()
    }

    /// Current heads as a [`Heads`] version.
    pub fn version(&self) -> Heads {
        Heads::new(self.doc.get_heads())
    }

    /// Current heads as hex strings (the form workflow events keep).
    pub fn heads_hex(&self) -> Vec<String> {
        self.version().to_hex()
    }

    /// The underlying automerge document (read only).
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// A second replica of this document writing as `actor` (tests and sync simulations).
    pub fn fork_as(&self, actor: &ActorId) -> RecordDoc {
        let doc = self.doc.fork().with_actor(actor.clone());
        let saved_heads = doc.get_heads();
        RecordDoc {
            doc: Box::new(doc),
            saved_heads,
            state: None,
        }
    }

    /// A replica of this document as it was at `heads` (which it must hold), writing as `actor`:
    /// the changes after those heads are not in it. Nothing of it is saved yet.
    pub fn fork_at(&self, heads: &[ChangeHash], actor: &ActorId) -> Result<RecordDoc, DocError> {
        let doc = guarded("copying an earlier version", || self.doc.fork_at(heads))??
            .with_actor(actor.clone());
        let mut this = RecordDoc {
            doc: Box::new(doc),
            saved_heads: Vec::new(),
            state: None,
        };
        this.hydrate_cached()?;
        Ok(this)
    }

    /// Number of changes in the document's history.
    pub fn change_count(&self) -> usize {
        self.doc.get_changes(&[]).len()
    }
}

/// How every stored or received document is loaded: whole or not at all, text as code points.
fn load_options() -> LoadOptions<'static> {
    LoadOptions::new()
        .on_partial_load(automerge::OnPartialLoad::Error)
        .text_encoding(TextEncoding::UnicodeCodePoint)
}

fn commit_options(author: &ChangeAuthor, action: &str, at: Timestamp) -> CommitOptions {
    let message = ChangeMessage {
        by: author.by.clone(),
        role: author.role,
        action: action.to_owned(),
    };
    CommitOptions::default()
        .with_message(serde_json::to_string(&message).unwrap_or_default())
        .with_time(at.millis())
}

/// The record a plain automerge document holds at `heads` (the server checks each pushed
/// change against the record as of the change's dependencies).
pub fn record_at(doc: &Automerge, heads: &[ChangeHash]) -> Result<Record, DocError> {
    let (kind, json) = guarded("reading an earlier version", || {
        (
            mapping::read_path(doc, &["meta", "kind"], Some(heads)),
            mapping::read_doc(doc, Some(heads)),
        )
    })?;
    let kind = kind
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|k| k.parse::<RecordKind>().ok())
        .ok_or_else(|| DocError::NotARecord("it has no known meta.kind at that version".into()))?;
    Record::from_json(kind, json)
        .map_err(|e| DocError::NotARecord(crate::limits::redact_quoted(&e.to_string())))
}

/// A fresh random actor id for a new device install.
pub fn new_actor() -> ActorId {
    ActorId::from(uuid::Uuid::new_v4().as_bytes().as_slice())
}

/// Used only by the mapping to decide which strings are automerge text.
fn is_text_field(key: &str) -> bool {
    crate::limits::NARRATIVE_FIELDS.contains(&key)
}

#[cfg(test)]
mod tests;
