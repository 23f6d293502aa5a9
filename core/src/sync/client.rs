//! The device side of the change feed as a sans-I/O state machine: pull the next
//! [`SyncRequest`] to send ([`SyncSession::next_request`]), push each [`SyncResponse`] that
//! arrived ([`SyncSession::receive`]) and get back the [`SyncWrite`] to commit in one transaction.
//!
//! It owns no connection and no store: the [`crate::device::Device`] hands it the outbox and the loaded
//! documents a response touches, commits what it returns, and does the network calls. So every
//! rule here (what to push, what an outcome means, when a record may be evicted, when repair is
//! needed, when a feed entry is held back instead of applied: [`super::held_back`]) is tested
//! with hand-built responses and no network.
//!
//! Must not: read the clock (the caller passes `now`), touch SQLite, or drop a record that holds
//! changes the server has not acknowledged, except into the quarantine, in the same write, when
//! the server refused them for good ([`super::quarantine`]).

use super::held_back::{HoldReason, apply_changes, check_after, check_record};
use super::quarantine::{self, Disposition, Refusal};
use super::wire::{
    self, FeedEntry, Hash, PushOutcome, RecordPush, RefusalCode, SyncRequest, SyncResponse,
};
use crate::doc::{Bounds, DocError, Heads, RecordDoc};
use crate::domain::{RecordId, RecordKind, Timestamp};
use crate::error::Error;
use crate::loaded::{Loaded, document_save};
use crate::storage::{ChangeReceipt, NewHeldBack, SyncWrite};
use crate::workflow::policy::Writer;
use automerge::{ActorId, Change, ChangeHash};
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Meta key of the feed cursor (the highest feed position applied).
pub const CURSOR_KEY: &str = "sync.cursor";

/// Change bytes put in one request at most, well under the server's body limit.
const MAX_PUSH_BYTES: usize = wire::MAX_BODY_BYTES / 2;

/// One record of the outbox: the changes the server has not acknowledged, in causal order.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The document's heads when the outbox was built: what the server holds once accepted.
    pub heads: Vec<ChangeHash>,
    /// Raw changes (`doc.get_changes(server_heads)`), dependencies first.
    pub changes: Vec<PendingChange>,
}

/// One change of the outbox.
#[derive(Debug, Clone)]
pub struct PendingChange {
    /// Its hash.
    pub hash: ChangeHash,
    /// Its raw bytes.
    pub bytes: Vec<u8>,
    /// How many automerge operations it holds (a request carries at most
    /// [`wire::MAX_PUSH_OPERATIONS`]).
    pub operations: usize,
}

/// How much one request may carry.
#[derive(Debug, Clone, Copy)]
struct RequestBudget {
    changes: usize,
    records: usize,
    bytes: usize,
    operations: usize,
}

impl PendingRecord {
    /// The outbox entry of a document whose server holds `server_heads` (`None`: nothing).
    /// Server heads the document does not know are ignored, so everything the server may lack
    /// is sent (the server keeps each change once).
    pub fn of(
        id: RecordId,
        doc: &RecordDoc,
        server_heads: Option<&[ChangeHash]>,
    ) -> Result<PendingRecord, Error> {
        let am = doc.automerge();
        let have: Vec<ChangeHash> = server_heads
            .unwrap_or_default()
            .iter()
            .filter(|h| crate::doc::holds_change(am, h))
            .copied()
            .collect();
        let changes = crate::doc::guarded("listing its changes to push", || {
            am.get_changes(&have)
                .into_iter()
                .map(|c| PendingChange {
                    hash: c.hash(),
                    bytes: c.raw_bytes().to_vec(),
                    operations: c.len(),
                })
                .collect()
        })?;
        Ok(PendingRecord {
            id,
            kind: doc.kind()?,
            heads: doc.heads(),
            changes,
        })
    }
}

/// A record as a response finds it on the device: its document and what the server holds.
#[derive(Debug)]
pub struct LocalRecord {
    pub(crate) loaded: Loaded,
    /// What the device last learned the server holds (`None`: never pushed).
    pub server_heads: Option<Vec<ChangeHash>>,
}

impl LocalRecord {
    pub(crate) fn new(loaded: Loaded, server_heads: Option<Vec<ChangeHash>>) -> LocalRecord {
        LocalRecord {
            loaded,
            server_heads,
        }
    }

    /// The document.
    pub fn doc(&self) -> &RecordDoc {
        &self.loaded.doc
    }

    pub(crate) fn into_loaded(self) -> Loaded {
        self.loaded
    }
}

