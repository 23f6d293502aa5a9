//! Sync benchmarks: `cargo bench -p fieldbook-server --bench sync` (see `docs/benchmarks.md`,
//! "Sync"). One in-process server on 127.0.0.1 (ephemeral port), real `Device`s talking HTTP.
//!
//! 1. **Reconnect**: a device holding 1,000 or 10,000 records (each size its own officer on the
//!    same server, built once) must pull 1 or 100 records changed by another device of the same
//!    officer. The same changes are then converged twice: by `Device::sync` over the change
//!    feed, and by automerge's sync protocol run over `/v1/repair` for *every* record held
//!    (a device cannot know which records changed), on in-memory copies of the device's
//!    documents (no SQLite on that side, which favours the per-record protocol). Round trips,
//!    bytes up and down, and wall time of each.
//! 2. **Bytes per edited field**: one field set (and a ~200-character narrative append) on a
//!    synced record, pushed by `Device::sync`: request and response body bytes against the raw
//!    automerge change.
//! 3. **Criterion**: `reconnect/feed_pull/...`, the feed sync alone for each size and change
//!    count (the other device's edits are set up outside the timed part).
//!
//! Server ingest under 500 concurrent devices is `server/examples/ingest.rs`.
//!
//! Environment: `SYNC_BENCH_ROUNDS` (feed rounds per case, default 5), `SYNC_BENCH_REPAIR_ROUNDS`
//! (per-record-protocol rounds per case, default 2).

use automerge::{Automerge, ChangeHash};
use criterion::{Criterion, SamplingMode};
use fieldbook_core::Device;
use fieldbook_core::clock::SystemClock;
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::sync::http::{HttpTransport, RetryPolicy};
use fieldbook_core::sync::repair::RepairRun;
use fieldbook_core::sync::wire::{self, EnrolRequest};
use fieldbook_core::sync::{NoProgress, SyncReport};
use fieldbook_server::{Admin, RunningServer, ServerConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const KEY: [u8; 32] = [0x5B; 32];
/// Records held by the measured device, one officer per size.
const SIZES: [usize; 2] = [1_000, 10_000];
/// Records changed by the other device before each reconnect.
const CHANGED: [usize; 2] = [1, 100];

fn key() -> DatabaseKey {
    DatabaseKey::Raw(KEY)
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// Prints a progress line at once (bench output is piped through cargo).
macro_rules! progress {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        println!($($arg)*);
        let _ = std::io::stdout().flush();
    }};
}

/// The server, its admin handle and a temp directory holding every database.
struct Bench {
    runtime: Runtime,
    server: Option<RunningServer>,
    admin: Admin,
    dir: tempfile::TempDir,
    url: String,
}

