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

mod auth;
mod feed;
mod push;
mod repair;

use crate::config::ServerConfig;
use crate::documents::{CachedDoc, DocumentCache};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::{ServerStore, StoredDocument};
use automerge::ActorId;
use axum::http::StatusCode;
use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::RecordId;
use fieldbook_core::sync::wire;
use push::PushJob;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The service shared by every handler.
#[derive(Debug)]
pub(crate) struct SyncService {
    store: Arc<dyn ServerStore>,
    config: ServerConfig,
    cache: DocumentCache,
    /// The feed position up to which the cache was checked against the feed log
    /// ([`SyncService::catch_up`]).
    cache_checked: std::sync::atomic::AtomicU64,
    /// Held while the cache is checked against the feed log, and while a commit's documents
    /// are put in it, so neither misses the other's rows.
    cache_checking: Mutex<()>,
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

impl SyncService {
    pub fn new(store: Arc<dyn ServerStore>, config: ServerConfig) -> SyncService {
        SyncService {
            cache: DocumentCache::new(config.document_cache_bytes, config.document_cache),
            enrol_limiter: crate::limit::EnrolLimiter::new(
                config.enrol_limit,
                Arc::clone(&config.clock),
            ),
            // The cache starts empty: nothing before this position can be stale in it.
            cache_checked: std::sync::atomic::AtomicU64::new(store.max_seq().unwrap_or(0)),
            cache_checking: Mutex::new(()),
            store,
            config,
            writer: Mutex::new(()),
            queue: Mutex::new(Vec::new()),
            turns: Mutex::new(HashMap::new()),
            actor: ActorId::from(b"fieldbook-server".as_slice()),
            metrics: Metrics::default(),
        }
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

    /// Brings this server up to every commit of any writer (another replica on the same
    /// database): the store's facts (its `max_seq`), and the document cache, from the feed
    /// log itself (a cached document older than a feed row of its record is forgotten). Costs
    /// one query when nothing was committed elsewhere; else a read of the new feed rows.
    /// Returns the feed position caught up to.
    pub(crate) fn catch_up(&self) -> Result<u64, ApiError> {
        use std::sync::atomic::Ordering;
        let max = self.store.max_seq()?;
        let _checking = lock(&self.cache_checking);
        let after = self.cache_checked.load(Ordering::Acquire);
        self.forget_changed(after, max)?;
        self.cache_checked.fetch_max(max, Ordering::AcqRel);
        Ok(max)
    }

    /// Forgets the cached documents older than a feed row in `(after, upto]` of their record.
    /// The caller holds `cache_checking`.
    fn forget_changed(&self, mut after: u64, upto: u64) -> Result<(), ApiError> {
        use std::sync::atomic::Ordering;
        while after < upto {
            let rows = self.store.feed_rows(after, upto, 1_000)?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            let forgotten = self
                .cache
                .forget_older(rows.iter().map(|r| (r.record, r.seq)));
            if forgotten > 0 {
                tracing::debug!(
                    forgotten,
                    "documents another writer changed dropped from the cache"
                );
            }
            after = last;
            // Progress kept as it goes: a request behind this one does not scan it again.
            self.cache_checked.fetch_max(after, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Puts the documents a commit just stored in the cache. Another writer may have committed
    /// to one of them after our commit and before this, and a catch-up may already have read
    /// that row: the rows from our lowest position up to what was checked are read again, so
    /// such a document is forgotten rather than kept.
    pub(super) fn cache_committed(
        &self,
        docs: HashMap<RecordId, Arc<CachedDoc>>,
        lowest: Option<u64>,
    ) {
        use std::sync::atomic::Ordering;
        let _checking = lock(&self.cache_checking);
        for (record, doc) in docs {
            self.cache.put_committed(record, Some(doc));
        }
        let checked = self.cache_checked.load(Ordering::Acquire);
        if let Some(lowest) = lowest.filter(|l| *l < checked)
            && let Err(e) = self.forget_changed(lowest, checked)
        {
            // The cache cannot be shown correct: empty it rather than keep what may be stale.
            tracing::warn!(
                code = e.code,
                "could not check the committed documents against the feed"
            );
            self.cache.clear();
        }
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
