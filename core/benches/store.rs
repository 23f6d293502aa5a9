//! Storage benchmarks: `cargo bench -p fieldbook-core --bench store` (see `docs/benchmarks.md`).
//!
//! - `durable_save/device_set_fields`: one `Device::set_fields` on a full crime report (a
//!   narrative append and three other fields), durable on return, against
//!   `durable_save/raw_sqlite_commit`: one single-row commit on a bare SQLCipher connection with
//!   the store's pragmas (raw key, WAL, `synchronous=FULL`). Before criterion runs, the same two
//!   loops are timed call by call (1,000 each) and p50/p99/max are printed, since criterion
//!   reports means.
//! - `feed_apply` (printed, not a criterion group): applying one feed page of 500 changes with
//!   `Device::apply_sync_response`, every entry checked as `sync::held_back` checks it, in one
//!   transaction: 500 records with one change each, one record with 500 changes, and 500
//!   records received whole (snapshots) by an empty device, as a replacement phone's first pull.
//! - `store_100k/{open,my_drafts,overdue_decisions}` on a store of 100,000 records, built once
//!   through the core's own document and projection code and cached under the target directory
//!   (`tmp/fieldbook-store-100k/`; delete it to rebuild). Peak memory of a process that opens it
//!   and runs the queues is measured by `cargo run --release -p fieldbook-core --example
//!   open_rss -- STORE`.

use criterion::{Criterion, criterion_group};
use fieldbook_core::Device;
use fieldbook_core::clock::FixedClock;
use fieldbook_core::doc::{self, ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{
    Classification, Coded, Location, OfficerId, PersonName, Record, RecordId, RecordKind,
    RecordingDecision, RecordingDecisionKind, Role, Timestamp, WorkflowAction, WorkflowEvent,
};
use fieldbook_core::projection;
use fieldbook_core::storage::{DatabaseKey, DocumentSave, Store};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The benchmark stores' raw key (also in `examples/open_rss.rs`).
const KEY: [u8; 32] = [0x5A; 32];
/// "Now" on the benchmark device's clock: 2026-06-01T12:00:00Z (also in `examples/open_rss.rs`).
const NOW_MS: i64 = 1_780_315_200_000;
const HOUR_MS: i64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Records in the large store, of which the user's own drafts (created through `Device`).
const LARGE_RECORDS: usize = 100_000;
const LARGE_USER_DRAFTS: usize = 300;
/// Every this many generated records, a crime report is left without a recording decision and
/// long past its due time: 50 overdue decisions in 100,000 records.
const OVERDUE_EVERY: usize = 2_000;
/// Generated records written per transaction (as a sync page would apply them).
const BUILD_BATCH: usize = 1_000;

/// Saves timed one by one for the latency figures.
const LATENCY_SAVES: usize = 1_000;
/// A benchmark report is edited this many times, then a fresh one is created (a report gets
/// tens to hundreds of edits, not thousands; the narrative limit is 64 KB).
const EDITS_PER_REPORT: usize = 500;

fn key() -> DatabaseKey {
    DatabaseKey::Raw(KEY)
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).expect("a time within range")
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(at(NOW_MS)))
}

// ---------------------------------------------------------------------------------------------
// Durable save
// ---------------------------------------------------------------------------------------------

/// A device on a fresh store, editing full crime reports.
struct DeviceSaver {
    device: Device,
    report: RecordId,
    edits: usize,
    _dir: tempfile::TempDir,
}

impl DeviceSaver {
    fn new() -> DeviceSaver {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let mut device = Device::init(
            &dir.path().join("store.db"),
            &key(),
            OfficerId::new("PC1").expect("collar"),
            Role::Officer,
            clock(),
        )
        .expect("init");
        let report = full_crime_report(&mut device);
        DeviceSaver {
            device,
            report,
            edits: 0,
            _dir: dir,
        }
    }

