//! Server ingest under many devices: `cargo run --release -p fieldbook-server --example ingest`
//! (figures in `docs/benchmarks.md`, "Sync").
//!
//! Starts the server in this process (SQLite store in a temp directory, 127.0.0.1, ephemeral
//! port), enrols `--devices` devices (one officer each, its own actor and token), and pre-builds
//! every change in memory with the core's `RecordDoc` (no device store on the client side, so
//! the load generator stays cheap). Each device owns one crime report; each request pushes that
//! record with 1 to 4 changes (cycling 1, 2, 3, 4: an officer's sync after a few edits, each
//! edit a narrative append of about 40 characters). Devices send requests back to back (closed
//! loop, no think time): this measures capacity, not a realistic officer's rate.
//!
//! Modes:
//! - default (`feed`): a real device's request: it sends the cursor of its last page, and
//!   pulls further pages while the feed says `more`, as `Device::sync` does. Every device sees
//!   the other devices' changes go by (out of its scope) in its feed.
//! - `--no-policy`: the server skips its per-change write-policy checks (only to measure their
//!   cost; a real server always checks).
//! - `--push-only`: the cursor is always past the end, so the server answers with an empty
//!   page: ingest alone.
//!
//! Options: `--devices N` (500), `--seconds S` (25), `--edits E` (pre-built edits per device,
//! 320), `--push-only`. The client shares the machine's cores with the server.

use automerge::{ActorId, Change, ChangeHash};
use fieldbook_core::doc::{ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role, Timestamp};
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, PushOutcome, RecordPush, SyncRequest, SyncResponse,
};
use fieldbook_server::{Admin, EnrolLimit, ServerConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many changes each request carries, cycled.
const CHANGES_PER_PUSH: [usize; 4] = [1, 2, 3, 4];
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Options {
    devices: usize,
    seconds: u64,
    edits: usize,
    push_only: bool,
    /// Turn the per-change policy checks off (to measure what trust costs).
    no_policy: bool,
}

fn options() -> Options {
    let mut o = Options {
        devices: 500,
        seconds: 25,
        edits: 320,
        push_only: false,
        no_policy: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--devices" => o.devices = number("--devices").max(1) as usize,
            "--seconds" => o.seconds = number("--seconds").clamp(1, 600),
            "--edits" => o.edits = number("--edits").max(4) as usize,
            "--push-only" => o.push_only = true,
            "--no-policy" => o.no_policy = true,
            "--bench" => {}
            other => panic!("unknown option {other}: see the header of examples/ingest.rs"),
        }
    }
    o
}

macro_rules! progress {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        println!($($arg)*);
        let _ = std::io::stdout().flush();
    }};
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("a valid time")
}

/// One simulated device: its token and its record's pushes, pre-built.
struct SimDevice {
    token: String,
    /// The record's creation (first push, before the measured window).
    create: RecordPush,
    /// The measured pushes, in order.
    pushes: Vec<RecordPush>,
}

/// Builds a device's record and `edits` narrative appends, grouped into pushes.
fn build_changes(
    officer: &OfficerId,
    actor: &ActorId,
    edits: usize,
) -> (RecordPush, Vec<RecordPush>) {
    let author = ChangeAuthor {
        by: officer.clone(),
        role: Role::Officer,
    };
    let id = RecordId::generate();
    let mut record = Record::new(RecordKind::CrimeReport, id, officer.clone(), at(0));
    if let Record::Crime(c) = &mut record {
        c.narrative = "Called to a disturbance outside the station.".into();
    }
    let mut doc = RecordDoc::create(&record, actor, &author, at(0)).expect("document");
    let raw = |changes: Vec<Change>| -> Vec<Bytes> {
        changes
            .iter()
            .map(|c| Bytes(c.raw_bytes().to_vec()))
            .collect()
    };
    let create = RecordPush {
        record: id,
        kind: RecordKind::CrimeReport,
        changes: raw(doc.automerge().get_changes(&[])),
    };
    let mut heads: Vec<ChangeHash> = doc.heads();
    let mut pushes = Vec::new();
    let mut done = 0;
    for n in 0.. {
        let size = CHANGES_PER_PUSH[n % CHANGES_PER_PUSH.len()].min(edits - done);
        if size == 0 {
            break;
        }
        for _ in 0..size {
            done += 1;
            if let Record::Crime(c) = &mut record {
                c.narrative
                    .push_str(&format!(" Note {done}: the witness added a detail."));
            }
            doc.update(&record, &author, "edit", at(done as i64 * 1_000))
                .expect("update");
        }
        pushes.push(RecordPush {
            record: id,
            kind: RecordKind::CrimeReport,
            changes: raw(doc.automerge().get_changes(&heads)),
        });
        heads = doc.heads();
    }
    (create, pushes)
}

