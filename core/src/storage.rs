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
//! **A lost write-ahead log is known, not silent.** Acknowledged saves live in the `-wal` file
//! beside the store until a checkpoint copies them into the store file; if that file is deleted
//! after a session that did not close cleanly (a crash, a killed app, a copy of the store file
//! alone), SQLite would open the older store file as if nothing were missing. So before a
//! handle's first write the store sets a session mark in `meta` (`store.session`) and
//! checkpoints it into the store file; the last handle to close (the one that can lock the file
//! exclusively: the bindings and the CLI may hold two handles at once) clears it and checkpoints
//! again. A store opened with the mark set and no `-wal` holding frames is refused with
//! [`StoreError::WalMissing`] and left as it is; [`Store::accept_lost_wal`] is the officer's
//! deliberate way past it when the log is gone for good. An existing file of 0 bytes is refused
//! with [`StoreError::Empty`] unless `create` is set (a read-only command never initialises it).
//! The policy is written beside ADR 0003 (`docs/adr/0003-storage-corruption-and-keys.md`).
//!
//! Schema (version 5; full text with comments in `core/sql/schema.sql`):
//!
//! - `meta(key, value)`: small settings of this device (enrolled officer, sync cursor).
//! - `records`: one row per record, `WITHOUT ROWID` on its text id: the projection columns
//!   (`kind`, `status`, `author`, `created_at`, `updated_at`, `event_at`, `decision_due_at`,
//!   `receipt_needed`, `classification`, `lat`, `lon`, `flags`, `conflicts`), the document's
//!   `heads`, and `chunk_count` / `doc_bytes` (a compaction trigger the caller can read without
//!   loading the document). Indexes: `coalesce(event_at, created_at)` for the newest-first list,
//!   the same by `kind`, `(author, status, updated_at)` for "my drafts", partial indexes on
//!   `decision_due_at IS NOT NULL` and `receipt_needed = 1` for the two queues.
//! - `chunks(record_id, seq, bytes)`: the document as automerge save chunks, concatenated in
//!   `seq` order on load; deleted with their record.
//! - `links(from_id, role, to_id)`: what a record refers to; indexed on `(to_id, role)` for
//!   "which assessments point at this crime".
//! - `access_log`: Data Protection Act 2018 Part 3 log of who did what to which record and why;
//!   kept when a record is purged.
//! - v3, sync: per record `server_heads` (what the device last learned the server holds; NULL
//!   before the first push) with a partial index `records_unsynced` on `server_heads IS NOT heads`
//!   (the outbox), and `attention_rule` / `attention_message` / `attention_field` for a record
//!   the server refused (partial index `records_attention`); `receipts(hash, record_id,
//!   received_at)`, the server's receipt time per change, deleted with its record. Sync settings
//!   live in `meta` under `sync.*` (server, device id, token, team, cursor, last sync time).
//!
//! - v4, quarantine: `quarantine(id, record_id, kind, rule, message, field, change, at,
//!   removed, document, refused)`, what the server refused, kept for the officer: the whole
//!   refused document, the server's reason and the refused field values (JSON). No foreign key
//!   to `records` (a record the server never held is removed and lives only here); ids are
//!   `AUTOINCREMENT`, never reused, so a dismissed item's id never names another.
//! - v5, held back: `held_back(id, record_id, kind, entry, reason, at)`, feed entries the device
//!   could not apply (bad bytes from the server, or changes that do not fit together), kept as
//!   received (the entry's CBOR) with a reason code; index on `record_id`. No foreign key.
//!
//! A sync response is written by [`Store::apply_sync`] in one transaction: documents,
//! projections, receipts, server heads, attention marks, quarantined states, records removed
//! into the quarantine, held-back entries, evictions and the cursor together.
//!
//! Migrations follow mozilla/application-services: one `ConnectionInitializer` (in `schema`), the
//! version in `PRAGMA user_version`, every upgrade in one `IMMEDIATE` transaction, a store newer
//! than this build refused with [`StoreError::TooNew`]. Old schemas are frozen under
//! `core/sql/tests/` and a test upgrades each and compares it with a fresh store.
//!
//! Errors: SQLite's "file is not a database" at open becomes [`StoreError::KeyRejected`];
//! "malformed" and values the store cannot read back become [`StoreError::Corrupt`]. The
//! conversion happens in one place (`classify`). Damage away from the first pages is not looked
//! for at open (that would read the whole file); it surfaces as `Corrupt` from the read that meets
//! it, or from [`Store::check_integrity`].