    /// One durable save: a narrative append and three other fields, as one change.
    fn save(&mut self, n: usize) {
        if self.edits == EDITS_PER_REPORT {
            self.report = full_crime_report(&mut self.device);
            self.edits = 0;
        }
        self.edits += 1;
        let assignments = [
            format!("narrative+= Officer noted detail {n}."),
            format!("location.description=Outside number {n}, High Street"),
            format!("location.lat=51.{:04}", n % 10_000),
            format!("flags.repeat_victim={}", n.is_multiple_of(2)),
        ];
        self.device
            .set_fields(self.report, &assignments)
            .expect("set_fields");
    }
}

fn full_crime_report(device: &mut Device) -> RecordId {
    let mut fields = fieldbook_core::testing::crime_report_fields("Outside the station");
    fields["reported_at"] =
        serde_json::json!(Timestamp::from_millis(NOW_MS - HOUR_MS).map(|t| t.to_rfc3339()));
    device
        .create(RecordKind::CrimeReport, Some(fields))
        .expect("create")
        .id()
}

/// A bare SQLCipher connection with the store's pragmas, committing one row per call.
struct RawCommitter {
    conn: rusqlite::Connection,
    body: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl RawCommitter {
    #[allow(clippy::disallowed_methods)] // the baseline is SQLite without core::storage, on purpose
    fn new() -> RawCommitter {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let conn = rusqlite::Connection::open(dir.path().join("raw.db")).expect("open");
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(KEY)))
            .expect("key");
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .expect("wal");
        assert_eq!(mode, "wal");
        conn.pragma_update(None, "synchronous", "FULL")
            .expect("synchronous");
        conn.execute_batch(
            "CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID",
        )
        .expect("table");
        RawCommitter {
            conn,
            // About the size of one incremental automerge chunk of the device save.
            body: vec![0xA5; 512],
            _dir: dir,
        }
    }

    /// One commit of one row overwriting one of 1,000 rows (autocommit): the file stops
    /// growing, the cheapest durable commit there is.
    fn commit(&mut self, n: usize) {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO rows (id, body) VALUES (?1, ?2)")
            .expect("prepare")
            .execute(rusqlite::params![(n % 1_000) as i64, self.body])
            .expect("commit");
    }

    /// One commit of one new row (autocommit): the store grows with every commit, as it does
    /// with every device save (each appends a document chunk).
    fn append(&mut self, n: usize) {
        self.conn
            .prepare_cached("INSERT INTO rows (id, body) VALUES (?1, ?2)")
            .expect("prepare")
            .execute(rusqlite::params![1_000_000 + n as i64, self.body])
            .expect("commit");
    }
}

fn durable_save(c: &mut Criterion) {
    let mut g = c.benchmark_group("durable_save");
    let mut device = DeviceSaver::new();
    let mut n = 0;
    g.bench_function("device_set_fields", |b| {
        b.iter(|| {
            n += 1;
            device.save(n);
        })
    });
    let mut raw = RawCommitter::new();
    g.bench_function("raw_sqlite_commit", |b| {
        b.iter(|| {
            n += 1;
            raw.commit(n);
        })
    });
    let mut raw = RawCommitter::new();
    g.bench_function("raw_sqlite_append", |b| {
        b.iter(|| {
            n += 1;
            raw.append(n);
        })
    });
    g.finish();
}

/// Times each save on its own and prints the distribution: criterion reports means only.
fn save_latency_report() {
    println!("durable save latency, {LATENCY_SAVES} calls each, timed one by one:");
    let mut device = DeviceSaver::new();
    let device_times = timed(|n| device.save(n));
    let mut raw = RawCommitter::new();
    let raw_times = timed(|n| raw.commit(n));
    let mut appender = RawCommitter::new();
    let append_times = timed(|n| appender.append(n));
    let (d, r, a) = (
        Summary::of(device_times),
        Summary::of(raw_times),
        Summary::of(append_times),
    );
    println!("  device set_fields:          {d}");
    println!("  raw commit, overwrite row:  {r}");
    println!("  raw commit, append row:     {a}");
    for (name, base) in [("overwrite", &r), ("append", &a)] {
        println!(
            "  device save rate / raw {name} rate: {:.2}x (by mean), {:.2}x (by median)",
            base.mean.as_secs_f64() / d.mean.as_secs_f64(),
            base.p50.as_secs_f64() / d.p50.as_secs_f64(),
        );
    }
}