/// One part of a record's push (a record with more changes than one request may carry is sent
/// in several parts, in causal order).
#[derive(Debug, Clone)]
struct PushPart {
    push: RecordPush,
    hashes: Vec<ChangeHash>,
    /// The record's heads, set on its last part only: what the server holds once it is accepted.
    heads_when_complete: Option<Vec<ChangeHash>>,
}

/// What one response did, for the report and the progress bar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseTally {
    /// Records whose push was accepted.
    pub accepted: u32,
    /// Records refused, with the rule.
    pub rejected: Vec<(RecordId, RefusalCode)>,
    /// Refused records whose refused state went to the quarantine (rebuilt from the server's
    /// version, or removed when the server never held them).
    pub quarantined: u32,
    /// Changes applied from the feed.
    pub changes: u32,
    /// Snapshots (records new to the device) applied.
    pub snapshots: u32,
    /// Evictions: asked for by the page; after the commit, those done.
    pub evictions: u32,
    /// Evictions not done because the record holds unsynced work (set after the commit).
    pub evictions_kept: u32,
    /// Feed entries (records) in the page.
    pub records: u32,
    /// Feed entries held back, not applied ([`super::held_back`]).
    pub held_back: u32,
}

/// What the device must do with a response: commit `write` in one transaction, then put
/// `records` back in memory (and forget any record the store evicted).
#[derive(Debug)]
pub struct ResponseEffects {
    /// Everything to store, in one transaction.
    pub write: SyncWrite,
    /// The documents touched, with their chunk counts updated for the write.
    pub records: HashMap<RecordId, LocalRecord>,
    /// What happened.
    pub tally: ResponseTally,
}

/// One sync run: the outbox split into requests, the cursor, and the records that need repair.
#[derive(Debug)]
pub struct SyncSession {
    writer: Writer,
    actor: ActorId,
    cursor: u64,
    page_limit: u32,
    batches: VecDeque<Vec<PushPart>>,
    in_flight: Vec<PushPart>,
    started: bool,
    more: bool,
    /// Heads the server acknowledged for each record accepted in this run.
    accepted: HashMap<RecordId, Vec<ChangeHash>>,
    /// Changes of records pushed in parts whose earlier parts the server accepted in this run.
    partly_accepted: HashMap<RecordId, Vec<ChangeHash>>,
    repairs: BTreeMap<RecordId, Option<RecordKind>>,
    /// Records with held-back entries (stored, or held back in this run): never repaired
    /// automatically; their entries that build on what was held back are held back too.
    held: BTreeSet<RecordId>,
    /// Records on the device whose stored document cannot be read: nothing is applied to them.
    unreadable: BTreeSet<RecordId>,
}

impl SyncSession {
    /// A run from `cursor` pushing `outbox` for the device's user `writer`; `actor` is the
    /// device's (documents new to the device are loaded writing as it, and a record rebuilt after
    /// a refusal re-applies what `writer` may write as it).
    pub fn new(
        writer: Writer,
        actor: ActorId,
        cursor: u64,
        outbox: Vec<PendingRecord>,
    ) -> SyncSession {
        SyncSession {
            writer,
            actor,
            cursor,
            page_limit: wire::DEFAULT_PAGE_CHANGES,
            batches: split(
                outbox,
                RequestBudget {
                    changes: wire::MAX_PUSH_CHANGES,
                    records: wire::MAX_PUSH_RECORDS,
                    bytes: MAX_PUSH_BYTES,
                    operations: wire::MAX_PUSH_OPERATIONS,
                },
            ),
            in_flight: Vec::new(),
            started: false,
            more: false,
            accepted: HashMap::new(),
            partly_accepted: HashMap::new(),
            repairs: BTreeMap::new(),
            held: BTreeSet::new(),
            unreadable: BTreeSet::new(),
        }
    }

    /// Records that have feed entries held back from earlier syncs ([`super::held_back`]).
    pub fn with_held_back(mut self, records: impl IntoIterator<Item = RecordId>) -> SyncSession {
        self.held.extend(records);
        self
    }

    /// Names a record of [`SyncSession::records_needed`] that is on the device but whose stored
    /// document cannot be read: entries for it are held back, never applied over it.
    pub fn mark_unreadable(&mut self, record: RecordId) {
        self.unreadable.insert(record);
        self.held.insert(record);
    }

    /// Asks for feed pages of at most `limit` changes.
    pub fn with_page_limit(mut self, limit: u32) -> SyncSession {
        self.page_limit = limit.clamp(1, wire::MAX_PAGE_CHANGES);
        self
    }

    /// The feed position applied so far.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Requests still to send for the outbox (not counting pulls).
    pub fn pending_pushes(&self) -> usize {
        self.batches.len()
    }

