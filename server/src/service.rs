//! The sync service: enrolment, authentication, checking and storing pushed changes, building
//! feed pages, and repair rounds. Blocking code (SQLite, automerge), called from the handlers
//! through `spawn_blocking`; it knows nothing of HTTP besides the error codes.
//!
//! **Checks outside the writer, commits under it.** A push's records are checked
//! ([`crate::trust`]) without any lock, against the committed documents, so one heavy push never
//! holds up another device's. Only then does the request take the writer (`writer`): there each
//! record's base is re-validated (the server's version it was checked against must still be the
//! current one, counting the group's earlier writes; a record that moved is checked again on
//! what is current), and the group is committed in one transaction. So two pushes to one record
//! never both build on the same heads, every outcome is judged against the record as it stands
//! at commit, and the store's `seq` grows in commit order (the feed's watermark is simply
//! `max(seq)`). Feed pages are built without the lock, from committed rows only.
//!
//! **Documents in memory** ([`crate::documents`]): a cache bounded by bytes, kept coherent with
//! commits.

use crate::config::ServerConfig;
use crate::documents::{CachedDoc, DocumentCache};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::scope::Viewer;
use crate::store::{
    ChangeBody, CommitBatch, DeviceAuth, EnrolOutcome, Holding, NewChange, NewDevice, RecordFacts,
    RecordWrite, ServerStore, StoreError, StoredDocument,
};

/// Times a group is checked again and committed when another writer keeps committing to its
/// records first; then the pushes still unanswered are asked to retry.
const MOVED_RETRIES: u32 = 3;

/// The answer to a push whose records kept moving under its commit: nothing was stored.
fn moved_error() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "the records of this push were being changed by other writers; nothing of it was stored: retry",
    )
}
use crate::trust::{self, Checked, NewRecord, PushContext};
use automerge::sync::SyncDoc;
use automerge::{ActorId, Automerge, ChangeHash};
use axum::http::StatusCode;
use fieldbook_core::doc::bounded;
use fieldbook_core::doc::{Heads, RecordDoc};
use fieldbook_core::domain::{RecordId, RecordKind};
use fieldbook_core::projection;
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, FeedEntry, FeedPage, Hash, PushOutcome, PushResult,
    Receipt, ReceivedChange, RecordPush, RepairRequest, RepairResponse,
};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// A push request waiting for the writer (group commit, see [`SyncService::push`]).
#[derive(Debug)]
struct PushJob {
    device: DeviceAuth,
    pushes: Vec<RecordPush>,
    /// The records as checked outside the writer; taken by the group's leader.
    prepared: Mutex<Option<PreparedPush>>,
    /// Set by the group's leader before it lets go of the writer.
    result: Mutex<Option<Result<Vec<PushResult>, ApiError>>>,
}

/// One request's checked records.
#[derive(Debug)]
struct PreparedPush {
    received_at: i64,
    records: Vec<PreparedRecord>,
}

/// One pushed record, checked against the server's version at `base_heads`.
#[derive(Debug)]
struct PreparedRecord {
    /// Heads of the version checked against (`None`: the server did not hold the record).
    base_heads: Option<Vec<ChangeHash>>,
    verdict: Verdict,
}