mod queries;
mod schema;
#[cfg(test)]
mod tests;

use crate::domain::{OfficerId, RecordId, RecordKind, Status};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
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
    #[error("no store at this path: set one up first")]
    Missing,
    /// The store file exists but is empty (0 bytes). The file is untouched.
    #[error(
        "the store file is empty (0 bytes): it was never set up, or it was cut short; it was left untouched: restore it from a backup, or remove it and set up a new store"
    )]
    Empty,
    /// The store was not closed cleanly and its write-ahead log (the `-wal` file beside it) is
    /// gone: the saves made since its last checkpoint were in that file. The store is untouched.
    #[error(
        "the store's write-ahead log (the -wal file beside it) is missing after a session that did not close cleanly: the saves made since its last checkpoint were in that file and are not in the store; nothing was changed: put the -wal file back beside the store and open it again (if it is gone for good, the store can be opened without them, accepting their loss)"
    )]
    WalMissing,
    /// A key that is not usable (e.g. wrong length).
    #[error("bad database key: {0}")]
    BadKey(String),
    /// The record changed (or went) since it was read: nothing was written. Read it again.
    #[error(
        "the record was changed by another process on this device since it was read; nothing was written: read it again"
    )]
    Stale,
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

impl DatabaseKey {
    /// Reads a key as a person or a secret store gives it (the text of a key file, or an
    /// environment variable), surrounding whitespace and a final newline ignored: 64 hex
    /// characters are a raw key, anything else a passphrase.
    pub fn from_text(text: &str) -> Result<DatabaseKey, KeyTextError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyTextError::Empty);
        }
        let mut raw = [0u8; 32];
        if text.len() == 64 && hex::decode_to_slice(text, &mut raw).is_ok() {
            return Ok(DatabaseKey::Raw(raw));
        }
        Ok(DatabaseKey::Passphrase(text.to_owned()))
    }
}

/// Why a text given as a key is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyTextError {
    /// Nothing but whitespace (SQLCipher would take an empty key for "no encryption").
    #[error("the key is empty: give 64 hex characters (a raw key) or a non-empty passphrase")]
    Empty,
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
    /// Stop-searches with no receipt given and no reason recorded for none.
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
    /// What the server holds of it (concatenated hashes), when known.
    pub server_heads: Option<Vec<u8>>,
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
    /// The heads this save was built on, as the store held them (none for a new record). The
    /// save is refused with [`StoreError::Stale`] if the stored heads differ: another process
    /// on this device changed the record meanwhile, and writing would lose its change.
    pub expected_heads: Option<Vec<u8>>,
    /// Heads after this save, concatenated 32-byte hashes.
    pub heads: Vec<u8>,
    /// The projection derived from the document after this save.
    pub projection: Projection,
    /// A "needs attention" mark to set with this save (a compaction that could not be done);
    /// `None` leaves the record's mark as it is.
    pub attention: Option<Attention>,
}

/// A refusal by the server the officer must see: the record "needs attention".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    /// The server's stable rule id, e.g. `actor-not-bound`.
    pub rule: String,
    /// What is wrong and what to do (no personal data).
    pub message: String,
    /// The field to blame, when one is.
    pub field: Option<String>,
}

/// A record needing attention, as the status screen lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionRecord {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Why.
    pub attention: Attention,
}

