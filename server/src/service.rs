//! The sync service: enrolment, authentication, checking and storing pushed changes, building
//! feed pages, and repair rounds. Blocking code (SQLite, automerge), called from the handlers
//! through `spawn_blocking`; it knows nothing of HTTP besides the error codes.
//!
//! **One writer.** Every push and repair runs its check-and-store under one lock (`writer`):
//! the server's document of a record is read, forked, checked and stored by one request at a
//! time, so two pushes to one record can never both build on the same heads and overwrite each
//! other's record row, and the store's `seq` grows in commit order (the feed's watermark is
//! simply `max(seq)`). Feed pages are built without the lock, from committed rows only.
//!
//! **Documents in memory.** Loaded documents stay in an LRU cache. Only the writer inserts into
//! it, after its transaction committed, so a cached document is never older than a commit it
//! could have seen; readers that miss load from the store without inserting.

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::scope::Viewer;
use crate::store::{
    ChangeBody, CommitBatch, DeviceAuth, EnrolOutcome, Holding, NewChange, NewDevice, Officer,
    RecordFacts, RecordWrite, ServerStore,
};
use automerge::sync::SyncDoc;
use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc};
use axum::http::StatusCode;
use fieldbook_core::doc::{ChangeMessage, RecordDoc};
use fieldbook_core::domain::{Record, RecordId, RecordKind, Role};
use fieldbook_core::projection;
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, FeedEntry, FeedPage, Hash, PushOutcome, PushResult,
    Receipt, ReceivedChange, RecordPush, RepairRequest, RepairResponse,
};
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// A loaded document and where the store stands for it.
#[derive(Debug)]
pub(crate) struct CachedDoc {
    pub(crate) doc: RecordDoc,
    kind: RecordKind,
    last_seq: u64,
    changes_since_snapshot: u32,
}

/// A push request waiting for the writer (group commit, see [`SyncService::push`]).
#[derive(Debug)]
struct PushJob {
    device: DeviceAuth,
    pushes: Vec<RecordPush>,
    /// Set by the group's leader before it lets go of the writer.
    result: Mutex<Option<Result<Vec<PushResult>, ApiError>>>,
}

