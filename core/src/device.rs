//! [`Device`]: one enrolled user's records on one phone (or the headless CLI device).
//!
//! Ties the pieces together: typed records in, rules checked, one automerge change per save,
//! the change and the refreshed projection written in one durable SQLite transaction, a small LRU
//! of loaded documents. Every method that returns has either stored its work durably or changed
//! nothing. Reads of personal data (person records) are written to the access log.

use crate::clock::Clock;
use crate::doc::{ChangeAuthor, Conflict, DocError, FieldChange, RecordDoc};
use crate::domain::{OfficerId, Record, RecordId, RecordKind, Role, Status, Timestamp};
use crate::edit::{self, Assignment};
use crate::refdata::{self, ReferenceData};
use crate::rules::{self, Finding, RuleContext};
use crate::storage::{
    AccessLogEntry, Attention, DatabaseKey, DocumentSave, Projection, RecordQuery, Store,
    StoreError,
};
use crate::workflow::{self, User};
use crate::{Error, limits, projection};
use automerge::ActorId;
use lru::LruCache;
use serde_json::Value;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

mod quarantine;
mod review;
mod sync;

pub use crate::review::{ApprovalState, FieldDiff, QueueItem, ReturnedItem, diff_json};
pub use quarantine::QuarantineItem;

/// Loaded documents kept in memory (about 30 KB each).
const CACHE_DOCUMENTS: usize = 64;
/// Chunks a document may be stored as before it is compacted into one. A compaction that fails
/// its check is tried again this many chunks later.
const COMPACT_AFTER_CHUNKS: u32 = 32;

/// The attention rule of a record whose document could not be compacted.
pub const COMPACTION_FAILED: &str = "compaction-failed";

/// Fields a user never sets directly.
const MANAGED_FIELDS: [(&str, &str); 3] = [
    (
        "meta",
        "is kept by Fieldbook (id, author, times, workflow): use submit, approve, return",
    ),
    (
        "age_range",
        "is derived from the person's age: set age.years (and age.estimated)",
    ),
    (
        "receipt_reference",
        "is assigned when the record is created and never changes",
    ),
];

/// A document in memory, with how many chunks it is stored as (the compaction trigger).
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) doc: RecordDoc,
    pub(crate) chunks: u32,
}

/// What to write for `loaded` since its last save: an incremental chunk (or the whole document
/// when it is new or due for compaction) with the projection derived from the hydrated document.
/// `None` when nothing changed. Counts the chunk as written: on a failed write the caller drops
/// the document, so the stored version stays the truth.
///
/// A compaction replaces every stored chunk, so its bytes are loaded back first
/// ([`RecordDoc::save_compacted`]): a document holding changes that do not fit together (sent by
/// a hostile device) can load from its chunks and yet compact into bytes that do not. Then the
/// chunks are kept, the new one is appended, the record is marked as needing attention
/// ([`COMPACTION_FAILED`]) and compaction is tried again [`COMPACT_AFTER_CHUNKS`] chunks later.
pub(crate) fn document_save(
    id: RecordId,
    loaded: &mut Loaded,
    now: Timestamp,
    known: Option<Record>,
) -> Result<Option<DocumentSave>, Error> {
    // What the store held when this document was read (none for a record never stored).
    let expected_heads = (loaded.chunks > 0).then(|| loaded.doc.saved_heads_bytes());
    let compacting =
        loaded.chunks >= COMPACT_AFTER_CHUNKS && loaded.chunks.is_multiple_of(COMPACT_AFTER_CHUNKS);
    let mut attention = None;
    let (bytes, replace) = if loaded.chunks == 0 {
        (Some(loaded.doc.try_save()?), true)
    } else if compacting {
        match loaded.doc.save_compacted() {
            Ok(bytes) => (Some(bytes), true),
            Err(e) => {
                tracing::warn!(record = %id, error = %e, "the document does not compact; its chunks are kept");
                attention = Some(compaction_failed());
                (loaded.doc.try_save_incremental()?, false)
            }
        }
    } else {
        (loaded.doc.try_save_incremental()?, false)
    };
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    // The caller may already hold the hydrated state (a save on the current heads).
    let record = match known {
        Some(r) => r,
        None => loaded.doc.hydrate_cached()?,
    };
    let conflicts = u32::try_from(loaded.doc.try_conflict_count()?).unwrap_or(u32::MAX);
    loaded.chunks = if replace { 1 } else { loaded.chunks + 1 };
    Ok(Some(DocumentSave {
        id,
        bytes,
        replace,
        expected_heads,
        heads: loaded.doc.heads_bytes(),
        projection: projection::derive(&record, now.millis(), conflicts),
        attention,
    }))
}