/// The server's receipt time of one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeReceipt {
    /// The record the change belongs to.
    pub record: RecordId,
    /// The change hash (32 bytes).
    pub hash: Vec<u8>,
    /// Server receipt time, ms since epoch.
    pub received_at: i64,
}

/// A record in the outbox: its heads differ from what the server is known to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsyncedRecord {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Its heads, concatenated 32-byte hashes.
    pub heads: Vec<u8>,
    /// What the server holds (`None`: never pushed).
    pub server_heads: Option<Vec<u8>>,
}

/// A record's heads beside what the server is known to hold (concatenated 32-byte hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncHeads {
    /// The document's heads.
    pub heads: Vec<u8>,
    /// What the server holds (`None`: never pushed).
    pub server_heads: Option<Vec<u8>>,
}

/// A refused local state to keep in the quarantine.
#[derive(Debug, Clone, PartialEq)]
pub struct NewQuarantine {
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The server's rule.
    pub rule: String,
    /// The server's message (no personal data).
    pub message: String,
    /// The field the server blamed, if one.
    pub field: Option<String>,
    /// The first refused change (32 bytes), if named.
    pub change: Option<Vec<u8>>,
    /// When it was kept, ms (device clock).
    pub at: i64,
    /// The server never held the record: the live record was removed.
    pub removed: bool,
    /// `Automerge::save` of the refused document.
    pub document: Vec<u8>,
    /// The refused field values as JSON: `[{field, old, new}]`, old being the live value.
    pub refused: String,
}

/// A quarantined state as stored, without its document.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    /// Its id (the officer names it by this).
    pub id: u64,
    /// What was kept.
    pub entry: NewQuarantine,
}

/// A feed entry the device could not apply, to keep aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHeldBack {
    /// The record the entry is for.
    pub record: RecordId,
    /// Its kind, as the entry says.
    pub kind: RecordKind,
    /// The entry as received (`wire::encode` of the feed entry).
    pub entry: Vec<u8>,
    /// Why it was not applied: a stable code (`sync::held_back::HoldReason`).
    pub reason: String,
    /// When it was kept, ms (device clock).
    pub at: i64,
}

/// A held-back entry as stored, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBackRow {
    /// Its id (never reused).
    pub id: u64,
    /// What was kept (`entry` left empty).
    pub entry: NewHeldBack,
}

/// Everything one sync response changes in the store, written in one transaction by
/// [`Store::apply_sync`], in this order: saves, removals, quarantine, server heads, attention,
/// receipts, held-back entries, evictions, settings.
#[derive(Debug, Clone, Default)]
pub struct SyncWrite {
    /// Documents changed by the response, with their refreshed projections.
    pub saves: Vec<DocumentSave>,
    /// Records to delete because their whole refused state goes to the quarantine (the server
    /// never held them): `(id, heads)`; refused with [`StoreError::Stale`] if the stored heads
    /// differ (another process changed the record, and that change must not be lost).
    pub removals: Vec<(RecordId, Vec<u8>)>,
    /// Refused states to keep.
    pub quarantine: Vec<NewQuarantine>,
    /// What the server now holds of each record (concatenated hashes).
    pub server_heads: Vec<(RecordId, Vec<u8>)>,
    /// Marks (`Some`) and clears (`None`) of "needs attention".
    pub attention: Vec<(RecordId, Option<Attention>)>,
    /// Server receipt times; a change already receipted keeps its first time.
    pub receipts: Vec<ChangeReceipt>,
    /// Feed entries kept aside, not applied.
    pub held_back: Vec<NewHeldBack>,
    /// Records to delete if (and only if) they hold nothing unsynced.
    pub evictions: Vec<RecordId>,
    /// Settings to set (the cursor, the last sync time).
    pub meta: Vec<(String, String)>,
}

