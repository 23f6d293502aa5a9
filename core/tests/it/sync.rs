//! The device side of sync on real encrypted SQLite files, driven by hand-built server
//! responses (the state machine is sans-I/O), with documents made by a second device through
//! the public API. One test drives `Device::enrol` and `Device::sync` against a fixed HTTP
//! responder on 127.0.0.1 to show a revoked device keeps its work.

use automerge::{Automerge, ChangeHash, ReadDoc};
use fieldbook_core::clock::FixedClock;
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role, Timestamp};
use fieldbook_core::sync::wire::{
    self, Bytes, ErrorBody, FeedEntry, FeedPage, Hash, PushOutcome, PushResult, ReceivedChange,
    SyncResponse,
};
use fieldbook_core::sync::{NoProgress, SyncProgress};
use fieldbook_core::testing::devices::{
    KEY, RECEIVED, assert_projection_matches_document, changes_entry, clock, device_at, doc_of,
    hashes, page, push_and_accept, set, snapshot_entry,
};
use fieldbook_core::{Device, Error};
use std::path::Path;
use std::sync::Arc;

fn device(path: &Path) -> Device {
    device_at(path, "PC1", Role::Officer, clock())
}

/// Two devices of one officer (a phone and a tablet), each with its own store.
fn two_devices() -> (tempfile::TempDir, Device, Device) {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = device(&dir.path().join("a.fbk"));
    let b = device(&dir.path().join("b.fbk"));
    (dir, a, b)
}

#[test]
fn the_outbox_holds_exactly_the_changes_the_server_has_not_acknowledged() {
    let (_dir, mut a, _b) = two_devices();
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(&mut a, id, &["narrative=Window smashed."]);

    let mut session = a.begin_sync().expect("session");
    let request = session.next_request().expect("a request");
    assert_eq!(request.cursor, 0);
    assert_eq!(request.push.len(), 1);
    let pushed: Vec<ChangeHash> = request.push[0]
        .changes
        .iter()
        .map(|c| {
            automerge::Change::from_bytes(c.0.clone())
                .expect("a change")
                .hash()
        })
        .collect();
    let all: Vec<ChangeHash> = doc_of(&mut a, id)
        .get_changes(&[])
        .iter()
        .map(|c| c.hash())
        .collect();
    assert_eq!(pushed, all, "every change, dependencies first");
    assert_eq!(a.sync_status().expect("status").unsynced, 1);
}

#[test]
fn after_accepted_the_outbox_is_empty_and_a_later_edit_sends_exactly_one_change() {
    let (_dir, mut a, _b) = two_devices();
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(&mut a, id, &["narrative=Window smashed."]);
    assert_eq!(push_and_accept(&mut a), 2);
    assert_eq!(a.sync_status().expect("status").unsynced, 0);
    assert_eq!(a.receipts(id).expect("receipts").len(), 2);

    let mut session = a.begin_sync().expect("session");
    assert!(session.next_request().expect("a pull").push.is_empty());

    set(&mut a, id, &["narrative+= Nobody hurt."]);
    assert_eq!(a.sync_status().expect("status").unsynced, 1);
    assert_eq!(push_and_accept(&mut a), 1, "only the new change");
}

#[test]
fn a_changes_page_applies_to_the_document_and_the_projection_follows_it() {
    let (_dir, mut a, mut b) = two_devices();
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    push_and_accept(&mut a);
    b.import_document(&a.export_document(id).expect("export"))
        .expect("import");
    let a_heads = doc_of(&mut a, id).get_heads();
    set(&mut b, id, &["classification=8N", "narrative=Seen by B."]);

    let mut session = a.begin_sync().expect("session");
    session.next_request().expect("a pull");
    a.apply_sync_response(
        &mut session,
        page(
            vec![changes_entry(&mut b, id, RecordKind::CrimeReport, &a_heads)],
            5,
        ),
    )
    .expect("applies");

    let record = a.get(id).expect("get");
    assert_eq!(
        record.to_json()["narrative"],
        serde_json::json!("Seen by B.")
    );
    assert_eq!(
        a.projection(id)
            .expect("projection")
            .classification
            .as_deref(),
        Some("8N")
    );
    assert_projection_matches_document(&mut a, id);
    let status = a.sync_status().expect("status");
    assert_eq!(
        (status.cursor, status.unsynced),
        (5, 0),
        "the server holds it all"
    );
    assert_eq!(a.receipts(id).expect("receipts").len(), 1 + 1);
}

