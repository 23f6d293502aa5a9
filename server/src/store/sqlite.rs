//! The SQLite store: one file, WAL, one writer.
//!
//! Writes go through one `Mutex<Connection>`, so transactions commit one after another and `seq`
//! (an `AUTOINCREMENT` key, never reused) grows in commit order: every position at or below
//! `max(seq)` is committed, which is what the feed needs. Reads use a small pool of separate
//! connections; WAL lets them read while the writer writes. A record is written only if it is
//! still at the version its write was checked against (a compare-and-swap on `records.heads`
//! in the write transaction), so another process writing the same file cannot be overwritten.
//!
//! **Nothing of the records in memory.** A record's scope facts, the links to it and a team's
//! review candidates are read from the `records` and `record_links` tables and their indexes
//! (one primary-key or index lookup each), written in the same transaction as the record's
//! changes, so they are never behind a feed row and memory does not grow with the records held.
//! The feed's positions need no watermark here: SQLite has one writer at a time (across
//! processes too), so `seq` is assigned in commit order and every position at or below the
//! committed `max(seq)` is committed.
//!
//! **Opening is bounded.** The key is proved and the schema read and upgraded at open; the
//! whole-file integrity check (`PRAGMA quick_check`, every page read and decrypted: about 4.6 s
//! a gigabyte) runs after, on its own connection in the background ([`SqliteStore::check`]).
//! Until it has passed the store answers, as SQLite itself refuses any damaged page it reads;
//! once it finds damage the store refuses every call with [`StoreError::Damaged`], so nothing is
//! written onto a damaged file and `/ready` says why.
//!
//! Durability: `synchronous=FULL`. An `Accepted` tells the device it may stop keeping the change
//! as unacknowledged; with `NORMAL` a power cut right after the answer could lose that commit,
//! and the device would never push it again. The fsync per request is amortised over the
//! request's batch (one transaction per request).

use super::{
    ChangeBody, ChangeOrigin, CommitBatch, DeviceAuth, DeviceRow, EnrolOutcome, FeedRow, FeedScope,
    Holding, NewDevice, Officer, OfficerChange, OfficerDetails, RecordFacts, RecordWrite,
    ServerStore, StoreError, StoredDocument,
};
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role, Status};
use fieldbook_core::storage::DatabaseKey;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// SQLite's errors reach the store's callers boxed: nothing above the store names rusqlite.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Backend(Box::new(e))
    }
}

/// The schema version this build writes (`PRAGMA user_version`). A new database is created
/// with [`SCHEMA`]; an older one is brought up by [`upgrade_from`], one version at a time, in one
/// `IMMEDIATE` transaction. To change the schema: bump this, write
/// `server/sql/upgrade_vN_to_vM.sql` with its arm in `upgrade_from`, change `SCHEMA` (columns
/// added by `ALTER TABLE` go last), and freeze the old schema as
/// `server/sql/tests/create_vN_db.sql` for the migration test.
pub(crate) const SCHEMA_VERSION: u32 = 3;

/// Upgrades the schema from `version` to `version + 1`.
fn upgrade_from(tx: &rusqlite::Transaction<'_>, version: u32) -> Result<(), StoreError> {
    match version {
        1 => Ok(tx.execute_batch(include_str!("../../sql/upgrade_v1_to_v2.sql"))?),
        2 => {
            tx.execute_batch(include_str!("../../sql/upgrade_v2_to_v3.sql"))?;
            // The scope keys are the scope module's rule, so they are derived here, not in SQL.
            let facts = {
                let mut stmt = tx.prepare(
                    "SELECT id, kind, author, team, attending, status, links FROM records",
                )?;
                let rows = stmt.query_map([], facts_from_row)?;
                rows.map(|r| parse_facts(r?))
                    .collect::<Result<Vec<_>, StoreError>>()?
            };
            for f in facts {
                write_scope_keys(tx, &f)?;
            }
            Ok(())
        }
        other => Err(StoreError::Corrupt(format!(
            "schema version {other} has no upgrade path"
        ))),
    }
}

const SCHEMA: &str = "
CREATE TABLE officers (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL,
    role  TEXT NOT NULL,
    team  TEXT
) WITHOUT ROWID;
CREATE TABLE enrolment_codes (
    hash       BLOB PRIMARY KEY,          -- SHA-256 of the code; the code itself is never stored
    officer    TEXT NOT NULL REFERENCES officers(id),
    expires_at INTEGER NOT NULL,          -- ms since epoch
    used       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    officer    TEXT NOT NULL REFERENCES officers(id),
    label      TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,      -- SHA-256 of the bearer token
    created_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    replaced_by TEXT                      -- the device row that took over its actors
) WITHOUT ROWID;
CREATE TABLE actors (
    actor  TEXT PRIMARY KEY,              -- automerge actor id, lower-case hex
    device TEXT NOT NULL REFERENCES devices(id)
) WITHOUT ROWID;
CREATE INDEX actors_device ON actors(device);
CREATE TABLE records (
    id                     TEXT PRIMARY KEY,
    kind                   TEXT NOT NULL,
    author                 TEXT NOT NULL,
    team                   TEXT,          -- the author's team when last written
    attending              TEXT NOT NULL, -- JSON array of officer ids
    status                 TEXT NOT NULL,
    links                  TEXT NOT NULL, -- JSON array of [role, record id]
    heads                  BLOB NOT NULL, -- concatenated 32-byte hashes
    snapshot               BLOB NOT NULL, -- Automerge::save at snapshot_seq
    snapshot_seq           INTEGER NOT NULL,
    last_seq               INTEGER NOT NULL,
    changes_since_snapshot INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE record_links (
    from_id TEXT NOT NULL,
    role    TEXT NOT NULL,
    to_id   TEXT NOT NULL,
    PRIMARY KEY (from_id, role, to_id)
) WITHOUT ROWID;
CREATE INDEX record_links_to ON record_links(to_id);
CREATE INDEX records_team_status ON records(team, status);
CREATE TABLE record_scope (
    key    TEXT NOT NULL,                 -- who holds the record by itself (scope::RecordFacts::scope_keys)
    record TEXT NOT NULL,
    PRIMARY KEY (key, record)
) WITHOUT ROWID;
CREATE INDEX record_scope_record ON record_scope(record);
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- feed position, never reused
    hash        BLOB NOT NULL UNIQUE,
    record      TEXT NOT NULL,
    device      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    received_at INTEGER NOT NULL,                  -- server clock, ms
    heads_after BLOB NOT NULL
);
CREATE INDEX changes_record ON changes(record, seq);
CREATE TABLE device_records (
    device       TEXT NOT NULL,
    record       TEXT NOT NULL,
    held         INTEGER NOT NULL,
    as_of_cursor INTEGER NOT NULL,
    prev_held    INTEGER NOT NULL,
    through_seq  INTEGER NOT NULL,
    PRIMARY KEY (device, record)
) WITHOUT ROWID;
CREATE TABLE officer_audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    officer TEXT NOT NULL,
    action  TEXT NOT NULL,                -- created | changed
    field   TEXT NOT NULL,                -- name | role | team
    old     TEXT,                         -- NULL: none, or a new officer
    new     TEXT,                         -- NULL: no team
    by      TEXT NOT NULL,                -- the administrator's OS user name, or 'admin'
    at      INTEGER NOT NULL              -- ms since epoch
);
CREATE INDEX officer_audit_officer ON officer_audit(officer, seq);
CREATE TRIGGER officer_audit_no_update BEFORE UPDATE ON officer_audit
BEGIN SELECT RAISE(ABORT, 'the officer audit is append-only'); END;
CREATE TRIGGER officer_audit_no_delete BEFORE DELETE ON officer_audit
BEGIN SELECT RAISE(ABORT, 'the officer audit is append-only'); END;
";

