//! `fieldbook-saver STORE KEY_HEX FIRST_MARKER [SEED]`: saves through [`Device`] until killed.
//!
//! Opens the store at `STORE` (initialising it for officer `PC1` if there is none) under the raw
//! 32-byte key `KEY_HEX`, then loops: creates a crime report whose narrative is a marker word, or
//! appends a marker word to an existing report's narrative (sometimes setting another field in
//! the same change). Markers are `m<n>` with `n` counting up from `FIRST_MARKER`, so they are
//! unique across runs. After each call returns it prints `saved <id> <marker>` and flushes:
//! a printed line is a save the device acknowledged, and so must survive a SIGKILL.
//!
//! Exits non-zero (with the error on stderr) if any call fails.

use fieldbook_core::Device;
use fieldbook_core::clock::SystemClock;
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role};
use fieldbook_core::storage::{DatabaseKey, RecordQuery};
use fieldbook_scenarios::SAVER_WORKING_SET;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fieldbook-saver: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, key_hex, first, rest @ ..] = args.as_slice() else {
        return Err("usage: fieldbook-saver STORE KEY_HEX FIRST_MARKER [SEED]".into());
    };
    let path = PathBuf::from(path);
    let key: [u8; 32] = hex::decode(key_hex)?
        .try_into()
        .map_err(|_| "the key must be 32 bytes (64 hex digits)")?;
    let key = DatabaseKey::Raw(key);
    let mut marker: u64 = first.parse()?;
    let mut rng = SplitMix(
        rest.first()
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(marker),
    );

    let clock = Arc::new(SystemClock);
    let mut device = if path.exists() {
        Device::open(&path, &key, clock)?
    } else {
        Device::init(&path, &key, OfficerId::new("PC1")?, Role::Officer, clock)?
    };
    let mut reports: Vec<RecordId> = device
        .list(&RecordQuery {
            kind: Some(RecordKind::CrimeReport),
            limit: Some(SAVER_WORKING_SET),
            ..RecordQuery::default()
        })?
        .into_iter()
        .map(|p| p.id)
        .collect();

    let stdout = std::io::stdout();
    loop {
        let word = format!("m{marker}");
        let id = if reports.is_empty() || rng.below(5) == 0 {
            let record = device.create(
                RecordKind::CrimeReport,
                Some(serde_json::json!({ "narrative": word })),
            )?;
            reports.push(record.id());
            record.id()
        } else {
            let id = reports[rng.below(reports.len() as u64) as usize];
            let mut assignments = vec![format!("narrative+= {word}")];
            if rng.below(3) == 0 {
                assignments.push(format!("location.description=street {marker}"));
            }
            device.set_fields(id, &assignments)?;
            id
        };
        let mut out = stdout.lock();
        writeln!(out, "saved {id} {word}")?;
        out.flush()?;
        marker += 1;
    }
}

/// A small deterministic generator (SplitMix64): no dependency, reproducible from the seed.
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
}
