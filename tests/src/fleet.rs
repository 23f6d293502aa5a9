//! A server and the devices enrolled with it, for end-to-end sync scenarios: a real
//! `fieldbook-server` on `127.0.0.1:0` over a temporary database, and devices with their own
//! encrypted stores and keys, enrolled through [`Admin::enrol`] and [`Device::enrol`] over HTTP.
//!
//! The server runs on its own tokio runtime so a test can kill it abruptly
//! ([`Fleet::kill_server`]: connections cut mid-request, as a crashed process would) and start
//! a new one on the same database. What the server stores is read straight from its database
//! ([`Fleet::server_changes`], [`Fleet::server_document`]), never through the protocol under test.

use fieldbook_core::clock::SystemClock;
use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{OfficerId, RecordId, Role};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::sync::NoProgress;
use fieldbook_core::sync::http::RetryPolicy;
use fieldbook_core::{Device, Error};
use fieldbook_server::{Admin, EnrolLimit, ServerConfig, ServerStore, SqliteStore};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The key the fleet's server database is encrypted under.
pub const SERVER_KEY: DatabaseKey = DatabaseKey::Raw([0x5a; 32]);

/// Retries fast enough for tests that inject faults, with the protocol's attempt count.
pub const FAST_RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(5),
    cap: Duration::from_millis(40),
    max_attempts: 6,
};

/// How many syncs of a whole group [`sync_until_quiet`] runs at most before it fails.
const QUIET_ROUNDS: usize = 8;

/// A server under test and the temporary directory holding its database and the devices' stores.
#[derive(Debug)]
pub struct Fleet {
    dir: tempfile::TempDir,
    db: PathBuf,
    server: Option<ServerRuntime>,
    devices: usize,
}

/// A server on its own runtime: shutting the runtime down kills it mid-request.
#[derive(Debug)]
struct ServerRuntime {
    runtime: tokio::runtime::Runtime,
    // Held so the server is not stopped gracefully before the runtime is killed.
    _running: fieldbook_server::RunningServer,
    addr: SocketAddr,
}

/// One enrolled device and what a test needs to reopen it.
#[derive(Debug)]
pub struct Member {
    /// The device.
    pub device: Device,
    /// Its store.
    pub path: PathBuf,
    /// Its store key.
    pub key: [u8; 32],
    /// The server's id for it.
    pub device_id: String,
}

/// A change the server stores, read from its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// Feed position.
    pub seq: u64,
    /// Record.
    pub record: RecordId,
    /// Change hash (hex).
    pub hash: String,
}

impl Fleet {
    /// Starts a server on a fresh database in a new temporary directory.
    pub async fn start() -> Fleet {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let db = dir.path().join("server.db");
        let mut fleet = Fleet {
            dir,
            db,
            server: None,
            devices: 0,
        };
        fleet.start_server().await;
        fleet
    }

