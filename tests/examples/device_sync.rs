//! The device's sync costs as a phone sees them, end to end against a real `fieldbook-server` on
//! 127.0.0.1 (`docs/benchmarks.md`, "Device sync"):
//!
//! ```sh
//! cargo run --release -p fieldbook-scenarios --example device_sync -- 1000 10000
//! ```
//!
//! For each count N given (default 1,000 and 10,000): one officer's phone creates N crime
//! reports and pushes them; then
//! - **first pull**: a replacement phone of the same officer enrols and syncs all N (target:
//!   ready in < 3 s for 10,000);
//! - **push 100**: the first phone edits 100 of its records and pushes them (target: flat in N);
//! - **apply 100**: the replacement phone syncs the 100 changed records (target: < 0.3 ms a
//!   change applied on the device);
//!
//! the last two repeated over seven rounds of fresh records, and the median round reported.
//!
//! Each figure is the whole `Device::sync` (server included) and, in brackets, the device's own
//! share: the time from each response's arrival to its page being committed, plus building the
//! outbox, as the progress callbacks see it.

use fieldbook_core::Device;
use fieldbook_core::domain::{RecordId, RecordKind, Role};
use fieldbook_core::sync::{SyncPhase, SyncProgress, SyncReport};
use fieldbook_scenarios::fleet::Fleet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Records edited and synced in the incremental steps.
const EDITED: usize = 100;

/// Incremental push-and-apply rounds, each on records not edited before.
const ROUNDS: usize = 7;

/// Times the device's share of a sync from the progress callbacks: from the start to the first
/// request (the outbox), and from each answer to its page being applied.
#[derive(Debug)]
struct DeviceShare {
    started: Instant,
    state: Mutex<ShareState>,
}

#[derive(Debug, Default)]
struct ShareState {
    outbox: Option<Duration>,
    answered: Option<Instant>,
    applying: Duration,
}

impl DeviceShare {
    fn new() -> DeviceShare {
        DeviceShare {
            started: Instant::now(),
            state: Mutex::new(ShareState::default()),
        }
    }

    fn total(&self) -> Duration {
        let s = self.state.lock().expect("share lock");
        s.outbox.unwrap_or_default() + s.applying
    }
}

impl SyncProgress for DeviceShare {
    fn outbox(&self, _records: u64, _requests: u64) {
        let mut s = self.state.lock().expect("share lock");
        s.outbox.get_or_insert(self.started.elapsed());
    }

    fn phase(&self, _phase: SyncPhase) {}

    fn pushed(&self, _records: u64, _bytes: u64) {
        self.state.lock().expect("share lock").answered = Some(Instant::now());
    }

    fn pulled(&self, _records: u64, _bytes: u64, _pages: u64) {
        let mut s = self.state.lock().expect("share lock");
        if let Some(at) = s.answered.take() {
            s.applying += at.elapsed();
        }
    }
}

async fn timed_sync(device: &mut Device) -> (SyncReport, Duration, Duration) {
    let share = DeviceShare::new();
    let started = Instant::now();
    let report = device.sync(&share).await.expect("sync");
    (report, started.elapsed(), share.total())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn create_reports(device: &mut Device, n: usize) -> Vec<RecordId> {
    let started = Instant::now();
    let ids = (0..n)
        .map(|i| {
            if i > 0 && i % 2_000 == 0 {
                eprintln!("  created {i}/{n}");
            }
            let fields =
                fieldbook_core::testing::crime_report_fields(&format!("Outside number {i}"));
            device
                .create(RecordKind::CrimeReport, Some(fields))
                .expect("create")
                .id()
        })
        .collect();
    eprintln!("  created {n} in {:.1} s", started.elapsed().as_secs_f64());
    ids
}

async fn run(n: usize) {
    eprintln!("device_sync: {n} records held");
    let mut fleet = Fleet::start().await;
    let mut phone = fleet.enrol("PC1", Role::Officer, Some("T1")).await;
    let ids = create_reports(&mut phone.device, n);
    let (report, took, _) = timed_sync(&mut phone.device).await;
    assert_eq!(report.accepted as usize, n, "every record accepted");
    eprintln!("  pushed {n} in {:.1} s", took.as_secs_f64());

    let mut replacement = fleet.enrol("PC1", Role::Officer, Some("T1")).await;
    let (report, first_pull, first_pull_device) = timed_sync(&mut replacement.device).await;
    assert_eq!(report.pulled_snapshots as usize, n, "every record received");

    // Push and apply are repeated on fresh records each round, and the median reported: one
    // sync of 100 is a few tens of milliseconds, where a noisy machine's pauses show.
    let mut pushes = Vec::with_capacity(ROUNDS);
    let mut applies = Vec::with_capacity(ROUNDS);
    for (round, batch) in ids.chunks(EDITED).take(ROUNDS).enumerate() {
        for (i, id) in batch.iter().enumerate() {
            phone
                .device
                .set_fields(*id, &[format!("narrative+= Further detail {round}.{i}.")])
                .expect("edit");
        }
        let (report, push, push_device) = timed_sync(&mut phone.device).await;
        assert_eq!(report.accepted as usize, batch.len());
        pushes.push((push, push_device));
        let (report, apply, apply_device) = timed_sync(&mut replacement.device).await;
        assert_eq!(report.pulled_changes as usize, batch.len());
        applies.push((apply, apply_device));
    }
    let (push, push_device) = median(&mut pushes);
    let (apply, apply_device) = median(&mut applies);
    let rounds = pushes.len();

    println!("{n} records held:");
    println!(
        "  first pull of {n} (replacement phone): {:.0} ms ({:.0} ms on the device, {:.2} ms a record)",
        ms(first_pull),
        ms(first_pull_device),
        ms(first_pull_device) / n as f64
    );
    println!(
        "  push of {EDITED} edited records:        {:.0} ms ({:.0} ms on the device), median of {rounds}",
        ms(push),
        ms(push_device)
    );
    println!(
        "  apply {EDITED} changed records:        {:.0} ms ({:.0} ms on the device, {:.2} ms a change), median of {rounds}",
        ms(apply),
        ms(apply_device),
        ms(apply_device) / EDITED as f64
    );
}

/// The middle (whole, device share) pair, by the device's share.
fn median(runs: &mut [(Duration, Duration)]) -> (Duration, Duration) {
    runs.sort_by_key(|(_, device)| *device);
    runs[runs.len() / 2]
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a record count"))
        .collect();
    let counts = if counts.is_empty() {
        vec![1_000, 10_000]
    } else {
        counts
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for n in counts {
        runtime.block_on(run(n));
    }
}