/// The feed rows a scope reaches (see [`FeedScope`]), record by record: the scope's records
/// are listed first, then each one's changes after the cursor are read from `changes_record`
/// (the `CROSS JOIN` keeps SQLite from turning the loop around). `?1` the viewer's keys (JSON),
/// `?2` the device, `?3`..`?4` the positions, `?5` the limit.
const SCOPED_ROWS_BY_RECORD: &str = "
WITH direct(id) AS MATERIALIZED (
    SELECT record FROM record_scope WHERE key IN (SELECT value FROM json_each(?1))),
assessments(id) AS MATERIALIZED (
    SELECT l.from_id FROM record_links l
    WHERE l.role = 'crime' AND l.to_id IN (SELECT id FROM direct)),
near(id) AS MATERIALIZED (
    SELECT id FROM direct
    UNION SELECT id FROM assessments
    UNION SELECT l.to_id FROM record_links l
          WHERE l.from_id IN (SELECT id FROM direct UNION SELECT id FROM assessments)
    UNION SELECT record FROM device_records WHERE device = ?2)
SELECT c.seq, c.record, c.device FROM near CROSS JOIN changes c ON c.record = near.id
WHERE c.seq > ?3 AND c.seq <= ?4
ORDER BY c.seq LIMIT ?5";

/// The same rows as [`SCOPED_ROWS_BY_RECORD`], asking of each row in turn whether the scope
/// reaches its record: by a key, by being held, as a needs assessment of a crime a key reaches,
/// as a record linked from one a key reaches, or from such a needs assessment.
const SCOPED_ROWS_BY_ROW: &str = "
SELECT seq, record, device FROM changes c
WHERE seq > ?3 AND seq <= ?4
  AND (EXISTS (SELECT 1 FROM record_scope s
               WHERE s.record = c.record AND s.key IN (SELECT value FROM json_each(?1)))
       OR EXISTS (SELECT 1 FROM device_records d WHERE d.device = ?2 AND d.record = c.record)
       OR EXISTS (SELECT 1 FROM record_links l JOIN record_scope s ON s.record = l.to_id
                  WHERE l.from_id = c.record AND l.role = 'crime'
                    AND s.key IN (SELECT value FROM json_each(?1)))
       OR EXISTS (SELECT 1 FROM record_links l JOIN record_scope s ON s.record = l.from_id
                  WHERE l.to_id = c.record AND s.key IN (SELECT value FROM json_each(?1)))
       OR EXISTS (SELECT 1 FROM record_links l
                  JOIN record_links a ON a.from_id = l.from_id AND a.role = 'crime'
                  JOIN record_scope s ON s.record = a.to_id
                  WHERE l.to_id = c.record AND s.key IN (SELECT value FROM json_each(?1))))
ORDER BY seq LIMIT ?5";

/// The SQLite implementation of [`ServerStore`].
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    /// Every connection is keyed (the readers open lazily).
    key: DatabaseKey,
    writer: Mutex<Connection>,
    readers: Mutex<Readers>,
    /// Signalled when a reader is given back to the pool.
    reader_free: std::sync::Condvar,
    /// What the integrity check found, once it found damage: every call is refused from then.
    damaged: std::sync::OnceLock<String>,
}