#[test]
fn a_snapshot_of_a_new_record_creates_it_with_its_projection_and_receipts() {
    let (_dir, mut a, mut b) = two_devices();
    let id = b.create(RecordKind::StopSearch, None).expect("create").id();
    set(&mut b, id, &["object_of_search=stolen property"]);

    let mut session = a.begin_sync().expect("session");
    session.next_request().expect("a pull");
    a.apply_sync_response(
        &mut session,
        page(vec![snapshot_entry(&mut b, id, RecordKind::StopSearch)], 9),
    )
    .expect("applies");

    assert_eq!(a.get(id).expect("get"), b.get(id).expect("get"));
    assert_projection_matches_document(&mut a, id);
    assert_eq!(a.receipts(id).expect("receipts").len(), 2);
    assert_eq!(a.sync_status().expect("status").unsynced, 0);
}

#[test]
fn evict_deletes_a_synced_record_and_keeps_one_with_unsynced_work() {
    let (_dir, mut a, _b) = two_devices();
    let synced = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    let edited = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    push_and_accept(&mut a);
    set(&mut a, edited, &["narrative=Added offline."]);

    let mut session = a.begin_sync().expect("session");
    session.next_request().expect("a request");
    let tally = a
        .apply_sync_response(
            &mut session,
            page(
                vec![
                    FeedEntry::Evict { record: synced },
                    FeedEntry::Evict { record: edited },
                ],
                3,
            ),
        )
        .expect("applies");
    assert_eq!((tally.evictions, tally.evictions_kept), (1, 1));
    assert!(matches!(a.get(synced), Err(Error::NotFound(_))));
    assert_eq!(
        a.get(edited).expect("kept").to_json()["narrative"],
        serde_json::json!("Added offline.")
    );
    assert_eq!(a.sync_status().expect("status").unsynced, 1);
}

#[test]
fn a_rejected_record_needs_attention_and_keeps_its_changes_in_the_outbox() {
    let (_dir, mut a, _b) = two_devices();
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    let mut session = a.begin_sync().expect("session");
    let request = session.next_request().expect("a request");
    let response = SyncResponse {
        results: vec![PushResult {
            record: id,
            outcome: PushOutcome::Rejected {
                rule: "actor-not-bound".into(),
                message: "enrol this device again".into(),
                change: None,
                field: Some("meta".into()),
            },
        }],
        page: FeedPage {
            entries: Vec::new(),
            cursor: request.cursor,
            more: false,
        },
    };
    let tally = a
        .apply_sync_response(&mut session, response)
        .expect("applies");
    assert_eq!(tally.rejected, vec![(id, wire::RefusalCode::ActorNotBound)]);

    let status = a.sync_status().expect("status");
    assert_eq!(status.unsynced, 1);
    assert_eq!(status.attention.len(), 1);
    assert_eq!(
        (
            status.attention[0].id,
            status.attention[0].rule.as_str(),
            status.attention[0].field.as_deref()
        ),
        (id, "actor-not-bound", Some("meta"))
    );
    a.get(id).expect("kept");
    let mut again = a.begin_sync().expect("session");
    assert_eq!(again.next_request().expect("a request").push.len(), 1);
}

#[test]
fn applying_the_same_page_twice_is_harmless() {
    let (_dir, mut a, mut b) = two_devices();
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    push_and_accept(&mut a);
    b.import_document(&a.export_document(id).expect("export"))
        .expect("import");
    let a_heads = doc_of(&mut a, id).get_heads();
    set(&mut b, id, &["narrative=Once."]);
    let entries = vec![
        changes_entry(&mut b, id, RecordKind::CrimeReport, &a_heads),
        snapshot_entry(&mut b, id, RecordKind::CrimeReport),
    ];

    for _ in 0..2 {
        let mut session = a.begin_sync().expect("session");
        session.next_request().expect("a pull");
        a.apply_sync_response(&mut session, page(entries.clone(), 4))
            .expect("applies");
    }
    assert_eq!(a.get(id).expect("get"), b.get(id).expect("get"));
    assert_eq!(
        doc_of(&mut a, id).get_heads(),
        doc_of(&mut b, id).get_heads()
    );
    assert_projection_matches_document(&mut a, id);
    assert_eq!(a.sync_status().expect("status").unsynced, 0);
}

