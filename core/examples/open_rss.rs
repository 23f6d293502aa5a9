//! Peak memory of a process that opens a large store and runs the queue queries:
//! `cargo run --release -p fieldbook-core --example open_rss -- STORE`, where STORE is the
//! 100,000-record store the `store` benchmark builds (`scripts/bench` runs both).
//!
//! Prints the time of this process's first open and of each query, with row counts, then
//! `VmHWM` (peak resident set) and `VmRSS` from `/proc/self/status` (Linux).

use fieldbook_core::Device;
use fieldbook_core::clock::FixedClock;
use fieldbook_core::domain::Timestamp;
use fieldbook_core::storage::{DatabaseKey, RecordQuery};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// The benchmark store's raw key and clock (as in `benches/store.rs`).
const KEY: [u8; 32] = [0x5A; 32];
const NOW_MS: i64 = 1_780_315_200_000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("open_rss: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: open_rss STORE (build it with `scripts/bench`)")?
        .into();
    if !path.exists() {
        return Err(format!("no store at {}: run `scripts/bench` first", path.display()).into());
    }
    println!("before open: {}", memory()?);
    let now = Timestamp::from_millis(NOW_MS).ok_or("bad clock")?;
    let started = Instant::now();
    let device = Device::open(
        &path,
        &DatabaseKey::Raw(KEY),
        Arc::new(FixedClock::new(now)),
    )?;
    println!("open: {:.2} ms", ms(started));

    let started = Instant::now();
    let drafts = device.my_drafts()?.len();
    println!("my_drafts: {drafts} rows in {:.2} ms", ms(started));
    let started = Instant::now();
    let overdue = device.overdue_decisions()?.len();
    println!("overdue_decisions: {overdue} rows in {:.2} ms", ms(started));
    let started = Instant::now();
    let receipts = device.receipts_needed()?.len();
    println!("receipts_needed: {receipts} rows in {:.2} ms", ms(started));
    let started = Instant::now();
    let newest = device.list(&RecordQuery::default())?.len();
    println!(
        "list (default limit): {newest} rows in {:.2} ms",
        ms(started)
    );
    let started = Instant::now();
    let count = device.count()?;
    println!("count: {count} records in {:.2} ms", ms(started));

    println!("after queries: {}", memory()?);
    drop(device);
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Peak and current resident set size, from `/proc/self/status`.
fn memory() -> Result<String, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    Ok(format!(
        "VmHWM (peak RSS) {}, VmRSS {}",
        field("VmHWM:"),
        field("VmRSS:")
    ))
}
