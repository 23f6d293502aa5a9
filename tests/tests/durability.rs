//! Durability under SIGKILL: a save `Device` acknowledged is never lost, and the store always
//! opens and passes its integrity check afterwards.
//!
//! `fieldbook-saver` saves in a loop and prints `saved <id> <marker>` after each call returns.
//! Each trial starts it on the same store, kills it (SIGKILL) at a random moment, then opens the
//! store, runs the integrity check, and checks the acknowledged markers are in their records'
//! narratives: after every trial, every record the killed run could have written (its working
//! set and what it acknowledged); every `FULL_CHECK_EVERY` trials and at the end, every marker of
//! every trial so far. (A run writes no other record; damage elsewhere in the file is what the
//! integrity check after every trial looks for.)
//! 200 trials by default; `FIELDBOOK_STRESS=1` runs 2,000. `FIELDBOOK_SEED=N` replays a run.

use fieldbook_core::clock::SystemClock;
use fieldbook_core::domain::RecordKind;
use fieldbook_core::domain::{Record, RecordId};
use fieldbook_core::storage::{DatabaseKey, RecordQuery};
use fieldbook_core::{Device, Error};
use fieldbook_scenarios::SAVER_WORKING_SET;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KEY: [u8; 32] = [0x42; 32];
/// Marker numbers each trial may use before the next trial's range starts.
const MARKERS_PER_TRIAL: u64 = 1_000_000;
/// How long a saver may take to acknowledge its first save before the trial fails.
const FIRST_SAVE_TIMEOUT: Duration = Duration::from_secs(30);
/// Every this many trials, the kill lands 0–15 ms after spawning (during open or the first save)
/// instead of 5–60 ms after the first acknowledged save.
const EARLY_KILL_EVERY: u64 = 10;
/// Every this many trials (and after the last), every marker of every record is checked.
const FULL_CHECK_EVERY: u64 = 25;

/// What one killed saver printed.
#[derive(Debug, Default)]
struct Run {
    /// Complete lines: acknowledged saves.
    acknowledged: Vec<(RecordId, String)>,
    /// Bytes after the last newline (a line cut by the kill: not acknowledged).
    partial: usize,
}

