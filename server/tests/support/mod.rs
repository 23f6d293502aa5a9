//! What the server's HTTP tests share: a real server on 127.0.0.1:0 over a temporary database
//! ([`Fixture`]), devices enrolled through the real `/v1/enrol` ([`Dev`]), and helpers that build
//! real automerge changes with the core's `RecordDoc`.
#![allow(dead_code)]

use automerge::{ActorId, ChangeHash};
use fieldbook_core::doc::{ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role, Timestamp};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, ErrorBody, FeedEntry, Hash, PushOutcome, RecordPush,
    SyncRequest, SyncResponse,
};
use fieldbook_core::workflow::User;
use fieldbook_server::{Admin, RunningServer, ServerConfig};
use std::path::PathBuf;
use std::time::Duration;

pub struct Fixture {
    pub server: RunningServer,
    pub db: PathBuf,
    pub client: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

pub struct Dev {
    pub token: String,
    pub device_id: String,
    pub actor: ActorId,
    pub user: User,
}

/// The fixed key every test server database is encrypted under.
pub fn key() -> DatabaseKey {
    DatabaseKey::Raw([0x5a; 32])
}

/// [`key`] as `FIELDBOOK_SERVER_KEY` gives it to the binary: 64 hex characters.
pub fn key_hex() -> String {
    match key() {
        DatabaseKey::Raw(raw) => hex::encode(raw),
        DatabaseKey::Passphrase(p) => p,
    }
}

/// A bare SQLite connection to a test server's database, keyed: the database as someone with
/// the key and a shell would reach it, past every check of the server.
#[allow(clippy::disallowed_methods)]
pub fn raw_connection(db: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key_hex()))
        .expect("key");
    conn
}

pub fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("valid time")
}

pub async fn fixture(tweak: impl FnOnce(&mut ServerConfig)) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("server.db");
    let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &db, key());
    tweak(&mut config);
    let server = fieldbook_server::start(config)
        .await
        .expect("server starts");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    Fixture {
        server,
        db,
        client,
        _dir: dir,
    }
}

impl Fixture {
    pub fn admin(&self) -> Admin {
        Admin::open(&self.db, &key()).expect("admin opens")
    }

