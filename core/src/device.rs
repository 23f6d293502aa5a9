//! [`Device`]: one enrolled user's records on one phone (or the headless CLI device).
//!
//! Ties the pieces together: typed records in, rules checked, one automerge change per save,
//! the change and the refreshed projection written in one durable SQLite transaction, a small LRU
//! of loaded documents. Every method that returns has either stored its work durably or changed
//! nothing. Reads of personal data (person records) are written to the access log.

use crate::clock::Clock;
use crate::doc::{ChangeAuthor, Conflict, DocError, FieldChange, Heads, RecordDoc};
use crate::domain::{OfficerId, Record, RecordId, RecordKind, Role, Status, Timestamp};
use crate::edit::{self, Assignment};
use crate::error::Error;
use crate::limits;
use crate::loaded::{Loaded, document_save};
use crate::refdata::{self, ReferenceData};
use crate::rules::{self, Finding, RuleContext};
use crate::storage::{AccessLogEntry, DatabaseKey, Projection, RecordQuery, Store, StoreError};
use crate::workflow::{self, User};
use automerge::ActorId;
use lru::LruCache;
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use serde_json::Value;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

mod quarantine;
mod review;
mod sync;

pub use crate::loaded::COMPACTION_FAILED;
pub use crate::review::{ApprovalState, FieldDiff, QueueItem, ReturnedItem, diff_json};
pub use quarantine::QuarantineItem;

/// Loaded documents kept in memory (about 30 KB each).
const CACHE_DOCUMENTS: usize = 64;

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

/// The version of a record a caller read: its document heads. Opaque to callers; text form is
/// the heads in hex joined by commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(Heads);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Version {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Heads>().map(Version).map_err(|_| {
            Error::invalid(
                "version",
                "heads",
                "not a record version: read the record again",
            )
        })
    }
}

/// What an edit made of a record's document: the caller's `value`, and the record the document
/// now holds when the edit knows it (a change written on the current version), so the
/// projection need not hydrate it again.
struct Written<T> {
    value: T,
    known: Option<Record>,
}

impl<T> Written<T> {
    fn known(value: T, record: Record) -> Written<T> {
        Written {
            value,
            known: Some(record),
        }
    }

    fn unknown(value: T) -> Written<T> {
        Written { value, known: None }
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
        self.persist(record.id(), Loaded::new(doc), now, None)?;
        if kind.profile().personal {
            self.log_access(record.id(), "create", "recorded at the scene")?;
        }
        Ok(record)
    }

