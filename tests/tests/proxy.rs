//! The sync protocol's promises under a faulty network: the real server on 127.0.0.1:0 behind a
//! [`FaultProxy`], real automerge changes, raw CBOR requests. Each test loses, repeats or cuts
//! short one exchange and checks what the server stored (through `Admin::dump`) and that a
//! plain retry converges, as `docs/sync-protocol.md` says it must.

use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{Record, RecordKind, Role};
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, FeedEntry, Hash, PushOutcome, RecordPush,
    SyncRequest, SyncResponse,
};
use fieldbook_scenarios::proxy::{Fault, FaultProxy};
use fieldbook_scenarios::{actor, at, author, record_id};
use fieldbook_server::{Admin, RunningServer, ServerConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Setup {
    server: RunningServer,
    proxy: FaultProxy,
    db: PathBuf,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

struct Device {
    token: String,
    actor: automerge::ActorId,
    collar: String,
}

/// The key the test server's database is encrypted under.
fn server_key() -> fieldbook_core::storage::DatabaseKey {
    fieldbook_core::storage::DatabaseKey::Raw([0x5a; 32])
}

async fn start_server(db: &Path) -> RunningServer {
    let config = ServerConfig::new("127.0.0.1:0".parse().expect("an address"), db, server_key());
    fieldbook_server::start(config)
        .await
        .expect("the server starts")
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("server.db");
    let server = start_server(&db).await;
    let proxy = FaultProxy::start(server.addr())
        .await
        .expect("the proxy starts");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("a client");
    Setup {
        server,
        proxy,
        db,
        client,
        _dir: dir,
    }
}

impl Setup {
    fn dump(&self) -> String {
        Admin::open(&self.db, &server_key())
            .expect("admin opens")
            .dump()
            .expect("a dump")
    }

    /// Enrols a device (through the proxy, with no fault) for officer `collar`.
    async fn device(&self, collar: &str, n: u8) -> Device {
        let officer = author(collar, Role::Officer).by;
        let code = Admin::open(&self.db, &server_key())
            .expect("admin opens")
            .enrol(&officer, "Test Officer", Role::Officer, None)
            .expect("a code");
        let actor = actor(n);
        let request = EnrolRequest {
            protocol: wire::PROTOCOL_VERSION,
            code,
            actors: vec![actor.to_hex_string()],
            label: "test phone".into(),
        };
        let response = self
            .client
            .post(format!("{}/v1/enrol", self.proxy.url()))
            .header("content-type", wire::CONTENT_TYPE)
            .body(wire::encode(&request))
            .send()
            .await
            .expect("enrolment answered");
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.expect("a body");
        let enrolled: EnrolResponse = wire::decode(&body).expect("an enrol response");
        Device {
            token: enrolled.token,
            actor,
            collar: collar.to_owned(),
        }
    }

    /// Sends a sync request to `base` (the proxy's or the server's URL); the response as sent.
    async fn send(
        &self,
        base: &str,
        device: &Device,
        request: &SyncRequest,
    ) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(format!("{base}/v1/sync"))
            .header("content-type", wire::CONTENT_TYPE)
            .header("authorization", format!("Bearer {}", device.token))
            .body(wire::encode(request))
            .send()
            .await
    }

    /// A sync request that must succeed with 200.
    async fn sync(&self, base: &str, device: &Device, request: &SyncRequest) -> SyncResponse {
        let response = self.send(base, device, request).await.expect("answered");
        assert_eq!(response.status(), 200);
        wire::decode(&response.bytes().await.expect("a whole body")).expect("a sync response")
    }
}

/// A new crime report by `device`, as one automerge change.
fn new_report(device: &Device, n: u128) -> RecordDoc {
    let who = author(&device.collar, Role::Officer);
    let record = Record::new(RecordKind::CrimeReport, record_id(n), who.by.clone(), at(0));
    RecordDoc::create(&record, &device.actor, &who, at(0)).expect("a document")
}

/// A sync request pushing every change of `docs`.
fn push_all(docs: &[&RecordDoc]) -> SyncRequest {
    SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        page_limit: 100,
        push: docs
            .iter()
            .map(|doc| {
                let record = doc.hydrate().expect("a record");
                RecordPush {
                    record: record.id(),
                    kind: record.kind(),
                    changes: doc
                        .automerge()
                        .get_changes(&[])
                        .iter()
                        .map(|c| Bytes(c.raw_bytes().to_vec()))
                        .collect(),
                }
            })
            .collect(),
    }
}

/// How many times the server stored each of `doc`'s changes.
fn times_stored(dump: &str, doc: &RecordDoc) -> Vec<usize> {
    let dump: serde_json::Value = serde_json::from_str(dump).expect("a JSON dump");
    let stored = dump["changes"].as_array().expect("a changes table");
    doc.automerge()
        .get_changes(&[])
        .iter()
        .map(|c| {
            let hash = hex::encode(c.hash().0);
            stored
                .iter()
                .filter(|row| row["hash"] == hash.as_str())
                .count()
        })
        .collect()
}