/// What to answer for a record, or what to store for it.
#[derive(Debug)]
enum Verdict {
    /// Answered without storing anything (already held, refused, dependencies missing).
    Answer(PushOutcome),
    /// Accepted once this is stored; the document to cache after the commit.
    Store(Box<RecordWrite>, Arc<CachedDoc>),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The service shared by every handler.
#[derive(Debug)]
pub(crate) struct SyncService {
    store: Arc<dyn ServerStore>,
    config: ServerConfig,
    cache: DocumentCache,
    writer: Mutex<()>,
    /// Pushes waiting for the writer.
    queue: Mutex<Vec<Arc<PushJob>>>,
    /// One sync or repair at a time per device (see [`SyncService::device_turn`]).
    turns: Mutex<HashMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>>,
    actor: ActorId,
    pub metrics: Metrics,
    /// Enrolment attempts admitted (see [`crate::limit`]).
    pub enrol_limiter: crate::limit::EnrolLimiter,
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The actors enrolled to `device`.
fn bound_actors(device: &DeviceAuth) -> HashSet<ActorId> {
    device
        .actors
        .iter()
        .filter_map(|a| hex::decode(a).ok())
        .map(|b| ActorId::from(b.as_slice()))
        .collect()
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
        SyncService {
            cache: DocumentCache::new(config.document_cache_bytes, config.document_cache),
            enrol_limiter: crate::limit::EnrolLimiter::new(
                config.enrol_limit,
                Arc::clone(&config.clock),
            ),
            store,
            config,
            writer: Mutex::new(()),
            queue: Mutex::new(Vec::new()),
            turns: Mutex::new(HashMap::new()),
            actor: ActorId::from(b"fieldbook-server".as_slice()),
            metrics: Metrics::default(),
        }
    }

    /// The lock a device's sync and repair requests take in turn: one device's requests are
    /// worked on one at a time, so a device sending many at once (a retrying client, or a hostile
    /// one) occupies one worker, not all of them.
    pub fn device_turn(&self, device: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = lock(&self.turns);
        if let Some(turn) = turns.get(device).and_then(std::sync::Weak::upgrade) {
            return turn;
        }
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        if turns.len() >= 1024 {
            turns.retain(|_, t| t.strong_count() > 0);
        }
        turns.insert(device.to_owned(), Arc::downgrade(&turn));
        turn
    }

    /// What the document cache holds: (estimated bytes, documents).
    pub fn document_cache_usage(&self) -> (usize, usize) {
        self.cache.usage()
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
        if let Err(e) = crate::text::check_plain("device label", &request.label) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "control-character",
                e.to_string(),
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
            EnrolOutcome::Enrolled { officer, replaced } => {
                if replaced.is_empty() {
                    tracing::info!(device = %device.id, officer = %officer.id, actors = device.actors.len(), "device enrolled");
                } else {
                    tracing::info!(device = %device.id, officer = %officer.id, actors = device.actors.len(), replaced = ?replaced, "device enrolled again: it takes over the actors and holdings of its earlier enrolment");
                }
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
            EnrolOutcome::ActorTaken(actor) => {
                tracing::warn!(reason = "actor-taken", actor = %actor, "enrolment refused: an actor is bound to another officer's device");
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "actor-taken",
                    "an actor id is already bound to another officer's device: generate new actor ids for this install",
                ))
            }
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

    /// The server's document of a record, from the cache or the store (a document loaded from
    /// the store is cached unless a commit happened meanwhile: see [`crate::documents`]).
    pub(crate) fn document(&self, record: RecordId) -> Result<Option<Arc<CachedDoc>>, ApiError> {
        if let Some(d) = self.cache.get(&record) {
            return Ok(Some(d));
        }
        let generation = self.cache.generation();
        let Some(stored) = self.store.load_document(record)? else {
            return Ok(None);
        };
        self.cache_stored(record, stored, generation).map(Some)
    }

    /// `stored` loaded and cached (if no commit happened since `generation` was read).
    fn cache_stored(
        &self,
        record: RecordId,
        stored: StoredDocument,
        generation: u64,
    ) -> Result<Arc<CachedDoc>, ApiError> {
        // Bytes this server stored after checking them (every accepted document round-trips
        // through save and load with its heads verified): not verified again at every load.
        let doc = RecordDoc::load_stored(&stored.bytes, &self.actor).map_err(|e| {
            tracing::error!(record = %record, error = %e, "stored document does not load");
            ApiError::internal()
        })?;
        // With no change after it, the stored snapshot is the document saved whole.
        let saved = (stored.changes_since_snapshot == 0).then_some(stored.bytes);
        let cached = Arc::new(CachedDoc::new(
            doc,
            stored.kind,
            stored.last_seq,
            stored.changes_since_snapshot,
            None,
            saved,
        ));
        if let Err(e) = &cached.lineage {
            tracing::warn!(record = %record, error = %e, "a stored document breaks the lineage rules: it takes no new change");
        }
        self.cache
            .insert_loaded(record, Arc::clone(&cached), generation);
        Ok(cached)
    }

