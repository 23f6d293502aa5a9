//! Server state behind one trait, [`ServerStore`], so a PostgreSQL store can be added without
//! touching the handlers or the sync logic. [`SqliteStore`] is the default implementation, and a
//! store is opened from its [`DatabaseUrl`]. Nothing here names a database library: a backend's
//! errors reach callers boxed in [`StoreError::Backend`].
//!
//! The store keeps bytes and rows; it does not decide anything. Checking changes, building
//! documents and deciding scope live in `service`. The store must make each method atomic, and
//! must only hand out feed positions (`seq`) below which every writing transaction has committed
//! (see "No change skipped under concurrent writers" in `docs/sync-protocol.md`): SQLite has a
//! single writer, so `seq` order is commit order; a store with concurrent writers must serve only
//! up to its stable watermark.

#[cfg(test)]
pub(crate) mod conformance;
mod sqlite;

pub use sqlite::SqliteStore;

/// A record's scope facts are the scope module's: the store keeps them and the keys they give.
pub use crate::scope::{FeedScope, RecordFacts};
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role, Status};
use fieldbook_core::storage::DatabaseKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the server's database is: the one address start-up, the admin commands and the
/// configuration open a store from (`sqlite://PATH`, `postgres://…`). Shown (and debug-printed)
/// without any password it holds.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: an encrypted SQLite file (created if missing, mode 0600).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, as libpq reads it.
    Postgres(String),
}

impl DatabaseUrl {
    /// Reads `sqlite://PATH`, `postgres://…` or `postgresql://…`.
    pub fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
        let bad = |reason| StoreError::BadUrl {
            given: without_password(url),
            reason,
        };
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(bad("sqlite:// needs the database file's path after it"));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(bad("give sqlite://PATH or postgres://HOST/DATABASE"))
    }

    /// The SQLite file, for the commands that only SQLite has (`encrypt-database`).
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// Opens (creating or migrating if needed) the store at this address, under `key` where
    /// the store encrypts its own data. Blocking: call it off the async runtime.
    pub fn open(&self, key: &DatabaseKey) -> Result<Arc<dyn ServerStore>, StoreError> {
        match self {
            DatabaseUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path, key)?)),
            DatabaseUrl::Postgres(_) => Err(StoreError::NotBuilt { scheme: "postgres" }),
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = StoreError;

    fn from_str(url: &str) -> Result<DatabaseUrl, StoreError> {
        DatabaseUrl::parse(url)
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            // The address as given, less any password in it.
            DatabaseUrl::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `url` with any password in it replaced by `***`: the user-info's (`user:password@`, the
/// last `@` ending it, so a password holding `/`, `?` or `@` is covered) and a `password=`
/// parameter's. Text that is no URL at all is shown only if it holds no `@`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.contains('@') {
            "(an address with a password, not shown)".to_owned()
        } else {
            url.to_owned()
        };
    };
    let (authority, tail) = match rest.rfind('@') {
        Some(at) => {
            let host_end = rest[at..]
                .find(['/', '?', '#'])
                .map_or(rest.len(), |i| at + i);
            rest.split_at(host_end)
        }
        None => rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len())),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// A path is an SQLite database's address.
impl From<&Path> for DatabaseUrl {
    fn from(path: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(path.to_owned())
    }
}

impl From<&PathBuf> for DatabaseUrl {
    fn from(path: &PathBuf) -> DatabaseUrl {
        DatabaseUrl::Sqlite(path.clone())
    }
}

impl From<PathBuf> for DatabaseUrl {
    fn from(path: PathBuf) -> DatabaseUrl {
        DatabaseUrl::Sqlite(path)
    }
}