#[test]
fn an_entry_that_does_not_load_is_held_back_and_the_rest_of_its_page_applies_with_the_cursor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a.fbk");
    let mut a = device(&path);
    let mut b = device(&dir.path().join("b.fbk"));
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    push_and_accept(&mut a);
    b.import_document(&a.export_document(id).expect("export"))
        .expect("import");
    let a_heads = doc_of(&mut a, id).get_heads();
    set(&mut b, id, &["narrative=Lands despite the broken entry."]);
    let broken_id = RecordId::generate();

    let mut session = a.begin_sync().expect("session");
    session.next_request().expect("a pull");
    let broken = page(
        vec![
            FeedEntry::Snapshot {
                record: broken_id,
                kind: RecordKind::Person,
                document: Bytes(b"not an automerge document".to_vec()),
                heads: Vec::new(),
                receipts: Vec::new(),
            },
            changes_entry(&mut b, id, RecordKind::CrimeReport, &a_heads),
        ],
        77,
    );
    let tally = a
        .apply_sync_response(&mut session, broken)
        .expect("one broken entry does not refuse the page");
    assert_eq!((tally.changes, tally.held_back), (1, 1));

    drop(a);
    let mut reopened = Device::open(
        &path,
        &KEY,
        Arc::new(FixedClock::new(
            Timestamp::parse("2026-11-22T22:00:00Z").expect("valid"),
        )),
    )
    .expect("open");
    assert_eq!(reopened.get(id).expect("get"), b.get(id).expect("get"));
    assert!(matches!(reopened.get(broken_id), Err(Error::NotFound(_))));
    let status = reopened.sync_status().expect("status");
    assert_eq!((status.cursor, status.held_back), (77, 1));
    let held = reopened.held_back().expect("held back");
    assert_eq!(
        held.iter()
            .map(|h| (h.record, h.kind, h.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![(broken_id, RecordKind::Person, "not-a-document")]
    );
}

/// `n` new crime reports on `device`.
fn create_reports(device: &mut Device, n: usize) -> Vec<RecordId> {
    (0..n)
        .map(|_| {
            device
                .create(RecordKind::CrimeReport, None)
                .expect("create")
                .id()
        })
        .collect()
}

/// The outbox is loaded a cache's worth at a time: an outbox longer than that lists every
/// record, each with exactly its changes.
#[test]
fn an_outbox_longer_than_the_cache_lists_every_record_with_its_changes() {
    let (_dir, mut a, _b) = two_devices();
    let ids = create_reports(&mut a, 150);
    let mut session = a.begin_sync().expect("session");
    let request = session.next_request().expect("a request");
    let mut pushed: Vec<RecordId> = request.push.iter().map(|p| p.record).collect();
    pushed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(pushed, expected);
    assert!(request.push.iter().all(|p| p.changes.len() == 1));
}

/// A page of many records is applied record by record in parallel: what is held back, what
/// lands and the tally are as if each entry had been applied in page order.
#[test]
fn a_page_of_many_records_with_broken_entries_among_them_holds_back_exactly_those_in_page_order() {
    let (_dir, mut a, mut b) = two_devices();
    let ids = create_reports(&mut a, 24);
    push_and_accept(&mut a);
    let mut entries = Vec::new();
    let mut broken = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        b.import_document(&a.export_document(*id).expect("export"))
            .expect("import");
        let since = doc_of(&mut a, *id).get_heads();
        set(&mut b, *id, &[&format!("narrative=Edited elsewhere {n}.")]);
        entries.push(changes_entry(&mut b, *id, RecordKind::CrimeReport, &since));
        if n % 7 == 3 {
            // A record the page says is new, whose bytes are not a document.
            let stranger = RecordId::generate();
            broken.push(stranger);
            entries.push(FeedEntry::Snapshot {
                record: stranger,
                kind: RecordKind::Person,
                document: Bytes(format!("not a document {n}").into_bytes()),
                heads: Vec::new(),
                receipts: Vec::new(),
            });
        }
    }
    // One record with two entries in the page (applied in order, on the calling thread).
    let twice = ids[0];
    entries.push(snapshot_entry(&mut b, twice, RecordKind::CrimeReport));

    let mut session = a.begin_sync().expect("session");
    session.next_request().expect("a pull");
    let tally = a
        .apply_sync_response(&mut session, page(entries, 9))
        .expect("applies");
    assert_eq!(
        (tally.changes, tally.snapshots, tally.held_back),
        (24, 1, broken.len() as u32)
    );
    for id in &ids {
        assert_eq!(a.get(*id).expect("get"), b.get(*id).expect("get"));
        assert_projection_matches_document(&mut a, *id);
    }
    let held: Vec<RecordId> = a
        .held_back()
        .expect("held back")
        .iter()
        .map(|h| h.record)
        .collect();
    assert_eq!(held, broken, "held back as they came in the page");
}

