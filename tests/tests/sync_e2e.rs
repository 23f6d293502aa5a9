//! Sync end to end: a real `fieldbook-server` on 127.0.0.1:0, real HTTP, devices with real
//! encrypted SQLite stores enrolled through the protocol (`fieldbook_scenarios::fleet`). What
//! the server holds is read from its database, never through the protocol under test.
//!
//! `FIELDBOOK_SEED=N` replays the randomised scenarios.

use fieldbook_core::Error;
use fieldbook_core::domain::{Record, RecordId, RecordKind, Role, Status};
use fieldbook_core::storage::{DatabaseKey, RecordQuery};
use fieldbook_core::sync::NoProgress;
use fieldbook_core::{Device, clock::SystemClock};
use fieldbook_scenarios::fleet::{
    FAST_RETRY, Fleet, Member, assert_no_duplicates, changes_per_record, doc_heads, heads_of,
    is_quiet, sync_until_quiet,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn seed() -> u64 {
    std::env::var("FIELDBOOK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_5EED)
}

fn set(member: &mut Member, id: RecordId, fields: &[&str]) -> Record {
    let owned: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
    member
        .device
        .set_fields(id, &owned)
        .unwrap_or_else(|e| panic!("set {fields:?} on {id}: {e}"))
}

async fn sync(member: &mut Member) -> fieldbook_core::sync::SyncReport {
    member
        .device
        .sync(&NoProgress)
        .await
        .unwrap_or_else(|e| panic!("sync of device {}: {e}", member.device_id))
}

fn holds(member: &Member, id: RecordId) -> bool {
    match member.device.projection(id) {
        Ok(_) => true,
        Err(Error::NotFound(_)) => false,
        Err(e) => panic!("projection of {id}: {e}"),
    }
}

fn narrative(member: &mut Member, id: RecordId) -> String {
    match member.device.get(id).expect("record") {
        Record::Crime(c) => c.narrative,
        other => panic!("expected a crime report, got a {}", other.kind()),
    }
}

/// Asserts the device's replica of `id` is the server's: same heads, same record.
fn assert_same_as_server(fleet: &Fleet, member: &mut Member, id: RecordId, context: &str) {
    let server = fleet
        .server_document(id)
        .unwrap_or_else(|| panic!("{context}: the server lacks {id}"));
    assert_eq!(
        heads_of(&mut member.device, id),
        doc_heads(&server),
        "{context}: device {} and the server disagree on the heads of {id}",
        member.device_id
    );
    assert_eq!(
        member.device.get(id).expect("record").to_json(),
        server.hydrate().expect("server record").to_json(),
        "{context}: device {} and the server hold different records for {id}",
        member.device_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_officers_editing_one_report_offline_converge_with_both_narratives_and_an_outcome_conflict()
 {
    let mut fleet = Fleet::start().await;
    let mut pc1 = fleet.enrol("PC1", Role::Officer, Some("A")).await;
    let mut pc2 = fleet.enrol("PC2", Role::Officer, Some("A")).await;
    let mut pc1_tablet = fleet.enrol("PC1", Role::Officer, Some("A")).await;

    let id = pc1
        .device
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(
        &mut pc1,
        id,
        &[
            r#"attending_officers=["PC2"]"#,
            "narrative=Called to a disturbance.",
        ],
    );
    sync(&mut pc1).await;
    sync(&mut pc2).await;
    assert!(holds(&pc2, id), "the attending officer receives the report");

    // Both offline.
    set(&mut pc1, id, &["narrative+= PC1 spoke to the victim."]);
    set(&mut pc1, id, &["location.description=Market Square"]);
    set(&mut pc1, id, &["outcome=1"]);
    set(
        &mut pc2,
        id,
        &["narrative+= PC2 took the witness statement."],
    );
    set(&mut pc2, id, &["classification=8N"]);
    set(&mut pc2, id, &["outcome=16"]);

    sync_until_quiet(&mut [&mut pc1, &mut pc2, &mut pc1_tablet]).await;

    for member in [&mut pc1, &mut pc2, &mut pc1_tablet] {
        assert_same_as_server(&fleet, member, id, "after both synced");
        let text = narrative(member, id);
        assert!(
            text.contains("PC1 spoke to the victim.")
                && text.contains("PC2 took the witness statement."),
            "both additions are kept: {text:?}"
        );
    }
    for member in [&mut pc1, &mut pc2] {
        let conflicts = member.device.conflicts(id).expect("conflicts");
        assert!(
            conflicts.iter().any(|c| c.field == "outcome"),
            "the outcome is a conflict for a person to resolve: {:?}",
            conflicts.iter().map(|c| &c.field).collect::<Vec<_>>()
        );
    }
    let record = pc2.device.get(id).expect("record");
    let Record::Crime(report) = record else {
        panic!("a crime report")
    };
    assert_eq!(
        report.location.and_then(|l| l.description).as_deref(),
        Some("Market Square")
    );
    assert!(
        report.classification.is_some(),
        "PC2's classification is kept"
    );
    let changes = fleet.server_changes();
    assert_no_duplicates(&changes);
    // create, attending+narrative, three edits each.
    assert_eq!(changes.len(), 8, "every change reached the server once");
}

/// SplitMix64: reproducible from the seed, no dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

/// Officers, devices each, rounds of edits, edits per device per round.
const OFFICERS: usize = 10;
const DEVICES_PER_OFFICER: usize = 5;
const ROUNDS: usize = 4;
const EDITS_PER_ROUND: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_devices_editing_shared_reports_in_random_order_converge_and_lose_no_change() {
    let seed = seed();
    let context = format!("FIELDBOOK_SEED={seed}");
    let started = Instant::now();
    let mut rng = SplitMix(seed);
    let mut fleet = Fleet::start().await;
    let officers: Vec<String> = (1..=OFFICERS).map(|n| format!("PC{n}")).collect();
    let mut members: Vec<(usize, Member)> = Vec::new();
    for (o, officer) in officers.iter().enumerate() {
        for _ in 0..DEVICES_PER_OFFICER {
            members.push((o, fleet.enrol(officer, Role::Officer, Some("A")).await));
        }
    }
    for (_, m) in &mut members {
        m.device.set_retry_policy(FAST_RETRY);
    }
    let mut made = 0usize;
    let mut word = 0u64;
    for round in 0..ROUNDS {
        for (o, m) in &mut members {
            for _ in 0..EDITS_PER_ROUND {
                word += 1;
                let held: Vec<RecordId> = m
                    .device
                    .list(&RecordQuery::default())
                    .expect("list")
                    .into_iter()
                    .map(|p| p.id)
                    .collect();
                if held.is_empty() || rng.below(4) == 0 {
                    // A new report attended by two other officers.
                    let a = (*o + 1 + rng.index(OFFICERS - 1)) % OFFICERS;
                    let b = (*o + 1 + rng.index(OFFICERS - 1)) % OFFICERS;
                    let attending = format!(
                        r#"attending_officers=["{}","{}"]"#,
                        officers[a], officers[b]
                    );
                    let id = m
                        .device
                        .create(RecordKind::CrimeReport, None)
                        .expect("create")
                        .id();
                    set(m, id, &[&attending, &format!("narrative=w{word}")]);
                    made += 2;
                } else {
                    let id = held[rng.index(held.len())];
                    let before = heads_of(&mut m.device, id);
                    let edit = match rng.below(3) {
                        0 => format!("location.description=street {}", rng.below(5)),
                        _ => format!("narrative+= w{word}"),
                    };
                    set(m, id, &[&edit]);
                    if heads_of(&mut m.device, id) != before {
                        made += 1;
                    }
                }
            }
        }
        // A random half of the devices sync, in random order.
        let mut order: Vec<usize> = (0..members.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.index(i + 1));
        }
        for &i in order.iter().take(members.len() / 2) {
            let m = &mut members[i].1;
            m.device
                .sync(&NoProgress)
                .await
                .unwrap_or_else(|e| panic!("{context}: round {round}: sync: {e}"));
        }
    }
    let mut all: Vec<&mut Member> = members.iter_mut().map(|(_, m)| m).collect();
    sync_until_quiet(&mut all).await;

    let changes = fleet.server_changes();
    assert_no_duplicates(&changes);
    assert_eq!(
        changes.len(),
        made,
        "{context}: the server holds exactly the changes the devices made"
    );
    let per_record = changes_per_record(&changes);
    let synced_at = started.elapsed();
    // The server's replica of each record, read once: heads, record, who may hold it.
    let server: Vec<(RecordId, String, serde_json::Value, Vec<String>)> = per_record
        .keys()
        .map(|&id| {
            let doc = fleet.server_document(id).expect("server document");
            let Record::Crime(report) = doc.hydrate().expect("record") else {
                panic!("a crime report")
            };
            let mut holders: Vec<String> = report
                .attending_officers
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect();
            holders.push(report.meta.author.as_str().to_owned());
            (
                id,
                doc_heads(&doc),
                Record::Crime(report).to_json(),
                holders,
            )
        })
        .collect();
    let mut replicas = 0;
    for (o, m) in &mut members {
        let officer = officers[*o].as_str();
        for (id, heads, json, holders) in &server {
            let in_scope = holders.iter().any(|h| h == officer);
            assert_eq!(
                holds(m, *id),
                in_scope,
                "{context}: device {} of {officer} holds {id} only when in scope",
                m.device_id
            );
            if in_scope {
                assert_eq!(
                    &heads_of(&mut m.device, *id),
                    heads,
                    "{context}: device {} and the server disagree on the heads of {id}",
                    m.device_id
                );
                assert_eq!(
                    &m.device.get(*id).expect("record").to_json(),
                    json,
                    "{context}: device {} and the server hold different records for {id}",
                    m.device_id
                );
                replicas += 1;
            }
        }
    }
    eprintln!(
        "{} devices, {} records, {made} changes, {replicas} replicas compared; synced in {:.1} s, \
         compared in {:.1} s",
        members.len(),
        per_record.len(),
        synced_at.as_secs_f64(),
        (started.elapsed() - synced_at).as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_keeps_its_unsynced_work_and_the_server_takes_nothing_more_from_it() {
    let mut fleet = Fleet::start().await;
    let mut pc1 = fleet.enrol("PC1", Role::Officer, None).await;
    let synced = pc1
        .device
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    sync(&mut pc1).await;
    let before = fleet.server_changes();

    set(&mut pc1, synced, &["narrative=after revocation"]);
    let offline = pc1
        .device
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    let count = pc1.device.count().expect("count");
    fleet.admin().revoke(&pc1.device_id).expect("revoke");

    match pc1.device.sync(&NoProgress).await {
        Err(Error::DeviceRevoked) => {}
        other => panic!("expected DeviceRevoked, got {other:?}"),
    }
    assert_eq!(
        pc1.device.count().expect("count"),
        count,
        "nothing is deleted"
    );
    let status = pc1.device.sync_status().expect("status");
    assert_eq!(status.unsynced, 2, "both records still hold unsynced work");
    assert_eq!(status.last_error.as_deref(), Some("device-revoked"));
    assert_eq!(narrative(&mut pc1, synced), "after revocation");
    assert_eq!(
        fleet.server_changes(),
        before,
        "the server stored nothing from the revoked device"
    );
    assert!(fleet.server_document(offline).is_none());
}

/// A PCSO's neighbourhood issue, filled in so it passes the rules.
fn valid_issue(pcso: &mut Member, place: &str) -> RecordId {
    let id = pcso
        .device
        .create(RecordKind::NeighbourhoodIssue, None)
        .expect("create issue")
        .id();
    let now = pcso.device.now().to_rfc3339();
    set(
        pcso,
        id,
        &[
            "asb_type=noise",
            "qualifier=nuisance",
            &format!("location.description={place}"),
            "anonymous_reporter=true",
            &format!("reported_at={now}"),
        ],
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_reviews_only_their_teams_submissions_and_an_approved_one_leaves_their_device()
{
    let mut fleet = Fleet::start().await;
    let mut pcso_a = fleet.enrol("PCSO7", Role::Pcso, Some("A")).await;
    let mut pcso_b = fleet.enrol("PCSO8", Role::Pcso, Some("B")).await;
    let mut sgt_a = fleet.enrol("PS1", Role::Supervisor, Some("A")).await;
    let mut pc1 = fleet.enrol("PC1", Role::Officer, Some("A")).await;
    let mut pc2 = fleet.enrol("PC2", Role::Officer, Some("A")).await;

    let issue_a = valid_issue(&mut pcso_a, "Park gates");
    pcso_a.device.submit(issue_a).expect("submit A");
    let draft_a = valid_issue(&mut pcso_a, "Bus station");
    let issue_b = valid_issue(&mut pcso_b, "Canal path");
    pcso_b.device.submit(issue_b).expect("submit B");
    let crime = pc1
        .device
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    sync_until_quiet(&mut [&mut pcso_a, &mut pcso_b, &mut pc1, &mut pc2, &mut sgt_a]).await;

    assert!(
        holds(&sgt_a, issue_a),
        "team A's submission is in A's queue"
    );
    assert!(
        !holds(&sgt_a, draft_a),
        "a draft is not in the review queue"
    );
    assert!(!holds(&sgt_a, issue_b), "team B's submission is not");
    assert!(
        !holds(&pc2, crime),
        "an officer never receives another's report"
    );
    assert!(!holds(&pc2, issue_a) && !holds(&pc1, issue_a));
    assert_eq!(pc2.device.count().expect("count"), 0);

    sgt_a.device.approve(issue_a).expect("approve");
    assert_eq!(sgt_a.device.sync_status().expect("status").unsynced, 1);
    let mut syncs = 0;
    while holds(&sgt_a, issue_a) {
        assert!(syncs < 2, "the approved issue is evicted by the next sync");
        sync(&mut sgt_a).await;
        syncs += 1;
    }
    assert_eq!(sgt_a.device.sync_status().expect("status").unsynced, 0);
    let server = fleet.server_document(issue_a).expect("server document");
    assert_eq!(
        fieldbook_core::workflow::status(&server.hydrate().expect("record").meta().workflow),
        Status::Approved,
        "the approval reached the server before the issue was evicted"
    );
    sync(&mut pcso_a).await;
    assert_eq!(
        pcso_a.device.status(issue_a).expect("status"),
        Status::Approved
    );
    assert_same_as_server(&fleet, &mut pcso_a, issue_a, "the author after approval");
}

/// Times the server is killed while the phone syncs.
const KILL_TRIALS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_push_and_restarted_on_its_database_loses_nothing() {
    let seed = seed();
    let mut rng = SplitMix(seed);
    let mut fleet = Fleet::start().await;
    let mut phone = fleet.enrol("PC1", Role::Officer, None).await;
    let mut tablet = fleet.enrol("PC1", Role::Officer, None).await;
    phone.device.set_retry_policy(FAST_RETRY);
    tablet.device.set_retry_policy(FAST_RETRY);
    let mut made = 0;
    let mut ids = Vec::new();
    let (mut lost_after_commit, mut before_commit, mut finished) = (0, 0, 0);
    for trial in 0..KILL_TRIALS {
        for n in 0..40 {
            if ids.is_empty() || rng.below(3) == 0 {
                let id = phone
                    .device
                    .create(RecordKind::CrimeReport, None)
                    .expect("create")
                    .id();
                ids.push(id);
                made += 1;
            }
            let id = ids[rng.index(ids.len())];
            set(&mut phone, id, &[&format!("narrative+= t{trial}n{n}")]);
            made += 1;
        }
        let delay = Duration::from_micros(rng.below(40_000));
        let stored_before = fleet.server_changes().len();
        let (outcome, ()) = tokio::join!(phone.device.sync(&NoProgress), async {
            tokio::time::sleep(delay).await;
            fleet.kill_server();
        });
        let committed = fleet.server_changes().len() > stored_before;
        match (&outcome, committed) {
            (Err(_), true) => lost_after_commit += 1,
            (Err(_), false) => before_commit += 1,
            (Ok(_), _) => finished += 1,
        }
        fleet.start_server().await;
        let url = fleet.url();
        phone.device.set_sync_server(&url).expect("new address");
        tablet.device.set_sync_server(&url).expect("new address");
    }
    eprintln!(
        "{KILL_TRIALS} kills: {lost_after_commit} after the server committed the push, \
         {before_commit} before, {finished} after the sync finished"
    );
    sync_until_quiet(&mut [&mut phone, &mut tablet]).await;
    let changes = fleet.server_changes();
    assert_no_duplicates(&changes);
    assert_eq!(
        changes.len(),
        made,
        "FIELDBOOK_SEED={seed}: every change reached the server once"
    );
    for id in ids {
        assert_same_as_server(&fleet, &mut phone, id, "phone");
        assert_same_as_server(&fleet, &mut tablet, id, "tablet");
    }
}

const SYNCER_TRIALS: u64 = 20;
const MARKERS_PER_TRIAL: u64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_killed_mid_sync_keeps_every_acknowledged_save_and_the_server_gets_each_once() {
    let seed = seed();
    let mut rng = SplitMix(seed);
    let mut fleet = Fleet::start().await;
    let member = fleet.enrol("PC1", Role::Officer, None).await;
    let (path, key) = (member.path.clone(), member.key);
    drop(member);
    let mut markers: BTreeMap<RecordId, Vec<String>> = BTreeMap::new();
    let (mut saves, mut syncs, mut mid_sync) = (0, 0, 0);
    for trial in 0..SYNCER_TRIALS {
        let context = format!("trial {trial} (FIELDBOOK_SEED={seed})");
        let mut child = Command::new(env!("CARGO_BIN_EXE_fieldbook-syncer"))
            .arg(&path)
            .arg(hex::encode(key))
            .arg(fleet.url())
            .arg((trial * MARKERS_PER_TRIAL).to_string())
            .arg((seed ^ trial).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fieldbook-syncer");
        let stdout = child.stdout.take().expect("stdout");
        let (first, first_seen) = mpsc::channel();
        let reader = std::thread::spawn(move || read_syncer(stdout, first));
        if first_seen.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("{context}: the syncer acknowledged nothing; stderr:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        if let Some(status) = child.try_wait().expect("poll") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("{context}: the syncer stopped ({status}) before it was killed:\n{err}");
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        assert_eq!(status.signal(), Some(9), "{context}");
        let Syncer {
            acknowledged,
            syncs: finished,
            in_sync,
        } = reader.join().expect("reader");
        saves += acknowledged.len();
        syncs += finished;
        mid_sync += usize::from(in_sync);
        let touched: BTreeSet<RecordId> = acknowledged.iter().map(|(id, _)| *id).collect();
        for (id, marker) in acknowledged {
            markers.entry(id).or_default().push(marker);
        }

        let mut device = Device::open(&path, &DatabaseKey::Raw(key), Arc::new(SystemClock))
            .unwrap_or_else(|e| panic!("{context}: the store does not open: {e}"));
        device.check_integrity().expect("integrity");
        device.set_retry_policy(FAST_RETRY);
        assert_markers(&mut device, &markers, Some(&touched), &context);
        let report = device.sync(&NoProgress).await.expect("sync after the kill");
        assert!(
            report.rejected.is_empty(),
            "{context}: {:?}",
            report.rejected
        );
        assert_eq!(device.sync_status().expect("status").unsynced, 0);
        for id in &touched {
            let server = fleet
                .server_document(*id)
                .expect("the server holds the record");
            let Record::Crime(c) = server.hydrate().expect("record") else {
                panic!("a crime report")
            };
            for m in &markers[id] {
                assert!(
                    c.narrative.split_whitespace().any(|w| w == m),
                    "{context}: the server lacks acknowledged marker {m} of {id}"
                );
            }
        }
    }
    let mut device =
        Device::open(&path, &DatabaseKey::Raw(key), Arc::new(SystemClock)).expect("store opens");
    let report = device.sync(&NoProgress).await.expect("final sync");
    assert!(is_quiet(&report), "nothing left to move: {report:?}");
    assert_markers(&mut device, &markers, None, "at the end");
    let changes = fleet.server_changes();
    assert_no_duplicates(&changes);
    let per_record = changes_per_record(&changes);
    let mut local = 0;
    for (&id, &count) in &per_record {
        let doc = automerge::Automerge::load(&device.export_document(id).expect("export"))
            .expect("loads");
        let held = doc.get_changes(&[]).len();
        assert_eq!(
            held, count,
            "record {id}: the server holds each change of the device once"
        );
        local += held;
    }
    assert_eq!(changes.len(), local);
    eprintln!(
        "{SYNCER_TRIALS} kills ({mid_sync} mid-sync), {saves} acknowledged saves, {syncs} finished \
         syncs, {} records, {} changes",
        per_record.len(),
        changes.len()
    );
}

/// What one killed syncer printed.
#[derive(Debug, Default)]
struct Syncer {
    /// Acknowledged saves.
    acknowledged: Vec<(RecordId, String)>,
    /// Finished syncs.
    syncs: usize,
    /// The last line said a sync had started and none said it finished: killed mid-sync.
    in_sync: bool,
}

/// Reads the syncer's stdout to the end: acknowledged saves and the number of finished syncs.
fn read_syncer(stdout: impl Read, first: mpsc::Sender<()>) -> Syncer {
    let mut run = Syncer::default();
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read stdout");
        if n == 0 || !line.ends_with('\n') {
            return run;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["saved", id, marker] => {
                run.acknowledged
                    .push((id.parse().expect("record id"), (*marker).to_owned()));
                if run.acknowledged.len() == 1 {
                    let _ = first.send(());
                }
                run.in_sync = false;
            }
            ["syncing"] => run.in_sync = true,
            ["synced"] => {
                run.syncs += 1;
                run.in_sync = false;
            }
            _ => panic!("unexpected syncer line {line:?}"),
        }
    }
}

fn assert_markers(
    device: &mut Device,
    markers: &BTreeMap<RecordId, Vec<String>>,
    only: Option<&BTreeSet<RecordId>>,
    context: &str,
) {
    for (id, expected) in markers
        .iter()
        .filter(|(id, _)| only.is_none_or(|s| s.contains(*id)))
    {
        let Record::Crime(c) = device
            .get(*id)
            .unwrap_or_else(|e| panic!("{context}: acknowledged record {id}: {e}"))
        else {
            panic!("a crime report")
        };
        let words: BTreeSet<&str> = c.narrative.split_whitespace().collect();
        let lost: Vec<&String> = expected
            .iter()
            .filter(|m| !words.contains(m.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "{context}: record {id} lost acknowledged markers {lost:?}"
        );
    }
}