    pub fn dump(&self) -> String {
        self.admin().dump().expect("dump")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        // A server refusing a request early (413) may close the connection while the client is
        // still sending, and the client then loses the answer to a connection reset: a race of
        // HTTP/1.1 itself, not of the server. Such requests change nothing, so ask again.
        let mut last_error = String::new();
        for _ in 0..5 {
            let mut req = self
                .client
                .post(format!("{}{path}", self.server.url()))
                .header("content-type", content_type)
                .body(body.clone());
            if let Some(token) = token {
                req = req.header("authorization", format!("Bearer {token}"));
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.bytes().await {
                        Ok(bytes) => return (status, bytes.to_vec()),
                        Err(e) => last_error = e.to_string(),
                    }
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        panic!("no answer after 5 attempts: {last_error}")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Vec<u8>) {
        self.post_raw(path, token, wire::CONTENT_TYPE, body).await
    }

    pub async fn code(&self, officer: &str, role: Role, team: Option<&str>) -> String {
        let officer = OfficerId::new(officer).expect("officer id");
        self.admin()
            .enrol(&officer, "Test Officer", role, team)
            .expect("code")
    }

    pub async fn enrol_with(&self, code: &str, actor: &ActorId) -> (u16, Vec<u8>) {
        let request = EnrolRequest {
            protocol: wire::PROTOCOL_VERSION,
            code: code.to_owned(),
            actors: vec![actor.to_hex_string()],
            label: "test phone".into(),
        };
        self.post("/v1/enrol", None, wire::encode(&request)).await
    }

    pub async fn device(&self, officer: &str, role: Role, team: Option<&str>) -> Dev {
        let code = self.code(officer, role, team).await;
        let actor = fieldbook_core::doc::new_actor();
        let (status, body) = self.enrol_with(&code, &actor).await;
        assert_eq!(status, 200, "{:?}", wire::decode::<ErrorBody>(&body));
        let response: EnrolResponse = wire::decode(&body).expect("enrol response");
        Dev {
            token: response.token,
            device_id: response.device_id,
            actor,
            user: User {
                officer: response.officer,
                role: response.role,
            },
        }
    }

    pub async fn sync(
        &self,
        dev: &Dev,
        cursor: u64,
        page_limit: u32,
        push: Vec<RecordPush>,
    ) -> SyncResponse {
        let request = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor,
            page_limit,
            push,
        };
        let (status, body) = self
            .post("/v1/sync", Some(&dev.token), wire::encode(&request))
            .await;
        assert_eq!(status, 200, "{:?}", wire::decode::<ErrorBody>(&body));
        wire::decode(&body).expect("sync response")
    }

    /// Pulls every page; returns the entries and the final cursor.
    pub async fn pull_all(
        &self,
        dev: &Dev,
        mut cursor: u64,
        page_limit: u32,
    ) -> (Vec<FeedEntry>, u64) {
        let mut entries = Vec::new();
        for _ in 0..1000 {
            let page = self.sync(dev, cursor, page_limit, Vec::new()).await.page;
            assert!(page.cursor >= cursor, "the cursor never goes back");
            cursor = page.cursor;
            entries.extend(page.entries);
            if !page.more {
                return (entries, cursor);
            }
        }
        panic!("the feed never ended");
    }
}

pub fn error_code(body: &[u8]) -> String {
    wire::decode::<ErrorBody>(body).expect("an ErrorBody").code
}

pub fn author(dev: &Dev) -> ChangeAuthor {
    ChangeAuthor {
        by: dev.user.officer.clone(),
        role: dev.user.role,
    }
}

pub fn new_doc(dev: &Dev, kind: RecordKind, edit: impl FnOnce(&mut Record)) -> RecordDoc {
    let mut record = Record::new(kind, RecordId::generate(), dev.user.officer.clone(), t(0));
    edit(&mut record);
    RecordDoc::create(&record, &dev.actor, &author(dev), t(0)).expect("document")
}

pub fn id_of(doc: &RecordDoc) -> RecordId {
    doc.hydrate().expect("record").id()
}

pub fn changes_since(doc: &RecordDoc, heads: &[ChangeHash]) -> Vec<Bytes> {
    doc.automerge()
        .get_changes(heads)
        .iter()
        .map(|c| Bytes(c.raw_bytes().to_vec()))
        .collect()
}

pub fn push_of(doc: &RecordDoc, heads: &[ChangeHash]) -> RecordPush {
    let record = doc.hydrate().expect("record");
    RecordPush {
        record: record.id(),
        kind: record.kind(),
        changes: changes_since(doc, heads),
    }
}

pub fn edit_narrative(doc: &mut RecordDoc, dev: &Dev, text: &str, at: i64) {
    let mut record = doc.hydrate().expect("record");
    match &mut record {
        Record::Crime(c) => c.narrative = text.to_owned(),
        Record::Issue(i) => i.narrative = text.to_owned(),
        _ => panic!("no narrative"),
    }
    doc.update(&record, &author(dev), "edit", t(at))
        .expect("update");
}

pub fn heads_of(doc: &RecordDoc) -> Vec<Hash> {
    doc.heads().into_iter().map(Hash::from).collect()
}

pub fn records_in(entries: &[FeedEntry]) -> Vec<(String, RecordId)> {
    entries
        .iter()
        .map(|e| match e {
            FeedEntry::Changes { record, .. } => ("changes".to_owned(), *record),
            FeedEntry::Snapshot { record, .. } => ("snapshot".to_owned(), *record),
            FeedEntry::Evict { record } => ("evict".to_owned(), *record),
        })
        .collect()
}

pub fn rejected_rule(response: &SyncResponse, i: usize) -> String {
    match &response.results[i].outcome {
        PushOutcome::Rejected { rule, .. } => rule.to_string(),
        other => format!("{other:?}"),
    }
}

pub fn change_as(
    doc: &mut RecordDoc,
    dev: &Dev,
    at: i64,
    edit: impl FnOnce(&mut Record),
) -> Vec<ChangeHash> {
    let base = doc.heads();
    let mut record = doc.hydrate().expect("record");
    edit(&mut record);
    doc.update(&record, &author(dev), "edit", t(at))
        .expect("update");
    base
}

pub fn workflow_event(
    dev: &Dev,
    action: fieldbook_core::domain::WorkflowAction,
    at: i64,
) -> fieldbook_core::domain::WorkflowEvent {
    fieldbook_core::domain::WorkflowEvent {
        action,
        by: dev.user.officer.clone(),
        role: dev.user.role,
        at: t(at),
        reason: Some("because the test says so".into()),
        heads: vec!["00".repeat(32)],
    }
}

pub async fn push_accepted(f: &Fixture, dev: &Dev, pushes: Vec<RecordPush>) {
    let response = f.sync(dev, u64::MAX, 10, pushes).await;
    for r in &response.results {
        assert!(
            matches!(r.outcome, PushOutcome::Accepted { .. }),
            "{:?}",
            r.outcome
        );
    }
}

impl Fixture {
    /// `GET path` with a token and an `Accept`: (status, body).
    pub async fn get(&self, path: &str, token: Option<&str>, accept: &str) -> (u16, Vec<u8>) {
        let mut req = self
            .client
            .get(format!("{}{path}", self.server.url()))
            .header("accept", accept);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.bytes().await.expect("body").to_vec())
    }

    /// The device's review queue, as JSON.
    pub async fn review_queue(&self, dev: &Dev) -> wire::ReviewQueue {
        let (status, body) = self
            .get("/v1/review-queue", Some(&dev.token), "application/json")
            .await;
        assert_eq!(status, 200, "{:?}", wire::decode::<ErrorBody>(&body));
        serde_json::from_slice(&body).expect("a review queue as JSON")
    }
}