    /// Applies `field.path=value` assignments to a record as one change. The assignments are
    /// applied together, so `a.b=1 a.c=2` may build an object whose fields are all required.
    pub fn set_fields(&mut self, id: RecordId, assignments: &[String]) -> Result<Record, Error> {
        let parsed = assignments
            .iter()
            .map(|text| {
                let a = Assignment::parse(text)?;
                if let Some((_, why)) = MANAGED_FIELDS.iter().find(|(f, _)| *f == a.root()) {
                    return Err(Error::invalid(a.field.as_str(), "managed-field", *why));
                }
                Ok(a)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.edit(id, Some("edit"), |device, doc| {
            let stored = doc.hydrate_cached()?;
            let kind = stored.kind();
            let mut json = stored.to_json();
            for a in &parsed {
                json = device.assign(kind, json, a)?;
            }
            let edited = Record::from_json(kind, json)?;
            let written = device.edit_of(doc, &stored, edited, None)?;
            Ok(Written::known(written.clone(), written))
        })
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
                Err(crate::invalid::Invalid { field, .. }) if !is_within(&field, &a.field) => {
                    return Ok(attempt);
                }
                Ok(_) => return Ok(attempt),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error
            .unwrap_or_else(|| {
                crate::invalid::Invalid::new(a.field.as_str(), "well-typed", "no value fits")
            })
            .into())
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
        self.edit(record.id(), Some("edit"), |device, doc| {
            let stored = doc.hydrate_cached()?;
            let written = device.edit_of(doc, &stored, record.clone(), None)?;
            Ok(Written::known((), written))
        })
    }

    /// A record with the version it was read at.
    pub fn get_versioned(&mut self, id: RecordId) -> Result<(Record, Version), Error> {
        let (record, version) = self.read(id, |_, doc| {
            Ok((doc.hydrate_cached()?, Version(doc.version())))
        })?;
        if record.kind().profile().personal {
            self.log_access(id, "view", "shown on device")?;
        }
        Ok((record, version))
    }

    /// Saves a record edited from the `version` it was read at: the edit is one change made on
    /// that version, so anything merged since is kept alongside it.
    pub fn save_versioned(&mut self, record: Record, version: &Version) -> Result<(), Error> {
        self.edit(record.id(), Some("edit"), |device, doc| {
            let stored = doc.hydrate_cached()?;
            let current = version.0 == doc.version();
            let written = device.edit_of(doc, &stored, record.clone(), Some(version))?;
            // On an older version, merged changes join the edit: the projection reads them.
            let known = current.then_some(written);
            Ok(Written { value: (), known })
        })
    }

    /// Writes `record`, an edit of `stored` (the version in `doc`), into `doc` as one change,
    /// made on `base` if given (an older version the caller read). Returns the record written.
    fn edit_of(
        &self,
        doc: &mut RecordDoc,
        stored: &Record,
        mut record: Record,
        base: Option<&Version>,
    ) -> Result<Record, Error> {
        // A base that is still the current version is the plain (faster) current-heads write.
        let base = base.filter(|v| v.0 != doc.version());
        // Workflow events may have been merged since the base; compare what the user could set.
        let (mut theirs, mut ours) = (stored.meta().clone(), record.meta().clone());
        if base.is_some() {
            theirs.workflow.clear();
            ours.workflow.clear();
        }
        if theirs != ours {
            return Err(Error::invalid("meta", "managed-field", MANAGED_FIELDS[0].1));
        }
        workflow::may_edit(&self.user, stored)?;
        record.derive_fields(self.reference);
        if let Some(base) = base {
            // Keep the workflow as it was at the base, so the edit does not touch it.
            let at_base = doc.hydrate_at(base.0.hashes())?;
            record.meta_mut().workflow = at_base.meta().workflow.clone();
        }
        self.write_change(doc, &record, "edit", base)?;
        Ok(record)
    }

    /// Writes `record` into `doc` as one change named `action` (on `base`, or the current
    /// version), after the size limits.
    fn write_change(
        &self,
        doc: &mut RecordDoc,
        record: &Record,
        action: &str,
        base: Option<&Version>,
    ) -> Result<(), Error> {
        limits::check(&record.to_json())?;
        let author = self.author();
        match base {
            Some(v) => doc.update_at(record, v.0.hashes(), &author, action, self.now())?,
            None => doc.update(record, &author, action, self.now())?,
        };
        Ok(())
    }

    /// A workflow step: `step` moves the record as read (its findings checked on exactly that
    /// version when `checked`), and the step is written as one change on that version.
    fn workflow_step(
        &mut self,
        id: RecordId,
        action: &str,
        checked: bool,
        step: impl Fn(&Device, &mut Record, Vec<Finding>, &Version) -> Result<(), Error>,
    ) -> Result<Record, Error> {
        self.edit(id, Some(action), |device, doc| {
            let mut record = doc.hydrate_cached()?;
            let version = Version(doc.version());
            let findings = if checked {
                device.findings_of(&record)?
            } else {
                Vec::new()
            };
            step(device, &mut record, findings, &version)?;
            device.write_change(doc, &record, action, None)?;
            Ok(Written::known(record.clone(), record))
        })
    }

    /// Runs the rules and, if none fails, submits the record for review.
    pub fn submit(&mut self, id: RecordId) -> Result<Record, Error> {
        self.workflow_step(id, "submit", true, |device, record, findings, _| {
            workflow::submit(record, &device.user, &findings, device.now())
        })
    }

    /// Supervisor: returns a submitted record to its author with a reason.
    pub fn return_to_author(&mut self, id: RecordId, reason: &str) -> Result<Record, Error> {
        self.workflow_step(id, "return", false, |device, record, _, _| {
            workflow::return_to_author(record, &device.user, reason, device.now())
        })
    }

    /// Supervisor: approves a submitted record at its current heads.
    pub fn approve(&mut self, id: RecordId) -> Result<Record, Error> {
        // The approval pins exactly the version whose rules were just checked.
        self.workflow_step(id, "approve", true, |device, record, findings, version| {
            let heads = version.0.to_hex();
            workflow::approve(record, &device.user, &findings, heads, device.now())
        })
    }

    /// Chooses a value for a conflicted legal field, as one change. Crime shorthands work here
    /// too (`outcome` = `16`, `classification` = `8N`).
    pub fn resolve_conflict(
        &mut self,
        id: RecordId,
        field: &str,
        value: &Value,
    ) -> Result<(), Error> {
        self.edit(id, None, |device, doc| {
            let stored = doc.hydrate_cached()?;
            workflow::may_edit(&device.user, &stored)?;
            let kind = stored.kind();
            // A shorthand is written as text or a number (`16`, `8N`), as `set` accepts it.
            let raw = match value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            let value = raw
                .and_then(|r| Assignment::parse(&format!("{field}={r}")).ok())
                .and_then(|a| device.expand_shorthand(kind, &a))
                .unwrap_or_else(|| value.clone());
            doc.resolve(field, &value, &device.author(), device.now())?;
            // The chosen value must fit the record; if not, the change is dropped with the
            // document and the stored version stays.
            let resolved = Record::from_json(kind, doc.try_to_json()?)?;
            Ok(Written::known((), resolved))
        })
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
        let record = incoming.hydrate_cached()?;
        limits::check(&record.to_json())?;
        let id = record.id();
        match self.edit(id, None, |_, doc| {
            let kind = doc.kind()?;
            if kind != record.kind() {
                return Err(Error::WrongKind {
                    id,
                    expected: kind,
                    actual: record.kind(),
                });
            }
            doc.merge(&mut incoming)?;
            doc.hydrate_cached()?;
            Ok(Written::unknown(()))
        }) {
            Ok(()) => Ok(id),
            Err(Error::NotFound(_)) => {
                let now = self.now();
                let loaded = Loaded::from_whole(incoming, bytes.to_vec());
                self.persist(id, loaded, now, Some(record))?;
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Reading once, writing once
    // -----------------------------------------------------------------------------------------

    /// Reads record `id` once (from the cache if it is still what the store holds) and runs
    /// `read` on its document. The document goes back to the cache unless automerge found it
    /// inconsistent (then the next read loads the stored one).
    fn read<T>(
        &mut self,
        id: RecordId,
        read: impl FnOnce(&mut Device, &mut RecordDoc) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut loaded = self.take(id)?;
        let result = read(self, &mut loaded.doc);
        if !matches!(result, Err(Error::Doc(DocError::Inconsistent(_)))) {
            self.keep(id, loaded);
        }
        result
    }

    /// Reads record `id` once, lets `edit` write its change into the document (on the version
    /// read), and stores what changed with the refreshed projection in one transaction. If the
    /// edit or the write fails, nothing is stored and a document `edit` touched is dropped from
    /// memory, so the stored version stays the truth. If another handle on this store committed
    /// to the record between the read and the write (the store's compare-and-swap on heads
    /// refuses it), the edit is made again, once, on what is stored now. A person's record
    /// altered is logged with `log_as` as the purpose.
    fn edit<T>(
        &mut self,
        id: RecordId,
        log_as: Option<&str>,
        mut edit: impl FnMut(&mut Device, &mut RecordDoc) -> Result<Written<T>, Error>,
    ) -> Result<T, Error> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut loaded = self.take(id)?;
            let read_at = loaded.doc.heads();
            let written = match edit(self, &mut loaded.doc) {
                Ok(written) => written,
                Err(e) => {
                    let untouched = loaded.doc.heads() == read_at;
                    if untouched && !matches!(e, Error::Doc(DocError::Inconsistent(_))) {
                        self.keep(id, loaded);
                    }
                    return Err(e);
                }
            };
            let now = self.now();
            let is_person = loaded.doc.kind().is_ok_and(|k| k.profile().personal);
            match self.persist(id, loaded, now, written.known) {
                Ok(()) => {}
                Err(Error::Store(StoreError::Stale)) if attempts < 2 => {
                    tracing::debug!(record = %id, "the record moved under the edit; editing it again");
                    continue;
                }
                Err(e) => return Err(e),
            }
            // Logged once the alteration is stored, so the log never claims one that did not
            // happen.
            if let Some(purpose) = log_as.filter(|_| is_person) {
                self.log_access(id, "alter", purpose)?;
            }
            return Ok(written.value);
        }
    }

    /// Writes what changed in `loaded` since its last save, with the refreshed projection (from
    /// `known` when the caller holds the document's hydrated state), in one transaction, and
    /// keeps the document in the cache. On failure the document is dropped from memory, so the
    /// stored version stays the truth.
    fn persist(
        &mut self,
        id: RecordId,
        mut loaded: Loaded,
        now: Timestamp,
        known: Option<Record>,
    ) -> Result<(), Error> {
        let Some(save) = document_save(id, &mut loaded, now, known)? else {
            self.keep(id, loaded);
            return Ok(());
        };
        self.store.save(&save)?;
        tracing::debug!(record = %id, kind = %save.projection.kind, replace = save.replace, bytes = save.bytes.len(), "saved");
        self.keep(id, loaded);
        Ok(())
    }

    /// Puts a loaded document (back) in the cache. The one the cache lets go is freed off this
    /// thread: freeing an automerge document costs a fair part of loading one.
    fn keep(&mut self, id: RecordId, loaded: Loaded) {
        if let Some((_, released)) = self.cache.push(id, loaded) {
            release(vec![released]);
        }
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
        let doc = RecordDoc::load_stored(&stored.bytes, &self.actor)?;
        Ok(Loaded::stored(doc, stored.chunks))
    }

    /// [`Device::take`] of many records at once, each with its own outcome (`Error::NotFound`,
    /// `Error::Doc`) and what the server holds of it; a storage failure fails the whole. The
    /// store is read in turn, and the documents not cached are loaded in parallel: loading is
    /// most of what touching a record costs (a feed page, the outbox), and each document loads
    /// on its own. With [`Reading::Later`] a stored document is not read as a record yet (see
    /// [`RecordDoc::load_stored_unread`]).
    fn take_many(&mut self, ids: &[RecordId], reading: Reading) -> Result<Vec<TakenRecord>, Error> {
        enum Taken {
            Cached(Box<Loaded>),
            Stored(crate::storage::StoredDocument),
            Missing,
        }
        let mut taken = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(l) = self.cache.pop(&id) {
                let stored = self.store.sync_heads(id)?;
                if let Some(h) = stored.filter(|h| h.heads == l.doc.saved_heads_bytes()) {
                    taken.push((id, h.server_heads, Taken::Cached(Box::new(l))));
                    continue;
                }
            }
            taken.push(match self.store.load(id)? {
                Some(mut stored) => (id, stored.server_heads.take(), Taken::Stored(stored)),
                None => (id, None, Taken::Missing),
            });
        }
        let actor = &self.actor;
        Ok(taken
            .into_par_iter()
            .map(|(id, server_heads, taken)| {
                let loaded = match taken {
                    Taken::Cached(l) => Ok(*l),
                    Taken::Stored(stored) => match reading {
                        Reading::Now => RecordDoc::load_stored(&stored.bytes, actor),
                        Reading::Later => RecordDoc::load_stored_unread(&stored.bytes, actor),
                    }
                    .map(|doc| Loaded::stored(doc, stored.chunks))
                    .map_err(Error::from),
                    Taken::Missing => Err(Error::NotFound(id)),
                };
                (id, loaded.map(|loaded| (loaded, server_heads)))
            })
            .collect())
    }

    // -----------------------------------------------------------------------------------------
    // Reading
    // -----------------------------------------------------------------------------------------

    /// A record, hydrated from its document. Reading a person is logged.
    pub fn get(&mut self, id: RecordId) -> Result<Record, Error> {
        let record = self.record(id)?;
        if record.kind().profile().personal {
            self.log_access(id, "view", "shown on device")?;
        }
        Ok(record)
    }

    fn record(&mut self, id: RecordId) -> Result<Record, Error> {
        self.read(id, |_, doc| Ok(doc.hydrate_cached()?))
    }

    /// Every finding for a record, with its linked people, assessments and crime gathered.
    pub fn check(&mut self, id: RecordId) -> Result<Vec<Finding>, Error> {
        let record = self.record(id)?;
        self.findings_of(&record)
    }

    /// [`Device::check`] of a record already read.
    fn findings_of(&mut self, record: &Record) -> Result<Vec<Finding>, Error> {
        let (now, role) = (self.now(), self.user.role);
        let ctx = RuleContext::gather(record, now, role, &mut HeldRecords(self))?;
        Ok(rules::check(record, &ctx, self.reference))
    }

    /// Legal fields with concurrent values awaiting a person's choice.
    pub fn conflicts(&mut self, id: RecordId) -> Result<Vec<Conflict>, Error> {
        self.read(id, |_, doc| Ok(doc.try_conflicts()?))
    }

    /// The record's audit trail as this device knows it ([`crate::audit::rows`]): the receipt
    /// times of the changes the server acknowledged, this device's server id for its own
    /// changes, other devices by their actor.
    pub fn audit_rows(&mut self, id: RecordId) -> Result<Vec<crate::audit::AuditRow>, Error> {
        let history = self.history(id)?;
        let receipts = match self.receipts(id) {
            Ok(receipts) => receipts,
            // Never synced: no receipts yet.
            Err(Error::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let own = self
            .sync_status()?
            .device_id
            .map(|device| (self.actor_hex(), device));
        let origins = crate::audit::Origins::of_device(
            receipts.into_iter().map(|r| (r.change, r.received_at)),
            own,
        );
        Ok(crate::audit::rows(id, &history, &origins))
    }

    /// Field-level history: who, when, old → new.
    pub fn history(&mut self, id: RecordId) -> Result<Vec<FieldChange>, Error> {
        let (history, kind) = self.read(id, |_, doc| Ok((doc.try_history()?, doc.kind()?)))?;
        if kind.profile().personal {
            self.log_access(id, "view", "history")?;
        }
        Ok(history)
    }

    /// The whole document as raw automerge bytes.
    pub fn export_document(&mut self, id: RecordId) -> Result<Vec<u8>, Error> {
        let (bytes, kind) = self.read(id, |_, doc| {
            let am = doc.automerge();
            let bytes = crate::doc::guarded("exporting it", || am.save())?;
            Ok((bytes, doc.kind()?))
        })?;
        if kind.profile().personal {
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

/// A record taken by [`Device::take_many`] with what the server holds of it (concatenated
/// hashes), or why it could not be taken.
type TakenRecord = (RecordId, Result<(Loaded, Option<Vec<u8>>), Error>);

/// When [`Device::take_many`] reads a stored document as a record.
#[derive(Debug, Clone, Copy)]
enum Reading {
    /// As it loads: one that is no valid record is an `Error::Doc` there.
    Now,
    /// When first needed (a feed entry reads it once, after applying its changes).
    Later,
}

/// Frees documents on another thread (see [`Device::keep`]).
fn release(documents: Vec<Loaded>) {
    if !documents.is_empty() {
        rayon::spawn(move || drop(documents));
    }
}
