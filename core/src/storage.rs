//! The device store: SQLCipher through rusqlite. The only module that touches rusqlite.
//!
//! Holds, per record, the automerge document as incrementally saved chunks and its heads, plus a
//! projection of the fields screens and queues query, in indexed columns. The projection is
//! derived by the caller from the document after every change and written in the same
//! transaction as the chunk. Opening the store never loads documents.
//!
//! Durability: WAL with `synchronous=FULL`; a save returns only after its transaction committed.
//! A wrong key or a corrupt file is a typed error and the file is left exactly as it was.
//!
//! STUB: being written; the API below is fixed.

use crate::domain::{OfficerId, RecordId, RecordKind, Status};
use std::path::Path;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key does not open this database (or its first page is damaged). The file is untouched.
    #[error(
        "the database key does not open this store (wrong key, or the file is not a Fieldbook store); the file was left untouched"
    )]
    KeyRejected,
    /// The file opened but is damaged. The file is untouched.
    #[error(
        "the store is damaged ({detail}); the file was left untouched: keep it and restore from the server"
    )]
    Corrupt {
        /// What the integrity check reported (no personal data).
        detail: String,
    },
    /// The database was written by a newer Fieldbook.
    #[error(
        "the store has schema version {found}; this build knows up to {supported}: update the app"
    )]
    TooNew {
        /// Version in the file.
        found: u32,
        /// Newest this build knows.
        supported: u32,
    },
    /// No store at this path.
    #[error("no store at this path: run `fieldbook init` first")]
    Missing,
    /// A key that is not usable (e.g. wrong length).
    #[error("bad database key: {0}")]
    BadKey(String),
    /// Any other SQLite failure (disk full, I/O error...).
    #[error("storage failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The key a store is encrypted under: 32 raw bytes from the platform keystore (no key
/// derivation, fast open), or a passphrase (SQLCipher's PBKDF2, slow on purpose).
#[derive(Clone)]
pub enum DatabaseKey {
    /// 32 raw bytes.
    Raw([u8; 32]),
    /// A passphrase.
    Passphrase(String),
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(..)")
    }
}

/// The queryable fields of one record, derived from its document.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Record id.
    pub id: RecordId,
    /// Kind.
    pub kind: RecordKind,
    /// Workflow status (derived from the event list).
    pub status: Status,
    /// Author.
    pub author: OfficerId,
    /// Created (device clock), ms since epoch.
    pub created_at: i64,
    /// Last local change or merge, ms since epoch.
    pub updated_at: i64,
    /// The record's main time, ms: report received (crime, issue), detained (stop-search),
    /// assessed (needs assessment); none for a person.
    pub event_at: Option<i64>,
    /// Crime reports with no recording decision yet: when it falls due (report + 24 h), ms.
    pub decision_due_at: Option<i64>,
    /// Stop-searches with no receipt given and no reason recorded.
    pub receipt_needed: bool,
    /// Offence code, ASB type or power: what the record is about (never personal data).
    pub classification: Option<String>,
    /// Approximate position for map screens (exact; never exported as is).
    pub lat: Option<f64>,
    /// Approximate position for map screens.
    pub lon: Option<f64>,
    /// Flags, comma separated, e.g. "domestic_abuse,repeat_victim".
    pub flags: String,
    /// Records this one refers to: (role, id), e.g. ("victim", person), ("crime", crime).
    pub links: Vec<(String, RecordId)>,
    /// Number of legal-field conflicts awaiting resolution.
    pub conflicts: u32,
}

/// One record's stored document.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    /// The chunks concatenated: loadable with `Automerge::load`.
    pub bytes: Vec<u8>,
    /// Heads after the last save, as concatenated 32-byte change hashes.
    pub heads: Vec<u8>,
    /// How many chunks it is stored as (compaction trigger).
    pub chunks: u32,
}

/// What one save writes, in one transaction.
#[derive(Debug, Clone)]
pub struct DocumentSave {
    /// Which record.
    pub id: RecordId,
    /// Bytes to append (an incremental save), or the whole document when `replace` is set.
    pub bytes: Vec<u8>,
    /// Replace every stored chunk with `bytes` (a compaction or first save).
    pub replace: bool,
    /// Heads after this save, concatenated 32-byte hashes.
    pub heads: Vec<u8>,
    /// The projection derived from the document after this save.
    pub projection: Projection,
}

/// Filters for listing records; all optional, combined with AND; newest first.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    /// Only this kind.
    pub kind: Option<RecordKind>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this author.
    pub author: Option<OfficerId>,
    /// `event_at` (or `created_at` when none) at or after, ms.
    pub from: Option<i64>,
    /// `event_at` (or `created_at` when none) before, ms.
    pub to: Option<i64>,
    /// At most this many rows (default 1,000).
    pub limit: Option<u32>,
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    _private: (),
}

impl Store {
    /// Opens the store at `path`, creating and initialising it when `create` is set. Runs
    /// migrations. Never deletes or overwrites an existing file it cannot open.
    pub fn open(path: &Path, key: &DatabaseKey, create: bool) -> Result<Store, StoreError> {
        let _ = (path, key, create);
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn save(&mut self, s: &DocumentSave) -> Result<(), StoreError> {
        let _ = s;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn save_many(&mut self, s: &[DocumentSave]) -> Result<(), StoreError> {
        let _ = s;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn load(&self, id: RecordId) -> Result<Option<StoredDocument>, StoreError> {
        let _ = id;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn projection(&self, id: RecordId) -> Result<Option<Projection>, StoreError> {
        let _ = id;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn list(&self, q: &RecordQuery) -> Result<Vec<Projection>, StoreError> {
        let _ = q;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn drafts(&self, a: &OfficerId) -> Result<Vec<Projection>, StoreError> {
        let _ = a;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn overdue_decisions(&self, now_ms: i64) -> Result<Vec<Projection>, StoreError> {
        let _ = now_ms;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn receipts_needed(&self) -> Result<Vec<Projection>, StoreError> {
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn linking_to(&self, to: RecordId, role: &str) -> Result<Vec<RecordId>, StoreError> {
        let _ = (to, role);
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn count(&self) -> Result<u64, StoreError> {
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn ids(&self) -> Result<Vec<RecordId>, StoreError> {
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let _ = key;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let _ = (key, value);
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn log_access(&mut self, e: &AccessLogEntry) -> Result<(), StoreError> {
        let _ = e;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn access_log(&self, id: RecordId) -> Result<Vec<AccessLogEntry>, StoreError> {
        let _ = id;
        Err(StoreError::Missing)
    }
    /// STUB
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        Err(StoreError::Missing)
    }
}

/// STUB
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLogEntry {
    /// ms
    pub at_ms: i64,
    /// who
    pub officer: OfficerId,
    /// what
    pub record_id: RecordId,
    /// view/create/alter/export
    pub action: String,
    /// why
    pub purpose: String,
}