fn new_changes(response: &SyncResponse) -> Vec<u32> {
    response
        .results
        .iter()
        .map(|r| match &r.outcome {
            PushOutcome::Accepted { new_changes, .. } => *new_changes,
            other => panic!("not accepted: {other:?}"),
        })
        .collect()
}

fn heads_of(doc: &RecordDoc) -> Vec<Hash> {
    doc.heads().into_iter().map(Hash::from).collect()
}

/// The response with receipt times zeroed: they are the server's clock, not the protocol's result.
fn without_receipt_times(mut response: SyncResponse) -> SyncResponse {
    for result in &mut response.results {
        if let PushOutcome::Accepted { received_at, .. } = &mut result.outcome {
            *received_at = 0;
        }
    }
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_fault_a_push_through_the_proxy_is_accepted_exactly_as_it_is_directly() {
    let s = setup().await;
    let phone = s.device("PC1", 1).await;
    let doc = new_report(&phone, 1);
    let request = push_all(&[&doc]);

    let first = s.sync(&s.proxy.url(), &phone, &request).await;
    match &first.results[0].outcome {
        PushOutcome::Accepted {
            heads, new_changes, ..
        } => assert_eq!((heads, *new_changes), (&heads_of(&doc), 1)),
        other => panic!("{other:?}"),
    }
    let via_proxy = s
        .send(&s.proxy.url(), &phone, &request)
        .await
        .expect("answered");
    let direct = s
        .send(&s.server.url(), &phone, &request)
        .await
        .expect("answered");
    assert_eq!(via_proxy.status(), direct.status());
    assert_eq!(
        via_proxy.headers().get("content-type"),
        direct.headers().get("content-type")
    );
    let decode = |bytes: &[u8]| without_receipt_times(wire::decode(bytes).expect("a response"));
    assert_eq!(
        decode(&via_proxy.bytes().await.expect("body")),
        decode(&direct.bytes().await.expect("body")),
        "the proxy passes the server's answer on unchanged"
    );
    assert_eq!(times_stored(&s.dump(), &doc), [1]);
    assert_eq!((s.proxy.requests_seen(), s.proxy.faults_applied()), (3, 0));
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_never_reaches_the_server_and_a_retry_is_accepted() {
    let s = setup().await;
    let phone = s.device("PC1", 1).await;
    let doc = new_report(&phone, 1);
    let request = push_all(&[&doc]);
    let before = s.dump();

    s.proxy.set_fault(Fault::DropRequest);
    let lost = s.send(&s.proxy.url(), &phone, &request).await;
    assert!(
        lost.is_err(),
        "the client sees the connection close: {lost:?}"
    );
    assert_eq!(s.dump(), before, "the server never saw it");

    let retry = s.sync(&s.proxy.url(), &phone, &request).await;
    assert_eq!(new_changes(&retry), [1]);
    assert_eq!(times_stored(&s.dump(), &doc), [1]);
    assert_eq!(s.proxy.faults_applied(), 1);
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_lost_after_the_server_committed_leaves_the_change_stored_and_a_retry_adds_nothing()
 {
    let s = setup().await;
    let phone = s.device("PC1", 1).await;
    let doc = new_report(&phone, 1);
    let request = push_all(&[&doc]);

    s.proxy.set_fault(Fault::DropResponse);
    let lost = s.send(&s.proxy.url(), &phone, &request).await;
    assert!(lost.is_err(), "the client never hears back: {lost:?}");
    assert_eq!(
        times_stored(&s.dump(), &doc),
        [1],
        "but the server committed"
    );

    let retry = s.sync(&s.proxy.url(), &phone, &request).await;
    assert_eq!(
        new_changes(&retry),
        [0],
        "the retry is acknowledged, not re-applied"
    );
    assert!(
        matches!(&retry.results[0].outcome, PushOutcome::Accepted { heads, .. } if *heads == heads_of(&doc))
    );
    assert_eq!(times_stored(&s.dump(), &doc), [1]);
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_request_stores_each_change_once_and_the_second_answer_reports_none_new() {
    let s = setup().await;
    let phone = s.device("PC1", 1).await;
    let docs = [new_report(&phone, 1), new_report(&phone, 2)];
    let request = push_all(&[&docs[0], &docs[1]]);

    s.proxy.set_fault(Fault::DuplicateRequest);
    let second = s.sync(&s.proxy.url(), &phone, &request).await;
    assert_eq!(new_changes(&second), [0, 0], "the first copy stored them");
    let dump = s.dump();
    for doc in &docs {
        assert_eq!(times_stored(&dump, doc), [1]);
    }
    assert_eq!((s.proxy.requests_seen(), s.proxy.faults_applied()), (2, 1));
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_cut_short_stores_nothing_and_a_retry_is_accepted() {
    let s = setup().await;
    let phone = s.device("PC1", 1).await;
    let doc = new_report(&phone, 1);
    let request = push_all(&[&doc]);
    let before = s.dump();

    s.proxy.set_fault(Fault::TruncateRequestBody);
    let cut = s.send(&s.proxy.url(), &phone, &request).await;
    assert!(cut.is_err(), "the client's connection is closed: {cut:?}");
    assert_eq!(s.dump(), before, "half a request changes nothing");

    let retry = s.sync(&s.proxy.url(), &phone, &request).await;
    assert_eq!(new_changes(&retry), [1]);
    assert_eq!(times_stored(&s.dump(), &doc), [1]);
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_body_cut_short_is_an_error_for_the_client_and_a_retry_is_accepted() {
    let s = setup().await;
    let phone = s.device("PC1", 1).await;
    let doc = new_report(&phone, 1);
    let request = push_all(&[&doc]);

    s.proxy.set_fault(Fault::TruncateResponseBody);
    let response = s
        .send(&s.proxy.url(), &phone, &request)
        .await
        .expect("the status and headers arrive");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await;
    assert!(body.is_err(), "an incomplete body is an error: {body:?}");
    assert_eq!(times_stored(&s.dump(), &doc), [1], "the server committed");

    let retry = s.sync(&s.proxy.url(), &phone, &request).await;
    assert_eq!(new_changes(&retry), [0]);
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_is_answered_by_the_proxy_and_never_reaches_the_server() {
    let s = setup().await;
    let phone = s.device("PC1", 1).await;
    let doc = new_report(&phone, 1);
    let request = push_all(&[&doc]);
    let before = s.dump();

    s.proxy
        .push_faults([Fault::ServiceUnavailable, Fault::ServiceUnavailable]);
    for _ in 0..2 {
        let response = s
            .send(&s.proxy.url(), &phone, &request)
            .await
            .expect("answered");
        assert_eq!(response.status(), 503);
    }
    assert_eq!(s.dump(), before);
    let retry = s.sync(&s.proxy.url(), &phone, &request).await;
    assert_eq!(
        new_changes(&retry),
        [1],
        "the queue is spent: requests pass again"
    );
    assert_eq!(s.proxy.faults_applied(), 2);
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_request_is_forwarded_once_the_delay_has_passed() {
    let s = setup().await;
    let phone = s.device("PC1", 1).await;
    let doc = new_report(&phone, 1);

    s.proxy.set_fault(Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let response = s.sync(&s.proxy.url(), &phone, &push_all(&[&doc])).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(new_changes(&response), [1]);
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_server_restart_on_a_new_port_requests_flow_again_and_the_old_data_is_there() {
    let mut s = setup().await;
    let phone = s.device("PC1", 1).await;
    let tablet = s.device("PC1", 2).await;
    let before_restart = new_report(&phone, 1);
    s.sync(&s.proxy.url(), &phone, &push_all(&[&before_restart]))
        .await;

    s.server.shutdown().await;
    let down = s
        .client
        .get(format!("{}/health", s.proxy.url()))
        .send()
        .await
        .expect("the proxy answers for the stopped server");
    assert_eq!(down.status(), 502);
    s.server = start_server(&s.db).await;

    // Usually a new port; the OS may hand out the old one again, which proves as much.
    s.proxy.set_upstream(s.server.addr());
    let after_restart = new_report(&phone, 2);
    let response = s
        .sync(
            &s.proxy.url(),
            &phone,
            &push_all(&[&before_restart, &after_restart]),
        )
        .await;
    assert_eq!(
        new_changes(&response),
        [0, 1],
        "the old record is already there"
    );

    let pulled = s.sync(&s.proxy.url(), &tablet, &push_all(&[])).await;
    let mut records: Vec<_> = pulled
        .page
        .entries
        .iter()
        .map(|e| match e {
            FeedEntry::Snapshot { record, .. } => *record,
            other => panic!("a record new to the tablet arrives whole: {other:?}"),
        })
        .collect();
    records.sort();
    assert_eq!(records, [record_id(1), record_id(2)]);
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_request_body_is_refused_with_501_rather_than_guessed_at() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = setup().await;
    let mut stream = tokio::net::TcpStream::connect(s.proxy.addr())
        .await
        .expect("connect");
    stream
        .write_all(b"POST /v1/sync HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        .await
        .expect("a request");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .expect("read");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 501"), "{text}");
    assert_eq!(s.proxy.requests_seen(), 0, "never forwarded");
    s.proxy.shutdown().await;
    s.server.shutdown().await;
}