/// The mark of a record whose document could not be compacted.
fn compaction_failed() -> Attention {
    Attention {
        rule: COMPACTION_FAILED.to_owned(),
        message: "this record's document holds changes that do not fit together, so it cannot be compacted: it is kept as stored and still syncs; report the record id to your IT team".to_owned(),
        field: None,
    }
}

/// A whole-document save of `loaded` replacing what the store holds, allowed only if the store
/// still holds `expected` heads (a record rebuilt from the server's version after a refusal: a
/// change another process stored meanwhile must not be lost). Counts the chunk as written.
pub(crate) fn document_replace(
    id: RecordId,
    loaded: &mut Loaded,
    expected: Vec<u8>,
    now: Timestamp,
) -> Result<DocumentSave, Error> {
    let bytes = loaded.doc.save_compacted()?;
    let record = loaded.doc.hydrate_cached()?;
    let conflicts = u32::try_from(loaded.doc.try_conflict_count()?).unwrap_or(u32::MAX);
    loaded.chunks = 1;
    Ok(DocumentSave {
        id,
        bytes,
        replace: true,
        expected_heads: Some(expected),
        heads: loaded.doc.heads_bytes(),
        projection: projection::derive(&record, now.millis(), conflicts),
        attention: None,
    })
}

/// The version of a record a caller read: its document heads. Opaque to callers; text form is
/// the heads in hex joined by commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(Vec<automerge::ChangeHash>);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex: Vec<String> = self.0.iter().map(|h| h.to_string()).collect();
        f.write_str(&hex.join(","))
    }
}

impl std::str::FromStr for Version {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .filter(|h| !h.is_empty())
            .map(|h| h.parse::<automerge::ChangeHash>())
            .collect::<Result<Vec<_>, _>>()
            .map(Version)
            .map_err(|_| {
                Error::invalid(
                    "version",
                    "heads",
                    "not a record version: read the record again",
                )
            })
    }
}

