//! Sync between a device and the force's server: a batched change feed over HTTP.
//!
//! The device pushes the automerge changes its documents have that the server has not
//! acknowledged, and pulls every change the server accepted after the device's cursor, for all
//! records at once, in one round trip ([`wire::SyncRequest`]). Automerge deduplicates changes by
//! hash, so every request is idempotent: a retried push or pull is harmless. A per-record repair
//! path runs automerge's own sync protocol only when heads disagree after the feed.
//!
//! Layers, sans-I/O in the middle as in matrix-rust-sdk:
//!
//! - [`wire`]: the messages, shared with the server (`docs/sync-protocol.md`);
//! - [`client`]: the state machine: builds requests from the outbox, interprets responses into
//!   one store write per response; no network, no SQLite, no clock;
//! - [`repair`]: automerge's sync protocol for one record, also sans-I/O;
//! - [`http`]: the reqwest edge: CBOR POSTs, typed errors, retries with backoff and jitter.
//!
//! - [`quarantine`]: what a refusal does to a record: its refused state is kept, the record is
//!   rebuilt from the server's version with the allowed edits re-applied.
//! - [`held_back`]: what a feed entry that cannot be applied does: it is kept aside, its record
//!   left as stored, and the rest of the page applies.
//!
//! [`crate::device::Device::sync`] ties them together. **Invariant:** nothing here deletes a record
//! holding changes the server has not acknowledged, except a record the server refused for good,
//! which moves whole into the quarantine in the same transaction.

pub mod client;
pub mod held_back;
pub mod http;
pub mod quarantine;
pub mod repair;
pub mod wire;

use crate::domain::{OfficerId, RecordId, RecordKind, Role};
use std::time::Duration;

/// What a sync is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPhase {
    /// Sending the outbox (each request also pulls a page).
    Pushing,
    /// Pulling feed pages.
    Pulling,
    /// Repairing records with automerge's sync protocol.
    Repairing,
    /// Finished.
    Done,
}

/// Receives progress of a sync. Every method has a default that ignores it. Called from the
/// task running the sync; implementations must be cheap.
pub trait SyncProgress: Send + Sync {
    /// The phase changed.
    fn phase(&self, _phase: SyncPhase) {}
    /// The outbox to push: `records` in `requests` requests.
    fn outbox(&self, _records: u64, _requests: u64) {}
    /// A request was answered: `records` pushed in it, `bytes` sent.
    fn pushed(&self, _records: u64, _bytes: u64) {}
    /// A feed page was applied: `records` entries, `bytes` received, the page count so far.
    fn pulled(&self, _records: u64, _bytes: u64, _pages: u64) {}
}

/// A [`SyncProgress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl SyncProgress for NoProgress {}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Records pushed.
    pub pushed_records: u64,
    /// Changes pushed.
    pub pushed_changes: u64,
    /// Request bytes sent.
    pub pushed_bytes: u64,
    /// Records the server accepted.
    pub accepted: u64,
    /// Records the server refused, with the rule (none is dropped: each is quarantined, or
    /// needs attention).
    pub rejected: Vec<(RecordId, wire::RefusalCode)>,
    /// Refused records whose refused state went to the quarantine: rebuilt from the server's
    /// version with the allowed edits re-applied, or removed if the server never held them.
    pub quarantined: u64,
    /// Feed entries (and repairs) held back because they could not be applied
    /// ([`held_back`]); the rest of the sync went on.
    pub held_back: u64,
    /// Changes applied from the feed.
    pub pulled_changes: u64,
    /// Records received whole.
    pub pulled_snapshots: u64,
    /// Records deleted because they left this device's scope.
    pub evicted: u64,
    /// Evictions not done because the record holds unsynced work.
    pub evictions_kept: u64,
    /// Response bytes received.
    pub pulled_bytes: u64,
    /// Feed pages applied.
    pub pages: u64,
    /// Requests answered (sync and repair).
    pub round_trips: u64,
    /// Records repaired.
    pub repairs: u64,
    /// Repairs that could not finish (tried again next sync).
    pub repairs_failed: u64,
    /// The cursor after the sync.
    pub cursor: u64,
    /// Wall time taken.
    pub duration: Duration,
}

/// Where this device stands with the server; read from the store, no network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// The server this device is enrolled with.
    pub server: Option<String>,
    /// The server's id for this device.
    pub device_id: Option<String>,
    /// The team, if any.
    pub team: Option<String>,
    /// Records holding changes the server has not acknowledged.
    pub unsynced: u64,
    /// The last sync that finished, ms since epoch (device clock).
    pub last_sync_at: Option<i64>,
    /// The feed position applied.
    pub cursor: u64,
    /// The code of the last failed sync (e.g. `offline`, `device-revoked`), cleared by a
    /// successful one.
    pub last_error: Option<String>,
    /// Records the server refused whose changes stay in the outbox (the refusal was about the
    /// device, e.g. its actor is not enrolled).
    pub attention: Vec<AttentionItem>,
    /// Refused states kept in the quarantine, waiting for the officer
    /// ([`crate::device::Device::quarantine`]).
    pub quarantined: u64,
    /// Feed entries held back because they could not be applied ([`crate::device::Device::held_back`]).
    pub held_back: u64,
}

/// A record needing attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionItem {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The server's rule.
    pub rule: String,
    /// What is wrong and what to do.
    pub message: String,
    /// The field to blame, if one.
    pub field: Option<String>,
}

/// The result of enrolling this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The server.
    pub server: String,
    /// The server's id for this device.
    pub device_id: String,
    /// The officer.
    pub officer: OfficerId,
    /// Their role.
    pub role: Role,
    /// Their team.
    pub team: Option<String>,
}

/// A server receipt time of one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The change hash (hex).
    pub change: String,
    /// Server receipt time, ms since epoch.
    pub received_at: i64,
}

/// Meta keys of the sync settings (in the encrypted store).
pub(crate) mod keys {
    pub const SERVER: &str = "sync.server";
    pub const DEVICE_ID: &str = "sync.device_id";
    pub const TOKEN: &str = "sync.token";
    pub const CURSOR: &str = super::client::CURSOR_KEY;
    pub const LAST_SYNC_AT: &str = "sync.last_sync_at";
    pub const TEAM: &str = "sync.team";
    pub const LAST_ERROR: &str = "sync.last_error";
}