/// What [`Store::apply_sync`] did with the evictions asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncApplied {
    /// Deleted.
    pub evicted: Vec<RecordId>,
    /// Kept: they hold changes the server has not acknowledged, or were not here.
    pub kept: Vec<RecordId>,
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

/// One entry of the Data Protection Act 2018 Part 3 access log: who did what to which record,
/// when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogEntry {
    /// When, ms since epoch.
    pub at_ms: i64,
    /// Who.
    pub officer: OfficerId,
    /// Which record.
    pub record_id: RecordId,
    /// What: "view", "create", "alter", "export"...
    pub action: String,
    /// Why, as the officer gave it (e.g. "investigation", "review").
    pub purpose: String,
}

/// An open store. Dropping it ends its session (see the module documentation).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// This handle has set the session mark and checkpointed it into the store file.
    session_marked: bool,
}

/// The `meta` key of the session mark: set while a session that wrote may have saves only in
/// the `-wal` file.
const SESSION_KEY: &str = "store.session";

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.end_session() {
            // Another handle is open (it ends the session), or the close failed: the mark stays,
            // which is safe while the -wal file is there.
            tracing::debug!(error = %e, "the store's session mark stays");
        }
    }
}

impl Store {
    /// Opens the store at `path`, creating and initialising it when `create` is set. Runs
    /// migrations. Never deletes or overwrites an existing file it cannot open.
    ///
    /// Reads only the first page(s) and the schema version: the cost does not grow with the
    /// number of records.
    pub fn open(path: &Path, key: &DatabaseKey, create: bool) -> Result<Store, StoreError> {
        if matches!(key, DatabaseKey::Passphrase(p) if p.is_empty()) {
            // SQLCipher reads an empty key as "no encryption".
            return Err(StoreError::BadKey(
                "the passphrase is empty: supply a non-empty passphrase or a raw key".into(),
            ));
        }
        // When the answer is unknown (permissions), let the open below report it.
        let exists = path.try_exists().unwrap_or(true);
        if !exists && !create {
            return Err(StoreError::Missing);
        }
        // Before SQLite opens anything: whether a -wal file holds frames for it to recover.
        let wal_holds_frames = std::fs::metadata(wal_path(path)).is_ok_and(|m| m.len() > 0);
        let empty = exists && std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
        if empty && !create && !wal_holds_frames {
            // SQLite would take an empty file for a new database and initialise it.
            return Err(StoreError::Empty);
        }
        let mut conn = open_keyed(path, key, create).map_err(|e| match e.sqlite_error_code() {
            // The file went away between the check and the open.
            Some(ErrorCode::CannotOpen) if !create && !path.exists() => StoreError::Missing,
            _ => classify(e),
        })?;
        // Read before anything can write: a wrong key or a foreign file fails here, before a
        // pragma such as `journal_mode` could touch the file.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(classify)?;
        let version = schema::user_version(&conn)?;
        schema::check_not_too_new::<schema::FieldbookSchema>(version)?;
        if version > 0 && !wal_holds_frames && session_mark(&conn).map_err(classify)? {
            return Err(StoreError::WalMissing);
        }
        configure(&conn).map_err(classify)?;
        schema::initialize(&mut conn, &schema::FieldbookSchema)?;
        // Proved readable and current: closing may now fold the WAL back into the file.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
            .map_err(classify)?;
        Ok(Store {
            conn,
            session_marked: false,
        })
    }

    /// Opens a store refused with [`StoreError::WalMissing`] as its file holds it, without the
    /// saves that were only in the lost `-wal` file: the officer's (or IT's) deliberate choice
    /// once the log cannot be put back. Clears the session mark, so later opens succeed; changes
    /// nothing else. Any other refusal (wrong key, damage, a store that is not missing its log)
    /// is returned as [`Store::open`] returns it.
    pub fn accept_lost_wal(path: &Path, key: &DatabaseKey) -> Result<(), StoreError> {
        match Store::open(path, key, false) {
            Err(StoreError::WalMissing) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(e),
        }
        let conn = open_keyed(path, key, false).map_err(classify)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(classify)?;
        conn.execute("DELETE FROM meta WHERE key = ?1", [SESSION_KEY])
            .map_err(classify)?;
        tracing::warn!("the store was opened without its lost write-ahead log, as asked");
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
            .map_err(classify)?;
        Ok(())
    }