#[test]
fn every_acknowledged_save_survives_a_sigkill_at_a_random_moment() {
    let stress = std::env::var("FIELDBOOK_STRESS").is_ok_and(|v| v == "1");
    let trials: u64 = if stress { 2_000 } else { 200 };
    let seed: u64 = std::env::var("FIELDBOOK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED);
    let dir = tempfile::TempDir::new().expect("temp dir");
    let store = dir.path().join("store.db");
    let mut rng = SplitMix(seed);
    let mut markers: BTreeMap<RecordId, Vec<String>> = BTreeMap::new();
    let (mut saves, mut partial_lines, mut early_kills) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    let mut checking = Duration::ZERO;
    // The reports the next run will edit (none before the store exists).
    let mut working_set: BTreeSet<RecordId> = BTreeSet::new();

    for trial in 0..trials {
        let early = trial > 0 && trial % EARLY_KILL_EVERY == 0;
        let delay = if early {
            Duration::from_millis(rng.below(16))
        } else {
            Duration::from_millis(5 + rng.below(56))
        };
        let run = run_saver_until_killed(&store, trial, seed ^ trial, delay, early);
        let context = format!("trial {trial} (FIELDBOOK_SEED={seed})");
        if early && run.acknowledged.is_empty() {
            early_kills += 1;
        }
        saves += run.acknowledged.len();
        partial_lines += usize::from(run.partial > 0);
        for (id, marker) in run.acknowledged {
            working_set.insert(id);
            markers.entry(id).or_default().push(marker);
        }
        let full = (trial + 1) % FULL_CHECK_EVERY == 0 || trial + 1 == trials;
        let check_started = Instant::now();
        working_set =
            assert_markers_are_stored(&store, &markers, (!full).then_some(&working_set), &context);
        checking += check_started.elapsed();
    }

    eprintln!(
        "{trials} trials, {saves} acknowledged saves in {} records, {partial_lines} cut lines, \
         {early_kills} kills before the first save, {:.1} s ({:.1} s opening and checking)",
        markers.len(),
        started.elapsed().as_secs_f64(),
        checking.as_secs_f64()
    );
    assert!(
        saves as u64 >= trials,
        "each trial should acknowledge at least one save"
    );
}

/// Starts the saver, kills it `delay` after its first acknowledged save (or after spawning when
/// `early`), and returns what it printed.
fn run_saver_until_killed(
    store: &Path,
    trial: u64,
    seed: u64,
    delay: Duration,
    early: bool,
) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldbook-saver"))
        .arg(store)
        .arg(hex::encode(KEY))
        .arg((trial * MARKERS_PER_TRIAL).to_string())
        .arg(seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fieldbook-saver");
    let stdout = child.stdout.take().expect("piped stdout");
    let (first_line, first_line_seen) = mpsc::channel();
    let reader = std::thread::spawn(move || read_lines(stdout, first_line));

    if !early && first_line_seen.recv_timeout(FIRST_SAVE_TIMEOUT).is_err() {
        fail_with_stderr(&mut child, trial, "the saver acknowledged no save");
    }
    std::thread::sleep(delay);
    if child.try_wait().expect("poll saver").is_some() {
        fail_with_stderr(&mut child, trial, "the saver stopped before it was killed");
    }
    child.kill().expect("SIGKILL the saver");
    let status = child.wait().expect("reap saver");
    assert_eq!(status.signal(), Some(9), "trial {trial}: {status}");
    reader.join().expect("stdout reader")
}

/// Reads the saver's stdout to the end; signals once the first complete line arrived.
fn read_lines(stdout: impl Read, first_line: mpsc::Sender<()>) -> Run {
    let mut reader = BufReader::new(stdout);
    let mut run = Run::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .expect("read saver stdout");
        if n == 0 {
            return run;
        }
        if line.last() != Some(&b'\n') {
            run.partial = line.len();
            return run;
        }
        let text = std::str::from_utf8(&line).expect("utf-8 line");
        let mut words = text.split_whitespace();
        let (Some("saved"), Some(id), Some(marker), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            panic!("unexpected saver line {text:?}");
        };
        let id: RecordId = id.parse().expect("record id");
        run.acknowledged.push((id, marker.to_owned()));
        if run.acknowledged.len() == 1 {
            let _ = first_line.send(());
        }
    }
}

fn fail_with_stderr(child: &mut Child, trial: u64, what: &str) -> ! {
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    panic!("trial {trial}: {what}; its stderr:\n{stderr}");
}

/// Opens the store as the app would and checks it whole, then the acknowledged markers of the
/// records in `only` (all when `None`). Returns the reports the next saver run will edit.
fn assert_markers_are_stored(
    store: &Path,
    markers: &BTreeMap<RecordId, Vec<String>>,
    only: Option<&BTreeSet<RecordId>>,
    context: &str,
) -> BTreeSet<RecordId> {
    let mut device = Device::open(store, &DatabaseKey::Raw(KEY), Arc::new(SystemClock))
        .unwrap_or_else(|e| panic!("{context}: the store does not open after SIGKILL: {e}"));
    device
        .check_integrity()
        .unwrap_or_else(|e| panic!("{context}: integrity check failed: {e}"));
    let checked = markers
        .iter()
        .filter(|(id, _)| only.is_none_or(|set| set.contains(*id)));
    for (id, expected) in checked {
        let record = match device.get(*id) {
            Ok(r) => r,
            Err(Error::NotFound(_)) => {
                panic!("{context}: acknowledged record {id} is missing (markers {expected:?})")
            }
            Err(e) => panic!("{context}: record {id} does not load: {e}"),
        };
        let Record::Crime(report) = record else {
            panic!("{context}: record {id} is not a crime report");
        };
        let words: std::collections::BTreeSet<&str> = report.narrative.split_whitespace().collect();
        let lost: Vec<&String> = expected
            .iter()
            .filter(|m| !words.contains(m.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "{context}: record {id} lost acknowledged markers {lost:?}"
        );
    }
    device
        .list(&RecordQuery {
            kind: Some(RecordKind::CrimeReport),
            limit: Some(SAVER_WORKING_SET),
            ..RecordQuery::default()
        })
        .unwrap_or_else(|e| panic!("{context}: listing reports failed: {e}"))
        .into_iter()
        .map(|p| p.id)
        .collect()
}

/// SplitMix64: reproducible delays from `FIELDBOOK_SEED`, no dependency.
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