#[test]
fn sync_without_enrolment_is_not_enrolled_and_its_future_is_send() {
    let (_dir, mut a, _b) = two_devices();
    fn assert_send<T: Send>(_: &T) {}
    let progress = NoProgress;
    let progress: &dyn SyncProgress = &progress;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let future = a.sync(progress);
    assert_send(&future);
    let result = runtime.block_on(future);
    assert!(matches!(result, Err(Error::NotEnrolled)), "{result:?}");
}

/// Answers each connection with the next fixed response, then stops.
async fn responder(responses: Vec<(u16, Vec<u8>)>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        for (status, body) in responses {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let Ok(n) = socket.read(&mut chunk).await else {
                    return;
                };
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_lowercase();
                let done = text.find("\r\n\r\n").is_some_and(|end| {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    buf.len() >= end + 4 + length
                });
                if n == 0 || done {
                    break;
                }
            }
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
            let _ = socket.shutdown().await;
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_revoked_device_keeps_its_unsynced_work_and_its_status_says_so() {
    let (_dir, mut a, _b) = two_devices();
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let enrolled = wire::encode(&wire::EnrolResponse {
            device_id: "dev-1".into(),
            token: "tok".into(),
            officer: OfficerId::new("PC1").expect("id"),
            role: Role::Officer,
            team: Some("North".into()),
        });
        let revoked = wire::encode(&ErrorBody {
            code: "device-revoked".into(),
            message: "revoked".into(),
        });
        let server = responder(vec![(200, enrolled), (401, revoked)]).await;
        let enrolment = a
            .enrol(&server, "CODE-1", "test phone")
            .await
            .expect("enrols");
        assert_eq!(
            (enrolment.device_id.as_str(), enrolment.team.as_deref()),
            ("dev-1", Some("North"))
        );
        let err = a.sync(&NoProgress).await.expect_err("revoked");
        assert!(matches!(err, Error::DeviceRevoked), "{err:?}");
    });
    a.get(id).expect("the record stays");
    let status = a.sync_status().expect("status");
    assert_eq!(status.unsynced, 1);
    assert_eq!(status.last_error.as_deref(), Some("device-revoked"));
    assert_eq!(status.device_id.as_deref(), Some("dev-1"));
}

// ---------------------------------------------------------------------------------------------
// A whole sync against a small in-test server that speaks the protocol
// ---------------------------------------------------------------------------------------------

/// The least server that keeps the protocol: one automerge document per record, a feed of
/// accepted changes with sequence numbers, pages of at most `PAGE` changes, no echo of a
/// device's own changes, a snapshot for a record new to a device. No policy, no scope.
#[derive(Default)]
struct MiniServer {
    docs: std::collections::HashMap<RecordId, (RecordKind, Automerge)>,
    /// (record, change bytes, token of the pushing device); the feed position is index + 1.
    feed: Vec<(RecordId, Vec<u8>, String)>,
    /// Records each device holds.
    held: std::collections::HashMap<String, std::collections::HashSet<RecordId>>,
}

const PAGE: usize = 2;