    /// Before this handle's first write: sets the session mark and checkpoints it into the store
    /// file, so a `-wal` file deleted from now on is known to have held this session's saves.
    fn begin_writes(&mut self) -> Result<(), StoreError> {
        if self.session_marked {
            return Ok(());
        }
        if !session_mark(&self.conn).map_err(classify)? {
            queries::set_meta(&self.conn, SESSION_KEY, "open").map_err(classify)?;
        }
        let (busy, log, done): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(FULL)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(classify)?;
        if busy == 0 && done >= log {
            self.session_marked = true;
        } else {
            // Readers held the checkpoint back; the next write tries again.
            tracing::debug!(
                busy,
                log,
                done,
                "the session mark is not in the store file yet"
            );
        }
        Ok(())
    }

    /// Clears the session mark when this is the last handle on the store: the one that can take
    /// the file's exclusive lock at once (never waiting, so two handles closing together cannot
    /// hold each other up). Everything is checkpointed into the store file first.
    fn end_session(&mut self) -> rusqlite::Result<()> {
        if !session_mark(&self.conn)? {
            return Ok(());
        }
        self.conn.busy_timeout(std::time::Duration::ZERO)?;
        self.conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute("DELETE FROM meta WHERE key = ?1", [SESSION_KEY])?;
        tx.commit()?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
    }

    /// Writes one save in one transaction: the chunk (appended, or replacing every chunk when
    /// `replace` is set), the projection row and the record's links. Returns after the commit,
    /// so the save is durable. `s.id` names the record; `s.projection.id` should equal it.
    pub fn save(&mut self, s: &DocumentSave) -> Result<(), StoreError> {
        self.save_many(std::slice::from_ref(s))
    }

    /// Writes every save in one transaction: all of them are stored, or none (as a sync page is
    /// applied). Returns after the commit.
    pub fn save_many(&mut self, saves: &[DocumentSave]) -> Result<(), StoreError> {
        self.begin_writes()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(classify)?;
        for s in saves {
            debug_assert_eq!(
                s.id, s.projection.id,
                "a save's projection is of another record"
            );
            queries::save(&tx, s, None).map_err(classify)?;
        }
        tx.commit().map_err(classify)
    }

    /// The stored document of `id` (chunks concatenated in order), if the record is here.
    pub fn load(&self, id: RecordId) -> Result<Option<StoredDocument>, StoreError> {
        queries::load(&self.conn, id).map_err(classify)
    }

    /// The projection of `id` with its links, if the record is here.
    pub fn projection(&self, id: RecordId) -> Result<Option<Projection>, StoreError> {
        self.read(|tx| queries::projection(tx, id))
    }

    /// Projections matching `q`, newest first by `event_at` (or `created_at` when none); at most
    /// `q.limit` (default 1,000).
    pub fn list(&self, q: &RecordQuery) -> Result<Vec<Projection>, StoreError> {
        self.read(|tx| queries::list(tx, q))
    }

    /// `author`'s drafts, most recently updated first.
    pub fn drafts(&self, author: &OfficerId) -> Result<Vec<Projection>, StoreError> {
        self.read(|tx| queries::drafts(tx, author))
    }

    /// Crime reports whose recording decision fell due before `now_ms`, oldest due first.
    pub fn overdue_decisions(&self, now_ms: i64) -> Result<Vec<Projection>, StoreError> {
        self.read(|tx| queries::overdue_decisions(tx, now_ms))
    }

    /// Stop-searches that still need a receipt (or a reason for none), newest first.
    pub fn receipts_needed(&self) -> Result<Vec<Projection>, StoreError> {
        self.read(queries::receipts_needed)
    }