impl SqliteStore {
    /// Opens (creating if needed) the encrypted database at `path` under `key`, proves the key
    /// and brings its schema up to date, in time that does not grow with the database: the
    /// whole-file check is [`ServerStore::check_integrity`], run after.
    ///
    /// A new database and its `-wal` and `-shm` files are created readable by their owner only
    /// (0600). A wrong key, a plaintext database from before the server was keyed
    /// ([`StoreError::NotEncrypted`]: `fieldbook-server encrypt-database`) and a damaged one are
    /// refused before anything is written to the file.
    pub fn open(path: &Path, key: &DatabaseKey) -> Result<SqliteStore, StoreError> {
        if matches!(key, DatabaseKey::Passphrase(p) if p.is_empty()) {
            return Err(StoreError::EmptyKey);
        }
        if is_plaintext_sqlite(path)? {
            return Err(StoreError::NotEncrypted {
                path: path.to_owned(),
            });
        }
        create_private(path)?;
        let mut conn = connect(path, key).map_err(|e| classify_open(path, e))?;
        // Before any pragma that writes: a wrong key fails here and the file stays as it was.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| classify_open(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        make_private(&wal_file(path, "-wal"))?;
        make_private(&wal_file(path, "-shm"))?;
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew(version, SCHEMA_VERSION));
        }
        if version < SCHEMA_VERSION {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version > SCHEMA_VERSION {
                return Err(StoreError::TooNew(version, SCHEMA_VERSION));
            }
            if version == 0 {
                tx.execute_batch(SCHEMA)?;
            } else {
                for from in version..SCHEMA_VERSION {
                    upgrade_from(&tx, from)?;
                }
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        // Proved readable and current: closing may now fold the WAL back into the file.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
        Ok(SqliteStore {
            path: path.to_owned(),
            key: key.clone(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Readers::default()),
            reader_free: std::sync::Condvar::new(),
            damaged: std::sync::OnceLock::new(),
        })
    }

    /// Encrypts, under `key`, a plaintext database written before the server keyed its
    /// database (`fieldbook-server encrypt-database`). Stop the server first.
    ///
    /// The plaintext file is checkpointed (its `-wal` folded in) and checked, exported with
    /// SQLCipher's `sqlcipher_export` into a new 0600 file beside it (`PATH.encrypting`), which
    /// is opened and checked as the server would, synced to disk and renamed over the old one:
    /// no plaintext file is left in the directory (the file system may still hold the old
    /// blocks until they are reused; see `docs/security.md`). If anything fails before the
    /// rename, the plaintext file is as it was.
    #[allow(clippy::disallowed_methods)]
    pub fn encrypt_plaintext(path: &Path, key: &DatabaseKey) -> Result<(), StoreError> {
        if matches!(key, DatabaseKey::Passphrase(p) if p.is_empty()) {
            return Err(StoreError::EmptyKey);
        }
        if !is_plaintext_sqlite(path)? {
            return Err(StoreError::NotPlaintext {
                path: path.to_owned(),
            });
        }
        let file_error = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source: std::io::Error| StoreError::File {
                action,
                path,
                source,
            }
        };
        let partial = wal_file(path, ".encrypting");
        remove_if_present(&partial)?;
        create_private(&partial)?;
        let partial_name = partial.to_str().ok_or_else(|| StoreError::File {
            action: "name (not UTF-8)",
            path: partial.clone(),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        })?;
        let exported = (|| -> Result<(), StoreError> {
            let plain = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            plain.busy_timeout(std::time::Duration::from_secs(2))?;
            let busy: i64 = plain
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(|_| StoreError::InUse {
                    path: path.to_owned(),
                })?;
            if busy != 0 {
                return Err(StoreError::InUse {
                    path: path.to_owned(),
                });
            }
            quick_check(&plain, path)?;
            let version: u32 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            plain.execute(
                "ATTACH DATABASE ?1 AS encrypted KEY ?2",
                params![partial_name, key_text(key)],
            )?;
            plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
            // `sqlcipher_export` copies schema and rows, not the schema version.
            plain.execute_batch(&format!(
                "PRAGMA encrypted.user_version = {version}; DETACH DATABASE encrypted;"
            ))?;
            Ok(())
        })();
        if let Err(e) = exported {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        // Proved to open and check as the server opens it, before it replaces anything.
        if let Err(e) = SqliteStore::open(&partial, key).and_then(|s| s.check_integrity()) {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        for suffix in ["-wal", "-shm"] {
            remove_if_present(&wal_file(&partial, suffix))?;
        }
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(file_error("sync", &partial))?;
        std::fs::rename(&partial, path).map_err(file_error("replace", path))?;
        // The plaintext's -wal was checkpointed and truncated: nothing of it is needed.
        for suffix in ["-wal", "-shm"] {
            remove_if_present(&wal_file(path, suffix))?;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(file_error("sync", dir))?;
        }
        tracing::info!("the server database is now encrypted");
        Ok(())
    }

    /// Refuses every call once the integrity check found damage.
    fn undamaged(&self) -> Result<(), StoreError> {
        match self.damaged.get() {
            Some(detail) => Err(StoreError::Damaged {
                path: self.path.clone(),
                detail: detail.clone(),
            }),
            None => Ok(()),
        }
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.undamaged()?;
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// [`ServerStore::scoped_feed_rows`] by one of its two queries.
    pub(crate) fn scoped_rows_with(
        &self,
        sql: &str,
        scope: &FeedScope,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<FeedRow>, StoreError> {
        let keys = serde_json::to_string(&scope.keys).map_err(|_| corrupt("scope keys"))?;
        let params = params![keys, scope.device, after as i64, upto as i64, limit as i64];
        self.read(|c| {
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query(params)?;
            read_feed_rows(rows)
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.undamaged()?;
        // At most `READERS` connections: a caller beyond them waits for one to come back, as
        // opening (and closing) a keyed connection for every burst costs far more than the wait.
        let pooled = {
            let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(c) = pool.idle.pop() {
                    break Some(c);
                }
                if pool.open < READERS {
                    pool.open += 1;
                    break None;
                }
                pool = self
                    .reader_free
                    .wait(pool)
                    .unwrap_or_else(|e| e.into_inner());
            }
        };
        let conn = match pooled {
            Some(c) => c,
            None => {
                let opened = connect(&self.path, &self.key).and_then(|conn| {
                    // The writer proved the key: whichever connection closes last
                    // checkpoints.
                    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
                    Ok(conn)
                });
                match opened {
                    Ok(conn) => conn,
                    Err(e) => {
                        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
                        pool.open -= 1;
                        self.reader_free.notify_one();
                        return Err(e.into());
                    }
                }
            }
        };
        let out = f(&conn);
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .idle
            .push(conn);
        self.reader_free.notify_one();
        out
    }
}

/// Reader connections: the idle ones, and how many are open (idle or in use).
#[derive(Debug, Default)]
struct Readers {
    idle: Vec<Connection>,
    open: usize,
}

/// Reader connections at most (WAL lets them all read while the writer writes).
const READERS: usize = 8;

/// Feed rows from a query selecting `seq, record, device`.
fn read_feed_rows(mut rows: rusqlite::Rows<'_>) -> Result<Vec<FeedRow>, StoreError> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let record = r.get_ref(1)?.as_str().map_err(|_| corrupt("record id"))?;
        let device = r.get_ref(2)?.as_str().map_err(|_| corrupt("device id"))?;
        out.push(FeedRow {
            seq: r.get::<_, i64>(0)? as u64,
            record: parse_record_id(record)?,
            device: Arc::from(device),
        });
    }
    Ok(out)
}

/// A records row as read: id, kind, author, team, attending, status, links.
type FactsRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
);
/// A device joined with its officer: id, created, revoked, officer id, name, role, team.
type DeviceJoin = (String, i64, bool, String, String, String, Option<String>);

// The server's store is the server's one rusqlite user, as `core::storage` is the device's.
#[allow(clippy::disallowed_methods)]
fn connect(path: &Path, key: &DatabaseKey) -> rusqlite::Result<Connection> {
    let mut attempt = 0;
    let conn = loop {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Until the key is proved right, closing must not checkpoint a -wal into the file.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        // SQLCipher logs its own lines on a wrong key; the typed error says it to the caller.
        conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
        match conn.execute_batch(&key_pragma(key)) {
            Ok(()) => break conn,
            // SQLCipher's keying fails now and then while other connections of the process
            // open and close at the same moment ("An error occurred with PRAGMA key or
            // rekey", seen in the tests of both stores). Nothing was read or written yet:
            // a new connection keys again.
            Err(e) if attempt < 4 && key_setup_failed(&e) => {
                attempt += 1;
                drop(conn);
                std::thread::sleep(std::time::Duration::from_millis(5 * attempt));
            }
            Err(e) => return Err(e),
        }
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn key_setup_failed(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(message)) if message.contains("PRAGMA key"))
}

/// `PRAGMA key` (or `KEY` of an `ATTACH`) for `key`: a raw key as a blob literal (no key
/// derivation), a passphrase as a quoted string.
fn key_literal(key: &DatabaseKey) -> String {
    match key {
        DatabaseKey::Raw(bytes) => format!("\"x'{}'\"", hex::encode(bytes)),
        DatabaseKey::Passphrase(p) => format!("'{}'", p.replace('\'', "''")),
    }
}

/// The key as SQLCipher reads it from a bound value (`ATTACH ... KEY ?`).
fn key_text(key: &DatabaseKey) -> String {
    match key {
        DatabaseKey::Raw(bytes) => format!("x'{}'", hex::encode(bytes)),
        DatabaseKey::Passphrase(p) => p.clone(),
    }
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::File {
            action: "remove",
            path: path.to_owned(),
            source,
        }),
    }
}