    /// What a feed snapshot of `record` sends: the cached version's save; or, not cached, the
    /// stored snapshot when no change followed it, sent without loading the document (this
    /// server checked it before storing it, and the device checks it again on receipt), which
    /// keeps a replacement phone's first pull from loading every record it is sent; otherwise
    /// the document loaded (and cached).
    fn snapshot_of(&self, record: RecordId) -> Result<Option<FedSnapshot>, ApiError> {
        if let Some(d) = self.cache.get(&record) {
            return Ok(Some(FedSnapshot::of(&d)));
        }
        let generation = self.cache.generation();
        let Some(stored) = self.store.load_document(record)? else {
            return Ok(None);
        };
        if stored.changes_since_snapshot == 0 {
            return Ok(Some(FedSnapshot {
                kind: stored.kind,
                heads: Heads::from_bytes(&stored.heads).to_wire(),
                last_seq: stored.last_seq,
                bytes: stored.bytes,
            }));
        }
        let cached = self.cache_stored(record, stored, generation)?;
        Ok(Some(FedSnapshot::of(&cached)))
    }

    /// Checks and stores pushed records: each record is accepted whole or not at all; the
    /// accepted ones are written in one transaction.
    ///
    /// The records are checked first, without the writer (see the module header). **Group
    /// commit.** Then the request joins a queue and waits for the writer. Whoever holds the
    /// writer takes every queued request, re-validates their records one request after another
    /// (each sees the ones before it, as if they had come one at a time) and commits them in one
    /// transaction, so the fsync of `synchronous=FULL` is paid once per group rather than once
    /// per request. A request whose turn comes after its group was committed just takes its
    /// answer. Nothing is answered before the transaction holding it committed.
    pub fn push(
        &self,
        device: &DeviceAuth,
        pushes: &[RecordPush],
    ) -> Result<Vec<PushResult>, ApiError> {
        if pushes.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = self.prepare(device, pushes)?;
        let job = Arc::new(PushJob {
            device: device.clone(),
            pushes: pushes.to_vec(),
            prepared: Mutex::new(Some(prepared)),
            result: Mutex::new(None),
        });
        lock(&self.queue).push(Arc::clone(&job));
        let _writer = lock(&self.writer);
        if let Some(done) = lock(&job.result).take() {
            return done;
        }
        // Not answered yet, so still queued: lead a group with everything queued so far.
        let jobs = std::mem::take(&mut *lock(&self.queue));
        for attempt in 1..=MOVED_RETRIES {
            match self.run_group(&jobs) {
                Ok(()) => break,
                Err(moved) => {
                    // Another writer (another replica) committed to this record between our
                    // reading it and our commit: nothing was stored. Forget our copy and check
                    // the group again on what is stored now.
                    tracing::info!(record = %moved, attempt, "a record moved under the commit: checking the group again");
                    self.metrics.commit_moved();
                    self.cache.put_committed(moved, None);
                    if attempt == MOVED_RETRIES {
                        for job in &jobs {
                            lock(&job.result).get_or_insert_with(|| Err(moved_error()));
                        }
                    }
                }
            }
        }
        let done = lock(&job.result).take();
        done.unwrap_or_else(|| Err(ApiError::internal()))
    }

