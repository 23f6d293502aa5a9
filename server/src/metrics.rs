//! Prometheus text exposition, hand-written: a handful of counters, one gauge, one histogram.
//! Labels carry endpoints, status codes and rule ids only, never personal data.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// The server's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    rejected_by_rule: Mutex<BTreeMap<String, u64>>,
    changes_accepted: AtomicU64,
    changes_rejected: AtomicU64,
    commits_moved: AtomicU64,
    feed_lag: AtomicU64,
    sync_buckets: [AtomicU64; BUCKETS.len()],
    sync_count: AtomicU64,
    sync_sum_us: AtomicU64,
}

impl Metrics {
    pub fn request(&self, endpoint: &'static str, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((endpoint, status)).or_default() += 1;
    }

    pub fn accepted(&self, changes: u64) {
        self.changes_accepted.fetch_add(changes, Ordering::Relaxed);
    }

    /// A group commit found a record moved on by another writer, and was checked again.
    pub fn commit_moved(&self) {
        self.commits_moved.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self, rule: &str, changes: u64) {
        self.changes_rejected.fetch_add(changes, Ordering::Relaxed);
        let mut map = self
            .rejected_by_rule
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *map.entry(rule.to_owned()).or_default() += 1;
    }

    pub fn feed_lag(&self, lag: u64) {
        self.feed_lag.store(lag, Ordering::Relaxed);
    }

    pub fn sync_duration(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.sync_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sync_count.fetch_add(1, Ordering::Relaxed);
        self.sync_sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// The exposition; `documents` is what the document cache holds: (estimated bytes, count).
    pub fn render(&self, documents: (usize, usize)) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP fieldbook_document_cache_bytes Estimated memory of the documents kept loaded.\n",
        );
        out.push_str("# TYPE fieldbook_document_cache_bytes gauge\n");
        let _ = writeln!(out, "fieldbook_document_cache_bytes {}", documents.0);
        out.push_str("# HELP fieldbook_document_cache_documents Documents kept loaded.\n");
        out.push_str("# TYPE fieldbook_document_cache_documents gauge\n");
        let _ = writeln!(out, "fieldbook_document_cache_documents {}", documents.1);
        out.push_str("# HELP fieldbook_requests_total HTTP requests by endpoint and status.\n");
        out.push_str("# TYPE fieldbook_requests_total counter\n");
        for ((endpoint, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "fieldbook_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP fieldbook_changes_accepted_total Changes newly stored.\n");
        out.push_str("# TYPE fieldbook_changes_accepted_total counter\n");
        let _ = writeln!(
            out,
            "fieldbook_changes_accepted_total {}",
            self.changes_accepted.load(Ordering::Relaxed)
        );
        out.push_str("# HELP fieldbook_commits_moved_total Group commits that found a record changed by another writer since it was checked (checked again).\n");
        out.push_str("# TYPE fieldbook_commits_moved_total counter\n");
        let _ = writeln!(
            out,
            "fieldbook_commits_moved_total {}",
            self.commits_moved.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP fieldbook_changes_rejected_total Changes in rejected record pushes.\n",
        );
        out.push_str("# TYPE fieldbook_changes_rejected_total counter\n");
        let _ = writeln!(
            out,
            "fieldbook_changes_rejected_total {}",
            self.changes_rejected.load(Ordering::Relaxed)
        );
        out.push_str("# HELP fieldbook_records_rejected_total Record pushes refused, by rule.\n");
        out.push_str("# TYPE fieldbook_records_rejected_total counter\n");
        for (rule, n) in self
            .rejected_by_rule
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "fieldbook_records_rejected_total{{rule=\"{rule}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP fieldbook_feed_lag Server max seq minus the cursor of the last sync request.\n",
        );
        out.push_str("# TYPE fieldbook_feed_lag gauge\n");
        let _ = writeln!(
            out,
            "fieldbook_feed_lag {}",
            self.feed_lag.load(Ordering::Relaxed)
        );
        out.push_str("# HELP fieldbook_sync_duration_seconds Duration of POST /v1/sync.\n");
        out.push_str("# TYPE fieldbook_sync_duration_seconds histogram\n");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "fieldbook_sync_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                self.sync_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.sync_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "fieldbook_sync_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "fieldbook_sync_duration_seconds_sum {}",
            self.sync_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "fieldbook_sync_duration_seconds_count {count}");
        out
    }
}