impl From<&DatabaseUrl> for DatabaseUrl {
    fn from(url: &DatabaseUrl) -> DatabaseUrl {
        url.clone()
    }
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (disk full, I/O error, locked, connection lost...): the backend's
    /// own error, boxed, so nothing above the store names a database library.
    #[error("server storage failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// A record moved on since the write was checked: another writer committed to it first.
    /// Nothing of the transaction was stored; check again on the current version.
    #[error("record {record} changed while its write was checked; nothing was stored")]
    Moved {
        /// The record.
        record: RecordId,
    },
    /// The database address is not one this server can use.
    #[error("bad database address '{given}': {reason}")]
    BadUrl {
        /// What was given, less any password in it.
        given: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The database address names a store this build does not have yet.
    #[error("this fieldbook-server has no {scheme} store yet: give the database as sqlite://PATH")]
    NotBuilt {
        /// The URL scheme (`postgres`).
        scheme: &'static str,
    },
    /// A stored value could not be read back.
    #[error("server storage holds an unreadable value: {0}")]
    Corrupt(String),
    /// The database was written by a newer server.
    #[error(
        "the server database has schema version {0}; this build knows up to {1}: update the server"
    )]
    TooNew(u32, u32),
    /// The key does not open the database (or its first page is damaged). Nothing was written.
    #[error(
        "the key does not open this database ({}): give the key it was created with; the file was left untouched",
        path.display()
    )]
    KeyRejected {
        /// The database file.
        path: std::path::PathBuf,
    },
    /// The database is a plaintext SQLite file, written before the server keyed its database.
    #[error(
        "the server database {} is not encrypted (written before Fieldbook encrypted its server database); it was left untouched: stop the server, back the file up, and run `fieldbook-server encrypt-database --database sqlite://{}` with the key",
        path.display(),
        path.display()
    )]
    NotEncrypted {
        /// The database file.
        path: std::path::PathBuf,
    },
    /// `encrypt-database` was asked to encrypt a database that is not plaintext SQLite.
    #[error(
        "the server database {} is not a plaintext SQLite file (already encrypted?): nothing to do; it was left untouched",
        path.display()
    )]
    NotPlaintext {
        /// The database file.
        path: std::path::PathBuf,
    },
    /// The integrity check found damage; the store refuses to read or write from then on.
    #[error(
        "the server database {} is damaged ({detail}): the server refuses to read or write it; stop it, keep the file for investigation and restore the database from the last backup",
        path.display()
    )]
    Damaged {
        /// The database file.
        path: std::path::PathBuf,
        /// What SQLite's `quick_check` reported (page numbers, never stored values).
        detail: String,
    },
    /// `encrypt-database` found the database in use by another process.
    #[error(
        "the server database {} is in use by another process (a running server?): stop it, then encrypt",
        path.display()
    )]
    InUse {
        /// The database file.
        path: std::path::PathBuf,
    },
    /// The key is empty (SQLCipher would read it as "no encryption").
    #[error(
        "the database key is empty: give 64 hex characters (a raw key) or a non-empty passphrase"
    )]
    EmptyKey,
    /// A file beside the database could not be created, read or given its permissions.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done ("create", "set permissions of"...).
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// An officer who may enrol devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Officer {
    /// Collar number.
    pub id: OfficerId,
    /// Display name (personal data: never logged).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Team, if any (scope for PCSOs and supervisors).
    pub team: Option<String>,
}

/// What an administrator says about an officer's team.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TeamGiven {
    /// Nothing said (an existing officer's team is not checked or changed; a new one has none).
    #[default]
    Unstated,
    /// No team.
    NoTeam,
    /// This team.
    Team(String),
}

impl TeamGiven {
    /// `Some(team)` → a team, `None` → no team.
    pub fn from_option(team: Option<&str>) -> TeamGiven {
        team.map_or(TeamGiven::NoTeam, |t| TeamGiven::Team(t.to_owned()))
    }

    /// What it says, if anything: `Some(None)` for no team.
    fn stated(&self) -> Option<Option<&str>> {
        match self {
            TeamGiven::Unstated => None,
            TeamGiven::NoTeam => Some(None),
            TeamGiven::Team(t) => Some(Some(t)),
        }
    }
}

/// Details of an officer as an admin command gives them: each one stated is checked (when a
/// code is issued) or set (by `officer set`); the others are left alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OfficerDetails {
    /// Display name.
    pub name: Option<String>,
    /// Role.
    pub role: Option<Role>,
    /// Team.
    pub team: TeamGiven,
}

impl OfficerDetails {
    /// The first stated detail that differs from `officer`'s: (field, stored, given), values
    /// as text (`-` for no team).
    pub fn first_difference(&self, officer: &Officer) -> Option<(&'static str, String, String)> {
        if let Some(name) = &self.name
            && *name != officer.name
        {
            return Some(("name", officer.name.clone(), name.clone()));
        }
        if let Some(role) = self.role
            && role != officer.role
        {
            return Some((
                "role",
                officer.role.as_str().to_owned(),
                role.as_str().to_owned(),
            ));
        }
        if let Some(team) = self.team.stated()
            && team != officer.team.as_deref()
        {
            let show = |t: Option<&str>| t.unwrap_or("-").to_owned();
            return Some(("team", show(officer.team.as_deref()), show(team)));
        }
        None
    }