    /// Re-validates, commits (one transaction) and answers a group of queued pushes. Holds the
    /// writer. When the commit finds a record moved on since it was checked (another writer
    /// committed to it: [`StoreError::Moved`]), nothing is stored or answered: the record is
    /// returned, and each job's checked push is put back to be checked again.
    fn run_group(&self, jobs: &[Arc<PushJob>]) -> Result<(), RecordId> {
        let mut group: HashMap<RecordId, Arc<CachedDoc>> = HashMap::new();
        let mut ready: Vec<(&PushJob, PreparedPush)> = Vec::with_capacity(jobs.len());
        for job in jobs {
            if lock(&job.result).is_some() {
                // Answered in an earlier attempt (its records were refused when checked again).
                continue;
            }
            let Some(mut prepared) = lock(&job.prepared).take() else {
                *lock(&job.result) = Some(Err(ApiError::internal()));
                continue;
            };
            match self.revalidate(job, &mut prepared, &group) {
                Ok(()) => {
                    for (push, record) in job.pushes.iter().zip(&prepared.records) {
                        if let Verdict::Store(_, doc) = &record.verdict {
                            group.insert(push.record, Arc::clone(doc));
                        }
                    }
                    ready.push((job, prepared));
                }
                Err(e) => *lock(&job.result) = Some(Err(e)),
            }
        }
        let writes: Vec<Vec<RecordWrite>> = ready
            .iter()
            .map(|(_, p)| {
                p.records
                    .iter()
                    .filter_map(|r| match &r.verdict {
                        Verdict::Store(w, _) => Some((**w).clone()),
                        Verdict::Answer(_) => None,
                    })
                    .collect()
            })
            .collect();
        let batches: Vec<CommitBatch<'_>> = ready
            .iter()
            .zip(&writes)
            .map(|((job, p), w)| CommitBatch {
                device: &job.device.device_id,
                received_at: p.received_at,
                writes: w,
            })
            .collect();
        let seqs = match self.store.commit_many(&batches) {
            Ok(seqs) => seqs,
            Err(StoreError::Moved { record }) => {
                drop(batches);
                for (job, prepared) in ready {
                    *lock(&job.prepared) = Some(prepared);
                }
                return Err(record);
            }
            Err(e) => {
                let e = ApiError::from(e);
                for (job, _) in &ready {
                    *lock(&job.result) = Some(Err(e.clone()));
                }
                // Whatever the cache holds for these records is still the committed truth.
                return Ok(());
            }
        };
        // Committed: now the cache may show the new documents, each with its last seq.
        let mut last: HashMap<RecordId, u64> = HashMap::new();
        for (w, seqs) in writes.iter().zip(&seqs) {
            for (write, seq) in w.iter().zip(seqs) {
                let l = last.entry(write.facts.id).or_insert(0);
                *l = (*l).max(*seq);
            }
        }
        for (record, doc) in group {
            if let Some(seq) = last.get(&record).filter(|s| **s > 0) {
                doc.set_last_seq(*seq);
            }
            self.cache.put_committed(record, Some(doc));
        }
        for (job, prepared) in ready {
            let mut results = Vec::with_capacity(job.pushes.len());
            let mut accepted = 0u64;
            for (push, record) in job.pushes.iter().zip(prepared.records) {
                let outcome = match record.verdict {
                    Verdict::Answer(outcome) => outcome,
                    Verdict::Store(write, _) => {
                        accepted += write.changes.len() as u64;
                        PushOutcome::Accepted {
                            heads: Heads::from_bytes(&write.heads).to_wire(),
                            received_at: prepared.received_at,
                            new_changes: write.changes.len() as u32,
                        }
                    }
                };
                if let PushOutcome::Rejected { rule, .. } = &outcome {
                    self.metrics
                        .rejected(rule.as_str(), push.changes.len() as u64);
                    tracing::info!(device = %job.device.device_id, record = %push.record, rule = %rule, changes = push.changes.len(), "record push rejected");
                }
                results.push(PushResult {
                    record: push.record,
                    outcome,
                });
            }
            self.metrics.accepted(accepted);
            *lock(&job.result) = Some(Ok(results));
        }
        Ok(())
    }

