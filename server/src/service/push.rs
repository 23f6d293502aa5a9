//! Push: checking pushed records outside the writer, then re-validating and committing them
//! in groups under it (see the `service` module header), with the types a queued push carries.

use super::{SyncService, lock, protocol_error};
use crate::documents::CachedDoc;
use crate::error::ApiError;
use crate::store::{CommitBatch, DeviceAuth, NewChange, RecordFacts, RecordWrite, StoreError};
use crate::trust::{self, Checked, NewRecord, PushContext};
use automerge::{ActorId, ChangeHash};
use axum::http::StatusCode;
use fieldbook_core::doc::Heads;
use fieldbook_core::domain::RecordId;
use fieldbook_core::projection;
use fieldbook_core::sync::wire::{self, Hash, PushOutcome, PushResult, RecordPush};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// A group commit refused because `record` moved; `group` is every record the group wrote.
#[derive(Debug)]
struct Moved {
    record: RecordId,
    group: Vec<RecordId>,
}

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

/// A push request waiting for the writer (group commit, see [`SyncService::push`]).
#[derive(Debug)]
pub(super) struct PushJob {
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

/// The actors enrolled to `device`.
fn bound_actors(device: &DeviceAuth) -> HashSet<ActorId> {
    device
        .actors
        .iter()
        .filter_map(|a| hex::decode(a).ok())
        .map(|b| ActorId::from(b.as_slice()))
        .collect()
}

impl SyncService {
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
                    // reading it and our commit: nothing was stored. Forget our copies of the
                    // group's records (the other writer may have moved more than the one the
                    // store named) and check the group again on what is stored now.
                    tracing::info!(record = %moved.record, attempt, "a record moved under the commit: checking the group again");
                    self.metrics.commit_moved();
                    for record in moved.group {
                        self.cache.put_committed(record, None);
                    }
                    // The other writer's commit moved the facts and documents too.
                    if let Err(e) = self.catch_up() {
                        tracing::warn!(code = e.code, "could not catch up with the other writer");
                    }
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
    /// committed to it: [`StoreError::Moved`]), nothing is stored or answered: the records are
    /// returned, and each job's checked push is put back to be checked again.
    fn run_group(&self, jobs: &[Arc<PushJob>]) -> Result<(), Moved> {
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
                let group = writes.iter().flatten().map(|w| w.facts.id).collect();
                for (job, prepared) in ready {
                    *lock(&job.prepared) = Some(prepared);
                }
                return Err(Moved { record, group });
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
        for (record, doc) in &group {
            if let Some(seq) = last.get(record).filter(|s| **s > 0) {
                doc.set_last_seq(*seq);
            }
        }
        let lowest = seqs.iter().flatten().copied().filter(|s| *s > 0).min();
        self.cache_committed(group, lowest);
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
        // Facts and cached documents brought up to what any replica has committed, before the
        // records are checked against them.
        self.catch_up()?;
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
}