/// One request's checked records, ready to commit.
struct Prepared {
    received_at: i64,
    outcomes: Vec<Option<PushOutcome>>,
    writes: Vec<RecordWrite>,
    /// For each pushed record, its entry in `writes` when it is stored.
    write_of: Vec<Option<usize>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The service shared by every handler.
#[derive(Debug)]
pub(crate) struct SyncService {
    store: Arc<dyn ServerStore>,
    config: ServerConfig,
    cache: Mutex<LruCache<RecordId, Arc<CachedDoc>>>,
    writer: Mutex<()>,
    /// Pushes waiting for the writer.
    queue: Mutex<Vec<Arc<PushJob>>>,
    actor: ActorId,
    pub metrics: Metrics,
}

/// A record push that passed every check.
struct NewRecord {
    /// The server's document with the new changes.
    doc: RecordDoc,
    /// The new changes, in causal order.
    changes: Vec<Change>,
    /// The document as a record.
    record: Record,
}

/// The result of checking one record's pushed changes against the server's document.
enum Checked {
    /// Every change is already in the server's history.
    Known,
    /// New changes that pass every check: the document with them, and them in causal order.
    New(Box<NewRecord>),
    /// Refused or waiting for dependencies; nothing to store.
    Refused(PushOutcome),
}

fn refused(rule: &str, message: impl Into<String>, change: Option<ChangeHash>) -> Checked {
    Checked::Refused(PushOutcome::Rejected {
        rule: rule.to_owned(),
        message: message.into(),
        change: change.map(Hash::from),
        field: None,
    })
}

/// Who may write a record at all: a new record is the device officer's own; an existing one is
/// written by its author, an attending officer, a supervisor, or (for a person's details) any
/// officer; nobody changes its author. Field-level policy by role and workflow state is checked
/// on top of this (the supervision issue).
fn check_writer(
    base: Option<&CachedDoc>,
    record: &Record,
    writer: &Officer,
) -> Option<PushOutcome> {
    let rejected = |rule: &str, message: &str| PushOutcome::Rejected {
        rule: rule.to_owned(),
        message: message.to_owned(),
        change: None,
        field: Some("meta.author".to_owned()),
    };
    let Some(base) = base else {
        return (record.meta().author != writer.id).then(|| {
            rejected(
                "author-mismatch",
                "a new record must be authored by the officer enrolled on this device",
            )
        });
    };
    let Ok(before) = base.doc.hydrate() else {
        return Some(rejected(
            "not-a-record",
            "the server's copy of this record cannot be read",
        ));
    };
    if before.meta().author != record.meta().author {
        return Some(rejected(
            "author-changed",
            "a record's author never changes",
        ));
    }
    let may_write = before.meta().author == writer.id
        || before.attending_officers().contains(&writer.id)
        || before.kind() == RecordKind::Person
        || writer.role == Role::Supervisor;
    (!may_write).then(|| {
        rejected(
            "not-permitted",
            "this device's officer neither wrote nor attends this record: ask its author to add them as attending",
        )
    })
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn split_heads(bytes: &[u8]) -> Vec<Hash> {
    bytes.chunks(32).map(|c| Hash(c.to_vec())).collect()
}

fn join_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// Checks one record's pushed changes: decodable, written by actors bound to this device,
/// complete (dependencies present), and the result still a record of the pushed kind and id.
fn check_record(
    base: Option<&CachedDoc>,
    push: &RecordPush,
    bound: &HashSet<ActorId>,
    writer: &Officer,
    actor: &ActorId,
    policy: Option<Option<&str>>,
) -> Checked {
    let mut decoded = Vec::with_capacity(push.changes.len());
    for (i, bytes) in push.changes.iter().enumerate() {
        match Change::from_bytes(bytes.0.clone()) {
            Ok(c) => decoded.push(c),
            Err(_) => {
                return refused(
                    "malformed-change",
                    format!(
                        "change {i} of this record is not a whole automerge change: push it again from the device's document"
                    ),
                    None,
                );
            }
        }
    }
    let mut seen = HashSet::new();
    let unknown: Vec<Change> = decoded
        .into_iter()
        .filter(|c| seen.insert(c.hash()))
        .filter(|c| base.is_none_or(|b| b.doc.automerge().get_change_by_hash(&c.hash()).is_none()))
        .collect();
    if unknown.is_empty() {
        return match base {
            Some(_) => Checked::Known,
            None => refused(
                "not-a-record",
                "the server does not hold this record and the push carries no change: push all of its changes",
                None,
            ),
        };
    }
    if let Some(c) = unknown.iter().find(|c| !bound.contains(c.actor_id())) {
        return refused(
            "actor-not-bound",
            "a change was written by an actor that is not enrolled to this device: write with the device's enrolled actor",
            Some(c.hash()),
        );
    }
    // Identity: every new change names the device's own officer and role, so history's "who"
    // cannot be forged by a device for someone else.
    if let Some(c) = unknown.iter().find(|c| {
        !ChangeMessage::parse(c.message())
            .is_some_and(|m| m.by == writer.id && m.role == writer.role)
    }) {
        return refused(
            "author-not-device-officer",
            "a change names another officer or role than the one enrolled on this device: write with the device's own user",
            Some(c.hash()),
        );
    }
    if let Some(b) = base
        && b.kind != push.kind
    {
        return refused(
            "kind-mismatch",
            format!(
                "the server holds this record as a {}, not a {}",
                b.kind.label(),
                push.kind.label()
            ),
            None,
        );
    }
    let doc = match base {
        Some(b) => {
            let mut fork = b.doc.fork_as(actor);
            let raw: Vec<u8> = unknown
                .iter()
                .flat_map(|c| c.raw_bytes().to_vec())
                .collect();
            if fork.apply_changes(&raw).is_err() {
                return refused(
                    "malformed-change",
                    "the changes could not be applied: push them again from the device's document",
                    None,
                );
            }
            let missing = fork.automerge().get_missing_deps(&[]);
            if !missing.is_empty() {
                return Checked::Refused(PushOutcome::MissingDependencies {
                    missing: missing.into_iter().map(Hash::from).collect(),
                });
            }
            fork
        }
        None => {
            let mut plain = Automerge::new();
            if plain.apply_changes(unknown.clone()).is_err() {
                return refused(
                    "malformed-change",
                    "the changes could not be applied: push them again from the device's document",
                    None,
                );
            }
            let missing = plain.get_missing_deps(&[]);
            if !missing.is_empty() {
                return Checked::Refused(PushOutcome::MissingDependencies {
                    missing: missing.into_iter().map(Hash::from).collect(),
                });
            }
            match RecordDoc::load(&plain.save(), actor) {
                Ok(doc) => doc,
                Err(_) => {
                    return refused(
                        "not-a-record",
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
                "not-a-record",
                "with these changes the document is no longer a valid record: rebuild the record from the server's version",
                None,
            );
        }
    };
    if record.kind() != push.kind {
        return refused(
            "kind-mismatch",
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
            "record-mismatch",
            "the document holds another record's id: push each record under its own id",
            None,
        );
    }
    if let Some(outcome) = check_writer(base, &record, writer) {
        return Checked::Refused(outcome);
    }
    let base_heads = base.map(|b| b.doc.heads()).unwrap_or_default();
    let changes = doc.automerge().get_changes(&base_heads);
    // Each new change against the write policy, as of what its author could see. `policy` is
    // the author's team (known for a stored record; the writer's own for a new one).
    if let Some(author_team) = policy {
        let team = if base.is_none() {
            writer.team.as_deref()
        } else {
            author_team
        };
        if let Err(outcome) = crate::trust::check_changes(doc.automerge(), &changes, writer, team) {
            return Checked::Refused(outcome);
        }
    }
    Checked::New(Box::new(NewRecord {
        doc,
        changes,
        record,
    }))
}

/// A feed decision about one record for the requesting device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Not in scope and not held, or evicted in this page: send nothing.
    Skip,
    /// Send changes after `through` (a snapshot in this page, or an earlier one, covers the rest).
    Send { through: u64 },
}

/// State while one feed page is built.
struct PageBuilder<'a> {
    device: &'a DeviceAuth,
    viewer: Viewer<'a>,
    cursor: u64,
    entries: Vec<FeedEntry>,
    changes_entry: HashMap<RecordId, usize>,
    /// The last scanned row (`seq`) of each record sent: its `heads_after` are the entry's heads.
    heads: HashMap<RecordId, u64>,
    /// Changes to send, in feed order: (entry index, seq); their bytes are read at the end.
    pending: Vec<(usize, u64)>,
    decisions: HashMap<RecordId, Decision>,
    direct: HashMap<RecordId, Option<(Arc<RecordFacts>, bool)>>,
    /// Holdings read ahead for the scanned rows' records (None: not held, never decided).
    known_holdings: HashMap<RecordId, Option<Holding>>,
    holdings: Vec<(RecordId, Holding)>,
}

impl<'a> PageBuilder<'a> {
    fn new(device: &'a DeviceAuth, cursor: u64) -> PageBuilder<'a> {
        PageBuilder {
            device,
            viewer: Viewer {
                officer: device.officer.id.as_str(),
                role: device.officer.role,
                team: device.officer.team.as_deref(),
            },
            cursor,
            entries: Vec::new(),
            changes_entry: HashMap::new(),
            heads: HashMap::new(),
            pending: Vec::new(),
            decisions: HashMap::new(),
            direct: HashMap::new(),
            known_holdings: HashMap::new(),
            holdings: Vec::new(),
        }
    }
}

impl SyncService {
    pub fn new(store: Arc<dyn ServerStore>, config: ServerConfig) -> SyncService {
        let capacity = NonZeroUsize::new(config.document_cache).unwrap_or(NonZeroUsize::MIN);
        SyncService {
            store,
            config,
            cache: Mutex::new(LruCache::new(capacity)),
            writer: Mutex::new(()),
            queue: Mutex::new(Vec::new()),
            actor: ActorId::from(b"fieldbook-server".as_slice()),
            metrics: Metrics::default(),
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The store, for read-only views built outside the sync paths (the audit trail).
    pub(crate) fn store(&self) -> &dyn ServerStore {
        self.store.as_ref()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.config.clock.now().millis()
    }

    /// The device a bearer token belongs to, if it may sync.
    pub fn authenticate(&self, token: Option<&str>) -> Result<DeviceAuth, ApiError> {
        let token = token
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(ApiError::unauthenticated)?;
        let device = self
            .store
            .device_by_token(sha256(token.as_bytes()))?
            .ok_or_else(ApiError::unauthenticated)?;
        if device.revoked {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "device-revoked",
                "this device was revoked: ask for a new enrolment code",
            ));
        }
        let ttl = i64::try_from(self.config.token_ttl.as_millis()).unwrap_or(i64::MAX);
        if self.now_ms().saturating_sub(device.created_at) >= ttl {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token-expired",
                "this device's token has expired: enrol the device again",
            ));
        }
        Ok(device)
    }

    /// Exchanges a one-time code for a device and its token.
    pub fn enrol(&self, request: EnrolRequest) -> Result<EnrolResponse, ApiError> {
        if request.protocol != wire::PROTOCOL_VERSION {
            return Err(protocol_error(request.protocol));
        }
        if request.actors.is_empty() || request.actors.len() > 64 {
            return Err(ApiError::malformed("send between 1 and 64 actor ids"));
        }
        let mut actors = Vec::with_capacity(request.actors.len());
        for a in &request.actors {
            match hex::decode(a) {
                Ok(bytes) if !bytes.is_empty() && bytes.len() <= 32 => {
                    actors.push(hex::encode(bytes))
                }
                _ => {
                    return Err(ApiError::malformed(
                        "an actor id must be 1 to 32 bytes in hex",
                    ));
                }
            }
        }
        actors.sort();
        actors.dedup();
        if request.label.chars().count() > 200 {
            return Err(ApiError::malformed(
                "the device label is longer than 200 characters",
            ));
        }
        let token: [u8; 32] = rand::random();
        let token = hex::encode(token);
        let device = NewDevice {
            id: uuid::Uuid::now_v7().to_string(),
            label: request.label,
            token_hash: sha256(token.as_bytes()),
            actors,
            created_at: self.now_ms(),
        };
        let code_hash = sha256(normalise_code(&request.code).as_bytes());
        match self.store.enrol(code_hash, self.now_ms(), &device)? {
            EnrolOutcome::Enrolled(officer) => {
                tracing::info!(device = %device.id, officer = %officer.id, actors = device.actors.len(), "device enrolled");
                Ok(EnrolResponse {
                    device_id: device.id,
                    token,
                    officer: officer.id,
                    role: officer.role,
                    team: officer.team,
                })
            }
            EnrolOutcome::BadCode => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "bad-code",
                "the enrolment code is unknown, used or expired: ask for a new one",
            )),
            EnrolOutcome::ActorTaken(_) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "actor-taken",
                "an actor id is already bound to another device: generate new actor ids for this install",
            )),
        }
    }

    /// Checks the request as a whole (protocol, limits) before anything is looked at.
    pub fn check_sync_request(&self, protocol: u32, push: &[RecordPush]) -> Result<(), ApiError> {
        if protocol != wire::PROTOCOL_VERSION {
            return Err(protocol_error(protocol));
        }
        let changes: usize = push.iter().map(|p| p.changes.len()).sum();
        if push.len() > self.config.max_push_records || changes > self.config.max_push_changes {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "too-many-changes",
                format!(
                    "a push holds at most {} records and {} changes: split the outbox",
                    self.config.max_push_records, self.config.max_push_changes
                ),
            ));
        }
        Ok(())
    }

    /// The server's document of a record, from the cache or the store. Only the writer caches.
    pub(crate) fn document(
        &self,
        record: RecordId,
        cache_it: bool,
    ) -> Result<Option<Arc<CachedDoc>>, ApiError> {
        if let Some(d) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&record)
        {
            return Ok(Some(Arc::clone(d)));
        }
        let Some(stored) = self.store.load_document(record)? else {
            return Ok(None);
        };
        let doc = RecordDoc::load(&stored.bytes, &self.actor).map_err(|e| {
            tracing::error!(record = %record, error = %e, "stored document does not load");
            ApiError::internal()
        })?;
        let cached = Arc::new(CachedDoc {
            doc,
            kind: stored.kind,
            last_seq: stored.last_seq,
            changes_since_snapshot: stored.changes_since_snapshot,
        });
        if cache_it {
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(record, Arc::clone(&cached));
        }
        Ok(Some(cached))
    }

    /// Checks and stores pushed records: each record is accepted whole or not at all; the
    /// accepted ones are written in one transaction.
    ///
    /// **Group commit.** The request joins a queue, then waits for the writer. Whoever holds the
    /// writer takes every queued request, checks them one after another (each sees the ones
    /// before it, as if they had come one at a time) and commits them in one transaction, so
    /// the fsync of `synchronous=FULL` is paid once per group rather than once per request. A
    /// request whose turn comes after its group was committed just takes its answer. Nothing is
    /// answered before the transaction holding it committed.
    pub fn push(
        &self,
        device: &DeviceAuth,
        pushes: &[RecordPush],
    ) -> Result<Vec<PushResult>, ApiError> {
        if pushes.is_empty() {
            return Ok(Vec::new());
        }
        let job = Arc::new(PushJob {
            device: device.clone(),
            pushes: pushes.to_vec(),
            result: Mutex::new(None),
        });
        lock(&self.queue).push(Arc::clone(&job));
        let _writer = lock(&self.writer);
        if let Some(done) = lock(&job.result).take() {
            return done;
        }
        // Not answered yet, so still queued: lead a group with everything queued so far.
        let jobs = std::mem::take(&mut *lock(&self.queue));
        self.run_group(&jobs);
        let done = lock(&job.result).take();
        done.unwrap_or_else(|| Err(ApiError::internal()))
    }

    /// Checks, commits (one transaction) and answers a group of queued pushes. Holds the writer.
    fn run_group(&self, jobs: &[Arc<PushJob>]) {
        let mut group: HashMap<RecordId, Arc<CachedDoc>> = HashMap::new();
        let mut prepared: Vec<(&PushJob, Prepared)> = Vec::with_capacity(jobs.len());
        for job in jobs {
            match self.prepare(job, &group) {
                Ok((p, pending)) => {
                    group.extend(pending);
                    prepared.push((job, p));
                }
                Err(e) => *lock(&job.result) = Some(Err(e)),
            }
        }
        let batches: Vec<CommitBatch<'_>> = prepared
            .iter()
            .map(|(job, p)| CommitBatch {
                device: &job.device.device_id,
                received_at: p.received_at,
                writes: &p.writes,
            })
            .collect();
        let seqs = match self.store.commit_many(&batches) {
            Ok(seqs) => seqs,
            Err(e) => {
                let e = ApiError::from(e);
                for (job, _) in &prepared {
                    *lock(&job.result) = Some(Err(e.clone()));
                }
                return;
            }
        };
        // Committed: now the cache may show the new documents, each with its last seq.
        {
            let mut last: HashMap<RecordId, u64> = HashMap::new();
            for ((_, p), seqs) in prepared.iter().zip(&seqs) {
                for (w, seq) in p.writes.iter().zip(seqs) {
                    let l = last.entry(w.facts.id).or_insert(0);
                    *l = (*l).max(*seq);
                }
            }
            let mut cache = lock(&self.cache);
            for (record, seq) in last {
                if let Some(p) = group.remove(&record) {
                    let mut p = Arc::try_unwrap(p).unwrap_or_else(|a| CachedDoc {
                        doc: a.doc.fork_as(&self.actor),
                        kind: a.kind,
                        last_seq: a.last_seq,
                        changes_since_snapshot: a.changes_since_snapshot,
                    });
                    p.last_seq = seq;
                    cache.put(record, Arc::new(p));
                }
            }
        }
        for ((job, p), _) in prepared.into_iter().zip(&seqs) {
            let mut results = Vec::with_capacity(job.pushes.len());
            let mut accepted = 0u64;
            let mut failed = false;
            for ((push, outcome), w) in job.pushes.iter().zip(p.outcomes).zip(p.write_of) {
                let outcome = match (outcome, w) {
                    (Some(o), _) => o,
                    (None, Some(i)) => {
                        let write = &p.writes[i];
                        accepted += write.changes.len() as u64;
                        PushOutcome::Accepted {
                            heads: split_heads(&write.heads),
                            received_at: p.received_at,
                            new_changes: write.changes.len() as u32,
                        }
                    }
                    (None, None) => {
                        failed = true;
                        break;
                    }
                };
                results.push(PushResult {
                    record: push.record,
                    outcome,
                });
            }
            self.metrics.accepted(accepted);
            *lock(&job.result) = Some(if failed {
                Err(ApiError::internal())
            } else {
                Ok(results)
            });
        }
    }

    /// Checks one queued request's records against the server's documents (and the group's
    /// earlier, not yet committed, ones in `group`). Returns what to store and the request's
    /// new documents.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        job: &PushJob,
        group: &HashMap<RecordId, Arc<CachedDoc>>,
    ) -> Result<(Prepared, HashMap<RecordId, Arc<CachedDoc>>), ApiError> {
        let device = &job.device;
        let pushes = &job.pushes;
        let bound: HashSet<ActorId> = device
            .actors
            .iter()
            .filter_map(|a| hex::decode(a).ok())
            .map(|b| ActorId::from(b.as_slice()))
            .collect();
        let received_at = self.now_ms();
        let mut outcomes: Vec<Option<PushOutcome>> = Vec::with_capacity(pushes.len());
        let mut pending: HashMap<RecordId, Arc<CachedDoc>> = HashMap::new();
        let mut writes: Vec<RecordWrite> = Vec::new();
        let mut write_of: Vec<Option<usize>> = Vec::with_capacity(pushes.len());
        for push in pushes {
            let base = match pending
                .get(&push.record)
                .or_else(|| group.get(&push.record))
            {
                Some(d) => Some(Arc::clone(d)),
                None => self.document(push.record, true)?,
            };
            let facts = if self.config.check_policy {
                self.store.facts(push.record)?
            } else {
                None
            };
            let policy = self
                .config
                .check_policy
                .then(|| facts.as_ref().and_then(|f| f.team.as_deref()));
            match check_record(
                base.as_deref(),
                push,
                &bound,
                &device.officer,
                &self.actor,
                policy,
            ) {
                Checked::Known => {
                    let heads = base.as_ref().map(|b| b.doc.heads()).unwrap_or_default();
                    outcomes.push(Some(PushOutcome::Accepted {
                        heads: heads.into_iter().map(Hash::from).collect(),
                        received_at,
                        new_changes: 0,
                    }));
                    write_of.push(None);
                }
                Checked::Refused(outcome) => {
                    if let PushOutcome::Rejected { rule, .. } = &outcome {
                        self.metrics.rejected(rule, push.changes.len() as u64);
                        tracing::info!(device = %device.device_id, record = %push.record, rule = %rule, changes = push.changes.len(), "record push rejected");
                    }
                    outcomes.push(Some(outcome));
                    write_of.push(None);
                }
                Checked::New(new) => {
                    let NewRecord {
                        doc,
                        changes,
                        record,
                    } = *new;
                    let proj = projection::derive(&record, received_at, 0);
                    let mut heads: Vec<ChangeHash> =
                        base.as_ref().map(|b| b.doc.heads()).unwrap_or_default();
                    let mut new_changes = Vec::with_capacity(changes.len());
                    for c in &changes {
                        heads.retain(|h| !c.deps().contains(h));
                        heads.push(c.hash());
                        heads.sort();
                        new_changes.push(NewChange {
                            hash: c.hash().0.to_vec(),
                            actor: c.actor_id().to_hex_string(),
                            bytes: c.raw_bytes().to_vec(),
                            heads_after: join_heads(&heads),
                        });
                    }
                    let since = base.as_ref().map_or(0, |b| b.changes_since_snapshot)
                        + changes.len() as u32;
                    let snapshot = (base.is_none() || since >= self.config.compact_every)
                        .then(|| doc.automerge().save());
                    let compacted = snapshot.is_some();
                    writes.push(RecordWrite {
                        facts: RecordFacts {
                            id: push.record,
                            kind: push.kind,
                            author: proj.author.as_str().to_owned(),
                            team: None,
                            attending: record
                                .attending_officers()
                                .iter()
                                .map(|o| o.as_str().to_owned())
                                .collect(),
                            status: proj.status,
                            links: proj.links,
                        },
                        heads: doc.heads_bytes(),
                        changes: new_changes,
                        snapshot,
                    });
                    pending.insert(
                        push.record,
                        Arc::new(CachedDoc {
                            doc,
                            kind: push.kind,
                            last_seq: 0,
                            changes_since_snapshot: if compacted { 0 } else { since },
                        }),
                    );
                    outcomes.push(None);
                    write_of.push(Some(writes.len() - 1));
                }
            }
        }
        Ok((
            Prepared {
                received_at,
                outcomes,
                writes,
                write_of,
            },
            pending,
        ))
    }

    /// The next page of the feed for `device` after `cursor`.
    pub fn feed(
        &self,
        device: &DeviceAuth,
        cursor: u64,
        page_limit: u32,
    ) -> Result<FeedPage, ApiError> {
        let limit = match page_limit {
            0 => wire::DEFAULT_PAGE_CHANGES,
            n => n.min(self.config.max_page_changes),
        } as usize;
        let max = self.store.max_seq()?;
        self.metrics.feed_lag(max.saturating_sub(cursor));
        if cursor >= max {
            return Ok(FeedPage {
                entries: Vec::new(),
                cursor,
                more: false,
            });
        }
        let mut page = PageBuilder::new(device, cursor);
        // Out-of-scope rows cost a scan but no entry; bound the scan so one request stays short.
        let scan_budget = limit * 8 + 256;
        let mut position = cursor;
        let mut sent = 0usize;
        let mut scanned = 0usize;
        'scan: loop {
            let rows = self.store.feed_rows(position, max, limit.clamp(64, 1000))?;
            if rows.is_empty() {
                break;
            }
            // What the device holds of these rows' records, in one query rather than one each.
            let unknown: HashSet<RecordId> = rows
                .iter()
                .map(|r| r.record)
                .filter(|r| !page.decisions.contains_key(r) && !page.known_holdings.contains_key(r))
                .collect();
            let unknown: Vec<RecordId> = unknown.into_iter().collect();
            let found = self.store.holdings(&device.device_id, &unknown)?;
            for r in unknown {
                page.known_holdings.insert(r, found.get(&r).copied());
            }
            for row in rows {
                if sent >= limit || scanned >= scan_budget {
                    break 'scan;
                }
                scanned += 1;
                position = row.seq;
                if let Decision::Send { through } = self.decide(&mut page, row.record)? {
                    page.heads.insert(row.record, row.seq);
                    if row.seq <= through {
                        sent += 1; // delivered inside a snapshot
                    } else if *row.device != *device.device_id {
                        sent += 1;
                        add_change(&mut page, row.record, row.seq);
                    }
                }
            }
        }
        // Bodies only of the rows sent, and of the rows whose heads end a changes entry.
        let mut wanted: Vec<u64> = page.pending.iter().map(|(_, seq)| *seq).collect();
        wanted.extend(
            page.changes_entry
                .keys()
                .filter_map(|record| page.heads.get(record).copied()),
        );
        wanted.sort_unstable();
        wanted.dedup();
        let mut bodies: HashMap<u64, ChangeBody> = self
            .store
            .change_bodies(&wanted)?
            .into_iter()
            .map(|b| (b.seq, b))
            .collect();
        for (record, index) in &page.changes_entry {
            if let (Some(FeedEntry::Changes { heads, .. }), Some(b)) = (
                page.entries.get_mut(*index),
                page.heads.get(record).and_then(|seq| bodies.get(seq)),
            ) {
                *heads = split_heads(&b.heads_after);
            }
        }
        for (index, seq) in std::mem::take(&mut page.pending) {
            let body = bodies.get_mut(&seq).ok_or_else(|| {
                tracing::error!(seq, "a feed row has no stored body");
                ApiError::internal()
            })?;
            if let Some(FeedEntry::Changes { changes, .. }) = page.entries.get_mut(index) {
                changes.push(ReceivedChange {
                    bytes: Bytes(std::mem::take(&mut body.bytes)),
                    received_at: body.received_at,
                });
            }
        }
        page.entries
            .retain(|e| !matches!(e, FeedEntry::Changes { changes, .. } if changes.is_empty()));
        for (_, h) in &mut page.holdings {
            h.as_of_cursor = position;
        }
        self.store.set_holdings(&device.device_id, &page.holdings)?;
        Ok(FeedPage {
            entries: page.entries,
            cursor: position,
            more: position < max,
        })
    }

    /// The record's facts and whether it is in the viewer's scope by itself.
    fn direct(
        &self,
        page: &mut PageBuilder<'_>,
        record: RecordId,
    ) -> Result<Option<(Arc<RecordFacts>, bool)>, ApiError> {
        if let Some(d) = page.direct.get(&record) {
            return Ok(d.clone());
        }
        let d = self.store.facts(record)?.map(|f| {
            let direct = page.viewer.holds_directly(&f);
            (f, direct)
        });
        page.direct.insert(record, d.clone());
        Ok(d)
    }

    /// Whether the record is in the viewer's scope, directly or through a record linking to it.
    fn in_scope(
        &self,
        page: &mut PageBuilder<'_>,
        facts: &RecordFacts,
        direct: bool,
    ) -> Result<bool, ApiError> {
        if direct {
            return Ok(true);
        }
        if !page.viewer.follows_links_to(facts.kind) {
            return Ok(false);
        }
        if facts.kind == RecordKind::VictimNeedsAssessment {
            // A needs assessment comes with the crime it belongs to.
            for (_, to) in facts.links.iter().filter(|(role, _)| role == "crime") {
                if matches!(self.direct(page, *to)?, Some((_, true))) {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        for from in self.store.linking_to(facts.id)? {
            let Some((linking, linking_direct)) = self.direct(page, from)? else {
                continue;
            };
            if linking_direct {
                return Ok(true);
            }
            if linking.kind == RecordKind::VictimNeedsAssessment
                && page.viewer.follows_links_to(linking.kind)
            {
                for (_, to) in linking.links.iter().filter(|(role, _)| role == "crime") {
                    if matches!(self.direct(page, *to)?, Some((_, true))) {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Decides (once per page) what the device gets of a record: snapshot, changes, eviction.
    /// Records linked from it are decided too, so a person entering scope with a crime arrives.
    fn decide(&self, page: &mut PageBuilder<'_>, record: RecordId) -> Result<Decision, ApiError> {
        if let Some(d) = page.decisions.get(&record) {
            return Ok(*d);
        }
        page.decisions.insert(record, Decision::Skip);
        let Some((facts, direct)) = self.direct(page, record)? else {
            return Ok(Decision::Skip);
        };
        let in_scope = self.in_scope(page, &facts, direct)?;
        let holding = match page.known_holdings.get(&record) {
            Some(h) => *h,
            None => self.store.holding(&page.device.device_id, record)?,
        };
        let held = holding.is_some_and(|h| h.effective(page.cursor));
        let decision = match (in_scope, held) {
            (true, true) => {
                let through = holding
                    .filter(|h| page.cursor >= h.as_of_cursor)
                    .map_or(0, |h| h.through_seq);
                Decision::Send { through }
            }
            (true, false) => {
                let Some(doc) = self.document(record, false)? else {
                    return Ok(Decision::Skip);
                };
                let receipts = self.store.receipts(record, doc.last_seq)?;
                page.entries.push(FeedEntry::Snapshot {
                    record,
                    kind: doc.kind,
                    document: Bytes(doc.doc.automerge().save()),
                    heads: doc.doc.heads().into_iter().map(Hash::from).collect(),
                    receipts: receipts
                        .into_iter()
                        .map(|(hash, received_at)| Receipt {
                            hash: Hash(hash),
                            received_at,
                        })
                        .collect(),
                });
                page.holdings.push((
                    record,
                    Holding {
                        held: true,
                        as_of_cursor: 0,
                        prev_held: false,
                        through_seq: doc.last_seq,
                    },
                ));
                Decision::Send {
                    through: doc.last_seq,
                }
            }
            (false, true) => {
                page.entries.push(FeedEntry::Evict { record });
                page.holdings.push((
                    record,
                    Holding {
                        held: false,
                        as_of_cursor: 0,
                        prev_held: true,
                        through_seq: 0,
                    },
                ));
                Decision::Skip
            }
            (false, false) => Decision::Skip,
        };
        page.decisions.insert(record, decision);
        if in_scope || held {
            // Linked records may enter (or leave) scope with this one.
            let mut linked: Vec<RecordId> = facts.links.iter().map(|(_, id)| *id).collect();
            if facts.kind == RecordKind::CrimeReport
                && page
                    .viewer
                    .follows_links_to(RecordKind::VictimNeedsAssessment)
            {
                linked.extend(self.store.linking_to(record)?);
            }
            for other in linked {
                if let Some((f, _)) = self.direct(page, other)?
                    && page.viewer.follows_links_to(f.kind)
                {
                    self.decide(page, other)?;
                }
            }
        }
        Ok(decision)
    }

    /// One stateless round of automerge's sync protocol for one record.
    pub fn repair(
        &self,
        device: &DeviceAuth,
        request: RepairRequest,
    ) -> Result<RepairResponse, ApiError> {
        if request.protocol != wire::PROTOCOL_VERSION {
            return Err(protocol_error(request.protocol));
        }
        let message = automerge::sync::Message::decode(&request.message.0).map_err(|_| {
            ApiError::malformed("the repair message is not an automerge sync message")
        })?;
        let base = self.document(request.record, true)?;
        if let Some(b) = &base
            && !self.may_repair(device, request.record, b)?
        {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown-record",
                "this device holds no such record",
            ));
        }
        let mut state = automerge::sync::State::new();
        let mut fork = match &base {
            Some(b) => b.doc.automerge().fork(),
            None => Automerge::new(),
        };
        let base_heads = base.as_ref().map(|b| b.doc.heads()).unwrap_or_default();
        fork.receive_sync_message(&mut state, message)
            .map_err(|_| {
                ApiError::malformed("the repair message carries changes that do not apply")
            })?;
        let incoming: Vec<Bytes> = fork
            .get_changes(&base_heads)
            .iter()
            .map(|c| Bytes(c.raw_bytes().to_vec()))
            .collect();
        let mut rejected = None;
        if !incoming.is_empty() {
            let push = RecordPush {
                record: request.record,
                kind: request.kind,
                changes: incoming,
            };
            let result = self.push(device, std::slice::from_ref(&push))?;
            if let Some(r) = result.into_iter().next()
                && !matches!(r.outcome, PushOutcome::Accepted { .. })
            {
                rejected = Some(r.outcome);
            }
        }
        let current = self.document(request.record, true)?;
        let reply = match &current {
            Some(c) => c.doc.automerge().generate_sync_message(&mut state),
            None => Automerge::new().generate_sync_message(&mut state),
        };
        Ok(RepairResponse {
            message: reply.map(|m| Bytes(m.encode())),
            heads: current
                .map(|c| c.doc.heads().into_iter().map(Hash::from).collect())
                .unwrap_or_default(),
            rejected,
        })
    }

    /// A device may repair a record it holds, one in its scope, or one it writes to.
    fn may_repair(
        &self,
        device: &DeviceAuth,
        record: RecordId,
        _doc: &CachedDoc,
    ) -> Result<bool, ApiError> {
        if self
            .store
            .holding(&device.device_id, record)?
            .is_some_and(|h| h.held)
        {
            return Ok(true);
        }
        let mut page = PageBuilder::new(device, 0);
        let Some((facts, direct)) = self.direct(&mut page, record)? else {
            return Ok(false);
        };
        self.in_scope(&mut page, &facts, direct)
    }
}

fn add_change(page: &mut PageBuilder<'_>, record: RecordId, seq: u64) {
    let index = match page.changes_entry.get(&record) {
        Some(i) => *i,
        None => {
            let kind = page
                .direct
                .get(&record)
                .and_then(|d| d.as_ref())
                .map_or(RecordKind::Person, |(f, _)| f.kind);
            page.entries.push(FeedEntry::Changes {
                record,
                kind,
                changes: Vec::new(),
                heads: Vec::new(),
            });
            page.changes_entry.insert(record, page.entries.len() - 1);
            page.entries.len() - 1
        }
    };
    page.pending.push((index, seq));
}

fn protocol_error(version: u32) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "protocol",
        format!(
            "this server speaks sync protocol {}, not {version}: update the app",
            wire::PROTOCOL_VERSION
        ),
    )
}

/// Codes are read case-insensitively, ignoring spaces and dashes (they are read out by phone).
pub(crate) fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}