/// True when `field` is `assigned` or lies inside it.
fn is_within(field: &str, assigned: &str) -> bool {
    field == assigned
        || field
            .strip_prefix(assigned)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The records held on this device, as the rules read linked records (no access logging: the
/// rules read a person to check a record, nobody is shown them).
struct HeldRecords<'a>(&'a mut Device);

impl rules::LinkedRecords for HeldRecords<'_> {
    type Error = Error;

    fn record(&mut self, id: RecordId) -> Result<Option<Record>, Error> {
        match self.0.record(id) {
            Ok(r) => Ok(Some(r)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn assessments_of(&mut self, crime: RecordId) -> Result<Vec<RecordId>, Error> {
        Ok(self.0.store.linking_to(crime, "crime")?)
    }
}

/// One device: its store, its enrolled user and its automerge actor.
pub struct Device {
    store: Store,
    user: User,
    actor: ActorId,
    clock: Arc<dyn Clock>,
    reference: &'static ReferenceData,
    cache: LruCache<RecordId, Loaded>,
    retry: crate::sync::http::RetryPolicy,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("user", &self.user)
            .field("actor", &self.actor.to_hex_string())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Creates a new store at `path` for `officer` in `role`, with a fresh automerge actor id for
    /// this install. Refuses if a store already exists there.
    pub fn init(
        path: &Path,
        key: &DatabaseKey,
        officer: OfficerId,
        role: Role,
        clock: Arc<dyn Clock>,
    ) -> Result<Device, Error> {
        if path.exists() {
            return Err(Error::invalid(
                "store",
                "store-exists",
                "a store already exists at this path: open it, or choose another path",
            ));
        }
        let mut store = Store::open(path, key, true)?;
        let actor = crate::doc::new_actor();
        store.set_meta("officer", officer.as_str())?;
        store.set_meta("role", role.as_str())?;
        store.set_meta("actor", &actor.to_hex_string())?;
        Ok(Device::assemble(
            store,
            User { officer, role },
            actor,
            clock,
        ))
    }

    /// Opens an existing store. Loads no documents.
    pub fn open(path: &Path, key: &DatabaseKey, clock: Arc<dyn Clock>) -> Result<Device, Error> {
        let store = Store::open(path, key, false)?;
        let (Some(officer), Some(role), Some(actor)) = (
            store.meta("officer")?,
            store.meta("role")?,
            store.meta("actor")?,
        ) else {
            return Err(Error::NotInitialised);
        };
        let actor_bytes = hex::decode(actor).map_err(|_| StoreError::Corrupt {
            detail: "the device actor id is not hex".into(),
        })?;
        let user = User {
            officer: OfficerId::new(officer)?,
            role: role.parse()?,
        };
        Ok(Device::assemble(
            store,
            user,
            ActorId::from(actor_bytes),
            clock,
        ))
    }

    /// Lets a store refused with [`StoreError::WalMissing`] open again as its file holds it,
    /// without the saves that were only in its lost `-wal` file: for when that file cannot be
    /// put back ([`Store::accept_lost_wal`]). Loads nothing.
    pub fn accept_lost_saves(path: &Path, key: &DatabaseKey) -> Result<(), Error> {
        Ok(Store::accept_lost_wal(path, key)?)
    }

    fn assemble(store: Store, user: User, actor: ActorId, clock: Arc<dyn Clock>) -> Device {
        Device {
            store,
            user,
            actor,
            clock,
            reference: refdata::current(),
            cache: LruCache::new(NonZeroUsize::new(CACHE_DOCUMENTS).unwrap_or(NonZeroUsize::MIN)),
            retry: crate::sync::http::RetryPolicy::default(),
        }
    }

    /// The enrolled user.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// This install's automerge actor id (hex).
    pub fn actor_hex(&self) -> String {
        self.actor.to_hex_string()
    }

    /// The time on this device's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // -----------------------------------------------------------------------------------------
    // Writing
    // -----------------------------------------------------------------------------------------

    /// Creates a record of `kind`, optionally filled from a JSON object of fields (as
    /// `show --json` prints them, without `meta`). Returns it once it is durably stored.
    pub fn create(&mut self, kind: RecordKind, fields: Option<Value>) -> Result<Record, Error> {
        workflow::may_create(&self.user, kind)?;
        let now = self.now();
        let mut record = Record::new(kind, RecordId::generate(), self.user.officer.clone(), now);
        if let Some(fields) = fields {
            let Value::Object(map) = &fields else {
                return Err(Error::invalid(
                    "record",
                    "json-object",
                    "the fields must be a JSON object",
                ));
            };
            for key in map.keys() {
                if let Some((_, why)) = MANAGED_FIELDS.iter().find(|(f, _)| f == key) {
                    return Err(Error::invalid(key.as_str(), "managed-field", *why));
                }
            }
            let mut json = record.to_json();
            edit::merge(&mut json, fields);
            record = Record::from_json(kind, json)?;
        }
        record.derive_fields(self.reference);
        limits::check(&record.to_json())?;
        let doc = RecordDoc::create(&record, &self.actor, &self.author(), now)?;
        self.persist(record.id(), Loaded { doc, chunks: 0 }, now)?;
        if kind == RecordKind::Person {
            self.log_access(record.id(), "create", "recorded at the scene")?;
        }
        Ok(record)
    }

    /// Applies `field.path=value` assignments to a record as one change. The assignments are
    /// applied together, so `a.b=1 a.c=2` may build an object whose fields are all required.
    pub fn set_fields(&mut self, id: RecordId, assignments: &[String]) -> Result<Record, Error> {
        let (record, version) = self.read_versioned(id)?;
        let kind = record.kind();
        let mut json = record.to_json();
        for text in assignments {
            let a = Assignment::parse(text)?;
            if let Some((_, why)) = MANAGED_FIELDS.iter().find(|(f, _)| *f == a.root()) {
                return Err(Error::invalid(a.field.as_str(), "managed-field", *why));
            }
            json = self.assign(kind, json, &a)?;
        }
        let edited = Record::from_json(kind, json)?;
        // Written on the version read, so a sync committing meanwhile (from another handle on
        // this store) is merged with the edit, never written over.
        self.save_edit(record, edited.clone(), Some(&version))?;
        Ok(edited)
    }

    /// Applies one assignment, choosing the first candidate value whose type fits the field.
    /// An error elsewhere (a sibling still missing) is left for the final check.
    fn assign(&self, kind: RecordKind, json: Value, a: &Assignment) -> Result<Value, Error> {
        let mut candidates = a.candidates();
        if let Some(expanded) = self.expand_shorthand(kind, a) {
            candidates.insert(0, expanded);
        }
        let mut first_error = None;
        for value in candidates {
            let mut attempt = json.clone();
            edit::apply(&mut attempt, a, value)?;
            match Record::from_json(kind, attempt.clone()) {
                Err(Error::Invalid { field, .. }) if !is_within(&field, &a.field) => {
                    return Ok(attempt);
                }
                Ok(_) => return Ok(attempt),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error
            .unwrap_or_else(|| Error::invalid(a.field.as_str(), "well-typed", "no value fits")))
    }

    /// `classification=8N` and `outcome=16` expand to the coded values from reference data.
    fn expand_shorthand(&self, kind: RecordKind, a: &Assignment) -> Option<Value> {
        if kind != RecordKind::CrimeReport || a.append || a.path.len() != 1 {
            return None;
        }
        let code = a.raw.trim();
        match a.root() {
            "classification" => {
                let offence = self.reference.offence(code)?;
                Some(serde_json::json!({
                    "offence": { "code": offence.code, "label": offence.label },
                    "category": offence.category,
                }))
            }
            "outcome" => {
                let outcome = self.reference.outcome(code)?;
                Some(serde_json::json!({ "code": outcome.code, "label": outcome.label }))
            }
            _ => None,
        }
    }

    /// Saves an edited record as one change on the current version. `meta` must be unchanged:
    /// workflow moves through [`Device::submit`] and the supervisor calls. An app that holds a
    /// record while sync may merge into it uses [`Device::get_versioned`] and
    /// [`Device::save_versioned`] instead, so merged changes are never written over.
    pub fn save(&mut self, record: Record) -> Result<(), Error> {
        let stored = self.record(record.id())?;
        self.save_edit(stored, record, None)
    }

    /// A record with the version it was read at.
    pub fn get_versioned(&mut self, id: RecordId) -> Result<(Record, Version), Error> {
        let (record, version) = self.read_versioned(id)?;
        if record.kind() == RecordKind::Person {
            self.log_access(id, "view", "shown on device")?;
        }
        Ok((record, version))
    }

    /// A record and the version it was hydrated at, from one look-up (not logged).
    fn read_versioned(&mut self, id: RecordId) -> Result<(Record, Version), Error> {
        let mut loaded = self.take(id)?;
        let version = Version(loaded.doc.heads());
        let record = loaded.doc.hydrate_cached();
        Ok((self.put_back(id, loaded, record)?, version))
    }

    /// Fails with `Stale` when the record moved on from `version` (another handle on this store
    /// committed to it): a workflow step must act on exactly what was checked.
    fn still_at(&mut self, id: RecordId, version: &Version) -> Result<(), Error> {
        let loaded = self.take(id)?;
        let current = loaded.doc.heads() == version.0;
        self.cache.put(id, loaded);
        if current {
            Ok(())
        } else {
            Err(StoreError::Stale.into())
        }
    }

    /// Saves a record edited from the `version` it was read at: the edit is one change made on
    /// that version, so anything merged since is kept alongside it.
    pub fn save_versioned(&mut self, record: Record, version: &Version) -> Result<(), Error> {
        let stored = self.record(record.id())?;
        self.save_edit(stored, record, Some(version))
    }

    /// Saves `record`, an edit of `stored` (the current version), made on `base` if given.
    fn save_edit(
        &mut self,
        stored: Record,
        mut record: Record,
        base: Option<&Version>,
    ) -> Result<(), Error> {
        // Workflow events may have been merged since the base; compare what the user could set.
        let (mut theirs, mut ours) = (stored.meta().clone(), record.meta().clone());
        if base.is_some() {
            theirs.workflow.clear();
            ours.workflow.clear();
        }
        if theirs != ours {
            return Err(Error::invalid("meta", "managed-field", MANAGED_FIELDS[0].1));
        }
        workflow::may_edit(&self.user, &stored)?;
        record.derive_fields(self.reference);
        if let Some(base) = base {
            // Keep the workflow as it was at the base, so the edit does not touch it.
            let at_base = self.record_at(record.id(), base)?;
            record.meta_mut().workflow = at_base.meta().workflow.clone();
        }
        self.write_at(record, "edit", base)
    }

    fn record_at(&mut self, id: RecordId, version: &Version) -> Result<Record, Error> {
        let loaded = self.take(id)?;
        let record = loaded.doc.hydrate_at(&version.0);
        self.put_back(id, loaded, record)
    }

    fn write_at(
        &mut self,
        record: Record,
        action: &str,
        base: Option<&Version>,
    ) -> Result<(), Error> {
        limits::check(&record.to_json())?;
        let id = record.id();
        let now = self.now();
        let author = self.author();
        let mut loaded = self.take(id)?;
        // A base that is still the current version is the plain (faster) current-heads write.
        let base = base.filter(|v| v.0 != loaded.doc.heads());
        let written = match base {
            Some(v) => loaded.doc.update_at(&record, &v.0, &author, action, now),
            None => loaded.doc.update(&record, &author, action, now),
        };
        if written.is_err() {
            return self.put_back(id, loaded, written.map(drop));
        }
        let is_person = record.kind() == RecordKind::Person;
        // Written on the current heads, the document now holds exactly `record`: no need to
        // hydrate it again for the projection. On an older base, merged changes join it.
        let known = base.is_none().then_some(record);
        self.persist_known(id, loaded, now, known)?;
        // Logged once the alteration is stored, so the log never claims one that did not happen.
        if is_person {
            self.log_access(id, "alter", action)?;
        }
        Ok(())
    }

    /// Writes what changed since the last save, with the refreshed projection, in one
    /// transaction. On failure the document is dropped from memory, so the stored version stays
    /// the truth.
    fn persist(&mut self, id: RecordId, loaded: Loaded, now: Timestamp) -> Result<(), Error> {
        self.persist_known(id, loaded, now, None)
    }

    /// [`Device::persist`] when the caller already holds the document's hydrated state.
    fn persist_known(
        &mut self,
        id: RecordId,
        mut loaded: Loaded,
        now: Timestamp,
        known: Option<Record>,
    ) -> Result<(), Error> {
        let Some(save) = document_save(id, &mut loaded, now, known)? else {
            self.cache.put(id, loaded);
            return Ok(());
        };
        self.store.save(&save)?;
        tracing::debug!(record = %id, kind = %save.projection.kind, replace = save.replace, bytes = save.bytes.len(), "saved");
        self.cache.put(id, loaded);
        Ok(())
    }

    /// Runs the rules and, if none fails, submits the record for review.
    pub fn submit(&mut self, id: RecordId) -> Result<Record, Error> {
        let (mut record, version) = self.read_versioned(id)?;
        let findings = self.check(id)?;
        self.still_at(id, &version)?;
        workflow::submit(&mut record, &self.user, &findings, self.now())?;
        self.write_at(record.clone(), "submit", Some(&version))?;
        Ok(record)
    }

    /// Supervisor: returns a submitted record to its author with a reason.
    pub fn return_to_author(&mut self, id: RecordId, reason: &str) -> Result<Record, Error> {
        let (mut record, version) = self.read_versioned(id)?;
        workflow::return_to_author(&mut record, &self.user, reason, self.now())?;
        self.write_at(record.clone(), "return", Some(&version))?;
        Ok(record)
    }

    /// Supervisor: approves a submitted record at its current heads.
    pub fn approve(&mut self, id: RecordId) -> Result<Record, Error> {
        let (mut record, version) = self.read_versioned(id)?;
        let findings = self.check(id)?;
        // The approval pins exactly the version whose rules were just checked.
        self.still_at(id, &version)?;
        let heads = version.0.iter().map(|h| h.to_string()).collect();
        workflow::approve(&mut record, &self.user, &findings, heads, self.now())?;
        self.write_at(record.clone(), "approve", Some(&version))?;
        Ok(record)
    }

    /// Chooses a value for a conflicted legal field, as one change. Crime shorthands work here
    /// too (`outcome` = `16`, `classification` = `8N`).
    pub fn resolve_conflict(
        &mut self,
        id: RecordId,
        field: &str,
        value: &Value,
    ) -> Result<(), Error> {
        let stored = self.record(id)?;
        workflow::may_edit(&self.user, &stored)?;
        let kind = stored.kind();
        // A shorthand is written as text or a number (`16`, `8N`), as `set` accepts it.
        let raw = match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let value = raw
            .and_then(|r| Assignment::parse(&format!("{field}={r}")).ok())
            .and_then(|a| self.expand_shorthand(kind, &a))
            .unwrap_or_else(|| value.clone());
        let now = self.now();
        let author = self.author();
        let mut loaded = self.take(id)?;
        let resolved = loaded.doc.resolve(field, &value, &author, now);
        if resolved.is_err() {
            return self.put_back(id, loaded, resolved.map(drop));
        }
        // The chosen value must fit the record; if not, the in-memory change is dropped (the
        // document is not put back in the cache) and the stored version stays.
        Record::from_json(kind, loaded.doc.try_to_json()?)?;
        self.persist(id, loaded, now)
    }

    /// Imports a raw automerge document (e.g. from another device): a new record is stored, a
    /// known one is merged. Anything that is not a valid record is refused and nothing changes.
    pub fn import_document(&mut self, bytes: &[u8]) -> Result<RecordId, Error> {
        if bytes.len() > limits::MAX_DOCUMENT_BYTES {
            return Err(Error::invalid(
                "document",
                "max-size",
                format!(
                    "is {} bytes; at most {} are accepted",
                    bytes.len(),
                    limits::MAX_DOCUMENT_BYTES
                ),
            ));
        }
        // Read bounded (a file is untrusted); bytes that are not a record document at all say so
        // in the import's own words, bytes past the bounds keep their own reason.
        let mut incoming =
            RecordDoc::load_untrusted(bytes, &self.actor, &crate::doc::Bounds::RECORD).map_err(
                |e| match e {
                    DocError::Bounds(bounds) if bounds.is_malformed() => {
                        DocError::NotADocument(bounds.to_string())
                    }
                    other => other,
                },
            )?;
        let record = incoming.hydrate()?;
        limits::check(&record.to_json())?;
        let id = record.id();
        let now = self.now();
        let loaded = match self.take(id) {
            Ok(mut existing) => {
                let kind = existing.doc.kind()?;
                if kind != record.kind() {
                    self.cache.put(id, existing);
                    return Err(Error::WrongKind {
                        id,
                        expected: kind,
                        actual: record.kind(),
                    });
                }
                existing.doc.merge(&mut incoming)?;
                if let Err(e) = existing.doc.hydrate() {
                    return Err(e.into());
                }
                existing
            }
            Err(Error::NotFound(_)) => Loaded {
                doc: incoming,
                chunks: 0,
            },
            Err(e) => return Err(e),
        };
        self.persist(id, loaded, now)?;
        Ok(id)
    }

    // -----------------------------------------------------------------------------------------
    // Reading
    // -----------------------------------------------------------------------------------------

    /// A record, hydrated from its document. Reading a person is logged.
    pub fn get(&mut self, id: RecordId) -> Result<Record, Error> {
        let record = self.record(id)?;
        if record.kind() == RecordKind::Person {
            self.log_access(id, "view", "shown on device")?;
        }
        Ok(record)
    }

    fn record(&mut self, id: RecordId) -> Result<Record, Error> {
        let mut loaded = self.take(id)?;
        let record = loaded.doc.hydrate_cached();
        self.put_back(id, loaded, record)
    }

    /// Puts a document back in the cache after reading it, unless automerge failed on it: an
    /// inconsistent document is never kept in memory (the next read loads the stored one).
    fn put_back<T>(
        &mut self,
        id: RecordId,
        loaded: Loaded,
        read: Result<T, crate::doc::DocError>,
    ) -> Result<T, Error> {
        if !matches!(read, Err(crate::doc::DocError::Inconsistent(_))) {
            self.cache.put(id, loaded);
        }
        Ok(read?)
    }

    /// Removes the loaded document from the cache (loading it if needed); callers put it back.
    fn take(&mut self, id: RecordId) -> Result<Loaded, Error> {
        if let Some(l) = self.cache.pop(&id) {
            // Another process on this device (a CLI command during a sync) may have written
            // the record since it was cached: use the cached copy only if it is still current.
            let stored = self.store.sync_heads(id)?;
            if stored.is_some_and(|h| h.heads == l.doc.saved_heads_bytes()) {
                return Ok(l);
            }
        }
        let stored = self.store.load(id)?.ok_or(Error::NotFound(id))?;
        let doc = RecordDoc::load(&stored.bytes, &self.actor)?;
        Ok(Loaded {
            doc,
            chunks: stored.chunks,
        })
    }

    /// Every finding for a record, with its linked people, assessments and crime gathered.
    pub fn check(&mut self, id: RecordId) -> Result<Vec<Finding>, Error> {
        let record = self.record(id)?;
        let (now, role) = (self.now(), self.user.role);
        let ctx = RuleContext::gather(&record, now, role, &mut HeldRecords(self))?;
        Ok(rules::check(&record, &ctx, self.reference))
    }

    /// Legal fields with concurrent values awaiting a person's choice.
    pub fn conflicts(&mut self, id: RecordId) -> Result<Vec<Conflict>, Error> {
        let loaded = self.take(id)?;
        let conflicts = loaded.doc.try_conflicts();
        self.put_back(id, loaded, conflicts)
    }

    /// Field-level history: who, when, old → new.
    pub fn history(&mut self, id: RecordId) -> Result<Vec<FieldChange>, Error> {
        let loaded = self.take(id)?;
        let read = loaded
            .doc
            .try_history()
            .and_then(|history| Ok((history, loaded.doc.kind()?)));
        let (history, kind) = self.put_back(id, loaded, read)?;
        if kind == RecordKind::Person {
            self.log_access(id, "view", "history")?;
        }
        Ok(history)
    }

    /// The whole document as raw automerge bytes.
    pub fn export_document(&mut self, id: RecordId) -> Result<Vec<u8>, Error> {
        let loaded = self.take(id)?;
        let am = loaded.doc.automerge();
        let read = crate::doc::guarded("exporting it", || am.save())
            .and_then(|bytes| Ok((bytes, loaded.doc.kind()?)));
        let (bytes, kind) = self.put_back(id, loaded, read)?;
        if kind == RecordKind::Person {
            self.log_access(id, "export", "document export")?;
        }
        Ok(bytes)
    }

    /// Records matching a query, newest first (projection only: no documents loaded).
    pub fn list(&self, query: &RecordQuery) -> Result<Vec<Projection>, Error> {
        Ok(self.store.list(query)?)
    }

    /// The user's drafts.
    pub fn my_drafts(&self) -> Result<Vec<Projection>, Error> {
        Ok(self.store.drafts(&self.user.officer)?)
    }

    /// Crime reports whose recording decision is more than 24 hours after the report.
    pub fn overdue_decisions(&self) -> Result<Vec<Projection>, Error> {
        Ok(self.store.overdue_decisions(self.now().millis())?)
    }

    /// Stop-searches where no receipt has been given yet.
    pub fn receipts_needed(&self) -> Result<Vec<Projection>, Error> {
        Ok(self.store.receipts_needed()?)
    }

    /// The projection of one record.
    pub fn projection(&self, id: RecordId) -> Result<Projection, Error> {
        self.store.projection(id)?.ok_or(Error::NotFound(id))
    }

    /// Number of records held.
    pub fn count(&self) -> Result<u64, Error> {
        Ok(self.store.count()?)
    }

    /// Who read or changed this person's data, and why.
    pub fn access_log(&self, id: RecordId) -> Result<Vec<AccessLogEntry>, Error> {
        Ok(self.store.access_log(id)?)
    }

    /// The stop-search receipt, producible offline.
    pub fn receipt(&mut self, id: RecordId) -> Result<String, Error> {
        let record = self.record(id)?;
        let Record::StopSearch(s) = record else {
            return Err(Error::WrongKind {
                id,
                expected: RecordKind::StopSearch,
                actual: record.kind(),
            });
        };
        let or_missing = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not recorded)".into());
        let place = s
            .location
            .as_ref()
            .and_then(|l| l.description.clone())
            .unwrap_or_else(|| "(not recorded)".into());
        let when = s
            .detained_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "(not recorded)".into());
        Ok(format!(
            "STOP AND SEARCH RECEIPT\n\
             Reference:         {reference}\n\
             Date and time:     {when}\n\
             Place:             {place}\n\
             Officer:           {officer}\n\
             Power used:        {power}\n\
             Object of search:  {object}\n\
             Outcome:           {outcome}\n\
             \n\
             You are entitled to a copy of the full record of this search for 12 months from\n\
             today. Ask at any police station or through the force website, quoting the\n\
             reference above. You did not have to give your name or address.\n",
            reference = s.receipt_reference,
            officer = s.meta.author,
            power = or_missing(&s.legislation),
            object = or_missing(&s.object_of_search),
            outcome = or_missing(&s.outcome),
        ))
    }

    /// Status of one record.
    pub fn status(&self, id: RecordId) -> Result<Status, Error> {
        Ok(self.projection(id)?.status)
    }

    /// Checks the store file's integrity.
    pub fn check_integrity(&self) -> Result<(), Error> {
        Ok(self.store.check_integrity()?)
    }

    fn author(&self) -> ChangeAuthor {
        ChangeAuthor {
            by: self.user.officer.clone(),
            role: self.user.role,
        }
    }

    fn log_access(&mut self, id: RecordId, action: &str, purpose: &str) -> Result<(), Error> {
        let entry = AccessLogEntry {
            at_ms: self.now().millis(),
            officer: self.user.officer.clone(),
            record_id: id,
            action: action.to_owned(),
            purpose: purpose.to_owned(),
        };
        Ok(self.store.log_access(&entry)?)
    }
}