    /// The next request to send, or `None` when the outbox is pushed and the feed caught up.
    /// Every request but the first pulls too; after the outbox, requests push nothing.
    pub fn next_request(&mut self) -> Option<SyncRequest> {
        let parts = match self.batches.pop_front() {
            Some(parts) => parts,
            None if !self.started || self.more => Vec::new(),
            None => return None,
        };
        self.started = true;
        let request = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor: self.cursor,
            page_limit: self.page_limit,
            push: parts.iter().map(|p| p.push.clone()).collect(),
        };
        self.in_flight = parts;
        Some(request)
    }

    /// Records whose documents [`SyncSession::receive`] needs for `response` (the feed
    /// entries', and those of records refused for good, to quarantine); the caller passes those
    /// it holds.
    pub fn records_needed(response: &SyncResponse) -> Vec<RecordId> {
        let refused = response.results.iter().filter_map(|r| match &r.outcome {
            PushOutcome::Rejected { rule, .. } if rule.is_final() => Some(r.record),
            _ => None,
        });
        let mut ids: Vec<RecordId> = response
            .page
            .entries
            .iter()
            .filter_map(|e| match e {
                FeedEntry::Changes { record, .. } | FeedEntry::Snapshot { record, .. } => {
                    Some(*record)
                }
                FeedEntry::Evict { .. } => None,
            })
            .chain(refused)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Interprets the response to the last request. `local` holds the documents of
    /// [`SyncSession::records_needed`] that are on the device (those that could not be read
    /// were named by [`SyncSession::mark_unreadable`]). Each feed entry is independent: one that
    /// cannot be applied is held back ([`super::held_back`]) and its record left as stored,
    /// while the other entries and the cursor apply. On error nothing is to be written and the
    /// documents must be dropped (they may be half-applied); the run ends.
    pub fn receive(
        &mut self,
        response: SyncResponse,
        mut local: HashMap<RecordId, LocalRecord>,
        now: Timestamp,
    ) -> Result<ResponseEffects, Error> {
        let mut write = SyncWrite::default();
        let mut tally = ResponseTally::default();
        let refused = self.push_results(&response.results, &mut write, &mut tally);

        // Feed entries, each applied to its document in memory; saved together below.
        let mut page = PageState::default();
        let wire::FeedPage {
            entries,
            cursor: page_cursor,
            more: page_more,
        } = response.page;
        let mut lone = self.apply_lone_entries(&entries, &mut local);
        for (index, entry) in entries.into_iter().enumerate() {
            let (record, kind) = match &entry {
                FeedEntry::Evict { record } => {
                    tally.records += 1;
                    tally.evictions += 1;
                    if !write.evictions.contains(record) {
                        write.evictions.push(*record);
                    }
                    continue;
                }
                FeedEntry::Changes { record, kind, .. }
                | FeedEntry::Snapshot { record, kind, .. } => (*record, *kind),
            };
            tally.records += 1;
            write.evictions.retain(|r| *r != record);
            let outcome = match lone.remove(&index) {
                Some(outcome) => outcome,
                None => {
                    let mut outcome = self.apply_entry(&entry, local.get_mut(&record));
                    if let Some(arrived) = outcome.arrived.take() {
                        local.insert(record, arrived);
                    }
                    outcome
                }
            };
            if let Some(heads) = outcome.heads {
                page.receipts
                    .entry(record)
                    .or_default()
                    .extend(outcome.receipts);
                page.touched.insert(record);
                page.entry_heads.insert(record, heads);
            }
            match outcome.applied {
                Applied::Yes => page.applied.entry(record).or_default().push(entry),
                Applied::NotHere => {
                    // Not here (evicted, or never received whole): fetch it by repair.
                    self.repairs.insert(record, Some(kind));
                }
                Applied::No { reason, touched } => {
                    if reason == HoldReason::RecordUnreadable {
                        // Found when first read: what follows for it is held back unapplied.
                        self.unreadable.insert(record);
                    }
                    if touched {
                        // The document may hold part of the entry: drop it, and with it what
                        // this page applied to it before; the store keeps the record as it was.
                        local.remove(&record);
                        page.forget(record);
                        for earlier in page.applied.remove(&record).unwrap_or_default() {
                            page.hold(earlier, HoldReason::RecordHeldBack);
                        }
                    }
                    page.hold(entry, reason);
                    self.held.insert(record);
                }
            }
        }

        // Each touched document's save (its bytes, hydration and projection), in parallel.
        let touched: Vec<(RecordId, LocalRecord)> = std::mem::take(&mut page.touched)
            .into_iter()
            .filter_map(|id| local.remove(&id).map(|r| (id, r)))
            .collect();
        let saved: Vec<_> = touched
            .into_par_iter()
            .map(|(id, mut record)| {
                let save = document_save(id, &mut record.loaded, now, None);
                (id, record, save)
            })
            .collect();
        for (id, record, save) in saved {
            let local_record = local.entry(id).insert_entry(record).into_mut();
            let save = match save {
                Ok(save) => save,
                Err(e) => {
                    tracing::warn!(record = %id, error = %e, "a record updated from the feed cannot be saved; its entries are held back");
                    local.remove(&id);
                    page.forget(id);
                    for entry in page.applied.remove(&id).unwrap_or_default() {
                        page.hold(entry, HoldReason::ChangeNotApplied);
                    }
                    self.held.insert(id);
                    continue;
                }
            };
            write.saves.extend(save);
            write
                .receipts
                .extend(page.receipts.remove(&id).unwrap_or_default());
            let heads = page.entry_heads.remove(&id).unwrap_or_default();
            let server = Heads::from_wire(&heads)
                .map_err(|e| Error::Protocol(e.to_string()))?
                .into_hashes();
            let doc = local_record.loaded.doc.automerge();
            if server.iter().any(|h| !crate::doc::holds_change(doc, h)) {
                // The server holds changes whose dependencies did not arrive: repair.
                self.repairs.insert(id, local_record.loaded.doc.kind().ok());
                continue;
            }
            let server = match self.accepted.get(&id) {
                Some(pushed) => match union_heads(doc, pushed, &server) {
                    Ok(heads) => heads,
                    Err(e) => {
                        // Left as it was: the record's changes are pushed again (harmless).
                        tracing::warn!(record = %id, error = %e, "cannot find what the server holds");
                        continue;
                    }
                },
                None => server,
            };
            local_record.server_heads = Some(server.clone());
            write
                .server_heads
                .push((id, Heads::from(server.as_slice()).to_bytes()));
        }
        for entries in page.applied.values() {
            for entry in entries {
                match entry {
                    FeedEntry::Changes { changes, .. } => {
                        tally.changes += u32::try_from(changes.len()).unwrap_or(u32::MAX);
                    }
                    FeedEntry::Snapshot { .. } => tally.snapshots += 1,
                    FeedEntry::Evict { .. } => {}
                }
            }
        }
        tally.held_back = u32::try_from(page.held.len()).unwrap_or(u32::MAX);
        write
            .held_back
            .extend(page.held.into_iter().map(|(entry, reason)| {
                let (record, kind) = entry_record(&entry);
                NewHeldBack {
                    record,
                    kind,
                    entry: wire::encode(&entry),
                    reason: reason.code().to_owned(),
                    at: now.millis(),
                }
            }));

        // Records refused for good, last: rebuilt from the newest server version known, this
        // page's changes included, so what is re-applied is judged against that version.
        for (id, refusal) in refused {
            if self.quarantine(id, &refusal, &mut local, now, &mut write) {
                tally.quarantined += 1;
            } else {
                write.attention.push((id, Some(refusal.attention())));
            }
        }

        // Receipts only for records that are (or will be) stored, so none points at nothing.
        write
            .receipts
            .retain(|r| local.contains_key(&r.record) || self.accepted.contains_key(&r.record));

        if page_more && page_cursor == self.cursor && tally.records == 0 {
            // A page that moves nothing cannot end: stop pulling rather than loop.
            tracing::warn!(cursor = page_cursor, "the feed says more but did not move");
            self.more = false;
        } else {
            self.more = page_more;
        }
        self.cursor = page_cursor;
        write
            .meta
            .push((CURSOR_KEY.to_owned(), page_cursor.to_string()));
        Ok(ResponseEffects {
            write,
            records: local,
            tally,
        })
    }

    /// Applies one changes or snapshot entry to its record's document in memory, `local` (none
    /// when the record is not on this device). Touches nothing else, so entries of different
    /// records apply in parallel.
    fn apply_entry(&self, entry: &FeedEntry, local: Option<&mut LocalRecord>) -> EntryOutcome {
        let untouched = |reason| {
            EntryOutcome::from(Applied::No {
                reason,
                touched: false,
            })
        };
        let touched = |reason| {
            EntryOutcome::from(Applied::No {
                reason,
                touched: true,
            })
        };
        match entry {
            FeedEntry::Changes {
                record,
                kind,
                changes,
                heads,
            } => {
                if self.unreadable.contains(record) {
                    return untouched(HoldReason::RecordUnreadable);
                }
                let held = self.held.contains(record);
                let Some(local_record) = local else {
                    return if held {
                        untouched(HoldReason::RecordHeldBack)
                    } else {
                        Applied::NotHere.into()
                    };
                };
                let doc = &mut local_record.loaded.doc;
                if held && !builds_on(doc.automerge(), changes) {
                    // Its dependencies are among what was held back: it waits with them.
                    return untouched(HoldReason::RecordHeldBack);
                }
                match apply_changes(*record, *kind, doc, changes) {
                    Ok(receipts) => EntryOutcome {
                        applied: Applied::Yes,
                        receipts,
                        heads: Some(heads.clone()),
                        arrived: None,
                    },
                    Err(reason) => touched(reason),
                }
            }
            FeedEntry::Snapshot {
                record,
                kind,
                document,
                heads,
                receipts,
            } => {
                if self.unreadable.contains(record) {
                    return untouched(HoldReason::RecordUnreadable);
                }
                let mut incoming =
                    match RecordDoc::load_untrusted(&document.0, &self.actor, &Bounds::RECORD) {
                        Ok(doc) => doc,
                        Err(DocError::Bounds(e)) if !e.is_malformed() => {
                            return untouched(HoldReason::OverLimits);
                        }
                        Err(_) => return untouched(HoldReason::NotADocument),
                    };
                if let Err(reason) = check_record(*record, *kind, &mut incoming) {
                    return untouched(reason);
                }
                let mut arrived = None;
                match local {
                    Some(existing) => {
                        let doc = &mut existing.loaded.doc;
                        match doc.kind() {
                            Ok(k) if k == *kind => {}
                            Ok(_) => return untouched(HoldReason::NotARecord),
                            Err(_) => return untouched(HoldReason::RecordUnreadable),
                        }
                        let before = doc.automerge().get_heads();
                        if doc.merge(&mut incoming).is_err() {
                            return touched(HoldReason::ChangeNotApplied);
                        }
                        if let Err(reason) = check_after(*record, *kind, doc, &before) {
                            return touched(reason);
                        }
                    }
                    None => {
                        // Stored as received: the bytes were just read bounded and loaded.
                        let loaded = Loaded::from_whole(incoming, document.0.clone());
                        arrived = Some(LocalRecord::new(loaded, None));
                    }
                }
                EntryOutcome {
                    applied: Applied::Yes,
                    receipts: receipts
                        .iter()
                        .map(|r| ChangeReceipt {
                            record: *record,
                            hash: r.hash.0.clone(),
                            received_at: r.received_at,
                        })
                        .collect(),
                    heads: Some(heads.clone()),
                    arrived,
                }
            }
            FeedEntry::Evict { .. } => Applied::Yes.into(),
        }
    }

    /// [`SyncSession::apply_entry`] of the entries of records that have only one in the page,
    /// in parallel (most of a page: each record's changes since the last sync, or each record
    /// whole on a first pull). Returns their outcomes by entry index; the records' documents
    /// (and those that arrived whole) are back in `local`.
    fn apply_lone_entries(
        &self,
        entries: &[FeedEntry],
        local: &mut HashMap<RecordId, LocalRecord>,
    ) -> HashMap<usize, EntryOutcome> {
        let mut count: HashMap<RecordId, usize> = HashMap::new();
        for entry in entries {
            if !matches!(entry, FeedEntry::Evict { .. }) {
                *count.entry(entry_record(entry).0).or_default() += 1;
            }
        }
        let lone: Vec<(usize, &FeedEntry, Option<LocalRecord>)> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                !matches!(e, FeedEntry::Evict { .. }) && count[&entry_record(e).0] == 1
            })
            .map(|(i, e)| (i, e, local.remove(&entry_record(e).0)))
            .collect();
        let done: Vec<(usize, RecordId, Option<LocalRecord>, EntryOutcome)> = lone
            .into_par_iter()
            .map(|(i, entry, mut record)| {
                let mut outcome = self.apply_entry(entry, record.as_mut());
                let record = record.or_else(|| outcome.arrived.take());
                (i, entry_record(entry).0, record, outcome)
            })
            .collect();
        done.into_iter()
            .map(|(i, id, record, outcome)| {
                if let Some(record) = record {
                    local.insert(id, record);
                }
                (i, outcome)
            })
            .collect()
    }

    /// Takes the push results into `write`; returns the refusals that are final, for
    /// [`SyncSession::quarantine`] once the page is applied.
    fn push_results(
        &mut self,
        results: &[wire::PushResult],
        write: &mut SyncWrite,
        tally: &mut ResponseTally,
    ) -> Vec<(RecordId, Refusal)> {
        let mut refused = Vec::new();
        let in_flight = std::mem::take(&mut self.in_flight);
        for result in results {
            let Some(part) = in_flight.iter().find(|p| p.push.record == result.record) else {
                tracing::warn!(record = %result.record, "a push result for a record not pushed");
                continue;
            };
            let id = result.record;
            match &result.outcome {
                PushOutcome::Accepted {
                    received_at,
                    new_changes,
                    ..
                } => {
                    tally.accepted += 1;
                    if *new_changes > 0 {
                        // Which of the pushed changes were new is not said; a change already
                        // receipted keeps its first time.
                        write
                            .receipts
                            .extend(part.hashes.iter().map(|h| ChangeReceipt {
                                record: id,
                                hash: h.0.to_vec(),
                                received_at: *received_at,
                            }));
                    }
                    match &part.heads_when_complete {
                        Some(heads) => {
                            write
                                .server_heads
                                .push((id, Heads::from(heads.as_slice()).to_bytes()));
                            write.attention.push((id, None));
                            self.accepted.insert(id, heads.clone());
                            self.partly_accepted.remove(&id);
                        }
                        None => self
                            .partly_accepted
                            .entry(id)
                            .or_default()
                            .extend(part.hashes.iter().copied()),
                    }
                }
                PushOutcome::Rejected { rule, .. } => {
                    tally.rejected.push((id, rule.clone()));
                    let Some(refusal) = Refusal::of(&result.outcome) else {
                        continue;
                    };
                    if rule.is_final() {
                        refused.push((id, refusal));
                    } else {
                        write.attention.push((id, Some(refusal.attention())));
                    }
                }
                PushOutcome::MissingDependencies { .. } => {
                    self.repairs.insert(id, Some(part.push.kind));
                }
            }
        }
        refused
    }

    /// Keeps a record refused for good in the quarantine and rebuilds (or removes) it: see
    /// [`super::quarantine`]. False when that cannot be done (the record is not here, or its
    /// document cannot be rebuilt): the caller marks it as needing attention instead.
    fn quarantine(
        &mut self,
        id: RecordId,
        refusal: &Refusal,
        local: &mut HashMap<RecordId, LocalRecord>,
        now: Timestamp,
        write: &mut SyncWrite,
    ) -> bool {
        let Some(record) = local.get_mut(&id) else {
            tracing::warn!(record = %id, "a refused record is not on this device");
            return false;
        };
        // What the server holds: what the device last learned, and the parts of this push it
        // accepted before refusing a later one.
        let mut server = record.server_heads.clone().unwrap_or_default();
        if let Some(partly) = self.partly_accepted.remove(&id) {
            server.extend(partly);
            match union_heads(record.loaded.doc.automerge(), &server, &[]) {
                Ok(heads) => server = heads,
                Err(e) => {
                    tracing::warn!(record = %id, error = %e, "cannot find what the server holds");
                    return false;
                }
            }
        }
        let mut staged = SyncWrite::default();
        let done = quarantine::quarantine_into(
            id,
            &mut record.loaded,
            Some(&server),
            refusal,
            &self.writer,
            &self.actor,
            now,
            &mut staged,
        );
        match done {
            Ok(disposition) => {
                write.saves.extend(staged.saves);
                write.removals.extend(staged.removals);
                write.quarantine.extend(staged.quarantine);
                write.attention.extend(staged.attention);
                if disposition == Disposition::Removed {
                    local.remove(&id);
                }
                // Parts of this record still waiting to be pushed build on refused changes.
                for batch in &mut self.batches {
                    batch.retain(|p| p.push.record != id);
                }
                self.batches.retain(|b| !b.is_empty());
                true
            }
            Err(e) => {
                tracing::warn!(record = %id, error = %e, "a refused record could not be rebuilt");
                false
            }
        }
    }

    /// Records to repair with automerge's sync protocol once the feed is caught up, with their
    /// kind when known.
    /// Records with held-back entries are left out: a repair would fetch the same bytes.
    pub fn repairs(&self) -> Vec<(RecordId, Option<RecordKind>)> {
        self.repairs
            .iter()
            .filter(|(id, _)| !self.held.contains(id))
            .map(|(id, kind)| (*id, *kind))
            .collect()
    }
}