    /// Records that link to `to` in `role`, e.g. the needs assessments whose ("crime", id) link
    /// points at a crime report. Ordered by id (UUIDv7: oldest first).
    pub fn linking_to(&self, to: RecordId, role: &str) -> Result<Vec<RecordId>, StoreError> {
        queries::linking_to(&self.conn, to, role).map_err(classify)
    }

    /// How many records are stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        queries::count(&self.conn).map_err(classify)
    }

    /// Every record id, in id order (UUIDv7: oldest first).
    pub fn ids(&self) -> Result<Vec<RecordId>, StoreError> {
        queries::ids(&self.conn).map_err(classify)
    }

    /// A device setting, if set.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        queries::meta(&self.conn, key).map_err(classify)
    }

    /// Sets a device setting (durable on return).
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.begin_writes()?;
        queries::set_meta(&self.conn, key, value).map_err(classify)
    }

    /// Appends to the access log (durable on return).
    pub fn log_access(&mut self, entry: &AccessLogEntry) -> Result<(), StoreError> {
        self.begin_writes()?;
        queries::log_access(&self.conn, entry).map_err(classify)
    }

    /// The access log of one record, oldest first.
    pub fn access_log(&self, record: RecordId) -> Result<Vec<AccessLogEntry>, StoreError> {
        queries::access_log(&self.conn, record).map_err(classify)
    }

    /// Reads every page (SQLCipher's HMAC check, then SQLite's `quick_check`). Slow on a large
    /// store: run it in the background, not at open. Damage is [`StoreError::Corrupt`].
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let mut problems =
            queries::pragma_rows(&self.conn, "PRAGMA cipher_integrity_check").map_err(classify)?;
        let quick = queries::pragma_rows(&self.conn, "PRAGMA quick_check").map_err(classify)?;
        problems.extend(quick.into_iter().filter(|line| line != "ok"));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                detail: summarise(&problems),
            })
        }
    }

    // -----------------------------------------------------------------------------------------
    // Sync
    // -----------------------------------------------------------------------------------------

    /// Writes everything one sync response changes in one transaction: all of it, or (on any
    /// failure) none of it. An eviction deletes only a record whose heads the server holds.
    pub fn apply_sync(&mut self, w: &SyncWrite) -> Result<SyncApplied, StoreError> {
        self.begin_writes()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(classify)?;
        let applied = apply_sync_in(&tx, w).map_err(classify)?;
        tx.commit().map_err(classify)?;
        Ok(applied)
    }

    /// Records what the server holds of many records, in one transaction.
    pub fn set_server_heads(&mut self, heads: &[(RecordId, Vec<u8>)]) -> Result<(), StoreError> {
        self.apply_sync(&SyncWrite {
            server_heads: heads.to_vec(),
            ..SyncWrite::default()
        })
        .map(drop)
    }

    /// The outbox: up to `limit` records whose heads the server does not hold, in id order.
    /// Served by a partial index, so the cost follows the outbox, not the store.
    pub fn unsynced(&self, limit: u32) -> Result<Vec<UnsyncedRecord>, StoreError> {
        self.read(|tx| queries::unsynced(tx, limit))
    }

    /// How many records hold changes the server has not acknowledged.
    pub fn count_unsynced(&self) -> Result<u64, StoreError> {
        queries::count_unsynced(&self.conn).map_err(classify)
    }

    /// A record's heads and what the server holds of it (concatenated hashes), if it is here.
    pub fn sync_heads(&self, id: RecordId) -> Result<Option<SyncHeads>, StoreError> {
        queries::sync_heads(&self.conn, id).map_err(classify)
    }

    /// Marks a record as needing attention (durable on return).
    pub fn mark_attention(
        &mut self,
        id: RecordId,
        attention: &Attention,
    ) -> Result<(), StoreError> {
        self.begin_writes()?;
        queries::set_attention(&self.conn, id, Some(attention)).map_err(classify)
    }

    /// Clears a record's "needs attention" mark.
    pub fn clear_attention(&mut self, id: RecordId) -> Result<(), StoreError> {
        self.begin_writes()?;
        queries::set_attention(&self.conn, id, None).map_err(classify)
    }

    /// Records needing attention, in id order.
    pub fn attention(&self) -> Result<Vec<AttentionRecord>, StoreError> {
        self.read(queries::attention)
    }

    /// Stores server receipt times, in one transaction.
    pub fn record_receipts(&mut self, receipts: &[ChangeReceipt]) -> Result<(), StoreError> {
        self.apply_sync(&SyncWrite {
            receipts: receipts.to_vec(),
            ..SyncWrite::default()
        })
        .map(drop)
    }

    /// Every quarantined state, oldest first, without the documents.
    pub fn quarantined(&self) -> Result<Vec<QuarantineRow>, StoreError> {
        self.read(queries::quarantined)
    }

    /// How many refused states are kept.
    pub fn count_quarantined(&self) -> Result<u64, StoreError> {
        queries::count_quarantined(&self.conn).map_err(classify)
    }

    /// The refused document of a quarantined state, with its row; `None` when there is no
    /// such item.
    pub fn quarantined_document(
        &self,
        id: u64,
    ) -> Result<Option<(QuarantineRow, Vec<u8>)>, StoreError> {
        self.read(|tx| queries::quarantined_document(tx, id))
    }

    /// Deletes a quarantined state (the officer has read or copied it). True if it was here.
    pub fn dismiss_quarantined(&mut self, id: u64) -> Result<bool, StoreError> {
        self.begin_writes()?;
        queries::dismiss_quarantined(&self.conn, id).map_err(classify)
    }

    /// Every held-back feed entry, oldest first, without its bytes.
    pub fn held_back(&self) -> Result<Vec<HeldBackRow>, StoreError> {
        self.read(queries::held_back)
    }

    /// How many feed entries are held back.
    pub fn count_held_back(&self) -> Result<u64, StoreError> {
        queries::count_held_back(&self.conn).map_err(classify)
    }

    /// The records with held-back feed entries, in id order.
    pub fn held_back_records(&self) -> Result<Vec<RecordId>, StoreError> {
        queries::held_back_records(&self.conn).map_err(classify)
    }

    /// Server receipt times of a record's changes, oldest first.
    pub fn receipts(&self, id: RecordId) -> Result<Vec<ChangeReceipt>, StoreError> {
        queries::receipts(&self.conn, id).map_err(classify)
    }

    /// Deletes a record with its chunks, links and receipts (the access log stays). True if it
    /// was here. Sync evicts through [`Store::apply_sync`], which keeps unsynced records.
    pub fn delete(&mut self, id: RecordId) -> Result<bool, StoreError> {
        self.begin_writes()?;
        queries::delete(&self.conn, id, false).map_err(classify)
    }

    /// Runs several reads in one read transaction, so they see one state of the store.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(classify)?;
        let value = f(&tx).map_err(classify)?;
        tx.commit().map_err(classify)?;
        Ok(value)
    }
}