impl MiniServer {
    fn handle(&mut self, path: &str, token: &str, body: &[u8]) -> (u16, Vec<u8>) {
        match path {
            "/v1/enrol" => {
                let request: wire::EnrolRequest = wire::decode(body).expect("enrol request");
                let answer = wire::EnrolResponse {
                    device_id: format!("device-{}", request.code),
                    token: request.code,
                    officer: OfficerId::new("PC1").expect("id"),
                    role: Role::Officer,
                    team: None,
                };
                (200, wire::encode(&answer))
            }
            "/v1/sync" => {
                let request: wire::SyncRequest = wire::decode(body).expect("sync request");
                let results = request
                    .push
                    .iter()
                    .map(|push| self.accept(push, token))
                    .collect();
                let page = self.page(token, request.cursor);
                (200, wire::encode(&SyncResponse { results, page }))
            }
            "/v1/repair" => {
                use automerge::sync::{Message, State, SyncDoc};
                let request: wire::RepairRequest = wire::decode(body).expect("repair request");
                let (_, doc) = self
                    .docs
                    .entry(request.record)
                    .or_insert_with(|| (request.kind, Automerge::new()));
                let mut state = State::new();
                let message = Message::decode(&request.message.0).expect("a sync message");
                doc.receive_sync_message(&mut state, message)
                    .expect("applies");
                let answer = wire::RepairResponse {
                    message: doc
                        .generate_sync_message(&mut state)
                        .map(|m| Bytes(m.encode())),
                    heads: hashes(&doc.get_heads()),
                    rejected: None,
                };
                (200, wire::encode(&answer))
            }
            _ => (
                404,
                wire::encode(&ErrorBody {
                    code: "not-found".into(),
                    message: path.into(),
                }),
            ),
        }
    }

    fn accept(&mut self, push: &wire::RecordPush, token: &str) -> PushResult {
        let (_, doc) = self
            .docs
            .entry(push.record)
            .or_insert_with(|| (push.kind, Automerge::new()));
        let mut known: std::collections::HashSet<ChangeHash> = std::collections::HashSet::new();
        let mut missing = Vec::new();
        for change in &push.changes {
            let change = automerge::Change::from_bytes(change.0.clone()).expect("a change");
            for dep in change.deps() {
                if !known.contains(dep) && doc.get_change_by_hash(dep).is_none() {
                    missing.push(Hash::from(*dep));
                }
            }
            known.insert(change.hash());
        }
        if !missing.is_empty() {
            return PushResult {
                record: push.record,
                outcome: PushOutcome::MissingDependencies { missing },
            };
        }
        let mut new_changes = 0;
        for change in &push.changes {
            let hash = automerge::Change::from_bytes(change.0.clone())
                .expect("a change")
                .hash();
            if doc.get_change_by_hash(&hash).is_none() {
                doc.load_incremental(&change.0).expect("applies");
                self.feed
                    .push((push.record, change.0.clone(), token.to_owned()));
                new_changes += 1;
            }
        }
        self.held
            .entry(token.to_owned())
            .or_default()
            .insert(push.record);
        PushResult {
            record: push.record,
            outcome: PushOutcome::Accepted {
                heads: hashes(&doc.get_heads()),
                received_at: RECEIVED,
                new_changes,
            },
        }
    }

    fn page(&mut self, token: &str, cursor: u64) -> FeedPage {
        let start = usize::try_from(cursor).expect("small");
        let end = (start + PAGE).min(self.feed.len());
        let mut entries: Vec<FeedEntry> = Vec::new();
        for (record, bytes, pusher) in &self.feed[start..end] {
            if pusher == token {
                continue;
            }
            let (kind, doc) = &self.docs[record];
            let held = self.held.entry(token.to_owned()).or_default();
            if held.insert(*record) {
                entries.push(FeedEntry::Snapshot {
                    record: *record,
                    kind: *kind,
                    document: Bytes(doc.save()),
                    heads: hashes(&doc.get_heads()),
                    receipts: Vec::new(),
                });
            } else if !matches!(entries.last(), Some(FeedEntry::Snapshot { record: r, .. }) if r == record)
            {
                entries.push(FeedEntry::Changes {
                    record: *record,
                    kind: *kind,
                    changes: vec![ReceivedChange {
                        bytes: Bytes(bytes.clone()),
                        received_at: RECEIVED,
                    }],
                    heads: hashes(&doc.get_heads()),
                });
            }
        }
        FeedPage {
            entries,
            cursor: end as u64,
            more: end < self.feed.len(),
        }
    }
}