    /// Under the writer: every record of `prepared` whose base is no longer the current
    /// version (the group's earlier writes, else the committed document) is checked again on
    /// what is current.
    fn revalidate(
        &self,
        job: &PushJob,
        prepared: &mut PreparedPush,
        group: &HashMap<RecordId, Arc<CachedDoc>>,
    ) -> Result<(), ApiError> {
        let bound = bound_actors(&job.device);
        let mut pending: HashMap<RecordId, Arc<CachedDoc>> = HashMap::new();
        for (push, record) in job.pushes.iter().zip(prepared.records.iter_mut()) {
            let current = match pending
                .get(&push.record)
                .or_else(|| group.get(&push.record))
            {
                Some(d) => Some(Arc::clone(d)),
                None => self.document(push.record)?,
            };
            let current_heads = current.as_ref().map(|d| d.doc.heads());
            if current_heads != record.base_heads {
                tracing::debug!(record = %push.record, "the record moved while its push was checked: checking again");
                *record = self.prepare_record(
                    &job.device,
                    &bound,
                    push,
                    current,
                    prepared.received_at,
                    &mut usize::MAX.clone(),
                )?;
            }
            if let Verdict::Store(_, doc) = &record.verdict {
                pending.insert(push.record, Arc::clone(doc));
            }
        }
        Ok(())
    }

    /// Checks one request's records against the committed documents (and the request's own
    /// earlier records: one pushed twice builds on itself). Holds no lock.
    fn prepare(
        &self,
        device: &DeviceAuth,
        pushes: &[RecordPush],
    ) -> Result<PreparedPush, ApiError> {
        let bound = bound_actors(device);
        let received_at = self.now_ms();
        let mut operations_left = wire::MAX_PUSH_OPERATIONS;
        let mut pending: HashMap<RecordId, Arc<CachedDoc>> = HashMap::new();
        let mut records = Vec::with_capacity(pushes.len());
        for push in pushes {
            let base = match pending.get(&push.record) {
                Some(d) => Some(Arc::clone(d)),
                None => self.document(push.record)?,
            };
            let record = self.prepare_record(
                device,
                &bound,
                push,
                base,
                received_at,
                &mut operations_left,
            )?;
            if let Verdict::Store(_, doc) = &record.verdict {
                pending.insert(push.record, Arc::clone(doc));
            }
            records.push(record);
        }
        Ok(PreparedPush {
            received_at,
            records,
        })
    }