/// Splits an outbox into requests of at most `max_changes` changes, `max_records` records and
/// about `max_bytes` of change bytes. A record with more changes than fit is sent in parts,
/// dependencies first; only its last part says what the server holds once accepted.
/// The outbox as requests within `budget`, each record's changes in causal order (a record with
/// more than one request takes goes in parts). A request always carries at least one change.
fn split(outbox: Vec<PendingRecord>, budget: RequestBudget) -> VecDeque<Vec<PushPart>> {
    let mut batches: VecDeque<Vec<PushPart>> = VecDeque::new();
    let mut current: Vec<PushPart> = Vec::new();
    let (mut changes, mut bytes, mut operations) = (0usize, 0usize, 0usize);
    for record in outbox {
        let mut rest = record.changes.into_iter().peekable();
        if rest.peek().is_none() {
            continue;
        }
        while rest.peek().is_some() {
            if current.len() >= budget.records
                || changes >= budget.changes
                || bytes >= budget.bytes
                || operations >= budget.operations
            {
                batches.push_back(std::mem::take(&mut current));
                (changes, bytes, operations) = (0, 0, 0);
            }
            let mut part = PushPart {
                push: RecordPush {
                    record: record.id,
                    kind: record.kind,
                    changes: Vec::new(),
                },
                hashes: Vec::new(),
                heads_when_complete: None,
            };
            while let Some(c) = rest.peek() {
                let empty = changes == 0;
                let fits = changes < budget.changes
                    && (bytes + c.bytes.len() <= budget.bytes || empty)
                    && (operations + c.operations <= budget.operations || empty);
                if !fits {
                    break;
                }
                let Some(c) = rest.next() else { break };
                changes += 1;
                bytes += c.bytes.len();
                operations += c.operations;
                part.hashes.push(c.hash);
                part.push.changes.push(wire::Bytes(c.bytes));
            }
            if rest.peek().is_none() {
                part.heads_when_complete = Some(record.heads.clone());
            }
            current.push(part);
        }
    }
    if !current.is_empty() {
        batches.push_back(current);
    }
    batches
}