fn key_pragma(key: &DatabaseKey) -> String {
    format!("PRAGMA key = {};", key_literal(key))
}

/// The first 16 bytes of every plaintext SQLite file; an encrypted one starts with its salt.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether `path` is a plaintext SQLite database (false when it does not exist or is empty).
fn is_plaintext_sqlite(path: &Path) -> Result<bool, StoreError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(StoreError::File {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut head = [0u8; 16];
    match file.read_exact(&mut head) {
        Ok(()) => Ok(&head == SQLITE_HEADER),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(source) => Err(StoreError::File {
            action: "read",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Creates `path` empty, readable and writable by its owner only, unless it exists: SQLite
/// then gives the `-wal` and `-shm` files it creates the same mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::File {
            action: "create",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Makes an existing file readable and writable by its owner only (a `-wal` or `-shm` left by
/// a file created with a wider mode); a missing file is fine.
fn make_private(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
                    |source| StoreError::File {
                        action: "set the permissions of",
                        path: path.to_owned(),
                        source,
                    },
                )?;
            }
            _ => {}
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// `PATH-wal`, `PATH-shm`: the files SQLite keeps beside the database.
fn wal_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A failure of the first read after keying: a wrong key, or a damaged file.
fn classify_open(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::KeyRejected {
            path: path.to_owned(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Damaged {
            path: path.to_owned(),
            detail: "sqlite found a malformed page".into(),
        },
        _ => StoreError::from(e),
    }
}

/// `PRAGMA quick_check`: every page read and decrypted, b-trees checked (not index contents).
fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let damaged = |detail: String| StoreError::Damaged {
        path: path.to_owned(),
        detail,
    };
    let found: Vec<String> = {
        let mut stmt = conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(|e| classify_open(path, e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| classify_open(path, e))?;
        let mut found = Vec::new();
        for r in rows {
            match r {
                Ok(line) => found.push(line),
                Err(e) => {
                    return Err(match classify_open(path, e) {
                        // A page that does not decrypt mid-file is damage, not a wrong key.
                        StoreError::KeyRejected { .. } => {
                            damaged("a page does not decrypt under the key".into())
                        }
                        other => other,
                    });
                }
            }
        }
        found
    };
    if found.len() == 1 && found[0] == "ok" {
        return Ok(());
    }
    let detail: String = found.join("; ").chars().take(300).collect();
    Err(damaged(format!("quick_check: {detail}")))
}

/// Stores one device's accepted records inside `tx`: the body of [`ServerStore::commit`].
fn commit_writes(
    tx: &rusqlite::Transaction<'_>,
    device: &str,
    received_at: i64,
    writes: &[RecordWrite],
) -> Result<Vec<u64>, StoreError> {
    let mut last = Vec::with_capacity(writes.len());
    for w in writes {
        let id = w.facts.id.to_string();
        let existing: Option<(i64, u32, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT last_seq, changes_since_snapshot, heads FROM records WHERE id = ?1",
            )?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        // Compare-and-swap on the version the write was checked against.
        if existing.as_ref().map(|e| &e.2) != w.base_heads.as_ref() {
            return Err(StoreError::Moved { record: w.facts.id });
        }
        let mut last_seq = 0u64;
        let mut inserted = 0u32;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO changes (hash, record, device, actor, bytes, received_at, heads_after)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (hash) DO NOTHING",
            )?;
            for c in &w.changes {
                if insert.execute(params![
                    c.hash,
                    id,
                    device,
                    c.actor,
                    c.bytes,
                    received_at,
                    c.heads_after
                ])? > 0
                {
                    last_seq = tx.last_insert_rowid() as u64;
                    inserted += 1;
                }
            }
        }
        let team: Option<String> = tx
            .prepare_cached("SELECT team FROM officers WHERE id = ?1")?
            .query_row([&w.facts.author], |r| r.get(0))
            .optional()?
            .flatten();
        let attending =
            serde_json::to_string(&w.facts.attending).map_err(|_| corrupt("attending"))?;
        let links: Vec<(&str, String)> = w
            .facts
            .links
            .iter()
            .map(|(r, id)| (r.as_str(), id.to_string()))
            .collect();
        let links_json = serde_json::to_string(&links).map_err(|_| corrupt("links"))?;
        let new_last = if inserted > 0 {
            last_seq as i64
        } else {
            existing.as_ref().map_or(0, |e| e.0)
        };
        match (&w.snapshot, existing) {
            (Some(snapshot), _) => {
                tx.prepare_cached(
                            "INSERT INTO records (id, kind, author, team, attending, status, links, heads, snapshot,
                                                  snapshot_seq, last_seq, changes_since_snapshot)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 0)
                             ON CONFLICT (id) DO UPDATE SET kind = ?2, author = ?3, team = ?4, attending = ?5,
                                status = ?6, links = ?7, heads = ?8, snapshot = ?9, snapshot_seq = ?10,
                                last_seq = ?10, changes_since_snapshot = 0",
                        )?
                        .execute(params![id, w.facts.kind.as_str(), w.facts.author, team, attending,
                            w.facts.status.as_str(), links_json, w.heads, snapshot, new_last])?;
            }
            (None, Some(_)) => {
                tx.prepare_cached(
                            "UPDATE records SET kind = ?2, author = ?3, team = ?4, attending = ?5, status = ?6,
                                links = ?7, heads = ?8, last_seq = ?9,
                                changes_since_snapshot = changes_since_snapshot + ?10 WHERE id = ?1",
                        )?
                        .execute(params![id, w.facts.kind.as_str(), w.facts.author, team, attending,
                            w.facts.status.as_str(), links_json, w.heads, new_last, inserted])?;
            }
            (None, None) => return Err(corrupt("a new record must be written with a snapshot")),
        }
        // The keys are the facts as stored: the team is the author's now, from the officers.
        write_scope_keys(
            tx,
            &RecordFacts {
                team: team.clone(),
                ..w.facts.clone()
            },
        )?;
        tx.prepare_cached("DELETE FROM record_links WHERE from_id = ?1")?
            .execute([&id])?;
        for (role, to) in &links {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO record_links (from_id, role, to_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, role, to])?;
        }
        tx.prepare_cached(
                    "INSERT INTO device_records (device, record, held, as_of_cursor, prev_held, through_seq)
                     VALUES (?1, ?2, 1, 0, 1, 0)
                     ON CONFLICT (device, record) DO UPDATE SET held = 1, as_of_cursor = 0, prev_held = 1",
                )?
                .execute(params![device, id])?;
        last.push(if inserted > 0 { last_seq } else { 0 });
    }
    Ok(last)
}

/// Replaces the record's scope keys with those its facts give now.
fn write_scope_keys(tx: &rusqlite::Transaction<'_>, facts: &RecordFacts) -> Result<(), StoreError> {
    let id = facts.id.to_string();
    tx.prepare_cached("DELETE FROM record_scope WHERE record = ?1")?
        .execute([&id])?;
    let mut insert =
        tx.prepare_cached("INSERT OR IGNORE INTO record_scope (key, record) VALUES (?1, ?2)")?;
    for key in facts.scope_keys() {
        insert.execute(params![key, id])?;
    }
    Ok(())
}

/// Appends one row to the officer audit.
#[allow(clippy::too_many_arguments)]
fn audit_officer(
    tx: &rusqlite::Transaction<'_>,
    officer: &str,
    action: &str,
    field: &str,
    old: Option<&str>,
    new: Option<&str>,
    by: &str,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO officer_audit (officer, action, field, old, new, by, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![officer, action, field, old, new, by, at])?;
    Ok(())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn parse_record_id(s: &str) -> Result<RecordId, StoreError> {
    s.parse().map_err(|_| corrupt("record id"))
}

fn read_officer(
    id: String,
    name: String,
    role: String,
    team: Option<String>,
) -> Result<Officer, StoreError> {
    Ok(Officer {
        id: OfficerId::new(id).map_err(|_| corrupt("officer id"))?,
        name,
        role: role.parse::<Role>().map_err(|_| corrupt("role"))?,
        team,
    })
}

fn facts_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FactsRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn parse_facts(r: FactsRow) -> Result<RecordFacts, StoreError> {
    let (id, kind, author, team, attending, status, links) = r;
    let links: Vec<(String, String)> =
        serde_json::from_str(&links).map_err(|_| corrupt("record links"))?;
    Ok(RecordFacts {
        id: parse_record_id(&id)?,
        kind: kind
            .parse::<RecordKind>()
            .map_err(|_| corrupt("record kind"))?,
        author,
        team,
        attending: serde_json::from_str(&attending).map_err(|_| corrupt("attending officers"))?,
        status: status
            .parse::<Status>()
            .map_err(|_| corrupt("record status"))?,
        links: links
            .into_iter()
            .map(|(role, id)| Ok((role, parse_record_id(&id)?)))
            .collect::<Result<_, StoreError>>()?,
    })
}

impl ServerStore for SqliteStore {
    fn create_code(
        &self,
        officer: &OfficerId,
        code_hash: [u8; 32],
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let exists = tx
                .prepare_cached("SELECT 1 FROM officers WHERE id = ?1")?
                .exists([officer.as_str()])?;
            if !exists {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO enrolment_codes (hash, officer, expires_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![&code_hash[..], officer.as_str(), expires_at])?;
            Ok(true)
        })
    }

    fn officer(&self, id: &OfficerId) -> Result<Option<Officer>, StoreError> {
        self.read(|c| {
            let row: Option<(String, String, String, Option<String>)> = c
                .prepare_cached("SELECT id, name, role, team FROM officers WHERE id = ?1")?
                .query_row([id.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            row.map(|(id, name, role, team)| read_officer(id, name, role, team))
                .transpose()
        })
    }

    fn officers(&self) -> Result<Vec<Officer>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id, name, role, team FROM officers ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<Vec<(String, String, String, Option<String>)>, _>>()?;
            rows.into_iter()
                .map(|(id, name, role, team)| read_officer(id, name, role, team))
                .collect()
        })
    }

    fn create_officer(&self, officer: &Officer, by: &str, at: i64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO officers (id, name, role, team) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![
                    officer.id.as_str(),
                    officer.name,
                    officer.role.as_str(),
                    officer.team
                ])?;
            if inserted == 0 {
                return Ok(false);
            }
            for (field, new) in [
                ("name", Some(officer.name.as_str())),
                ("role", Some(officer.role.as_str())),
                ("team", officer.team.as_deref()),
            ] {
                audit_officer(tx, officer.id.as_str(), "created", field, None, new, by, at)?;
            }
            Ok(true)
        })
    }

    fn update_officer(
        &self,
        id: &OfficerId,
        details: &OfficerDetails,
        by: &str,
        at: i64,
    ) -> Result<Option<Vec<OfficerChange>>, StoreError> {
        self.write(|tx| {
            let row: Option<(String, String, String, Option<String>)> = tx
                .prepare_cached("SELECT id, name, role, team FROM officers WHERE id = ?1")?
                .query_row([id.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let Some((oid, name, role, team)) = row else {
                return Ok(None);
            };
            let old = read_officer(oid, name, role, team)?;
            let new = details.applied_to(&old);
            let mut changes = Vec::new();
            for (field, before, after) in [
                ("name", Some(old.name.as_str()), Some(new.name.as_str())),
                ("role", Some(old.role.as_str()), Some(new.role.as_str())),
                ("team", old.team.as_deref(), new.team.as_deref()),
            ] {
                if before != after {
                    audit_officer(tx, id.as_str(), "changed", field, before, after, by, at)?;
                    changes.push(OfficerChange {
                        officer: id.as_str().to_owned(),
                        action: "changed".into(),
                        field: field.into(),
                        old: before.map(str::to_owned),
                        new: after.map(str::to_owned),
                        by: by.to_owned(),
                        at,
                    });
                }
            }
            if !changes.is_empty() {
                tx.prepare_cached(
                    "UPDATE officers SET name = ?2, role = ?3, team = ?4 WHERE id = ?1",
                )?
                .execute(params![
                    id.as_str(),
                    new.name,
                    new.role.as_str(),
                    new.team
                ])?;
            }
            Ok(Some(changes))
        })
    }

    fn officer_history(&self, id: &OfficerId) -> Result<Vec<OfficerChange>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT officer, action, field, old, new, by, at FROM officer_audit
                 WHERE officer = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([id.as_str()], |r| {
                Ok(OfficerChange {
                    officer: r.get(0)?,
                    action: r.get(1)?,
                    field: r.get(2)?,
                    old: r.get(3)?,
                    new: r.get(4)?,
                    by: r.get(5)?,
                    at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn enrol(
        &self,
        code_hash: [u8; 32],
        now: i64,
        device: &NewDevice,
    ) -> Result<EnrolOutcome, StoreError> {
        self.write(|tx| {
            let officer: Option<(String, String, String, Option<String>)> = tx
                .prepare_cached(
                    "SELECT o.id, o.name, o.role, o.team FROM enrolment_codes c JOIN officers o ON o.id = c.officer
                     WHERE c.hash = ?1 AND c.used = 0 AND c.expires_at > ?2",
                )?
                .query_row(params![&code_hash[..], now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?;
            let Some((id, name, role, team)) = officer else {
                return Ok(EnrolOutcome::BadCode);
            };
            // An actor already bound is this install enrolling again (a device of the same
            // officer: its token expired, or it was revoked and found) or someone else's.
            let mut replaced = BTreeSet::new();
            for actor in &device.actors {
                let bound: Option<(String, String)> = tx
                    .prepare_cached(
                        "SELECT d.id, d.officer FROM actors a JOIN devices d ON d.id = a.device
                         WHERE a.actor = ?1",
                    )?
                    .query_row([actor], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                match bound {
                    Some((old, officer)) if officer == id => {
                        replaced.insert(old);
                    }
                    Some(_) => return Ok(EnrolOutcome::ActorTaken(actor.clone())),
                    None => {}
                }
            }
            tx.prepare_cached("UPDATE enrolment_codes SET used = 1 WHERE hash = ?1")?
                .execute([&code_hash[..]])?;
            tx.prepare_cached(
                "INSERT INTO devices (id, officer, label, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![device.id, id, device.label, &device.token_hash[..], device.created_at])?;
            for actor in &device.actors {
                tx.prepare_cached(
                    "INSERT INTO actors (actor, device) VALUES (?1, ?2)
                     ON CONFLICT (actor) DO UPDATE SET device = ?2",
                )?
                .execute(params![actor, device.id])?;
            }
            for old in &replaced {
                // What the old row was last sent, so the feed goes on from the device's cursor
                // as before (no snapshot of what it holds, an eviction of what left its scope).
                tx.prepare_cached(
                    "INSERT INTO device_records (device, record, held, as_of_cursor, prev_held, through_seq)
                     SELECT ?2, record, held, as_of_cursor, prev_held, through_seq
                     FROM device_records WHERE device = ?1
                     ON CONFLICT (device, record) DO NOTHING",
                )?
                .execute(params![old, device.id])?;
                let left: i64 = tx
                    .prepare_cached("SELECT count(*) FROM actors WHERE device = ?1")?
                    .query_row([old], |r| r.get(0))?;
                if left == 0 {
                    tx.prepare_cached("DELETE FROM device_records WHERE device = ?1")?
                        .execute([old])?;
                    tx.prepare_cached(
                        "UPDATE devices SET revoked = 1, replaced_by = ?2 WHERE id = ?1",
                    )?
                    .execute(params![old, device.id])?;
                }
            }
            Ok(EnrolOutcome::Enrolled {
                officer: read_officer(id, name, role, team)?,
                replaced: replaced.into_iter().collect(),
            })
        })
    }

    fn revoke(&self, device_id: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("UPDATE devices SET revoked = 1 WHERE id = ?1")?
                .execute([device_id])?
                > 0)
        })
    }

    fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, officer, label, revoked, created_at, replaced_by FROM devices ORDER BY created_at, id")?;
            let rows = stmt.query_map([], |r| {
                Ok(DeviceRow { id: r.get(0)?, officer: r.get(1)?, label: r.get(2)?, revoked: r.get(3)?, created_at: r.get(4)?, replaced_by: r.get(5)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn device_by_token(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>, StoreError> {
        self.read(|c| {
            let row: Option<DeviceJoin> = c
                .prepare_cached(
                    "SELECT d.id, d.created_at, d.revoked, o.id, o.name, o.role, o.team
                     FROM devices d JOIN officers o ON o.id = d.officer WHERE d.token_hash = ?1",
                )?
                .query_row([&token_hash[..]], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })
                .optional()?;
            let Some((device_id, created_at, revoked, id, name, role, team)) = row else {
                return Ok(None);
            };
            let actors = c
                .prepare_cached("SELECT actor FROM actors WHERE device = ?1 ORDER BY actor")?
                .query_map([&device_id], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(Some(DeviceAuth {
                device_id,
                officer: read_officer(id, name, role, team)?,
                created_at,
                revoked,
                actors,
            }))
        })
    }

    fn load_document(&self, record: RecordId) -> Result<Option<StoredDocument>, StoreError> {
        let id = record.to_string();
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            struct Row {
                kind: String,
                snapshot: Vec<u8>,
                snapshot_seq: i64,
                last_seq: i64,
                changes_since_snapshot: u32,
                heads: Vec<u8>,
            }
            let row = tx
                .prepare_cached("SELECT kind, snapshot, snapshot_seq, last_seq, changes_since_snapshot, heads FROM records WHERE id = ?1")?
                .query_row([&id], |r| {
                    Ok(Row {
                        kind: r.get(0)?,
                        snapshot: r.get(1)?,
                        snapshot_seq: r.get(2)?,
                        last_seq: r.get(3)?,
                        changes_since_snapshot: r.get(4)?,
                        heads: r.get(5)?,
                    })
                })
                .optional()?;
            let Some(Row { kind, snapshot: mut bytes, snapshot_seq, last_seq, changes_since_snapshot, heads }) = row else {
                return Ok(None);
            };
            let mut stmt = tx.prepare_cached("SELECT bytes FROM changes WHERE record = ?1 AND seq > ?2 ORDER BY seq")?;
            let mut rows = stmt.query(params![id, snapshot_seq])?;
            while let Some(r) = rows.next()? {
                bytes.extend_from_slice(r.get_ref(0)?.as_blob().map_err(|_| corrupt("change bytes"))?);
            }
            Ok(Some(StoredDocument {
                kind: kind.parse().map_err(|_| corrupt("record kind"))?,
                bytes,
                last_seq: last_seq as u64,
                changes_since_snapshot,
                heads,
            }))
        })
    }

    fn commit_many(&self, batches: &[CommitBatch<'_>]) -> Result<Vec<Vec<u64>>, StoreError> {
        self.write(|tx| {
            batches
                .iter()
                .map(|b| commit_writes(tx, b.device, b.received_at, b.writes))
                .collect()
        })
    }

    fn max_seq(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT coalesce(max(seq), 0) FROM changes")?
                    .query_row([], |r| r.get::<_, i64>(0))? as u64,
            )
        })
    }

    fn feed_rows(&self, after: u64, upto: u64, limit: usize) -> Result<Vec<FeedRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, record, device FROM changes
                 WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query(params![after as i64, upto as i64, limit as i64])?;
            read_feed_rows(rows)
        })
    }

    fn scoped_feed_rows(
        &self,
        scope: &FeedScope,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<FeedRow>, StoreError> {
        let keys = serde_json::to_string(&scope.keys).map_err(|_| corrupt("scope keys"))?;
        let chosen = self.read(|c| {
            // Two ways to the same rows; which is cheaper depends on the scope's size against
            // the rows after the cursor. Going record by record costs an index lookup for each
            // record the scope reaches, whatever went by since the cursor; asking of each row
            // after the cursor whether the scope reaches it costs a few lookups a row. A scope
            // that is large against the rows to read (a replacement phone's first pull, a
            // supervisor's team) is asked row by row; any other (an officer reconnecting after
            // others' work went by, a phone syncing every few minutes) goes record by record.
            let held: i64 = c
                .prepare_cached(
                    "SELECT (SELECT count(*) FROM record_scope
                             WHERE key IN (SELECT value FROM json_each(?1)))
                          + (SELECT count(*) FROM device_records WHERE device = ?2)",
                )?
                .query_row(params![keys, scope.device], |r| r.get(0))?;
            let window = upto.saturating_sub(after);
            Ok(if (held as u64).saturating_mul(4) >= window {
                SCOPED_ROWS_BY_ROW
            } else {
                SCOPED_ROWS_BY_RECORD
            })
        })?;
        self.scoped_rows_with(chosen, scope, after, upto, limit)
    }

    fn change_bodies(&self, seqs: &[u64]) -> Result<Vec<ChangeBody>, StoreError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let list = serde_json::to_string(seqs).map_err(|_| corrupt("seq list"))?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, bytes, received_at, heads_after FROM changes
                 WHERE seq IN (SELECT value FROM json_each(?1)) ORDER BY seq",
            )?;
            let rows = stmt.query_map([list], |r| {
                Ok(ChangeBody {
                    seq: r.get::<_, i64>(0)? as u64,
                    bytes: r.get(1)?,
                    received_at: r.get(2)?,
                    heads_after: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn facts(&self, record: RecordId) -> Result<Option<Arc<RecordFacts>>, StoreError> {
        let row = self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT id, kind, author, team, attending, status, links FROM records WHERE id = ?1",
            )?
            .query_row([record.to_string()], facts_from_row)
            .optional()?)
        })?;
        row.map(|r| parse_facts(r).map(Arc::new)).transpose()
    }

    fn facts_of(
        &self,
        records: &[RecordId],
    ) -> Result<HashMap<RecordId, Arc<RecordFacts>>, StoreError> {
        if records.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = records.iter().map(ToString::to_string).collect();
        let ids = serde_json::to_string(&ids).map_err(|_| corrupt("record list"))?;
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, kind, author, team, attending, status, links FROM records
                 WHERE id IN (SELECT value FROM json_each(?1))",
            )?;
            let rows = stmt.query_map([ids], facts_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        rows.into_iter()
            .map(|r| parse_facts(r).map(|f| (f.id, Arc::new(f))))
            .collect()
    }

    fn team_records(
        &self,
        team: &str,
        statuses: &[Status],
    ) -> Result<Vec<Arc<RecordFacts>>, StoreError> {
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let statuses = serde_json::to_string(&statuses).map_err(|_| corrupt("status list"))?;
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, kind, author, team, attending, status, links FROM records
                 WHERE team = ?1 AND status IN (SELECT value FROM json_each(?2)) ORDER BY id",
            )?;
            let rows = stmt.query_map(params![team, statuses], facts_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        let mut found = rows
            .into_iter()
            .map(|r| parse_facts(r).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        // Record ids are UUIDs: their text sorts as they do, but the order is the contract's.
        found.sort_by_key(|f| f.id);
        Ok(found)
    }

    fn linking_to(&self, record: RecordId) -> Result<Vec<RecordId>, StoreError> {
        let ids: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT from_id FROM record_links WHERE to_id = ?1 ORDER BY from_id",
            )?;
            let rows = stmt.query_map([record.to_string()], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        ids.iter().map(|id| parse_record_id(id)).collect()
    }

    fn receipts(&self, record: RecordId, upto: u64) -> Result<Vec<(Vec<u8>, i64)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT hash, received_at FROM changes WHERE record = ?1 AND seq <= ?2 ORDER BY seq")?;
            let rows = stmt.query_map(params![record.to_string(), upto as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn change_origins(&self, record: RecordId) -> Result<Vec<ChangeOrigin>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT hash, device, received_at FROM changes WHERE record = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![record.to_string()], |r| {
                Ok(ChangeOrigin {
                    hash: hex::encode(r.get::<_, Vec<u8>>(0)?),
                    device: r.get(1)?,
                    received_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn holding(&self, device: &str, record: RecordId) -> Result<Option<Holding>, StoreError> {
        Ok(self.holdings(device, &[record])?.remove(&record))
    }

    fn holdings(
        &self,
        device: &str,
        records: &[RecordId],
    ) -> Result<HashMap<RecordId, Holding>, StoreError> {
        // Read from the database at every call, never kept: another replica's feed pages
        // change what a device holds without a change row to catch up from.
        if records.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = records.iter().map(RecordId::to_string).collect();
        let ids = serde_json::to_string(&ids).map_err(|_| corrupt("record ids"))?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT record, held, as_of_cursor, prev_held, through_seq FROM device_records
                 WHERE device = ?1 AND record IN (SELECT value FROM json_each(?2))",
            )?;
            let mut rows = stmt.query(params![device, ids])?;
            let mut found = HashMap::with_capacity(records.len());
            while let Some(r) = rows.next()? {
                let record = r.get_ref(0)?.as_str().map_err(|_| corrupt("record id"))?;
                found.insert(
                    parse_record_id(record)?,
                    Holding {
                        held: r.get(1)?,
                        as_of_cursor: r.get::<_, i64>(2)? as u64,
                        prev_held: r.get(3)?,
                        through_seq: r.get::<_, i64>(4)? as u64,
                    },
                );
            }
            Ok(found)
        })
    }

    fn set_holdings(
        &self,
        device: &str,
        holdings: &[(RecordId, Holding)],
    ) -> Result<(), StoreError> {
        if holdings.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO device_records (device, record, held, as_of_cursor, prev_held, through_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (device, record) DO UPDATE SET held = ?3, as_of_cursor = ?4, prev_held = ?5, through_seq = ?6",
            )?;
            for (record, h) in holdings {
                stmt.execute(params![device, record.to_string(), h.held, h.as_of_cursor as i64, h.prev_held, h.through_seq as i64])?;
            }
            Ok(())
        })
    }

    fn check_integrity(&self) -> Result<(), StoreError> {
        self.undamaged()?;
        let conn = connect(&self.path, &self.key)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
        let checked = quick_check(&conn, &self.path);
        if let Err(StoreError::Damaged { detail, .. }) = &checked {
            let _ = self.damaged.set(detail.clone());
        }
        checked
    }

    fn ready(&self) -> Result<(), StoreError> {
        let version: u32 =
            self.read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))?;
        if version == SCHEMA_VERSION {
            Ok(())
        } else {
            Err(StoreError::TooNew(version, SCHEMA_VERSION))
        }
    }

    fn dump(&self) -> Result<serde_json::Value, StoreError> {
        const TABLES: [(&str, &str); 10] = [
            ("officers", "id"),
            ("officer_audit", "seq"),
            ("enrolment_codes", "hash"),
            ("devices", "id"),
            ("actors", "actor"),
            ("records", "id"),
            ("record_links", "from_id, role, to_id"),
            ("changes", "seq"),
            ("device_records", "device, record"),
            ("sqlite_sequence", "name"),
        ];
        self.read(|c| {
            let mut out = serde_json::Map::new();
            for (table, order) in TABLES {
                let exists: bool = c.query_row(
                    "SELECT count(*) > 0 FROM sqlite_master WHERE name = ?1",
                    [table],
                    |r| r.get(0),
                )?;
                if !exists {
                    out.insert(table.to_owned(), json!([]));
                    continue;
                }
                let mut stmt = c.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
                let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
                let mut rows = stmt.query([])?;
                let mut list = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut obj = serde_json::Map::new();
                    for (i, name) in names.iter().enumerate() {
                        use rusqlite::types::ValueRef;
                        let v = match r.get_ref(i)? {
                            ValueRef::Null => serde_json::Value::Null,
                            ValueRef::Integer(n) => json!(n),
                            ValueRef::Real(f) => json!(f),
                            ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                            ValueRef::Blob(b) => json!(hex::encode(b)),
                        };
                        obj.insert(name.clone(), v);
                    }
                    list.push(serde_json::Value::Object(obj));
                }
                out.insert(table.to_owned(), serde_json::Value::Array(list));
            }
            Ok(serde_json::Value::Object(out))
        })
    }
}

#[cfg(test)]
mod tests;