#[derive(Debug, Default)]
struct Tally {
    accepted_changes: AtomicU64,
    pushes: AtomicU64,
    pulls: AtomicU64,
    errors: AtomicU64,
    exhausted: AtomicU64,
}

/// What one device measured.
#[derive(Debug, Default)]
struct DeviceResult {
    push_micros: Vec<u64>,
    request_micros: Vec<u64>,
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    request: &SyncRequest,
) -> Result<SyncResponse, String> {
    let response = client
        .post(url)
        .header("content-type", wire::CONTENT_TYPE)
        .bearer_auth(token)
        .body(wire::encode(request))
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| format!("body: {e}"))?;
    if !status.is_success() {
        return Err(format!("status {status}"));
    }
    wire::decode(&body).map_err(|e| format!("decode: {e}"))
}

fn accepted(response: &SyncResponse) -> Option<u64> {
    let mut n = 0;
    for r in &response.results {
        match &r.outcome {
            PushOutcome::Accepted { new_changes, .. } => n += u64::from(*new_changes),
            _ => return None,
        }
    }
    Some(n)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1e3
}

#[allow(clippy::too_many_lines)]
fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::TempDir::new().expect("temp dir");
    let db = dir.path().join("server.db");
    let key = fieldbook_core::storage::DatabaseKey::Raw(rand::random());
    let server = runtime
        .block_on(fieldbook_server::start({
            let mut config =
                ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &db, key.clone());
            config.check_policy = !o.no_policy;
            // Every device enrols from 127.0.0.1 before the measurement starts.
            config.enrol_limit = EnrolLimit {
                per_client_per_minute: 100_000,
                per_client_burst: 100_000,
                global_per_minute: 100_000,
                global_burst: 100_000,
            };
            config
        }))
        .expect("server starts");
    let url = server.url();
    let sync_url = format!("{url}/v1/sync");
    progress!(
        "ingest: {} devices, {} s, {} pre-built edits each, mode {}; server {url} (in process)",
        o.devices,
        o.seconds,
        o.edits,
        if o.push_only { "push-only" } else { "feed" }
    );

    // Enrol and pre-build, on both cores, before anything is measured.
    let started = Instant::now();
    let admin = Admin::open(&db, &key).expect("admin");
    let enrol_client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client");
    let mut enrolled = Vec::with_capacity(o.devices);
    for i in 0..o.devices {
        let officer = OfficerId::new(format!("PC{}", 50_000 + i)).expect("collar number");
        let code = admin
            .enrol(&officer, "Load Officer", Role::Officer, Some("load"))
            .expect("code");
        let actor = fieldbook_core::doc::new_actor();
        let request = EnrolRequest {
            protocol: wire::PROTOCOL_VERSION,
            code,
            actors: vec![actor.to_hex_string()],
            label: format!("load {i}"),
        };
        let answer: EnrolResponse = runtime.block_on(async {
            let body = enrol_client
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
        enrolled.push((officer, actor, answer.token));
    }
    progress!(
        "  enrolled {} devices ({:.1} s)",
        o.devices,
        started.elapsed().as_secs_f64()
    );
    let built = AtomicU64::new(0);
    let devices: Vec<SimDevice> = std::thread::scope(|s| {
        let halves: Vec<_> = enrolled
            .chunks(o.devices.div_ceil(2))
            .map(|chunk| {
                let built = &built;
                let edits = o.edits;
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(officer, actor, token)| {
                            let (create, pushes) = build_changes(officer, actor, edits);
                            let n = built.fetch_add(1, Ordering::Relaxed) + 1;
                            if n.is_multiple_of(100) {
                                progress!(
                                    "  pre-built the changes of {n} devices ({:.1} s)",
                                    started.elapsed().as_secs_f64()
                                );
                            }
                            SimDevice {
                                token: token.clone(),
                                create,
                                pushes,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().expect("builder thread"))
            .collect()
    });
    let prebuilt: usize = devices
        .iter()
        .map(|d| d.pushes.iter().map(|p| p.changes.len()).sum::<usize>())
        .sum();
    let bytes: usize = devices
        .iter()
        .flat_map(|d| d.pushes.iter())
        .flat_map(|p| p.changes.iter())
        .map(|c| c.0.len())
        .sum();
    progress!(
        "  pre-built {prebuilt} changes ({:.0} B mean raw change) in {:.1} s",
        bytes as f64 / prebuilt as f64,
        started.elapsed().as_secs_f64()
    );

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(o.devices)
        .build()
        .expect("client");
    let tally = Arc::new(Tally::default());
    let push_only = o.push_only;
    let cursor_for = move |cursor: u64| if push_only { u64::MAX } else { cursor };

    // Warm-up, not measured: each device creates its record and catches up with the feed.
    let warm = Instant::now();
    let devices: Vec<(SimDevice, u64)> = runtime.block_on(async {
        let tasks: Vec<_> = devices
            .into_iter()
            .map(|d| {
                let client = client.clone();
                let url = sync_url.clone();
                tokio::spawn(async move {
                    let mut request = SyncRequest {
                        protocol: wire::PROTOCOL_VERSION,
                        cursor: cursor_for(0),
                        page_limit: wire::DEFAULT_PAGE_CHANGES,
                        push: vec![d.create.clone()],
                    };
                    loop {
                        let response = post(&client, &url, &d.token, &request)
                            .await
                            .expect("warm-up request");
                        request.cursor = cursor_for(response.page.cursor);
                        request.push.clear();
                        if !response.page.more {
                            return (d, response.page.cursor);
                        }
                    }
                })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.expect("warm-up task"));
        }
        out
    });
    progress!(
        "  warm-up: {} records created, feeds caught up ({:.1} s)",
        devices.len(),
        warm.elapsed().as_secs_f64()
    );

    // The measured window.
    let window = Duration::from_secs(o.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let begin = Instant::now();
    let results: Vec<DeviceResult> = runtime.block_on(async {
        let reporter = {
            let tally = Arc::clone(&tally);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut last = 0u64;
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                tick.tick().await;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let now = tally.accepted_changes.load(Ordering::Relaxed);
                    progress!(
                        "  {:>5.1} s: {now} changes accepted ({:.0}/s over the last 5 s), {} pushes, {} pulls, {} errors",
                        begin.elapsed().as_secs_f64(),
                        (now - last) as f64 / 5.0,
                        tally.pushes.load(Ordering::Relaxed),
                        tally.pulls.load(Ordering::Relaxed),
                        tally.errors.load(Ordering::Relaxed)
                    );
                    last = now;
                }
            })
        };
        let tasks: Vec<_> = devices
            .into_iter()
            .map(|(d, cursor)| {
                let client = client.clone();
                let url = sync_url.clone();
                let tally = Arc::clone(&tally);
                tokio::spawn(async move {
                    let mut result = DeviceResult::default();
                    let mut cursor = cursor;
                    let mut pushes = d.pushes.into_iter();
                    while begin.elapsed() < window {
                        let Some(push) = pushes.next() else {
                            tally.exhausted.fetch_add(1, Ordering::Relaxed);
                            break;
                        };
                        let mut request = SyncRequest {
                            protocol: wire::PROTOCOL_VERSION,
                            cursor: cursor_for(cursor),
                            page_limit: wire::DEFAULT_PAGE_CHANGES,
                            push: vec![push],
                        };
                        loop {
                            let sent = Instant::now();
                            let pushing = !request.push.is_empty();
                            match post(&client, &url, &d.token, &request).await {
                                Ok(response) => {
                                    let micros = sent.elapsed().as_micros() as u64;
                                    result.request_micros.push(micros);
                                    if pushing {
                                        result.push_micros.push(micros);
                                        tally.pushes.fetch_add(1, Ordering::Relaxed);
                                        match accepted(&response) {
                                            Some(n) => {
                                                tally
                                                    .accepted_changes
                                                    .fetch_add(n, Ordering::Relaxed);
                                            }
                                            None => {
                                                tally.errors.fetch_add(1, Ordering::Relaxed);
                                            }
                                        }
                                    } else {
                                        tally.pulls.fetch_add(1, Ordering::Relaxed);
                                    }
                                    cursor = response.page.cursor;
                                    request.cursor = cursor_for(cursor);
                                    request.push.clear();
                                    if !response.page.more || begin.elapsed() >= window {
                                        break;
                                    }
                                }
                                Err(e) => {
                                    tally.errors.fetch_add(1, Ordering::Relaxed);
                                    if tally.errors.load(Ordering::Relaxed) <= 5 {
                                        progress!("  request failed: {e}");
                                    }
                                    break;
                                }
                            }
                        }
                    }
                    result
                })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.expect("device task"));
        }
        stop.store(true, Ordering::Relaxed);
        reporter.abort();
        out
    });
    let elapsed = begin.elapsed();
    let mut push: Vec<u64> = results.iter().flat_map(|r| r.push_micros.clone()).collect();
    push.sort_unstable();
    let mut all: Vec<u64> = results
        .iter()
        .flat_map(|r| r.request_micros.clone())
        .collect();
    all.sort_unstable();
    let changes = tally.accepted_changes.load(Ordering::Relaxed);
    let pushes = tally.pushes.load(Ordering::Relaxed);
    progress!(
        "\ningest result ({} mode):",
        if push_only { "push-only" } else { "feed" }
    );
    progress!(
        "  {changes} changes accepted in {:.1} s: {:.0} changes/s ({:.0} pushes/s, {:.2} changes per push); {} pulls",
        elapsed.as_secs_f64(),
        changes as f64 / elapsed.as_secs_f64(),
        pushes as f64 / elapsed.as_secs_f64(),
        changes as f64 / pushes.max(1) as f64,
        tally.pulls.load(Ordering::Relaxed)
    );
    progress!(
        "  push latency ms: p50 {:.1}, p99 {:.1}, max {:.1}; every request (pushes and pulls): p50 {:.1}, p99 {:.1}",
        percentile(&push, 0.5),
        percentile(&push, 0.99),
        percentile(&push, 1.0),
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    progress!(
        "  errors: {}; devices that ran out of pre-built edits: {}",
        tally.errors.load(Ordering::Relaxed),
        tally.exhausted.load(Ordering::Relaxed)
    );
    runtime.block_on(server.shutdown());

    // What the integrity check at start costs on this database (docs/benchmarks.md, "Server
    // start"): an open is `PRAGMA quick_check` over every page plus loading the record facts.
    let bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let store = fieldbook_server::SqliteStore::open(&db, &key).expect("the database reopens");
    let open = started.elapsed();
    drop(store);
    progress!(
        "  reopening the {:.1} MB database (quick_check included): {:.0} ms",
        bytes as f64 / 1e6,
        open.as_secs_f64() * 1000.0
    );
}