/// What became of one feed entry.
enum Applied {
    /// Applied to its document in memory.
    Yes,
    /// The record is not on this device: it is fetched by repair.
    NotHere,
    /// Not applied, for `reason`; `touched`: its document may hold part of it and is dropped.
    No { reason: HoldReason, touched: bool },
}

/// One feed entry applied: what became of it, and on success the receipts of its changes and
/// the heads the server holds after it.
struct EntryOutcome {
    applied: Applied,
    receipts: Vec<ChangeReceipt>,
    /// Set when it applied.
    heads: Option<Vec<Hash>>,
    /// The record, when it arrived whole and was not on this device.
    arrived: Option<LocalRecord>,
}

impl From<Applied> for EntryOutcome {
    fn from(applied: Applied) -> EntryOutcome {
        EntryOutcome {
            applied,
            receipts: Vec::new(),
            heads: None,
            arrived: None,
        }
    }
}

/// What one page did so far, per record, until its documents are saved.
#[derive(Debug, Default)]
struct PageState {
    /// Records whose documents changed.
    touched: BTreeSet<RecordId>,
    /// The heads the server holds after each record's last entry.
    entry_heads: HashMap<RecordId, Vec<Hash>>,
    /// Receipt times of the changes applied.
    receipts: HashMap<RecordId, Vec<ChangeReceipt>>,
    /// The entries applied, kept until the page is saved: if a later entry of the same record
    /// fails, they are held back with it (their document is dropped).
    applied: HashMap<RecordId, Vec<FeedEntry>>,
    /// Entries held back, in the order they came.
    held: Vec<(FeedEntry, HoldReason)>,
}

