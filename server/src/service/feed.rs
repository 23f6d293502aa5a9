//! The feed: building a device's next page of changes, snapshots and evictions, deciding per
//! record what is in the device's scope, and what a snapshot sends.

use super::SyncService;
use crate::documents::CachedDoc;
use crate::error::ApiError;
use crate::scope::Viewer;
use crate::store::{ChangeBody, DeviceAuth, FeedScope, Holding, RecordFacts};
use fieldbook_core::doc::Heads;
use fieldbook_core::domain::{RecordId, RecordKind};
use fieldbook_core::sync::wire::{self, Bytes, FeedEntry, FeedPage, Hash, Receipt, ReceivedChange};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A feed decision about one record for the requesting device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Not in scope and not held, or evicted in this page: send nothing.
    Skip,
    /// Send changes after `through` (a snapshot in this page, or an earlier one, covers the rest).
    Send { through: u64 },
}

/// State while one feed page is built.
pub(super) struct PageBuilder<'a> {
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
    pub(super) fn new(device: &'a DeviceAuth, cursor: u64) -> PageBuilder<'a> {
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
        let max = self.catch_up()?;
        self.metrics.feed_lag(max.saturating_sub(cursor));
        if cursor >= max {
            return Ok(FeedPage {
                entries: Vec::new(),
                cursor,
                more: false,
            });
        }
        let mut page = PageBuilder::new(device, cursor);
        // Only the rows of records the device's scope reaches are read; of those, its own
        // changes cost a scan but no entry: bound the scan so one request stays short.
        let scope = FeedScope {
            device: device.device_id.clone(),
            keys: page.viewer.scope_keys(),
        };
        let scan_budget = limit * 8 + 256;
        let mut position = cursor;
        let mut sent = 0usize;
        let mut scanned = 0usize;
        'scan: loop {
            if sent >= limit || scanned >= scan_budget {
                break;
            }
            let fetch = limit.clamp(64, 1000);
            let rows = self.store.scoped_feed_rows(&scope, position, max, fetch)?;
            // Fewer rows than asked: none of the device's is left up to `max`, so once these
            // are scanned the page reaches `max` (the rows between were all out of its scope).
            let last_rows = rows.len() < fetch;
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
            self.read_facts_ahead(&mut page, rows.iter().map(|r| r.record))?;
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
            if last_rows {
                position = max;
                break;
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

    /// Reads, in one query each, the facts of these records and of the records they link to,
    /// for the decisions about them (one lookup per record otherwise).
    fn read_facts_ahead(
        &self,
        page: &mut PageBuilder<'_>,
        records: impl Iterator<Item = RecordId>,
    ) -> Result<(), ApiError> {
        let mut wanted: Vec<RecordId> = records.filter(|r| !page.direct.contains_key(r)).collect();
        for _ in 0..2 {
            wanted.sort_unstable();
            wanted.dedup();
            if wanted.is_empty() {
                break;
            }
            let found = self.store.facts_of(&wanted)?;
            let mut linked = Vec::new();
            for r in wanted {
                let d = found.get(&r).map(|f| {
                    linked.extend(f.links.iter().map(|(_, to)| *to));
                    (Arc::clone(f), page.viewer.holds_directly(f))
                });
                page.direct.insert(r, d);
            }
            wanted = linked
                .into_iter()
                .filter(|r| !page.direct.contains_key(r))
                .collect();
        }
        Ok(())
    }

    /// The record's facts and whether it is in the viewer's scope by itself.
    pub(super) fn direct(
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
    pub(super) fn in_scope(
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