/// The statements of [`Store::apply_sync`], inside the caller's transaction.
fn apply_sync_in(conn: &Connection, w: &SyncWrite) -> rusqlite::Result<SyncApplied> {
    // What the server holds of a record saved here is written with its row.
    let mut server_heads: std::collections::HashMap<RecordId, &[u8]> = w
        .server_heads
        .iter()
        .map(|(id, heads)| (*id, heads.as_slice()))
        .collect();
    let mut folded = std::collections::HashSet::new();
    for s in &w.saves {
        debug_assert_eq!(
            s.id, s.projection.id,
            "a save's projection is of another record"
        );
        let heads = server_heads.remove(&s.id);
        if heads.is_some() {
            folded.insert(s.id);
        }
        queries::save(conn, s, heads)?;
    }
    for (id, heads) in &w.removals {
        queries::remove(conn, *id, heads)?;
    }
    for q in &w.quarantine {
        queries::quarantine(conn, q)?;
    }
    for (id, heads) in w.server_heads.iter().filter(|(id, _)| !folded.contains(id)) {
        queries::set_server_heads(conn, *id, Some(heads))?;
    }
    for (id, attention) in &w.attention {
        queries::set_attention(conn, *id, attention.as_ref())?;
    }
    for r in &w.receipts {
        queries::record_receipt(conn, r)?;
    }
    for h in &w.held_back {
        queries::hold_back(conn, h)?;
    }
    let mut applied = SyncApplied::default();
    for id in &w.evictions {
        if queries::delete(conn, *id, true)? {
            applied.evicted.push(*id);
        } else {
            applied.kept.push(*id);
        }
    }
    for (key, value) in &w.meta {
        queries::set_meta(conn, key, value)?;
    }
    Ok(applied)
}