/// Serves `server` on 127.0.0.1 until the runtime ends, one request per connection.
async fn serve(server: Arc<std::sync::Mutex<MiniServer>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            let (head, body) = loop {
                let Ok(n) = socket.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let length = head
                    .to_lowercase()
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    break (head, buf[end + 4..end + 4 + length].to_vec());
                }
            };
            let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
            let token = head
                .lines()
                .find_map(|l| {
                    let lower = l.to_lowercase();
                    lower
                        .starts_with("authorization:")
                        .then(|| l.rsplit(' ').next().unwrap_or("").trim().to_owned())
                })
                .unwrap_or_default();
            let (status, answer) = server
                .lock()
                .expect("not poisoned")
                .handle(&path, &token, &body);
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                answer.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.write_all(&answer).await;
            let _ = socket.shutdown().await;
        }
    });
    format!("http://{addr}")
}

#[test]
fn two_devices_converge_through_a_server_over_several_pages() {
    let (_dir, mut a, mut b) = two_devices();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = Arc::new(std::sync::Mutex::new(MiniServer::default()));
    let ids: Vec<RecordId> = (0..3)
        .map(|i| {
            let id = a
                .create(RecordKind::CrimeReport, None)
                .expect("create")
                .id();
            set(&mut a, id, &[&format!("narrative=Report {i}.")]);
            id
        })
        .collect();

    let (first_a, first_b, second_b, second_a) = runtime.block_on(async {
        let url = serve(server.clone()).await;
        a.enrol(&url, "A", "phone").await.expect("enrol a");
        b.enrol(&url, "B", "tablet").await.expect("enrol b");
        let first_a = a.sync(&NoProgress).await.expect("a syncs");
        let first_b = b.sync(&NoProgress).await.expect("b syncs");
        // B edits one record; A receives the change, not a snapshot.
        set(&mut b, ids[1], &["classification=8N"]);
        let second_b = b.sync(&NoProgress).await.expect("b syncs again");
        let second_a = a.sync(&NoProgress).await.expect("a syncs again");
        (first_a, first_b, second_b, second_a)
    });

    assert_eq!(
        (
            first_a.pushed_records,
            first_a.pushed_changes,
            first_a.accepted
        ),
        (3, 6, 3)
    );
    assert!(
        first_b.pages >= 3,
        "six changes in pages of two: {first_b:?}"
    );
    assert_eq!(first_b.pulled_snapshots, 3);
    assert_eq!((second_b.pushed_changes, second_b.accepted), (1, 1));
    assert_eq!((second_a.pulled_changes, second_a.pulled_snapshots), (1, 0));
    for id in &ids {
        assert_eq!(a.get(*id).expect("a"), b.get(*id).expect("b"));
        assert_projection_matches_document(&mut a, *id);
        assert_projection_matches_document(&mut b, *id);
    }
    for device in [&a, &b] {
        let status = device.sync_status().expect("status");
        assert_eq!((status.unsynced, status.last_error), (0, None));
        assert_eq!(status.cursor, 7);
        assert!(status.last_sync_at.is_some());
    }
}

#[test]
fn a_server_restored_from_backup_gets_the_missing_history_by_repair() {
    let (_dir, mut a, _b) = two_devices();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = Arc::new(std::sync::Mutex::new(MiniServer::default()));
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    let report = runtime.block_on(async {
        let url = serve(server.clone()).await;
        a.enrol(&url, "A", "phone").await.expect("enrol");
        a.sync(&NoProgress).await.expect("first sync");
        // The server loses the record (restored from an older backup); the device edits on.
        server.lock().expect("not poisoned").docs.clear();
        set(&mut a, id, &["narrative=After the backup."]);
        a.sync(&NoProgress).await.expect("second sync")
    });
    assert_eq!(
        (report.accepted, report.repairs, report.repairs_failed),
        (0, 1, 0)
    );
    let server_heads = server.lock().expect("not poisoned").docs[&id].1.get_heads();
    assert_eq!(server_heads, doc_of(&mut a, id).get_heads());
    assert_eq!(a.sync_status().expect("status").unsynced, 0);
}