impl PageState {
    /// Forgets what this page applied to `record` (its document was dropped).
    fn forget(&mut self, record: RecordId) {
        self.touched.remove(&record);
        self.entry_heads.remove(&record);
        self.receipts.remove(&record);
    }

    fn hold(&mut self, entry: FeedEntry, reason: HoldReason) {
        let (record, _) = entry_record(&entry);
        tracing::warn!(record = %record, reason = reason.code(), "a feed entry is held back");
        self.held.push((entry, reason));
    }
}

/// The record (and kind, when the entry says) a feed entry is for.
fn entry_record(entry: &FeedEntry) -> (RecordId, RecordKind) {
    match entry {
        FeedEntry::Changes { record, kind, .. } | FeedEntry::Snapshot { record, kind, .. } => {
            (*record, *kind)
        }
        // Never held back; the kind is not said.
        FeedEntry::Evict { record } => (*record, RecordKind::Person),
    }
}

/// Whether every change's dependencies are in `doc` or earlier in `changes` (bytes that do not
/// decode are left for [`apply_changes`] to report).
fn builds_on(doc: &automerge::Automerge, changes: &[wire::ReceivedChange]) -> bool {
    let mut earlier: BTreeSet<ChangeHash> = BTreeSet::new();
    for change in changes {
        let Ok(change) = Change::from_bytes(change.bytes.0.clone()) else {
            return true;
        };
        let known = change
            .deps()
            .iter()
            .all(|d| earlier.contains(d) || crate::doc::holds_change(doc, d));
        if !known {
            return false;
        }
        earlier.insert(change.hash());
    }
    true
}