/// The write-ahead log SQLite keeps beside the store at `path`.
fn wal_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    std::path::PathBuf::from(name)
}

/// Whether the session mark is set (read before migrations: `meta` is in every schema).
fn session_mark(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(queries::meta(conn, SESSION_KEY)?.is_some())
}

/// Opens the file and gives SQLCipher the key: the one place Fieldbook opens a database.
fn open_keyed(path: &Path, key: &DatabaseKey, create: bool) -> Result<Connection, rusqlite::Error> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    // The one place Fieldbook opens a database: keying, pragmas and migrations follow here.
    #[allow(clippy::disallowed_methods)]
    let conn = Connection::open_with_flags(path, flags)?;
    // Until the store has proved readable, closing must not checkpoint: with a wrong key and the
    // WAL of a crashed session, SQLite would otherwise copy the WAL into the file on close.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    // SQLCipher writes its own error lines to stderr (logcat, os_log on phones) on a wrong key
    // or a damaged page; the typed error says the same to the caller, so keep the log quiet.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    conn.execute_batch(&key_pragma(key))?;
    Ok(conn)
}

/// `PRAGMA key` for `key`: a raw key as a blob literal (SQLCipher skips its key derivation), a
/// passphrase as a quoted string.
fn key_pragma(key: &DatabaseKey) -> String {
    match key {
        DatabaseKey::Raw(bytes) => format!("PRAGMA key = \"x'{}'\";", hex::encode(bytes)),
        DatabaseKey::Passphrase(p) => format!("PRAGMA key = '{}';", p.replace('\'', "''")),
    }
}

/// Connection settings, after the key was proved right.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "the store did not switch to WAL journaling");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// How long a write waits for another connection's lock (the CLI and a sync run may overlap).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Turns a rusqlite error into what a caller can act on. The only conversion in this module.
fn classify(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::ToSqlConversionFailure(inner) if inner.is::<queries::StaleHeads>() => {
            StoreError::Stale
        }
        rusqlite::Error::SqliteFailure(_, _) => match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => StoreError::KeyRejected,
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                detail: "sqlite found a malformed page".into(),
            },
            _ => StoreError::Sqlite(e),
        },
        rusqlite::Error::FromSqlConversionFailure(column, _, _)
        | rusqlite::Error::InvalidColumnType(column, _, _)
        | rusqlite::Error::IntegralValueOutOfRange(column, _) => StoreError::Corrupt {
            detail: format!("a stored value in column {column} cannot be read back"),
        },
        _ => StoreError::Sqlite(e),
    }
}

/// The first few lines of an integrity report (page numbers and index names, no values).
fn summarise(problems: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut detail = problems
        .iter()
        .take(SHOWN)
        .map(|l| l.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > SHOWN {
        detail.push_str(&format!("; and {} more", problems.len() - SHOWN));
    }
    detail
}