fn timed(mut f: impl FnMut(usize)) -> Vec<Duration> {
    // A few untimed calls first: statement caches, the first WAL frames.
    (0..20).for_each(&mut f);
    (20..20 + LATENCY_SAVES)
        .map(|n| {
            let started = Instant::now();
            f(n);
            started.elapsed()
        })
        .collect()
}

struct Summary {
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    fn of(mut times: Vec<Duration>) -> Summary {
        times.sort();
        let pick = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        Summary {
            mean: times.iter().sum::<Duration>() / times.len() as u32,
            p50: pick(0.50),
            p99: pick(0.99),
            max: times[times.len() - 1],
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            ms(self.mean),
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Applying the feed
// ---------------------------------------------------------------------------------------------

/// Changes in one benchmark feed page (the protocol's default page).
const FEED_PAGE_CHANGES: usize = 500;

fn device_at(dir: &Path, name: &str) -> Device {
    Device::init(
        &dir.join(name),
        &key(),
        OfficerId::new("PC1").expect("collar"),
        Role::Officer,
        clock(),
    )
    .expect("init")
}

/// The changes `from` made to `id` after `since`, as a feed entry.
fn feed_entry(
    from: &mut Device,
    id: RecordId,
    since: &[automerge::ChangeHash],
) -> fieldbook_core::sync::wire::FeedEntry {
    use fieldbook_core::sync::wire::{Bytes, FeedEntry, Hash, ReceivedChange};
    let doc =
        automerge::Automerge::load(&from.export_document(id).expect("export")).expect("loads");
    FeedEntry::Changes {
        record: id,
        kind: RecordKind::CrimeReport,
        changes: doc
            .get_changes(since)
            .iter()
            .map(|c| ReceivedChange {
                bytes: Bytes(c.raw_bytes().to_vec()),
                received_at: NOW_MS,
            })
            .collect(),
        heads: doc.get_heads().into_iter().map(Hash::from).collect(),
    }
}

/// Applies one page of `entries` to `device`, as a sync pull does; returns the time taken and
/// what it did.
fn apply_page(
    device: &mut Device,
    entries: Vec<fieldbook_core::sync::wire::FeedEntry>,
) -> (Duration, fieldbook_core::sync::client::ResponseTally) {
    use fieldbook_core::sync::wire::{FeedPage, SyncResponse};
    let mut session = device.begin_sync().expect("session");
    session.next_request().expect("a pull");
    let response = SyncResponse {
        results: Vec::new(),
        page: FeedPage {
            entries,
            cursor: 1,
            more: false,
        },
    };
    let started = Instant::now();
    let tally = device
        .apply_sync_response(&mut session, response)
        .expect("applies");
    (started.elapsed(), tally)
}

/// [`apply_page`] of a page of changes: every one of its [`FEED_PAGE_CHANGES`] changes applies.
fn apply_changes_page(
    device: &mut Device,
    entries: Vec<fieldbook_core::sync::wire::FeedEntry>,
) -> Duration {
    let (took, tally) = apply_page(device, entries);
    assert_eq!(
        (tally.changes as usize, tally.held_back),
        (FEED_PAGE_CHANGES, 0)
    );
    took
}

/// Times a page of 500 single-change entries (500 records held) and a page of 500 changes of
/// one record, as a sync pull applies them.
fn feed_apply_report() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mut author = device_at(dir.path(), "author.db");
    let mut receiver = device_at(dir.path(), "receiver.db");
    let ids: Vec<RecordId> = (0..FEED_PAGE_CHANGES)
        .map(|_| full_crime_report(&mut author))
        .collect();
    for id in &ids {
        receiver
            .import_document(&author.export_document(*id).expect("export"))
            .expect("import");
    }
    let heads = |d: &mut Device, id: RecordId| {
        automerge::Automerge::load(&d.export_document(id).expect("export"))
            .expect("loads")
            .get_heads()
    };
    let before: Vec<_> = ids.iter().map(|id| heads(&mut author, *id)).collect();
    for (n, id) in ids.iter().enumerate() {
        author
            .set_fields(*id, &[format!("narrative+= Further detail {n}.")])
            .expect("edit");
    }
    let entries = ids
        .iter()
        .zip(&before)
        .map(|(id, since)| feed_entry(&mut author, *id, since))
        .collect();
    // What touching 500 records costs before anything is applied: loading each document (the
    // cache holds 64), on a freshly opened device.
    drop(receiver);
    let receiver_path = dir.path().join("receiver.db");
    let mut loader = Device::open(&receiver_path, &key(), clock()).expect("open");
    let started = Instant::now();
    for id in &ids {
        loader.get(*id).expect("loads");
    }
    let loading = started.elapsed();
    drop(loader);
    let mut receiver = Device::open(&receiver_path, &key(), clock()).expect("open");
    let many = apply_changes_page(&mut receiver, entries);

    let one = ids[0];
    let since = heads(&mut author, one);
    for n in 0..FEED_PAGE_CHANGES {
        author
            .set_fields(one, &[format!("narrative+= More {n}.")])
            .expect("edit");
    }
    let entry = feed_entry(&mut author, one, &since);
    let deep = apply_changes_page(&mut receiver, vec![entry]);
    // A replacement phone's first pull: the same 500 records received whole, as snapshots.
    let snapshots = ids
        .iter()
        .map(|id| {
            use fieldbook_core::sync::wire::{Bytes, FeedEntry, Hash, Receipt};
            let bytes = author.export_document(*id).expect("export");
            let doc = automerge::Automerge::load(&bytes).expect("loads");
            FeedEntry::Snapshot {
                record: *id,
                kind: RecordKind::CrimeReport,
                receipts: doc
                    .get_changes(&[])
                    .iter()
                    .map(|c| Receipt {
                        hash: Hash::from(c.hash()),
                        received_at: NOW_MS,
                    })
                    .collect(),
                heads: doc.get_heads().into_iter().map(Hash::from).collect(),
                document: Bytes(bytes),
            }
        })
        .collect();
    let mut fresh = device_at(dir.path(), "replacement.db");
    let (whole, tally) = apply_page(&mut fresh, snapshots);
    assert_eq!(
        (tally.snapshots as usize, tally.held_back),
        (FEED_PAGE_CHANGES, 0)
    );
    let per = |d: Duration| d.as_secs_f64() * 1e6 / FEED_PAGE_CHANGES as f64;
    println!("applying one feed page of {FEED_PAGE_CHANGES} changes, checked entry by entry:");
    println!(
        "  {FEED_PAGE_CHANGES} records, one change each: {:.1} ms ({:.0} us a change)",
        many.as_secs_f64() * 1e3,
        per(many)
    );
    println!(
        "    of which loading the {FEED_PAGE_CHANGES} stored documents alone: {:.1} ms",
        loading.as_secs_f64() * 1e3
    );
    println!(
        "  one record, {FEED_PAGE_CHANGES} changes:     {:.1} ms ({:.0} us a change)",
        deep.as_secs_f64() * 1e3,
        per(deep)
    );
    println!(
        "  {FEED_PAGE_CHANGES} records received whole (a new phone's first pull): {:.1} ms ({:.0} us a record)",
        whole.as_secs_f64() * 1e3,
        per(whole)
    );
}

// ---------------------------------------------------------------------------------------------
// 100,000 records
// ---------------------------------------------------------------------------------------------

/// The cached large store, built on first use.
fn large_store() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fieldbook-store-100k");
    let path = dir.join("store.db");
    let complete = dir.join("complete");
    if complete.exists() {
        return path;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("store dir");
    let started = Instant::now();
    build_large_store(&path);
    let took = started.elapsed();
    println!(
        "built the {LARGE_RECORDS}-record store in {:.1} s",
        took.as_secs_f64()
    );
    std::fs::write(&complete, format!("built in {:.1} s\n", took.as_secs_f64())).expect("marker");
    path
}

/// The user's drafts through `Device::create`; everyone else's records (and the user's older,
/// submitted ones) as documents made by the core's `RecordDoc`, projected by `projection::derive`
/// and written by `Store::save_many` in pages of [`BUILD_BATCH`], as a sync would store them.
fn build_large_store(path: &Path) {
    let mut device = Device::init(
        path,
        &key(),
        OfficerId::new("PC1").expect("collar"),
        Role::Officer,
        clock(),
    )
    .expect("init");
    for i in 0..LARGE_USER_DRAFTS {
        let kind = [
            RecordKind::CrimeReport,
            RecordKind::StopSearch,
            RecordKind::NeighbourhoodIssue,
        ][i % 3];
        let fields = match kind {
            RecordKind::CrimeReport => serde_json::json!({ "narrative": format!("Draft {i}.") }),
            RecordKind::StopSearch => serde_json::json!({ "grounds": format!("Draft {i}.") }),
            _ => serde_json::json!({ "narrative": format!("Draft {i}.") }),
        };
        device.create(kind, Some(fields)).expect("create draft");
    }
    drop(device);

    let mut store = Store::open(path, &key(), false).expect("open store");
    let mut actors = HashMap::new();
    let generated = LARGE_RECORDS - LARGE_USER_DRAFTS;
    let mut last_crime = None;
    let mut page = Vec::with_capacity(BUILD_BATCH);
    for i in 0..generated {
        let save = generated_record(i, generated, &mut actors, &mut last_crime);
        page.push(save);
        if page.len() == BUILD_BATCH || i + 1 == generated {
            store.save_many(&page).expect("save page");
            page.clear();
        }
        if (i + 1) % 10_000 == 0 {
            println!("  {} of {generated} records written", i + 1);
        }
    }
}

/// Record `i` of `n`: 40% crime reports, 25% people, 15% needs assessments, 10% stop-searches,
/// 10% neighbourhood issues, by 200 officers over the past year (oldest first); 85% approved,
/// 10% submitted, 5% other officers' drafts; every crime report has its recording decision
/// except one in [`OVERDUE_EVERY`] records.
fn generated_record(
    i: usize,
    n: usize,
    actors: &mut HashMap<OfficerId, automerge::ActorId>,
    last_crime: &mut Option<RecordId>,
) -> DocumentSave {
    let kind = match i % 20 {
        0..8 => RecordKind::CrimeReport,
        8..13 => RecordKind::Person,
        13..16 => RecordKind::VictimNeedsAssessment,
        16..18 => RecordKind::StopSearch,
        _ => RecordKind::NeighbourhoodIssue,
    };
    let own = i % 50 == 1;
    let collar = if own {
        "PC1".to_owned()
    } else {
        format!("PC{}", 1_000 + i % 200)
    };
    let author = OfficerId::new(collar).expect("collar");
    let created = NOW_MS - 365 * DAY_MS + (365 * DAY_MS / n as i64) * i as i64;
    let id = RecordId::generate();
    let mut record = Record::new(kind, id, author.clone(), at(created));
    let place = Location {
        lat: Some(51.4 + (i % 1_000) as f64 / 5_000.0),
        lon: Some(-0.2 + (i % 777) as f64 / 5_000.0),
        description: Some(format!("Near {} High Street", i % 300)),
        ..Location::default()
    };
    match &mut record {
        Record::Crime(c) => {
            c.location = Some(place);
            c.classification = Some(Classification {
                offence: Coded {
                    code: "49".into(),
                    label: "Other theft".into(),
                },
                category: "other-theft".into(),
            });
            c.narrative = format!("Report {i}: property taken from an unattended bag.");
            if !i.is_multiple_of(OVERDUE_EVERY) {
                c.recording_decision = Some(RecordingDecision {
                    decision: RecordingDecisionKind::Crimed,
                    decided_at: at(created + 2 * HOUR_MS),
                    rationale: None,
                });
            }
            *last_crime = Some(id);
        }
        Record::Person(p) => {
            p.names.push(PersonName {
                given: format!("Given{i}"),
                family: format!("Family{}", i % 5_000),
                alias: false,
            });
            p.address = Some(format!("{} Example Road", i % 400));
        }
        Record::Vna(v) => {
            v.crime_id = *last_crime;
            v.notes = "Victim given the leaflet; no referral wanted.".into();
        }
        Record::StopSearch(s) => {
            s.location = Some(place);
            s.legislation = Some("s1 PACE".into());
            s.object_of_search = Some("stolen property".into());
            s.grounds = Some(format!("Matched the description given in call {i}."));
            s.receipt_given = Some(i % 500 != 16);
        }
        Record::Issue(x) => {
            x.location = Some(place);
            x.narrative = format!("Noise complaint {i}.");
        }
    }
    let status_roll = i % 100;
    if own || status_roll < 95 {
        record.meta_mut().workflow.push(WorkflowEvent {
            action: WorkflowAction::Submitted,
            by: author.clone(),
            role: Role::Officer,
            at: at(created + 3 * HOUR_MS),
            reason: None,
            heads: Vec::new(),
        });
    }
    if own || status_roll < 85 {
        record.meta_mut().workflow.push(WorkflowEvent {
            action: WorkflowAction::Approved,
            by: OfficerId::new(format!("SGT{}", i % 20)).expect("collar"),
            role: Role::Supervisor,
            at: at(created + 8 * HOUR_MS),
            reason: None,
            heads: Vec::new(),
        });
    }
    let actor = actors.entry(author.clone()).or_insert_with(doc::new_actor);
    let change_author = ChangeAuthor {
        by: author,
        role: Role::Officer,
    };
    let mut document =
        RecordDoc::create(&record, actor, &change_author, at(created)).expect("document");
    let stored = document.hydrate().expect("hydrate");
    DocumentSave {
        id,
        bytes: document.save(),
        replace: true,
        expected_heads: None,
        heads: document.heads_bytes(),
        projection: projection::derive(&stored, created + 8 * HOUR_MS, 0),
        attention: None,
    }
}

fn store_100k(c: &mut Criterion) {
    let path = large_store();
    let device = Device::open(&path, &key(), clock()).expect("open");
    println!(
        "store_100k: {} records; my_drafts returns {} rows, overdue_decisions {}",
        device.count().expect("count"),
        device.my_drafts().expect("drafts").len(),
        device.overdue_decisions().expect("overdue").len()
    );
    let mut g = c.benchmark_group("store_100k");
    g.bench_function("open", |b| {
        b.iter_with_large_drop(|| Device::open(&path, &key(), clock()).expect("open"))
    });
    g.bench_function("my_drafts", |b| {
        b.iter(|| device.my_drafts().expect("drafts"))
    });
    g.bench_function("overdue_decisions", |b| {
        b.iter(|| device.overdue_decisions().expect("overdue"))
    });
    g.finish();
}

criterion_group! {
    name = durable;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(10));
    targets = durable_save
}
criterion_group! {
    name = large;
    config = Criterion::default().sample_size(30);
    targets = store_100k
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and then only the quick
    // group runs once, as a smoke test (no latency loop, no 100,000-record store).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benching = args.iter().any(|a| a == "--bench");
    // The latency loop answers to the name `durable_save/latency` for criterion-style filters.
    let filter = args.iter().find(|a| !a.starts_with('-'));
    if benching && filter.is_none_or(|f| "durable_save/latency".contains(f.as_str())) {
        save_latency_report();
    }
    if benching && filter.is_none_or(|f| "feed_apply".contains(f.as_str())) {
        feed_apply_report();
    }
    durable();
    // Building the large store takes most of a minute: skip it when the filter excludes it.
    let large_ids = "store_100k/open store_100k/my_drafts store_100k/overdue_decisions";
    if benching && filter.is_none_or(|f| large_ids.contains(f.as_str())) {
        large();
    }
    Criterion::default().configure_from_args().final_summary();
}
