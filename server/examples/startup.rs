//! Server start-up against the records held: `cargo run --release -p fieldbook-server --example
//! startup -- 100000` (figures in `docs/benchmarks.md`, "Server start-up against records held").
//!
//! For each count N given (default 100,000): writes N crime reports into a fresh server database
//! through the store's own commit (a 2 KB snapshot and one 600-byte change each, incompressible
//! like automerge's compressed columns; scope facts as a push writes them), then opens it in a
//! fresh process and reports how long `SqliteStore::open` took (what the server waits for before
//! it listens) and the process's resident memory after it, then how long the whole-file integrity
//! check takes (which a server runs in the background once it listens). The write is not what is
//! measured.

use fieldbook_core::domain::{RecordId, RecordKind, Status};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_server::SqliteStore;
use fieldbook_server::store::{CommitBatch, NewChange, RecordFacts, RecordWrite, ServerStore};
use std::time::Instant;

const KEY: DatabaseKey = DatabaseKey::Raw([0x42; 32]);
const BATCH: usize = 1_000;

/// Bytes that do not compress (a xorshift stream), as automerge's saved columns barely do.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn write(i: u64) -> RecordWrite {
    let mut hash = noise(i, 32);
    hash[..8].copy_from_slice(&i.to_be_bytes());
    RecordWrite {
        facts: RecordFacts {
            id: RecordId(uuid::Uuid::from_u64_pair(0x0190_0000_0000_7000, i)),
            kind: RecordKind::CrimeReport,
            author: format!("PC{}", i % 500),
            team: None,
            attending: vec![format!("PC{}", (i + 1) % 500)],
            status: Status::Submitted,
            links: Vec::new(),
        },
        base_heads: None,
        heads: hash.clone(),
        changes: vec![NewChange {
            hash: hash.clone(),
            actor: format!("{:032x}", i % 500),
            bytes: noise(i + 1, 600),
            heads_after: hash,
        }],
        snapshot: Some(noise(i + 2, 2_048)),
    }
}

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// In the child: open the database and print the time and memory.
fn open_and_report(path: &str) {
    let before = rss_kb("VmRSS:");
    let started = Instant::now();
    let store = SqliteStore::open(std::path::Path::new(path), &KEY).expect("opens");
    let took = started.elapsed();
    let (rss, peak) = (rss_kb("VmRSS:") / 1024, rss_kb("VmHWM:") / 1024);
    let started = Instant::now();
    store.check_integrity().expect("the database is sound");
    println!(
        "open {:.2} s, RSS {rss} MB (peak {peak} MB, {} MB before open); \
         background integrity check {:.2} s",
        took.as_secs_f64(),
        before / 1024,
        started.elapsed().as_secs_f64()
    );
    drop(store);
}

fn run(n: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("server.db");
    let store = SqliteStore::open(&path, &KEY).expect("a new database");
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let writes: Vec<RecordWrite> = (done..(done + BATCH as u64).min(n)).map(write).collect();
        store
            .commit_many(&[CommitBatch {
                device: "device-1",
                received_at: 1_790_000_000_000,
                writes: &writes,
            }])
            .expect("commits");
        done += writes.len() as u64;
        if done % (n / 10).max(1) == 0 {
            eprintln!(
                "  wrote {done}/{n} ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(store);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let output = std::process::Command::new(std::env::current_exe().expect("this program"))
        .arg("--open")
        .arg(&path)
        .output()
        .expect("the child runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "{n} records held ({} MB database): {}",
        size / 1_000_000,
        String::from_utf8_lossy(&output.stdout).trim()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice()
        && flag == "--open"
    {
        open_and_report(path);
        return;
    }
    let counts: Vec<u64> = args
        .iter()
        .map(|a| a.parse().expect("a record count"))
        .collect();
    for n in if counts.is_empty() {
        vec![100_000]
    } else {
        counts
    } {
        eprintln!("startup: {n} records held");
        run(n);
    }
}
