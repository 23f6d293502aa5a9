//! The sync progress bar: on stderr, hidden when stderr is not a terminal (indicatif's stderr
//! target draws nothing then), so scripts see only the summary line on stdout.

use fieldbook_core::sync::{SyncPhase, SyncProgress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Shows a sync's phase, records pushed and pulled, and bytes moved.
#[derive(Debug)]
pub struct SyncBar {
    bar: ProgressBar,
    bytes: AtomicU64,
    pulled: AtomicU64,
}

impl SyncBar {
    pub fn new() -> SyncBar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix:>9} [{bar:30}] {pos}/{len} records {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        SyncBar {
            bar,
            bytes: AtomicU64::new(0),
            pulled: AtomicU64::new(0),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn show_bytes(&self, more: u64) {
        let total = self.bytes.fetch_add(more, Ordering::Relaxed) + more;
        let pulled = self.pulled.load(Ordering::Relaxed);
        self.bar.set_message(format!(
            "· {pulled} pulled · {}",
            indicatif::HumanBytes(total)
        ));
    }
}

impl SyncProgress for SyncBar {
    fn phase(&self, phase: SyncPhase) {
        let name = match phase {
            SyncPhase::Pushing => "pushing",
            SyncPhase::Pulling => "pulling",
            SyncPhase::Repairing => "repairing",
            SyncPhase::Done => "done",
        };
        self.bar.set_prefix(name);
    }

    fn outbox(&self, records: u64, _requests: u64) {
        self.bar.set_length(records);
    }

    fn pushed(&self, records: u64, bytes: u64) {
        self.bar.inc(records);
        self.show_bytes(bytes);
    }

    fn pulled(&self, records: u64, bytes: u64, _pages: u64) {
        self.pulled.fetch_add(records, Ordering::Relaxed);
        self.show_bytes(bytes);
    }
}