    /// `officer` with every stated detail applied.
    pub fn applied_to(&self, officer: &Officer) -> Officer {
        Officer {
            id: officer.id.clone(),
            name: self.name.clone().unwrap_or_else(|| officer.name.clone()),
            role: self.role.unwrap_or(officer.role),
            team: match self.team.stated() {
                None => officer.team.clone(),
                Some(team) => team.map(str::to_owned),
            },
        }
    }

    /// True when nothing is stated.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.role.is_none() && self.team == TeamGiven::Unstated
    }
}

/// One row of the officer audit (`officer_audit`, append-only): a field of an officer set
/// when it was created, or changed by `officer set`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OfficerChange {
    /// Collar number.
    pub officer: String,
    /// `created` or `changed`.
    pub action: String,
    /// `name`, `role` or `team`.
    pub field: String,
    /// The value before (`None`: none, or the officer is new).
    pub old: Option<String>,
    /// The value after (`None`: no team).
    pub new: Option<String>,
    /// Who did it: the administrator's OS user name, or `admin`.
    pub by: String,
    /// When, ms since epoch.
    pub at: i64,
}

/// A device to create at enrolment.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Server id of the device.
    pub id: String,
    /// Label given by the device.
    pub label: String,
    /// SHA-256 of the bearer token.
    pub token_hash: [u8; 32],
    /// Actor ids (lower-case hex) bound to the device.
    pub actors: Vec<String>,
    /// Creation time, ms since epoch (tokens expire from here).
    pub created_at: i64,
}

/// What an enrolment attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrolOutcome {
    /// The device exists; the code is used up. `replaced`: the officer's earlier device rows
    /// whose actors this enrolment took over (the same install enrolled again), now revoked.
    Enrolled {
        /// The officer the code was for.
        officer: Officer,
        /// Earlier device rows of the same install, in id order.
        replaced: Vec<String>,
    },
    /// The code is unknown, used or expired.
    BadCode,
    /// This actor (hex) is already bound to a device of another officer.
    ActorTaken(String),
}

/// An authenticated device, as the handlers need it.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// Server id of the device.
    pub device_id: String,
    /// Its officer.
    pub officer: Officer,
    /// Creation time of its token, ms.
    pub created_at: i64,
    /// Revoked devices are refused.
    pub revoked: bool,
    /// Actor ids (lower-case hex) bound to it.
    pub actors: Vec<String>,
}

/// A device as `fieldbook-server devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceRow {
    /// Server id.
    pub id: String,
    /// Officer.
    pub officer: String,
    /// Label.
    pub label: String,
    /// Revoked?
    pub revoked: bool,
    /// Created, ms since epoch.
    pub created_at: i64,
    /// The device row that took over this one's actors when the same install enrolled again.
    pub replaced_by: Option<String>,
}

/// A record's stored document: a compacted snapshot plus the changes stored after it.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    /// Kind.
    pub kind: RecordKind,
    /// `Automerge::save` at `snapshot_seq`, followed by the raw changes after it: loadable as one.
    pub bytes: Vec<u8>,
    /// Highest feed position of the record's changes.
    pub last_seq: u64,
    /// Changes stored since the snapshot (compaction trigger).
    pub changes_since_snapshot: u32,
    /// The record's heads after its last stored change ([`Heads::to_bytes`]).
    ///
    /// [`Heads::to_bytes`]: fieldbook_core::doc::Heads::to_bytes
    pub heads: Vec<u8>,
}

/// A change to store.
#[derive(Debug, Clone)]
pub struct NewChange {
    /// Change hash (32 bytes).
    pub hash: Vec<u8>,
    /// Actor (hex).
    pub actor: String,
    /// Raw change bytes.
    pub bytes: Vec<u8>,
    /// The record's heads right after this change (concatenated hashes): feed pages that stop
    /// inside a push still report correct heads.
    pub heads_after: Vec<u8>,
}

