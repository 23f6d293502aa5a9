//! One officer's reconnect after other officers' work went by: `cargo run --release -p
//! fieldbook-server --example reconnect -- 10000` (figures in `docs/benchmarks.md`, "Reconnect
//! past out-of-scope changes").
//!
//! Starts the server in this process (SQLite in a temp directory, 127.0.0.1, ephemeral port) and
//! enrols two officers' phones. PC1 pushes one crime report and syncs to the end of the feed;
//! PC2 then pushes N changes (crime reports PC1 does not attend, five changes each). PC1 then
//! reconnects from its cursor, pulling pages while the feed says `more`, as `Device::sync` does:
//! the example reports the round trips and the time of the whole reconnect (the client's share
//! on loopback is a fraction of a millisecond), median of seven, from the same cursor each time.

use automerge::{ActorId, Change, ChangeHash};
use fieldbook_core::doc::{ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role, Timestamp};
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, PushOutcome, RecordPush, SyncRequest, SyncResponse,
};
use fieldbook_server::{Admin, ServerConfig};
use std::time::Instant;

const CHANGES_PER_RECORD: usize = 5;
const RECORDS_PER_PUSH: usize = 50;
const ROUNDS: usize = 7;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("a valid time")
}

/// A crime report by `officer` with `changes` changes (its creation and narrative appends).
fn record_push(officer: &OfficerId, actor: &ActorId, changes: usize) -> RecordPush {
    let author = ChangeAuthor {
        by: officer.clone(),
        role: Role::Officer,
    };
    let id = RecordId::generate();
    let mut record = Record::new(RecordKind::CrimeReport, id, officer.clone(), at(0));
    let mut doc = RecordDoc::create(&record, actor, &author, at(0)).expect("document");
    for n in 1..changes {
        if let Record::Crime(c) = &mut record {
            c.narrative.push_str(&format!(" Note {n}: a detail."));
        }
        doc.update(&record, &author, "edit", at(n as i64 * 1_000))
            .expect("update");
    }
    let no_heads: &[ChangeHash] = &[];
    RecordPush {
        record: id,
        kind: RecordKind::CrimeReport,
        changes: doc
            .automerge()
            .get_changes(no_heads)
            .iter()
            .map(|c: &Change| Bytes(c.raw_bytes().to_vec()))
            .collect(),
    }
}

async fn sync(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    cursor: u64,
    push: Vec<RecordPush>,
) -> SyncResponse {
    let request = SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor,
        page_limit: 0,
        push,
    };
    let response = client
        .post(format!("{url}/v1/sync"))
        .header("content-type", wire::CONTENT_TYPE)
        .bearer_auth(token)
        .body(wire::encode(&request))
        .send()
        .await
        .expect("sync");
    assert!(response.status().is_success(), "{}", response.status());
    let answer: SyncResponse =
        wire::decode(&response.bytes().await.expect("body")).expect("a sync response");
    for r in &answer.results {
        assert!(
            matches!(r.outcome, PushOutcome::Accepted { .. }),
            "{:?}",
            r.outcome
        );
    }
    answer
}

/// Pulls every page from `cursor`; returns the final cursor, the round trips and the entries.
async fn pull(client: &reqwest::Client, url: &str, token: &str, cursor: u64) -> (u64, u32, usize) {
    let (mut cursor, mut trips, mut entries) = (cursor, 0, 0);
    loop {
        let page = sync(client, url, token, cursor, Vec::new()).await.page;
        trips += 1;
        entries += page.entries.len();
        cursor = page.cursor;
        if !page.more {
            return (cursor, trips, entries);
        }
    }
}

fn main() {
    let changes: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |a| a.parse().expect("a change count"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::TempDir::new().expect("temp dir");
    let db = dir.path().join("server.db");
    let key = fieldbook_core::storage::DatabaseKey::Raw(rand::random());
    let server = runtime
        .block_on(fieldbook_server::start(ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            &db,
            key.clone(),
        )))
        .expect("server starts");
    let url = server.url();
    let admin = Admin::open(&db, &key).expect("admin");
    let client = reqwest::Client::new();
    let phones: Vec<(OfficerId, ActorId, String)> = ["PC1", "PC2"]
        .iter()
        .map(|id| {
            let officer = OfficerId::new(*id).expect("collar number");
            let code = admin
                .enrol(&officer, "Officer", Role::Officer, Some("A"))
                .expect("code");
            let actor = fieldbook_core::doc::new_actor();
            let request = EnrolRequest {
                protocol: wire::PROTOCOL_VERSION,
                code,
                actors: vec![actor.to_hex_string()],
                label: format!("{id}'s phone"),
            };
            let answer: EnrolResponse = runtime.block_on(async {
                let body = client
                    .post(format!("{url}/v1/enrol"))
                    .header("content-type", wire::CONTENT_TYPE)
                    .body(wire::encode(&request))
                    .send()
                    .await
                    .expect("enrol")
                    .bytes()
                    .await
                    .expect("enrol body");
                wire::decode(&body).expect("enrol response")
            });
            (officer, actor, answer.token)
        })
        .collect();
    let (pc1, pc2) = (&phones[0], &phones[1]);

    let cursor = runtime.block_on(async {
        let own = record_push(&pc1.0, &pc1.1, 1);
        sync(&client, &url, &pc1.2, 0, vec![own]).await;
        pull(&client, &url, &pc1.2, 0).await.0
    });
    let records = changes.div_ceil(CHANGES_PER_RECORD);
    let started = Instant::now();
    runtime.block_on(async {
        let mut pushed = 0;
        while pushed < records {
            let n = RECORDS_PER_PUSH.min(records - pushed);
            let push = (0..n)
                .map(|_| record_push(&pc2.0, &pc2.1, CHANGES_PER_RECORD))
                .collect();
            sync(&client, &url, &pc2.2, u64::MAX >> 1, push).await;
            pushed += n;
            if pushed.is_multiple_of(records.div_ceil(10).max(1)) || pushed == records {
                println!(
                    "  PC2 pushed {} changes ({:.1} s)",
                    pushed * CHANGES_PER_RECORD,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    });

    let mut rounds = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        let started = Instant::now();
        let (end, trips, entries) = runtime.block_on(pull(&client, &url, &pc1.2, cursor));
        let took = started.elapsed();
        assert_eq!(entries, 0, "nothing of PC2's is in PC1's scope");
        println!(
            "  round {round}/{ROUNDS}: {trips} round trips, {:.1} ms, cursor {cursor} -> {end}",
            took.as_secs_f64() * 1e3
        );
        rounds.push((took, trips));
    }
    rounds.sort();
    let (median, trips) = rounds[ROUNDS / 2];
    println!(
        "reconnect past {} out-of-scope changes: {trips} round trips, {:.1} ms (median of {ROUNDS})",
        records * CHANGES_PER_RECORD,
        median.as_secs_f64() * 1e3
    );
    runtime.block_on(server.shutdown());
}