    /// Checks one record push against `base` (its current document, if the server holds it):
    /// what to answer, or what to store. `operations_left` is the request's remaining budget.
    fn prepare_record(
        &self,
        device: &DeviceAuth,
        bound: &HashSet<ActorId>,
        push: &RecordPush,
        base: Option<Arc<CachedDoc>>,
        received_at: i64,
        operations_left: &mut usize,
    ) -> Result<PreparedRecord, ApiError> {
        let base_heads = base.as_ref().map(|b| b.doc.heads());
        let facts = if self.config.check_policy {
            self.store.facts(push.record)?
        } else {
            None
        };
        let ctx = PushContext {
            bound,
            writer: &device.officer,
            actor: &self.actor,
            policy: self
                .config
                .check_policy
                .then(|| facts.as_ref().and_then(|f| f.team.as_deref())),
            operations_left: *operations_left,
        };
        let verdict = match trust::check_push(base.as_deref(), push, &ctx) {
            Checked::Known => Verdict::Answer(PushOutcome::Accepted {
                heads: base_heads
                    .iter()
                    .flatten()
                    .copied()
                    .map(Hash::from)
                    .collect(),
                received_at,
                new_changes: 0,
            }),
            Checked::Refused(outcome) => Verdict::Answer(outcome),
            Checked::OverBudget(operations) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "too-many-changes",
                    format!(
                        "a push holds at most {} automerge operations ({operations} in one record alone would go over): split the outbox",
                        wire::MAX_PUSH_OPERATIONS
                    ),
                ));
            }
            Checked::New(new) => {
                let operations: usize = new.changes.iter().map(|c| c.len()).sum();
                *operations_left = operations_left.saturating_sub(operations);
                let (write, doc) = self.record_write(push, base.as_deref(), *new, received_at);
                Verdict::Store(Box::new(write), Arc::new(doc))
            }
        };
        Ok(PreparedRecord {
            base_heads,
            verdict,
        })
    }

    /// What to store for an accepted record push, and the document to cache once it is stored.
    fn record_write(
        &self,
        push: &RecordPush,
        base: Option<&CachedDoc>,
        new: NewRecord,
        received_at: i64,
    ) -> (RecordWrite, CachedDoc) {
        let NewRecord {
            doc,
            changes,
            record,
            lineage,
            saved,
        } = new;
        let proj = projection::derive(&record, received_at, 0);
        let mut heads: Vec<ChangeHash> = base.map(|b| b.doc.heads()).unwrap_or_default();
        let mut new_changes = Vec::with_capacity(changes.len());
        for c in &changes {
            heads.retain(|h| !c.deps().contains(h));
            heads.push(c.hash());
            heads.sort();
            new_changes.push(NewChange {
                hash: c.hash().0.to_vec(),
                actor: c.actor_id().to_hex_string(),
                bytes: c.raw_bytes().to_vec(),
                heads_after: Heads::from(heads.as_slice()).to_bytes(),
            });
        }
        let since = base.map_or(0, |b| b.changes_since_snapshot) + changes.len() as u32;
        let compacted = base.is_none() || since >= self.config.compact_every;
        let write = RecordWrite {
            base_heads: base.map(|b| b.doc.heads_bytes()),
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
            // The round trip's save is the compacted document.
            snapshot: compacted.then(|| saved.clone()),
        };
        let cached = CachedDoc::new(
            doc,
            push.kind,
            base.map_or(0, |b| b.last_seq()),
            if compacted { 0 } else { since },
            Some(lineage),
            Some(saved),
        );
        (write, cached)
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
                *heads = Heads::from_bytes(&b.heads_after).to_wire();
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
                let Some(snapshot) = self.snapshot_of(record)? else {
                    return Ok(Decision::Skip);
                };
                let receipts = self.store.receipts(record, snapshot.last_seq)?;
                page.entries.push(FeedEntry::Snapshot {
                    record,
                    kind: snapshot.kind,
                    document: Bytes(snapshot.bytes),
                    heads: snapshot.heads,
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
                        through_seq: snapshot.last_seq,
                    },
                ));
                Decision::Send {
                    through: snapshot.last_seq,
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
        let mut message = bounded::read_sync_message(&request.message.0, &bounded::Bounds::RECORD)
            .map_err(|e| ApiError::malformed(format!("the repair message is refused: {e}")))?;
        // The message's changes are checked as a push, bounded, never applied by automerge's
        // sync protocol directly.
        let items: Vec<&[u8]> = message.changes.iter().collect();
        let incoming: Vec<Bytes> = trust::repair_changes(&items)
            .map_err(ApiError::malformed)?
            .into_iter()
            .map(Bytes)
            .collect();
        message.changes = automerge::sync::ChunkList::empty();
        let base = self.document(request.record)?;
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
        let mut view = match &base {
            Some(b) => b.doc.automerge().fork(),
            None => Automerge::new(),
        };
        view.receive_sync_message(&mut state, message)
            .map_err(|_| ApiError::malformed("the repair message does not apply"))?;
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
        let current = self.document(request.record)?;
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

/// What a feed snapshot sends of a record.
struct FedSnapshot {
    kind: RecordKind,
    bytes: Vec<u8>,
    heads: Vec<Hash>,
    /// Feed position of the last change the bytes hold.
    last_seq: u64,
}

impl FedSnapshot {
    fn of(doc: &CachedDoc) -> FedSnapshot {
        FedSnapshot {
            kind: doc.kind,
            bytes: doc.saved().to_vec(),
            heads: doc.doc.heads().into_iter().map(Hash::from).collect(),
            last_seq: doc.last_seq(),
        }
    }
}