/// Everything one accepted record writes.
#[derive(Debug, Clone)]
pub struct RecordWrite {
    /// The record's facts after the push (`team` is filled in by the store).
    pub facts: RecordFacts,
    /// The heads of the version the write was checked against ([`Heads::to_bytes`]), `None`
    /// for a record new to the server. The store commits the write only if the record is still
    /// at that version (a compare-and-swap inside the transaction), else
    /// [`StoreError::Moved`]: another writer (another replica) committed to it first.
    ///
    /// [`Heads::to_bytes`]: fieldbook_core::doc::Heads::to_bytes
    pub base_heads: Option<Vec<u8>>,
    /// Heads after the push.
    pub heads: Vec<u8>,
    /// Changes new to the server, dependencies first.
    pub changes: Vec<NewChange>,
    /// A compacted document to store as the new snapshot (first write, or every N changes).
    pub snapshot: Option<Vec<u8>>,
}

/// One device's accepted records, for [`ServerStore::commit_many`].
#[derive(Debug, Clone, Copy)]
pub struct CommitBatch<'a> {
    /// The device that pushed them.
    pub device: &'a str,
    /// Receipt time, ms.
    pub received_at: i64,
    /// The records.
    pub writes: &'a [RecordWrite],
}

/// One row of the change feed, without its bytes (most rows a device's feed scans are out of
/// its scope: their bodies are read with [`ServerStore::change_bodies`] only when sent).
#[derive(Debug, Clone)]
pub struct FeedRow {
    /// Feed position.
    pub seq: u64,
    /// Record.
    pub record: RecordId,
    /// Device that pushed it.
    pub device: std::sync::Arc<str>,
}

/// The stored body of one change of the feed.
#[derive(Debug, Clone)]
pub struct ChangeBody {
    /// Feed position.
    pub seq: u64,
    /// Raw change.
    pub bytes: Vec<u8>,
    /// Receipt time, ms.
    pub received_at: i64,
    /// The record's heads right after it.
    pub heads_after: Vec<u8>,
}

/// Where a stored change came from (the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeOrigin {
    /// Change hash (hex).
    pub hash: String,
    /// Device that pushed it.
    pub device: String,
    /// Server receipt time, ms.
    pub received_at: i64,
}

/// Whether a device holds a record, as the feed decided last (see `service` for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    /// Held after the page delivered at `as_of_cursor`.
    pub held: bool,
    /// The cursor of the page that made this decision (0: effective at once, e.g. a push).
    pub as_of_cursor: u64,
    /// Held before that page (a device retrying with an older cursor never applied it).
    pub prev_held: bool,
    /// A snapshot covered the record's changes up to this position.
    pub through_seq: u64,
}

impl Holding {
    /// Whether the device holds the record when it asks with `cursor`.
    pub fn effective(&self, cursor: u64) -> bool {
        if cursor >= self.as_of_cursor {
            self.held
        } else {
            self.prev_held
        }
    }
}

