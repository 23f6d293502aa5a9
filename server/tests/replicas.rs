//! Two servers on one database, as two replicas behind a load balancer: a push whose record
//! another replica committed to between its check and its commit is not written over that
//! commit. The store refuses the stale write (a compare-and-swap on the record's heads), and
//! the server checks the push again on what is stored now. The interleaving is made exact: the
//! first server's store runs the other replica's push just before its own commit.

use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role, Status};
use fieldbook_core::sync::wire::{FeedEntry, Hash, PushOutcome};
use fieldbook_server::store::{
    ChangeBody, ChangeOrigin, CommitBatch, DeviceAuth, DeviceRow, EnrolOutcome, FeedRow, Holding,
    NewDevice, OfficerChange, OfficerDetails, RecordFacts, StoreError, StoredDocument,
};
use fieldbook_server::{Officer, ServerConfig, ServerStore, SqliteStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;
use support::*;

type Hook = Box<dyn FnOnce() + Send>;

/// A store that runs `before_commit` once, just before its next commit (another replica
/// committing in the window between this server's check and its commit).
struct Interleaved {
    inner: SqliteStore,
    before_commit: Mutex<Option<Hook>>,
}

impl std::fmt::Debug for Interleaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interleaved")
    }
}

impl ServerStore for Interleaved {
    fn facts_of(
        &self,
        records: &[RecordId],
    ) -> Result<std::collections::HashMap<RecordId, Arc<RecordFacts>>, StoreError> {
        self.inner.facts_of(records)
    }
    fn scoped_feed_rows(
        &self,
        scope: &fieldbook_server::store::FeedScope,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<fieldbook_server::store::FeedRow>, StoreError> {
        self.inner.scoped_feed_rows(scope, after, upto, limit)
    }
    fn check_integrity(&self) -> Result<(), StoreError> {
        self.inner.check_integrity()
    }
    fn commit_many(&self, batches: &[CommitBatch<'_>]) -> Result<Vec<Vec<u64>>, StoreError> {
        let hook = self.before_commit.lock().expect("hook").take();
        if let Some(hook) = hook {
            hook();
        }
        self.inner.commit_many(batches)
    }
    fn create_code(&self, o: &OfficerId, h: [u8; 32], e: i64) -> Result<bool, StoreError> {
        self.inner.create_code(o, h, e)
    }
    fn officer(&self, id: &OfficerId) -> Result<Option<Officer>, StoreError> {
        self.inner.officer(id)
    }
    fn officers(&self) -> Result<Vec<Officer>, StoreError> {
        self.inner.officers()
    }
    fn create_officer(&self, o: &Officer, by: &str, at: i64) -> Result<bool, StoreError> {
        self.inner.create_officer(o, by, at)
    }
    fn update_officer(
        &self,
        id: &OfficerId,
        d: &OfficerDetails,
        by: &str,
        at: i64,
    ) -> Result<Option<Vec<OfficerChange>>, StoreError> {
        self.inner.update_officer(id, d, by, at)
    }
    fn officer_history(&self, id: &OfficerId) -> Result<Vec<OfficerChange>, StoreError> {
        self.inner.officer_history(id)
    }
    fn enrol(&self, h: [u8; 32], now: i64, d: &NewDevice) -> Result<EnrolOutcome, StoreError> {
        self.inner.enrol(h, now, d)
    }
    fn revoke(&self, device_id: &str) -> Result<bool, StoreError> {
        self.inner.revoke(device_id)
    }
    fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        self.inner.devices()
    }
    fn device_by_token(&self, h: [u8; 32]) -> Result<Option<DeviceAuth>, StoreError> {
        self.inner.device_by_token(h)
    }
    fn load_document(&self, r: RecordId) -> Result<Option<StoredDocument>, StoreError> {
        self.inner.load_document(r)
    }
    fn max_seq(&self) -> Result<u64, StoreError> {
        self.inner.max_seq()
    }
    fn feed_rows(&self, after: u64, upto: u64, limit: usize) -> Result<Vec<FeedRow>, StoreError> {
        self.inner.feed_rows(after, upto, limit)
    }
    fn change_bodies(&self, seqs: &[u64]) -> Result<Vec<ChangeBody>, StoreError> {
        self.inner.change_bodies(seqs)
    }
    fn facts(&self, r: RecordId) -> Result<Option<Arc<RecordFacts>>, StoreError> {
        self.inner.facts(r)
    }
    fn linking_to(&self, r: RecordId) -> Result<Vec<RecordId>, StoreError> {
        self.inner.linking_to(r)
    }
    fn team_records(&self, t: &str, s: &[Status]) -> Result<Vec<Arc<RecordFacts>>, StoreError> {
        self.inner.team_records(t, s)
    }
    fn receipts(&self, r: RecordId, upto: u64) -> Result<Vec<(Vec<u8>, i64)>, StoreError> {
        self.inner.receipts(r, upto)
    }
    fn change_origins(&self, r: RecordId) -> Result<Vec<ChangeOrigin>, StoreError> {
        self.inner.change_origins(r)
    }
    fn holding(&self, d: &str, r: RecordId) -> Result<Option<Holding>, StoreError> {
        self.inner.holding(d, r)
    }
    fn holdings(&self, d: &str, r: &[RecordId]) -> Result<HashMap<RecordId, Holding>, StoreError> {
        self.inner.holdings(d, r)
    }
    fn set_holdings(&self, d: &str, h: &[(RecordId, Holding)]) -> Result<(), StoreError> {
        self.inner.set_holdings(d, h)
    }
    fn dump(&self) -> Result<serde_json::Value, StoreError> {
        self.inner.dump()
    }
    fn ready(&self) -> Result<(), StoreError> {
        self.inner.ready()
    }
}

fn accepted_heads(outcome: &PushOutcome) -> Vec<Hash> {
    match outcome {
        PushOutcome::Accepted { heads, .. } => heads.clone(),
        other => panic!("expected the push accepted, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_committed_by_another_replica_first_is_kept_and_the_later_one_checked_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("server.db");
    let config = || ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &db, key());
    let store = Arc::new(Interleaved {
        inner: SqliteStore::open(&db, &key()).expect("opens"),
        before_commit: Mutex::new(None),
    });
    let first = Fixture {
        server: fieldbook_server::start_with_store(config(), store.clone())
            .await
            .expect("first replica"),
        db: db.clone(),
        client: reqwest::Client::new(),
        _dir: dir,
    };
    let second = fieldbook_server::start(config())
        .await
        .expect("second replica");

    // Two devices of one officer hold the same record, and each edits it.
    let x = first.device("PC1", Role::Officer, Some("T1")).await;
    let y = first.device("PC1", Role::Officer, Some("T1")).await;
    let mut doc_x = new_doc(&x, RecordKind::CrimeReport, |_| {});
    let pushed = first.sync(&x, 0, 100, vec![push_of(&doc_x, &[])]).await;
    assert!(matches!(
        pushed.results[0].outcome,
        PushOutcome::Accepted { .. }
    ));
    let base = doc_x.heads();
    let mut doc_y = RecordDoc::load(&doc_x.save(), &y.actor).expect("y's copy");
    edit_narrative(&mut doc_x, &x, "Seen by X.", 10);
    edit_narrative(&mut doc_y, &y, "Seen by Y.", 11);
    let y_change: Vec<Hash> = heads_of(&doc_y);

    // Y's push reaches the second replica while X's is between its check and its commit on
    // the first.
    let y_push = push_of(&doc_y, &base);
    let url = format!("{}/v1/sync", second.url());
    let token = y.token.clone();
    let runtime = tokio::runtime::Handle::current();
    *store.before_commit.lock().expect("hook") = Some(Box::new(move || {
        let body = fieldbook_core::sync::wire::encode(&fieldbook_core::sync::wire::SyncRequest {
            protocol: fieldbook_core::sync::wire::PROTOCOL_VERSION,
            cursor: 0,
            page_limit: 100,
            push: vec![y_push],
        });
        let status = runtime.block_on(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("content-type", fieldbook_core::sync::wire::CONTENT_TYPE)
                .body(body)
                .timeout(Duration::from_secs(20))
                .send()
                .await
                .expect("the second replica answers")
                .status()
        });
        assert_eq!(status, 200, "the second replica accepts Y's push");
    }));
    let answer = first.sync(&x, 0, 100, vec![push_of(&doc_x, &base)]).await;
    let heads = accepted_heads(&answer.results[0].outcome);
    assert!(
        y_change.iter().all(|h| heads.contains(h)),
        "X's push was checked again on Y's commit: the heads hold both edits"
    );
    assert_eq!(heads.len(), 2, "two concurrent edits, two heads: {heads:?}");

    // Whichever replica a third device asks, the record holds both edits.
    let z = first.device("PC1", Role::Officer, Some("T1")).await;
    let second = Fixture {
        server: second,
        db,
        client: reqwest::Client::new(),
        _dir: tempfile::tempdir().expect("temp dir"),
    };
    for replica in [&first, &second] {
        let (entries, _) = replica.pull_all(&z, 0, 100).await;
        let mut served = automerge::Automerge::new();
        for entry in entries {
            match entry {
                FeedEntry::Snapshot { document, .. } => {
                    let mut doc = automerge::Automerge::load(&document.0).expect("a document");
                    served.merge(&mut doc).expect("merges");
                }
                FeedEntry::Changes { changes, .. } => {
                    for c in changes {
                        let change = automerge::Change::from_bytes(c.bytes.0).expect("a change");
                        served.apply_changes([change]).expect("applies");
                    }
                }
                FeedEntry::Evict { .. } => {}
            }
        }
        let mut served_heads: Vec<Hash> = served.get_heads().into_iter().map(Hash::from).collect();
        served_heads.sort();
        let mut expected = heads.clone();
        expected.sort();
        assert_eq!(
            served_heads,
            expected,
            "{}: both edits are served",
            replica.server.url()
        );
    }
    let (_, metrics) = first.get("/metrics", None, "text/plain").await;
    let metrics = String::from_utf8(metrics).expect("text");
    assert!(
        metrics.contains("fieldbook_commits_moved_total 1"),
        "the first replica counted the moved commit: {metrics}"
    );
    second.server.shutdown().await;
    first.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_serves_what_another_replica_committed_not_the_copy_it_cached() {
    use fieldbook_core::domain::Record;
    use fieldbook_core::workflow;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("server.db");
    let config = || ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &db, key());
    let replica = |server| Fixture {
        server,
        db: db.clone(),
        client: reqwest::Client::new(),
        _dir: tempfile::tempdir().expect("temp dir"),
    };
    let first = replica(fieldbook_server::start(config()).await.expect("first"));
    let second = replica(fieldbook_server::start(config()).await.expect("second"));
    let pc1 = first.device("PC1", Role::Officer, Some("A")).await;
    let sgt = first.device("SGT1", Role::Supervisor, Some("A")).await;

    // A draft pushed through the first replica, which caches the document it stored.
    let mut issue = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |r| {
        if let Record::Issue(i) = r {
            i.reported_at = Some(t(1_000));
            i.narrative = "Music from the flats.".to_owned();
        }
    });
    push_accepted(&first, &pc1, vec![push_of(&issue, &[])]).await;
    assert!(
        first.review_queue(&sgt).await.items.is_empty(),
        "a draft waits for no one"
    );

    // Submitted through the second replica.
    let base = change_as(&mut issue, &pc1, 2_000, |r| {
        workflow::submit(r, &pc1.user, &[], t(2_000)).expect("submit")
    });
    push_accepted(&second, &pc1, vec![push_of(&issue, &base)]).await;

    // The sergeant asks the first replica: the submission is there, as submitted.
    for replica in [&first, &second] {
        let queue = replica.review_queue(&sgt).await;
        let items: Vec<(RecordId, Status)> = queue.items.iter().map(|i| (i.id, i.status)).collect();
        assert_eq!(
            items,
            vec![(id_of(&issue), Status::Submitted)],
            "{}",
            replica.server.url()
        );
        assert!(queue.items[0].submitted_at.is_some());
    }
    second.server.shutdown().await;
    first.server.shutdown().await;
}