/// The heads of everything reachable from `a` or `b` (all known to `doc`).
fn union_heads(
    doc: &automerge::Automerge,
    a: &[ChangeHash],
    b: &[ChangeHash],
) -> Result<Vec<ChangeHash>, Error> {
    let mut all: Vec<ChangeHash> = a.iter().chain(b).copied().collect();
    all.sort();
    all.dedup();
    if all.len() <= 1 {
        return Ok(all);
    }
    let fork = crate::doc::guarded("finding what the server holds", || doc.fork_at(&all))?
        .map_err(|e| Error::Doc(crate::doc::DocError::Automerge(e)))?;
    Ok(fork.get_heads())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: u8, changes: usize, size: usize) -> PendingRecord {
        PendingRecord {
            id: RecordId(uuid::Uuid::from_u128(u128::from(n))),
            kind: RecordKind::CrimeReport,
            heads: vec![ChangeHash([n; 32])],
            changes: (0..changes)
                .map(|i| PendingChange {
                    hash: ChangeHash([i as u8; 32]),
                    bytes: vec![n; size],
                    operations: size,
                })
                .collect(),
        }
    }

    fn budget(changes: usize, records: usize, bytes: usize) -> RequestBudget {
        RequestBudget {
            changes,
            records,
            bytes,
            operations: usize::MAX,
        }
    }

    #[test]
    fn an_outbox_over_the_limits_is_split_into_several_requests_keeping_causal_order() {
        let outbox = vec![pending(1, 3, 10), pending(2, 5, 10), pending(3, 1, 10)];
        let batches = split(outbox, budget(4, 2, 1_000));
        let shape: Vec<Vec<(u8, usize, bool)>> = batches
            .iter()
            .map(|b| {
                b.iter()
                    .map(|p| {
                        (
                            p.push.record.0.as_u128() as u8,
                            p.push.changes.len(),
                            p.heads_when_complete.is_some(),
                        )
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                vec![(1, 3, true), (2, 1, false)],
                vec![(2, 4, true)],
                vec![(3, 1, true)],
            ]
        );
        // Record 2's changes keep their order across the two requests.
        let hashes: Vec<u8> = batches
            .iter()
            .flatten()
            .filter(|p| p.push.record.0.as_u128() == 2)
            .flat_map(|p| p.hashes.iter().map(|h| h.0[0]))
            .collect();
        assert_eq!(hashes, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_request_carries_about_the_byte_budget_but_always_at_least_one_change() {
        let batches = split(
            vec![pending(1, 3, 600), pending(2, 1, 2_000)],
            budget(100, 100, 1_000),
        );
        let sizes: Vec<usize> = batches
            .iter()
            .map(|b| b.iter().map(|p| p.push.changes.len()).sum())
            .collect();
        assert_eq!(sizes, vec![1, 1, 1, 1]);
    }

    #[test]
    fn a_request_carries_at_most_the_operation_budget_but_always_at_least_one_change() {
        // Changes of 600 operations each (the helper gives a change as many as its bytes).
        let mut limits = budget(100, 100, usize::MAX);
        limits.operations = 1_000;
        let batches = split(vec![pending(1, 3, 600), pending(2, 1, 2_000)], limits);
        let sizes: Vec<usize> = batches
            .iter()
            .map(|b| b.iter().map(|p| p.push.changes.len()).sum())
            .collect();
        assert_eq!(sizes, vec![1, 1, 1, 1]);
    }

    #[test]
    fn an_empty_outbox_still_sends_one_pull_and_then_stops_when_the_feed_is_caught_up() {
        let writer = Writer {
            officer: crate::domain::OfficerId::new("PC1").expect("valid"),
            role: crate::domain::Role::Officer,
            team: None,
        };
        let mut session = SyncSession::new(writer, ActorId::random(), 5, Vec::new());
        let request = session.next_request().expect("a pull");
        assert_eq!((request.cursor, request.push.len()), (5, 0));
        let effects = session
            .receive(
                SyncResponse {
                    results: Vec::new(),
                    page: wire::FeedPage {
                        entries: Vec::new(),
                        cursor: 9,
                        more: false,
                    },
                },
                HashMap::new(),
                Timestamp::from_millis(0).expect("epoch"),
            )
            .expect("applies");
        assert_eq!(
            effects.write.meta,
            vec![(CURSOR_KEY.to_owned(), "9".to_owned())]
        );
        assert!(session.next_request().is_none());
        assert_eq!(session.cursor(), 9);
    }
}
