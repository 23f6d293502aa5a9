//! `fieldbook-syncer STORE KEY_HEX SERVER_URL FIRST_MARKER SEED`: edits and syncs through
//! [`Device`] until killed.
//!
//! Opens the enrolled store at `STORE` under the raw 32-byte key `KEY_HEX`, points it at
//! `SERVER_URL`, then loops: creates a crime report whose narrative is a marker word, or appends a
//! marker word to one of its reports; after each call returns it prints `saved <id> <marker>` and
//! flushes (an acknowledged save, which must survive a SIGKILL). Every few saves it prints
//! `syncing`, syncs, and prints `synced`. Markers are `m<n>` counting up from `FIRST_MARKER`, unique across runs.
//!
//! Exits non-zero (with the error on stderr) if any call fails.

use fieldbook_core::Device;
use fieldbook_core::clock::SystemClock;
use fieldbook_core::domain::{RecordId, RecordKind};
use fieldbook_core::storage::{DatabaseKey, RecordQuery};
use fieldbook_core::sync::NoProgress;
use fieldbook_core::sync::http::RetryPolicy;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Reports the syncer edits: the newest this many, plus what it creates.
const WORKING_SET: u32 = 20;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fieldbook-syncer: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fieldbook-syncer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, key_hex, server, first, seed] = args.as_slice() else {
        return Err("usage: fieldbook-syncer STORE KEY_HEX SERVER_URL FIRST_MARKER SEED".into());
    };
    let key: [u8; 32] = hex::decode(key_hex)?
        .try_into()
        .map_err(|_| "the key must be 32 bytes (64 hex digits)")?;
    let mut marker: u64 = first.parse()?;
    let mut rng = SplitMix(seed.parse()?);

    let mut device = Device::open(
        &PathBuf::from(path),
        &DatabaseKey::Raw(key),
        Arc::new(SystemClock),
    )?;
    device.set_sync_server(server)?;
    device.set_retry_policy(RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts: 2,
    });
    let mut reports: Vec<RecordId> = device
        .list(&RecordQuery {
            kind: Some(RecordKind::CrimeReport),
            limit: Some(WORKING_SET),
            ..RecordQuery::default()
        })?
        .into_iter()
        .map(|p| p.id)
        .collect();

    let stdout = std::io::stdout();
    loop {
        let word = format!("m{marker}");
        let id = if reports.is_empty() || rng.below(4) == 0 {
            let record = device.create(
                RecordKind::CrimeReport,
                Some(serde_json::json!({ "narrative": word })),
            )?;
            reports.push(record.id());
            record.id()
        } else {
            let id = reports[rng.below(reports.len() as u64) as usize];
            device.set_fields(id, &[format!("narrative+= {word}")])?;
            id
        };
        {
            let mut out = stdout.lock();
            writeln!(out, "saved {id} {word}")?;
            out.flush()?;
        }
        marker += 1;
        if rng.below(3) == 0 {
            {
                let mut out = stdout.lock();
                writeln!(out, "syncing")?;
                out.flush()?;
            }
            device.sync(&NoProgress).await?;
            let mut out = stdout.lock();
            writeln!(out, "synced")?;
            out.flush()?;
        }
    }
}

/// SplitMix64: reproducible from the seed, no dependency.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}