    /// The running server's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The running server's address.
    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("a running server").addr
    }

    /// Administration of the server's database.
    pub fn admin(&self) -> Admin {
        Admin::open(&self.db, &SERVER_KEY).expect("admin opens the server database")
    }

    /// Starts a server on the same database (on a new port); the old one must be stopped.
    pub async fn start_server(&mut self) {
        assert!(self.server.is_none(), "a server is already running");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        let mut config =
            ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &self.db, SERVER_KEY);
        // A fleet enrols all its devices from 127.0.0.1 at once (fifty in one test): more than
        // the default per-address limit lets one address do in a minute.
        config.enrol_limit = EnrolLimit {
            per_client_per_minute: 10_000,
            per_client_burst: 10_000,
            global_per_minute: 10_000,
            global_burst: 10_000,
        };
        let running = runtime
            .spawn(async move { fieldbook_server::start(config).await })
            .await
            .expect("server start task")
            .expect("server starts");
        self.server = Some(ServerRuntime {
            runtime,
            addr: running.addr(),
            _running: running,
        });
    }

    /// Kills the server at once: every task and connection is dropped mid-flight, as when the
    /// process dies. A database transaction already running finishes or rolls back (SQLite).
    pub fn kill_server(&mut self) {
        let server = self.server.take().expect("a running server");
        server.runtime.shutdown_background();
    }

    /// Enrols a new device for `officer` (registered with `role` and `team`), with its own store
    /// and key, through a one-time code and `POST /v1/enrol`.
    pub async fn enrol(&mut self, officer: &str, role: Role, team: Option<&str>) -> Member {
        let url = self.url();
        self.enrol_at(&url, officer, role, team).await
    }

    /// As [`Fleet::enrol`], reaching the server at `url` (a proxy before it, say).
    pub async fn enrol_at(
        &mut self,
        url: &str,
        officer: &str,
        role: Role,
        team: Option<&str>,
    ) -> Member {
        self.devices += 1;
        let n = self.devices;
        let officer_id = OfficerId::new(officer).expect("a collar number");
        let code = self
            .admin()
            .enrol(&officer_id, "Test Officer", role, team)
            .expect("enrolment code");
        let path = self.dir.path().join(format!("device-{n}.fbk"));
        let key = device_key(n);
        let mut device = Device::init(
            &path,
            &DatabaseKey::Raw(key),
            officer_id,
            role,
            Arc::new(SystemClock),
        )
        .expect("device store");
        let enrolment = device
            .enrol(url, &code, &format!("device {n}"))
            .await
            .expect("device enrols");
        Member {
            device,
            path,
            key,
            device_id: enrolment.device_id,
        }
    }

    /// Every change the server stores, in feed order.
    pub fn server_changes(&self) -> Vec<StoredChange> {
        let store = self.store();
        let upto = store.max_seq().expect("max seq");
        let rows = store.feed_rows(0, upto, usize::MAX).expect("feed rows");
        let seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
        let bodies = store.change_bodies(&seqs).expect("change bodies");
        assert_eq!(bodies.len(), rows.len(), "every feed row has a body");
        rows.into_iter()
            .zip(bodies)
            .map(|(row, body)| {
                let change = automerge::Change::try_from(body.bytes.as_slice())
                    .expect("a stored change decodes");
                StoredChange {
                    seq: row.seq,
                    record: row.record,
                    hash: change.hash().to_string(),
                }
            })
            .collect()
    }

    /// The server's document of a record, if it holds one.
    pub fn server_document(&self, id: RecordId) -> Option<RecordDoc> {
        let stored = self.store().load_document(id).expect("load document")?;
        Some(
            RecordDoc::load(&stored.bytes, &automerge::ActorId::random())
                .expect("the server's document loads"),
        )
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.db, &SERVER_KEY).expect("the server database opens")
    }

    /// The directory for other files of the test.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.runtime.shutdown_background();
        }
    }
}

/// A store key of its own for device `n`.
pub fn device_key(n: usize) -> [u8; 32] {
    let mut key = [0x5A; 32];
    key[..8].copy_from_slice(&(n as u64).to_le_bytes());
    key
}

/// Asserts the server stores each change once: no hash twice in the feed.
pub fn assert_no_duplicates(changes: &[StoredChange]) {
    let mut seen = BTreeSet::new();
    for c in changes {
        assert!(
            seen.insert(c.hash.as_str()),
            "change {} of record {} is stored twice",
            c.hash,
            c.record
        );
    }
}

/// Server changes per record.
pub fn changes_per_record(changes: &[StoredChange]) -> BTreeMap<RecordId, usize> {
    let mut out = BTreeMap::new();
    for c in changes {
        *out.entry(c.record).or_default() += 1;
    }
    out
}

/// Whether a sync moved anything either way.
pub fn is_quiet(report: &fieldbook_core::sync::SyncReport) -> bool {
    report.pushed_changes == 0
        && report.pulled_changes == 0
        && report.pulled_snapshots == 0
        && report.evicted == 0
        && report.repairs == 0
}

/// Syncs every device in turn until one whole round moves nothing. Panics on any sync error or
/// if the group does not settle in a few rounds.
pub async fn sync_until_quiet(members: &mut [&mut Member]) {
    for _ in 0..QUIET_ROUNDS {
        let mut quiet = true;
        for m in members.iter_mut() {
            let report = m
                .device
                .sync(&NoProgress)
                .await
                .unwrap_or_else(|e| panic!("sync of device {} failed: {e}", m.device_id));
            quiet &= is_quiet(&report);
        }
        if quiet {
            return;
        }
    }
    panic!("the devices did not settle after {QUIET_ROUNDS} rounds of syncs");
}

/// Syncs, retrying what a fault may fail (offline, 5xx, a malformed answer), at most `attempts`
/// times; panics on anything else.
pub async fn sync_through_faults(member: &mut Member, attempts: usize) {
    for _ in 0..attempts {
        match member.device.sync(&NoProgress).await {
            Ok(_) => return,
            Err(Error::Offline { .. } | Error::ServerFailed { .. } | Error::Protocol(_)) => {}
            Err(e) => panic!("sync failed with an error a fault cannot explain: {e}"),
        }
    }
    panic!("sync kept failing after {attempts} attempts");
}

/// The heads of a device's record, as text (sorted hashes).
pub fn heads_of(device: &mut Device, id: RecordId) -> String {
    device
        .get_versioned(id)
        .expect("the record is held")
        .1
        .to_string()
}

/// The heads of a document, in the same text form as [`heads_of`].
pub fn doc_heads(doc: &RecordDoc) -> String {
    let hex: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
    hex.join(",")
}