/// The server's storage. Every method is atomic; implementations are shared across threads.
pub trait ServerStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores an enrolment code (by hash) for an existing officer; false (nothing stored) when
    /// there is no such officer. Never changes the officer.
    fn create_code(
        &self,
        officer: &OfficerId,
        code_hash: [u8; 32],
        expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// An officer.
    fn officer(&self, id: &OfficerId) -> Result<Option<Officer>, StoreError>;
    /// Every officer, by id.
    fn officers(&self) -> Result<Vec<Officer>, StoreError>;
    /// Registers a new officer, with a `created` audit row per field, `by` at `at`; false
    /// (nothing written) when the id is taken.
    fn create_officer(&self, officer: &Officer, by: &str, at: i64) -> Result<bool, StoreError>;
    /// Sets the stated details of an officer, with a `changed` audit row for each field whose
    /// value differs, in one transaction; returns those rows (`None`: no such officer).
    fn update_officer(
        &self,
        id: &OfficerId,
        details: &OfficerDetails,
        by: &str,
        at: i64,
    ) -> Result<Option<Vec<OfficerChange>>, StoreError>;
    /// An officer's audit rows, oldest first.
    fn officer_history(&self, id: &OfficerId) -> Result<Vec<OfficerChange>, StoreError>;
    /// Uses an enrolment code: creates the device and binds its actors, or changes nothing. An
    /// actor already bound to a device of the code's officer moves to the new device, with that
    /// device's holdings (the same install enrolling again); one bound to another officer's
    /// device refuses the enrolment.
    fn enrol(
        &self,
        code_hash: [u8; 32],
        now: i64,
        device: &NewDevice,
    ) -> Result<EnrolOutcome, StoreError>;
    /// Revokes a device; false when there is no such device.
    fn revoke(&self, device_id: &str) -> Result<bool, StoreError>;
    /// Every device.
    fn devices(&self) -> Result<Vec<DeviceRow>, StoreError>;
    /// The device a token (by hash) belongs to.
    fn device_by_token(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>, StoreError>;
    /// A record's document, if the server holds it.
    fn load_document(&self, record: RecordId) -> Result<Option<StoredDocument>, StoreError>;
    /// Stores accepted records in one transaction; returns the last `seq` given to each write
    /// (0 when it stored no new change). Changes whose hash is already stored are skipped.
    /// Marks each record as held by `device`.
    fn commit(
        &self,
        device: &str,
        received_at: i64,
        writes: &[RecordWrite],
    ) -> Result<Vec<u64>, StoreError> {
        let batch = CommitBatch {
            device,
            received_at,
            writes,
        };
        Ok(self
            .commit_many(std::slice::from_ref(&batch))?
            .pop()
            .unwrap_or_default())
    }
    /// As [`ServerStore::commit`] for several devices' pushes, in order, in one transaction (one
    /// fsync: group commit); returns each batch's `seq`s. All are stored or none: a write whose
    /// record is no longer at its [`RecordWrite::base_heads`] (a batch's earlier writes count)
    /// fails the whole with [`StoreError::Moved`].
    fn commit_many(&self, batches: &[CommitBatch<'_>]) -> Result<Vec<Vec<u64>>, StoreError>;
    /// The highest feed position under which every position is committed (the stable
    /// watermark): the feed serves up to it, never beyond, so no change that commits later
    /// under a lower position is skipped.
    fn max_seq(&self) -> Result<u64, StoreError>;
    /// Feed rows with `after < seq <= upto`, oldest first, at most `limit`.
    fn feed_rows(&self, after: u64, upto: u64, limit: usize) -> Result<Vec<FeedRow>, StoreError>;
    /// As [`ServerStore::feed_rows`], only the rows of records `scope` reaches (see
    /// [`FeedScope`]): every such row is there, others may be.
    fn scoped_feed_rows(
        &self,
        scope: &FeedScope,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<FeedRow>, StoreError>;
    /// The bodies of the changes at these feed positions, oldest first.
    fn change_bodies(&self, seqs: &[u64]) -> Result<Vec<ChangeBody>, StoreError>;
    /// A record's facts. Facts, links ([`ServerStore::linking_to`]), team records
    /// ([`ServerStore::team_records`]) and scope keys are read from the database: they hold
    /// every commit made before the call, whichever replica made it, and are written in the
    /// transaction that commits the record's changes (never behind a feed row). No store keeps
    /// them in memory: memory must not grow with the records held.
    fn facts(&self, record: RecordId) -> Result<Option<std::sync::Arc<RecordFacts>>, StoreError>;
    /// The facts of each of `records` the store holds (as [`ServerStore::facts`], in one read).
    fn facts_of(
        &self,
        records: &[RecordId],
    ) -> Result<std::collections::HashMap<RecordId, std::sync::Arc<RecordFacts>>, StoreError>;
    /// Records that link to `record`.
    fn linking_to(&self, record: RecordId) -> Result<Vec<RecordId>, StoreError>;
    /// The facts of every record whose author is on `team` (as of its last write) and whose
    /// status is one of `statuses`, in record id order (the review queue's candidates).
    fn team_records(
        &self,
        team: &str,
        statuses: &[Status],
    ) -> Result<Vec<std::sync::Arc<RecordFacts>>, StoreError>;
    /// Receipts of every change of a record, `seq <= upto`: (hash, received_at).
    fn receipts(&self, record: RecordId, upto: u64) -> Result<Vec<(Vec<u8>, i64)>, StoreError>;
    /// Every stored change of a record, oldest first: (hash hex, pushing device, received_at ms).
    fn change_origins(&self, record: RecordId) -> Result<Vec<ChangeOrigin>, StoreError>;
    /// Whether `device` holds `record`, as last decided.
    fn holding(&self, device: &str, record: RecordId) -> Result<Option<Holding>, StoreError>;
    /// What `device` holds of each of `records`, as last decided (absent: never decided).
    fn holdings(
        &self,
        device: &str,
        records: &[RecordId],
    ) -> Result<std::collections::HashMap<RecordId, Holding>, StoreError>;
    /// Records feed decisions about what `device` holds.
    fn set_holdings(
        &self,
        device: &str,
        holdings: &[(RecordId, Holding)],
    ) -> Result<(), StoreError>;
    /// Every table, canonically ordered, as JSON (for tests comparing state).
    fn dump(&self) -> Result<serde_json::Value, StoreError>;
    /// The database answers, and its schema is the one this server was built for (another
    /// replica may have upgraded it since this one started): `/ready`.
    fn ready(&self) -> Result<(), StoreError>;
    /// Reads the whole database and checks it: O(database), so it runs off the request path
    /// (the server starts it in the background once it listens, and `check-database` runs it
    /// in the foreground). Damage found is [`StoreError::Damaged`], and from then on the store
    /// refuses every call with it, so nothing more is written onto a damaged database.
    fn check_integrity(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_address_names_its_store_and_a_bad_one_says_what_to_give() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/fieldbook/server.db").expect("sqlite"),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/fieldbook/server.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://server.db").expect("relative"),
            DatabaseUrl::Sqlite(PathBuf::from("server.db"))
        );
        for url in [
            "postgres://fieldbook@db.force.example/fieldbook",
            "postgresql://fieldbook@db.force.example:5433/fieldbook?sslmode=verify-full",
        ] {
            assert_eq!(
                DatabaseUrl::parse(url).expect("postgres"),
                DatabaseUrl::Postgres(url.to_owned())
            );
        }
        for (url, says) in [
            ("sqlite://", "needs the database file's path"),
            ("server.db", "give sqlite://PATH or postgres://"),
            ("mysql://db/fieldbook", "give sqlite://PATH or postgres://"),
            ("", "give sqlite://PATH or postgres://"),
            ("mysql://fb:s3cret@db/fb", "mysql://fb:***@db/fb"),
        ] {
            let e = DatabaseUrl::parse(url).expect_err(url);
            assert!(matches!(e, StoreError::BadUrl { .. }), "{url}: {e:?}");
            assert!(e.to_string().contains(says), "{url}: {e}");
        }
    }

    #[test]
    fn a_database_address_is_shown_without_its_password() {
        let url =
            DatabaseUrl::parse("postgres://fieldbook:s3cret@db.example:5432/fb?sslmode=require")
                .expect("postgres");
        assert_eq!(
            url.to_string(),
            "postgres://fieldbook:***@db.example:5432/fb?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        for (given, shown) in [
            (
                "postgres://fb:pa/ss?w@rd@db.example/fb",
                "postgres://fb:***@db.example/fb",
            ),
            (
                "postgres://db.example/fb?user=fb&password=s3cret&sslmode=require",
                "postgres://db.example/fb?user=fb&password=***&sslmode=require",
            ),
        ] {
            let url = DatabaseUrl::parse(given).expect("postgres");
            assert_eq!(url.to_string(), shown);
        }
        let e = DatabaseUrl::parse("fb:s3cret@db.example/fb").expect_err("no scheme");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let no_password = "postgres://fieldbook@db.example/fb";
        assert_eq!(
            DatabaseUrl::parse(no_password)
                .expect("postgres")
                .to_string(),
            no_password
        );
        assert_eq!(
            DatabaseUrl::from(Path::new("/srv/server.db")).to_string(),
            "sqlite:///srv/server.db"
        );
    }

    #[test]
    fn a_store_this_build_does_not_have_is_refused_by_name_before_anything_is_opened() {
        let key = DatabaseKey::from_text("correct horse battery staple").expect("key");
        let e = DatabaseUrl::parse("postgres://127.0.0.1:9/fieldbook")
            .expect("postgres")
            .open(&key)
            .expect_err("no postgres store yet");
        assert!(
            matches!(e, StoreError::NotBuilt { scheme: "postgres" }),
            "{e:?}"
        );
        assert!(e.to_string().contains("sqlite://PATH"), "{e}");
    }
}
