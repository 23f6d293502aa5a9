//! The server's loaded documents: [`CachedDoc`] (a record's document with its lineage and where
//! the store stands for it) and [`DocumentCache`], a least-recently-used cache bounded by an
//! estimate of the memory its documents take, not by their number (one record holding a long
//! history weighs what it costs).
//!
//! **Coherence.** Readers (checks run outside the writer, feed pages) load a missing document
//! from the store and may insert it only if no commit happened meanwhile (a generation counter
//! the writer bumps); the writer puts (or removes) every document it committed, after the commit.
//! So the cache never holds a version older than one committed before it was read.

use fieldbook_core::doc::RecordDoc;
use fieldbook_core::doc::lineage::{Lineage, LineageError};
use fieldbook_core::domain::{RecordId, RecordKind};
use lru::LruCache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A loaded document and where the store stands for it.
#[derive(Debug)]
pub(crate) struct CachedDoc {
    pub(crate) doc: RecordDoc,
    pub(crate) kind: RecordKind,
    /// Feed position of the record's last stored change (set once its commit is known).
    last_seq: AtomicU64,
    /// Changes stored since the record's snapshot (the compaction trigger).
    pub(crate) changes_since_snapshot: u32,
    /// The document's history as the lineage rules see it; an error for a document stored
    /// before those rules held (it takes no new change).
    pub(crate) lineage: Result<Lineage, LineageError>,
    /// The document saved whole, as a feed snapshot sends it: the check's save for a document
    /// the writer cached, the stored snapshot for one loaded with no later change, otherwise
    /// made on first use. A cached document never changes (a commit caches a new one), so it
    /// is made at most once however many devices pull the record.
    saved: OnceLock<Vec<u8>>,
    /// Estimated bytes of memory it takes (the saved bytes included when known at creation).
    pub(crate) weight: usize,
}

impl CachedDoc {
    /// `doc` as loaded or built, with its lineage and weight worked out.
    pub(crate) fn new(
        doc: RecordDoc,
        kind: RecordKind,
        last_seq: u64,
        changes_since_snapshot: u32,
        lineage: Option<Lineage>,
        saved: Option<Vec<u8>>,
    ) -> CachedDoc {
        let lineage = match lineage {
            Some(l) => Ok(l),
            None => Lineage::of(doc.automerge()),
        };
        let weight = weight_of(&doc) + saved.as_ref().map_or(0, Vec::len);
        CachedDoc {
            doc,
            kind,
            last_seq: AtomicU64::new(last_seq),
            changes_since_snapshot,
            lineage,
            saved: saved.map(OnceLock::from).unwrap_or_default(),
            weight,
        }
    }

    /// The document saved whole (see the field).
    pub(crate) fn saved(&self) -> &[u8] {
        self.saved.get_or_init(|| self.doc.automerge().save())
    }

    /// Feed position of the record's last stored change.
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    /// Records the feed position the commit gave the record's last change.
    pub(crate) fn set_last_seq(&self, seq: u64) {
        self.last_seq.store(seq, Ordering::Release);
    }
}

/// Bytes a loaded document is reckoned to take: a fixed part for the document and its state,
/// and a part per operation and per change of its history (automerge keeps every operation).
/// Measured in `docs/benchmarks.md` ("Server memory per document").
pub(crate) fn weight_of(doc: &RecordDoc) -> usize {
    use automerge::ReadDoc;
    let stats = doc.automerge().stats();
    const BASE: usize = 24 * 1024;
    const PER_OP: usize = 96;
    const PER_CHANGE: usize = 256;
    BASE + PER_OP * stats.num_ops as usize + PER_CHANGE * stats.num_changes as usize
}

/// Documents in memory, least recently used dropped first once over the byte budget.
#[derive(Debug)]
pub(crate) struct DocumentCache {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    lru: LruCache<RecordId, Arc<CachedDoc>>,
    bytes: usize,
    budget: usize,
    max_entries: usize,
    /// Bumped by every committed put: a reader's insert is refused once it moved.
    generation: u64,
}

impl DocumentCache {
    /// At most `budget` estimated bytes and `max_entries` documents.
    pub(crate) fn new(budget: usize, max_entries: usize) -> DocumentCache {
        DocumentCache {
            inner: Mutex::new(Inner {
                lru: LruCache::unbounded(),
                bytes: 0,
                budget,
                max_entries: max_entries.max(1),
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached document of `record`, marked as recently used.
    pub(crate) fn get(&self, record: &RecordId) -> Option<Arc<CachedDoc>> {
        self.lock().lru.get(record).cloned()
    }

    /// The current generation, read before loading from the store.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Inserts a document a reader loaded, unless a commit happened since `generation`.
    pub(crate) fn insert_loaded(&self, record: RecordId, doc: Arc<CachedDoc>, generation: u64) {
        let mut inner = self.lock();
        if inner.generation == generation && !inner.lru.contains(&record) {
            inner.put(record, doc);
        }
    }

    /// Puts the document the writer just committed for `record` (or forgets the record, with
    /// `None`), and moves the generation on.
    pub(crate) fn put_committed(&self, record: RecordId, doc: Option<Arc<CachedDoc>>) {
        let mut inner = self.lock();
        inner.generation += 1;
        match doc {
            Some(d) => inner.put(record, d),
            None => {
                if let Some(old) = inner.lru.pop(&record) {
                    inner.bytes -= old.weight;
                }
            }
        }
    }

    /// Forgets every document older than a feed row naming its record: (record, seq) rows
    /// read from the feed log, which any writer's commit (another replica's) appends to. Moves
    /// the generation on, so a document read from the store before those rows committed is
    /// not inserted after this.
    pub(crate) fn forget_older(&self, rows: impl IntoIterator<Item = (RecordId, u64)>) -> usize {
        let mut inner = self.lock();
        inner.generation += 1;
        let mut forgotten = 0;
        for (record, seq) in rows {
            if inner.lru.peek(&record).is_some_and(|d| d.last_seq() < seq)
                && let Some(old) = inner.lru.pop(&record)
            {
                inner.bytes -= old.weight;
                forgotten += 1;
            }
        }
        forgotten
    }

    /// Forgets every document, and moves the generation on.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.lru.clear();
        inner.bytes = 0;
    }

    /// Estimated bytes held, and documents held.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.bytes, inner.lru.len())
    }
}

impl Inner {
    fn put(&mut self, record: RecordId, doc: Arc<CachedDoc>) {
        if let Some(old) = self.lru.pop(&record) {
            self.bytes -= old.weight;
        }
        if doc.weight > self.budget {
            return; // too big to keep: read from the store each time
        }
        self.bytes += doc.weight;
        self.lru.put(record, doc);
        while self.bytes > self.budget || self.lru.len() > self.max_entries {
            match self.lru.pop_lru() {
                Some((_, old)) => self.bytes -= old.weight,
                None => break,
            }
        }
    }
}