impl Bench {
    fn start() -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::TempDir::new().expect("temp dir");
        let db = dir.path().join("server.db");
        let config = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &db, key());
        let server = runtime
            .block_on(fieldbook_server::start(config))
            .expect("server starts");
        let url = server.url();
        let admin = Admin::open(&db, &key()).expect("admin");
        Bench {
            runtime,
            server: Some(server),
            admin,
            dir,
            url,
        }
    }

    /// A new enrolled device of `officer`.
    fn device(&self, officer: &str, label: &str) -> Device {
        let officer = OfficerId::new(officer).expect("collar number");
        let path = self
            .dir
            .path()
            .join(format!("{}-{label}.db", officer.as_str()));
        let mut device = Device::init(
            &path,
            &key(),
            officer.clone(),
            Role::Officer,
            Arc::new(SystemClock),
        )
        .expect("device store");
        device.set_retry_policy(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        });
        let code = self
            .admin
            .enrol(&officer, "Bench Officer", Role::Officer, Some("north"))
            .expect("code");
        self.runtime
            .block_on(device.enrol(&self.url, &code, label))
            .expect("enrol");
        device
    }

    /// A transport for a third, raw device of `officer` (the per-record-protocol side).
    fn raw_transport(&self, officer: &str) -> HttpTransport {
        let officer = OfficerId::new(officer).expect("collar number");
        let code = self
            .admin
            .enrol(&officer, "Bench Officer", Role::Officer, Some("north"))
            .expect("code");
        let anonymous =
            HttpTransport::new(&self.url, None, RetryPolicy::default()).expect("transport");
        let request = EnrolRequest {
            protocol: wire::PROTOCOL_VERSION,
            code,
            actors: vec![fieldbook_core::doc::new_actor().to_hex_string()],
            label: "repair side".into(),
        };
        let answer = self
            .runtime
            .block_on(anonymous.enrol(&request))
            .expect("enrol");
        HttpTransport::new(&self.url, Some(answer.value.token), RetryPolicy::default())
            .expect("transport")
    }

    fn sync(&self, device: &mut Device) -> SyncReport {
        self.runtime
            .block_on(device.sync(&NoProgress))
            .expect("sync")
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

fn crime_fields(n: usize) -> serde_json::Value {
    fieldbook_core::testing::crime_report_fields(&format!("Outside number {n}, High Street"))
}

/// One officer's world: the measured device `a`, the editing device `b`, and the per-record
/// protocol side (in-memory copies of `a`'s documents and a transport of its own).
struct World {
    officer: String,
    a: Device,
    b: Device,
    ids: Vec<RecordId>,
    copies: HashMap<RecordId, Automerge>,
    repair: HttpTransport,
    next_edit: usize,
}

impl World {
    fn build(bench: &Bench, records: usize) -> World {
        let officer = format!("PC{records}");
        let started = Instant::now();
        let mut a = bench.device(&officer, "measured");
        let mut ids = Vec::with_capacity(records);
        for n in 0..records {
            ids.push(
                a.create(RecordKind::CrimeReport, Some(crime_fields(n)))
                    .expect("create")
                    .id(),
            );
            if (n + 1) % 1_000 == 0 {
                progress!(
                    "    {officer}: created {} of {records} records ({:.1} s)",
                    n + 1,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let pushed = bench.sync(&mut a);
        progress!(
            "    {officer}: pushed {} records in {} requests, {} bytes ({:.1} s)",
            pushed.pushed_records,
            pushed.round_trips,
            pushed.pushed_bytes,
            pushed.duration.as_secs_f64()
        );
        let mut b = bench.device(&officer, "editor");
        let pulled = bench.sync(&mut b);
        progress!(
            "    {officer}: second device pulled {} snapshots in {} pages ({:.1} s)",
            pulled.pulled_snapshots,
            pulled.pages,
            pulled.duration.as_secs_f64()
        );
        bench.sync(&mut a);
        let copies = ids
            .iter()
            .map(|id| {
                let bytes = a.export_document(*id).expect("export");
                (*id, Automerge::load(&bytes).expect("load"))
            })
            .collect();
        let repair = bench.raw_transport(&officer);
        progress!(
            "    {officer}: ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        World {
            officer,
            a,
            b,
            ids,
            copies,
            repair,
            next_edit: 0,
        }
    }

    /// The other device edits `changed` records (a different set each time) and pushes them.
    fn remote_edits(&mut self, bench: &Bench, changed: usize) -> Vec<RecordId> {
        let mut edited = Vec::with_capacity(changed);
        for _ in 0..changed {
            let id = self.ids[self.next_edit % self.ids.len()];
            self.next_edit += 1;
            let text = format!("narrative+= Follow-up note {}.", self.next_edit);
            self.b.set_fields(id, &[text]).expect("edit");
            edited.push(id);
        }
        let pushed = bench.sync(&mut self.b);
        assert_eq!(pushed.pushed_records, changed as u64, "{pushed:?}");
        edited
    }

    /// Brings the in-memory copies up to date from the measured device, untimed (for rounds
    /// where the per-record protocol is not run).
    fn refresh_copies(&mut self, ids: &[RecordId]) {
        for id in ids {
            let bytes = self.a.export_document(*id).expect("export");
            self.copies
                .insert(*id, Automerge::load(&bytes).expect("load"));
        }
    }

    /// Automerge's sync protocol over `/v1/repair` for every record held.
    fn per_record_protocol(&mut self, bench: &Bench) -> Cost {
        let started = Instant::now();
        let mut cost = Cost::default();
        let mut changed = 0usize;
        for id in &self.ids {
            let doc = self.copies.remove(id).expect("copy");
            let before = doc.get_heads();
            let mut run = RepairRun::new(*id, RecordKind::CrimeReport, doc);
            while let Some(request) = run.next_request() {
                let answer = bench
                    .runtime
                    .block_on(self.repair.repair(&request))
                    .expect("repair round");
                cost.round_trips += 1;
                cost.up += answer.sent_bytes as u64;
                cost.down += answer.received_bytes as u64;
                run.receive(answer.value).expect("repair answer");
            }
            let result = run.finish();
            assert!(result.complete, "a repair hit the round cap");
            if result.document.get_heads() != before {
                changed += 1;
            }
            self.copies.insert(*id, result.document);
        }
        cost.time = started.elapsed();
        cost.records = changed as u64;
        cost
    }
}

/// What one convergence cost.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    round_trips: u64,
    up: u64,
    down: u64,
    time: Duration,
    /// Records that changed.
    records: u64,
}

impl Cost {
    fn of(report: &SyncReport) -> Cost {
        Cost {
            round_trips: report.round_trips,
            up: report.pushed_bytes,
            down: report.pulled_bytes,
            time: report.duration,
            records: report.pulled_changes,
        }
    }

    fn bytes(&self) -> u64 {
        self.up + self.down
    }
}

fn median_by_time(costs: &mut [Cost]) -> Cost {
    costs.sort_by_key(|c| c.time);
    costs[costs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { f64::INFINITY } else { a / b }
}

/// Reconnect: the feed against the per-record protocol on the same changes.
fn reconnect(bench: &Bench, worlds: &mut [World]) {
    let feed_rounds = env_count("SYNC_BENCH_ROUNDS", 5);
    let repair_rounds = env_count("SYNC_BENCH_REPAIR_ROUNDS", 2).min(feed_rounds);
    let mut rows = Vec::new();
    for world in worlds.iter_mut() {
        for changed in CHANGED {
            let held = world.ids.len();
            let mut feed = Vec::new();
            let mut protocol = Vec::new();
            for round in 0..feed_rounds {
                let edited = world.remote_edits(bench, changed);
                let report = bench.sync(&mut world.a);
                assert_eq!(report.pulled_changes, changed as u64, "{report:?}");
                feed.push(Cost::of(&report));
                if round >= repair_rounds {
                    world.refresh_copies(&edited);
                }
                // The copies converge on the same changes, the slow way, on some rounds.
                if round < repair_rounds {
                    progress!(
                        "    {held} held / {changed} changed: per-record protocol over {held} records..."
                    );
                    let cost = world.per_record_protocol(bench);
                    assert_eq!(cost.records, changed as u64, "{cost:?}");
                    protocol.push(cost);
                }
                let f = feed[feed.len() - 1];
                progress!(
                    "  [{} | {held} held | {changed} changed | round {}] feed: {} round trips, {} B, {:.1} ms{}",
                    world.officer,
                    round + 1,
                    f.round_trips,
                    f.bytes(),
                    ms(f.time),
                    protocol
                        .get(round)
                        .map(|p| format!(
                            "; per-record protocol: {} round trips, {} B, {:.0} ms",
                            p.round_trips,
                            p.bytes(),
                            ms(p.time)
                        ))
                        .unwrap_or_default()
                );
            }
            rows.push((
                held,
                changed,
                median_by_time(&mut feed),
                median_by_time(&mut protocol),
            ));
        }
    }
    progress!("\nreconnect (pull), medians by wall time:");
    progress!(
        "| held | changed | feed RT | feed up/down B | feed ms | protocol RT | protocol up/down B | protocol ms | RT ratio | bytes ratio | time ratio |"
    );
    progress!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (held, changed, f, p) in rows {
        progress!(
            "| {held} | {changed} | {} | {} / {} | {:.1} | {} | {} / {} | {:.0} | {:.0}× | {:.0}× | {:.0}× |",
            f.round_trips,
            f.up,
            f.down,
            ms(f.time),
            p.round_trips,
            p.up,
            p.down,
            ms(p.time),
            ratio(p.round_trips as f64, f.round_trips as f64),
            ratio(p.bytes() as f64, f.bytes() as f64),
            ratio(p.time.as_secs_f64(), f.time.as_secs_f64()),
        );
    }
}

/// The change `edit` made to `id`, as raw bytes, and what pushing it cost.
fn edit_and_push(
    bench: &Bench,
    device: &mut Device,
    id: RecordId,
    edit: &str,
) -> (Vec<usize>, SyncReport) {
    let before = Automerge::load(&device.export_document(id).expect("export")).expect("load");
    device.set_fields(id, &[edit.to_owned()]).expect("edit");
    let after = Automerge::load(&device.export_document(id).expect("export")).expect("load");
    let heads: Vec<ChangeHash> = before.get_heads();
    let changes = after
        .get_changes(&heads)
        .iter()
        .map(|c| c.raw_bytes().len())
        .collect();
    let report = bench.sync(device);
    (changes, report)
}

/// Bytes on the wire per edited field against the raw automerge change.
fn wire_bytes(bench: &Bench, world: &mut World) {
    let id = world.ids[world.ids.len() - 1];
    let append: String = " The witness, a neighbour at number twelve, saw a man in a grey hooded top run towards the park; she did not see his face but heard him shout a name she thinks was Danny."
        .into();
    progress!("\nbytes on the wire per edit (one record, pushed by Device::sync):");
    progress!(
        "| edit | changes | raw change B | request B | response B | request / raw | envelope B | target (≤ 1.3× raw + 1 KB) |"
    );
    progress!("|---|---|---|---|---|---|---|---|");
    for (label, edit) in [
        ("flags.hate_crime=true", "flags.hate_crime=true".to_owned()),
        (
            "narrative append (~200 chars)",
            format!("narrative+={append}"),
        ),
    ] {
        let (changes, report) = edit_and_push(bench, &mut world.a, id, &edit);
        assert_eq!(report.round_trips, 1, "{report:?}");
        let raw: usize = changes.iter().sum();
        let request = report.pushed_bytes as f64;
        let met = request <= 1.3 * raw as f64 + 1024.0;
        progress!(
            "| {label} | {} | {raw} | {} | {} | {:.2}× | {} | {} |",
            changes.len(),
            report.pushed_bytes,
            report.pulled_bytes,
            request / raw as f64,
            report.pushed_bytes as i64 - raw as i64,
            if met { "yes" } else { "no" }
        );
    }
}

/// The feed sync alone under criterion: the other device's edits are set up untimed.
fn criterion_feed(bench: &Bench, worlds: &mut [World]) {
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        // Short: criterion picks iterations by timed time, and each iteration also runs the
        // other device's untimed edits and push (up to a second for 100 changes).
        .measurement_time(Duration::from_secs(1));
    let mut group = criterion.benchmark_group("reconnect");
    group.sampling_mode(SamplingMode::Flat);
    for world in worlds.iter_mut() {
        for changed in CHANGED {
            let name = format!("feed_pull/{}_held/{changed}_changed", world.ids.len());
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        world.remote_edits(bench, changed);
                        let started = Instant::now();
                        let report = bench.sync(&mut world.a);
                        total += started.elapsed();
                        assert_eq!(report.pulled_changes, changed as u64);
                    }
                    total
                });
            });
        }
    }
    group.finish();
    criterion.final_summary();
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let bench = Bench::start();
    progress!("sync bench: server at {} (in process)", bench.url);
    let mut worlds = Vec::new();
    for records in SIZES {
        progress!("==> building a device holding {records} records");
        worlds.push(World::build(&bench, records));
    }
    if wanted("reconnect") {
        progress!("==> reconnect: change feed against the per-record sync protocol");
        reconnect(&bench, &mut worlds);
    }
    if wanted("wire") {
        progress!("==> bytes on the wire per edited field");
        wire_bytes(&bench, &mut worlds[0]);
    }
    if wanted("criterion") {
        progress!("==> criterion: reconnect/feed_pull");
        criterion_feed(&bench, &mut worlds);
    }
    progress!("==> sync bench done");
}
