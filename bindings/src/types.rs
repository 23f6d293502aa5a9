//! Mirrors of the core's non-record types (findings, list rows, sync status, review queue),
//! with `From` impls. Times are `SystemTime` (Kotlin `Instant`, Swift `Date`, Python
//! `datetime`); JSON values (diffs, conflicts) are JSON text.

use crate::records::{RecordKind, Role, Status};
use fieldbook_core::device::{ApprovalState as CoreApproval, FieldDiff as CoreDiff};
use fieldbook_core::domain::Timestamp;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch (the store's columns) as a `SystemTime`, either side of 1970.
pub(crate) fn time(ms: i64) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

pub(crate) fn ts(t: Timestamp) -> SystemTime {
    crate::records::time_to_ffi(t)
}

fn json(v: &serde_json::Value) -> String {
    v.to_string()
}

/// Blocks submission, or is only shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Severity {
    /// Blocks submission.
    Error,
    /// Shown; does not block.
    Warning,
}

/// One broken rule: which field, which rule, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Finding {
    /// Field path, e.g. `grounds`, `victims[0]`, `referral.explicit_consent`.
    pub field: String,
    /// Stable rule id, e.g. `ss-grounds-specific`.
    pub rule: String,
    /// A sentence an officer understands, with what to do. No personal data.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl From<fieldbook_core::rules::Finding> for Finding {
    fn from(f: fieldbook_core::rules::Finding) -> Self {
        let fieldbook_core::rules::Finding {
            field,
            rule,
            message,
            severity,
        } = f;
        Finding {
            field,
            rule,
            message,
            severity: match severity {
                fieldbook_core::rules::Severity::Error => Severity::Error,
                fieldbook_core::rules::Severity::Warning => Severity::Warning,
            },
        }
    }
}

/// The enrolled user of a device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserInfo {
    /// Officer (collar / staff) number.
    pub officer: String,
    /// Role.
    pub role: Role,
}

/// One row of a record list: the indexed fields, never personal data.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordSummary {
    /// Record id.
    pub id: String,
    /// Kind.
    pub kind: RecordKind,
    /// Workflow status.
    pub status: Status,
    /// Author.
    pub author: String,
    /// Created (device clock).
    pub created_at: SystemTime,
    /// Last local change or merge.
    pub updated_at: SystemTime,
    /// The record's main time (report, detention, assessment); none for a person.
    pub event_at: Option<SystemTime>,
    /// Crime reports with no recording decision yet: when it falls due.
    pub decision_due_at: Option<SystemTime>,
    /// Stop-searches still needing a receipt (or a reason for none).
    pub receipt_needed: bool,
    /// Offence code, ASB type or power.
    pub classification: Option<String>,
    /// Latitude, for map screens.
    pub lat: Option<f64>,
    /// Longitude, for map screens.
    pub lon: Option<f64>,
    /// Flags, e.g. `domestic_abuse`.
    pub flags: Vec<String>,
    /// Legal-field conflicts awaiting resolution.
    pub conflicts: u32,
}

impl From<fieldbook_core::storage::Projection> for RecordSummary {
    fn from(p: fieldbook_core::storage::Projection) -> Self {
        RecordSummary {
            id: p.id.to_string(),
            kind: p.kind.into(),
            status: p.status.into(),
            author: p.author.to_string(),
            created_at: time(p.created_at),
            updated_at: time(p.updated_at),
            event_at: p.event_at.map(time),
            decision_due_at: p.decision_due_at.map(time),
            receipt_needed: p.receipt_needed,
            classification: p.classification,
            lat: p.lat,
            lon: p.lon,
            flags: p
                .flags
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            conflicts: p.conflicts,
        }
    }
}

/// Which records to list; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct RecordFilter {
    /// Only this kind.
    #[uniffi(default = None)]
    pub kind: Option<RecordKind>,
    /// Only this status.
    #[uniffi(default = None)]
    pub status: Option<Status>,
    /// Only this author.
    #[uniffi(default = None)]
    pub author: Option<String>,
    /// At most this many rows (default 1,000).
    #[uniffi(default = None)]
    pub limit: Option<u32>,
}

/// A record with the version it was read at, for `save_versioned`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VersionedRecord {
    /// The record.
    pub record: crate::records::Record,
    /// The version read (opaque).
    pub version: String,
}

/// One field whose value differs between two versions (values as JSON text, `null` when
/// absent).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldDiff {
    /// Field path.
    pub field: String,
    /// The older value, JSON.
    pub old_json: String,
    /// The newer value, JSON.
    pub new_json: String,
}

impl From<CoreDiff> for FieldDiff {
    fn from(d: CoreDiff) -> Self {
        FieldDiff {
            field: d.field,
            old_json: json(&d.old),
            new_json: json(&d.new),
        }
    }
}

/// Where a record stands against its last approval.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ApprovalState {
    /// Never approved.
    NotApproved,
    /// Approved, and unchanged since.
    Approved {
        /// The supervisor.
        by: String,
        /// When (their device's time).
        at: SystemTime,
    },
    /// Approved once; changed (or re-opened) since.
    ChangedSinceApproval {
        /// The supervisor of the last approval.
        by: String,
        /// When it was given.
        at: SystemTime,
        /// What differs from the approved version.
        changed_fields: Vec<FieldDiff>,
    },
}

impl From<CoreApproval> for ApprovalState {
    fn from(a: CoreApproval) -> Self {
        match a {
            CoreApproval::NotApproved => ApprovalState::NotApproved,
            CoreApproval::Approved { by, at, heads: _ } => ApprovalState::Approved {
                by: by.to_string(),
                at: ts(at),
            },
            CoreApproval::ChangedSinceApproval {
                by,
                at,
                approved_heads: _,
                changed_fields,
            } => ApprovalState::ChangedSinceApproval {
                by: by.to_string(),
                at: ts(at),
                changed_fields: changed_fields.into_iter().map(FieldDiff::from).collect(),
            },
        }
    }
}

/// One record waiting for a supervisor.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct QueueItem {
    /// The record.
    pub id: String,
    /// Its kind.
    pub kind: RecordKind,
    /// Its author.
    pub author: String,
    /// `submitted`, or `approved` when changed since approval.
    pub status: Status,
    /// When the incident was reported (else the record's creation).
    pub reported_at: SystemTime,
    /// Time since the report, on this device's clock.
    pub waiting: Duration,
    /// When it was last submitted.
    pub submitted_at: Option<SystemTime>,
    /// Every rule finding.
    pub findings: Vec<Finding>,
    /// Against its last approval, with the diff since.
    pub approval: ApprovalState,
    /// Whether this supervisor may approve it now.
    pub can_approve: bool,
    /// Why not, when it cannot be approved.
    pub blocked_because: Option<String>,
}

impl From<fieldbook_core::device::QueueItem> for QueueItem {
    fn from(q: fieldbook_core::device::QueueItem) -> Self {
        QueueItem {
            id: q.id.to_string(),
            kind: q.kind.into(),
            author: q.author.to_string(),
            status: q.status.into(),
            reported_at: time(q.reported_at),
            waiting: Duration::from_millis(u64::try_from(q.waiting_ms).unwrap_or(0)),
            submitted_at: q.submitted_at.map(ts),
            findings: q.findings.into_iter().map(Finding::from).collect(),
            approval: q.approval.into(),
            can_approve: q.can_approve,
            blocked_because: q.blocked_because,
        }
    }
}

/// A record a supervisor returned to this user: a task.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReturnedItem {
    /// The record.
    pub id: String,
    /// Its kind.
    pub kind: RecordKind,
    /// The supervisor who returned it.
    pub by: String,
    /// When.
    pub at: SystemTime,
    /// What to change.
    pub reason: String,
}

impl From<fieldbook_core::device::ReturnedItem> for ReturnedItem {
    fn from(r: fieldbook_core::device::ReturnedItem) -> Self {
        ReturnedItem {
            id: r.id.to_string(),
            kind: r.kind.into(),
            by: r.by.to_string(),
            at: ts(r.at),
            reason: r.reason,
        }
    }
}

/// One field changed by one change, for the history screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldChange {
    /// The change hash.
    pub change: String,
    /// Who made it.
    pub by: Option<String>,
    /// Their role.
    pub role: Option<Role>,
    /// The action (`edit`, `submit`, ...).
    pub action: Option<String>,
    /// Device time of the change.
    pub at: Option<SystemTime>,
    /// Field path.
    pub field: String,
    /// Old value, JSON (none when it was added).
    pub old_json: Option<String>,
    /// New value, JSON (none when it was removed).
    pub new_json: Option<String>,
}

impl From<fieldbook_core::doc::FieldChange> for FieldChange {
    fn from(c: fieldbook_core::doc::FieldChange) -> Self {
        FieldChange {
            change: c.change,
            by: c.by.map(|o| o.to_string()),
            role: c.role.map(Role::from),
            action: c.action,
            at: c.at.map(ts),
            field: c.field,
            old_json: c.old.as_ref().map(json),
            new_json: c.new.as_ref().map(json),
        }
    }
}

/// A legal field two devices set differently at once; a person chooses.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Conflict {
    /// Field path.
    pub field: String,
    /// The value shown now, JSON.
    pub current_json: String,
    /// Every competing value, JSON, with who wrote it.
    pub values: Vec<ConflictValue>,
}

/// One competing value of a conflict.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictValue {
    /// The value, JSON.
    pub value_json: String,
    /// Who wrote it, if known.
    pub by: Option<String>,
}

impl From<fieldbook_core::doc::Conflict> for Conflict {
    fn from(c: fieldbook_core::doc::Conflict) -> Self {
        Conflict {
            field: c.field,
            current_json: json(&c.current),
            values: c
                .values
                .into_iter()
                .map(|v| ConflictValue {
                    value_json: json(&v.value),
                    by: v.by.map(|o| o.to_string()),
                })
                .collect(),
        }
    }
}

/// What a sync is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    /// Sending the outbox.
    Pushing,
    /// Pulling feed pages.
    Pulling,
    /// Repairing records.
    Repairing,
    /// Finished.
    Done,
}

impl From<fieldbook_core::sync::SyncPhase> for SyncPhase {
    fn from(p: fieldbook_core::sync::SyncPhase) -> Self {
        use fieldbook_core::sync::SyncPhase as P;
        match p {
            P::Pushing => SyncPhase::Pushing,
            P::Pulling => SyncPhase::Pulling,
            P::Repairing => SyncPhase::Repairing,
            P::Done => SyncPhase::Done,
        }
    }
}

/// A record the server refused.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Rejection {
    /// The record.
    pub id: String,
    /// The server's rule.
    pub rule: String,
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Records pushed.
    pub pushed_records: u64,
    /// Changes pushed.
    pub pushed_changes: u64,
    /// Bytes sent.
    pub pushed_bytes: u64,
    /// Records the server accepted.
    pub accepted: u64,
    /// Records the server refused.
    pub rejected: Vec<Rejection>,
    /// Refused states moved to the quarantine by this sync.
    pub quarantined: u64,
    /// Updates from the server this sync could not apply and kept aside (the records stay as
    /// they were; everything else synced).
    pub held_back: u64,
    /// Changes applied from the feed.
    pub pulled_changes: u64,
    /// Records received whole.
    pub pulled_snapshots: u64,
    /// Records removed because they left this device's scope.
    pub evicted: u64,
    /// Bytes received.
    pub pulled_bytes: u64,
    /// Requests answered.
    pub round_trips: u64,
    /// Wall time taken.
    pub duration: Duration,
}

impl From<fieldbook_core::sync::SyncReport> for SyncReport {
    fn from(r: fieldbook_core::sync::SyncReport) -> Self {
        SyncReport {
            pushed_records: r.pushed_records,
            pushed_changes: r.pushed_changes,
            pushed_bytes: r.pushed_bytes,
            accepted: r.accepted,
            rejected: r
                .rejected
                .into_iter()
                .map(|(id, rule)| Rejection {
                    id: id.to_string(),
                    rule: rule.to_string(),
                })
                .collect(),
            quarantined: r.quarantined,
            held_back: r.held_back,
            pulled_changes: r.pulled_changes,
            pulled_snapshots: r.pulled_snapshots,
            evicted: r.evicted,
            pulled_bytes: r.pulled_bytes,
            round_trips: r.round_trips,
            duration: r.duration,
        }
    }
}

/// A refused state kept on the device after the server refused it: the live record was
/// rebuilt from the server's version with the edits the policy allows; this holds the rest.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuarantineItem {
    /// The quarantine id (never reused).
    pub id: u64,
    /// The record.
    pub record_id: String,
    /// Its kind.
    pub kind: RecordKind,
    /// The server's rule, e.g. `policy-approved-locked`.
    pub rule: String,
    /// The field the server blamed, if one.
    pub field: Option<String>,
    /// What the server said.
    pub reason: String,
    /// When it was kept (device clock).
    pub at: SystemTime,
    /// The server never held the record: it lives only here now.
    pub removed: bool,
    /// What the officer typed that the live record does not hold (`old` live, `new` refused).
    pub refused: Vec<FieldDiff>,
}

impl From<fieldbook_core::device::QuarantineItem> for QuarantineItem {
    fn from(q: fieldbook_core::device::QuarantineItem) -> Self {
        QuarantineItem {
            id: q.id,
            record_id: q.record.to_string(),
            kind: q.kind.into(),
            rule: q.rule,
            field: q.field,
            reason: q.message,
            at: ts(q.when),
            removed: q.removed,
            refused: q.refused.into_iter().map(FieldDiff::from).collect(),
        }
    }
}

/// A record the server refused, as the status screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttentionItem {
    /// The record.
    pub id: String,
    /// Its kind.
    pub kind: RecordKind,
    /// The server's rule.
    pub rule: String,
    /// What is wrong and what to do.
    pub message: String,
    /// The field to blame, if one.
    pub field: Option<String>,
}

/// Where this device stands with the server (from the store; no network).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// The server this device is enrolled with.
    pub server: Option<String>,
    /// The server's id for this device.
    pub device_id: Option<String>,
    /// The team.
    pub team: Option<String>,
    /// Records with changes the server has not acknowledged.
    pub unsynced: u64,
    /// The last sync that finished (device clock).
    pub last_sync_at: Option<SystemTime>,
    /// The code of the last failed sync (`offline`, `device-revoked`...).
    pub last_error: Option<String>,
    /// Records the server refused that need the device fixed (re-enrolment).
    pub attention: Vec<AttentionItem>,
    /// Refused states waiting in the quarantine for the officer.
    pub quarantined: u64,
    /// Updates from the server kept aside because they could not be applied: tell the officer
    /// to report the records to their IT team.
    pub held_back: u64,
}

impl From<fieldbook_core::sync::SyncStatus> for SyncStatus {
    fn from(s: fieldbook_core::sync::SyncStatus) -> Self {
        SyncStatus {
            server: s.server,
            device_id: s.device_id,
            team: s.team,
            unsynced: s.unsynced,
            last_sync_at: s.last_sync_at.map(time),
            last_error: s.last_error,
            attention: s
                .attention
                .into_iter()
                .map(|a| AttentionItem {
                    id: a.id.to_string(),
                    kind: a.kind.into(),
                    rule: a.rule,
                    message: a.message,
                    field: a.field,
                })
                .collect(),
            quarantined: s.quarantined,
            held_back: s.held_back,
        }
    }
}

/// The result of enrolling a device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolment {
    /// The server.
    pub server: String,
    /// The server's id for this device.
    pub device_id: String,
    /// The officer.
    pub officer: String,
    /// Their role.
    pub role: Role,
    /// Their team.
    pub team: Option<String>,
}

impl From<fieldbook_core::sync::Enrolment> for Enrolment {
    fn from(e: fieldbook_core::sync::Enrolment) -> Self {
        Enrolment {
            server: e.server,
            device_id: e.device_id,
            officer: e.officer.to_string(),
            role: e.role.into(),
            team: e.team,
        }
    }
}

/// One entry of the access log (who read or changed a record holding personal data).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccessLogEntry {
    /// When.
    pub at: SystemTime,
    /// Who.
    pub officer: String,
    /// Which record.
    pub record_id: String,
    /// What: `view`, `create`, `alter`, `export`.
    pub action: String,
    /// Why.
    pub purpose: String,
}

impl From<fieldbook_core::storage::AccessLogEntry> for AccessLogEntry {
    fn from(e: fieldbook_core::storage::AccessLogEntry) -> Self {
        AccessLogEntry {
            at: time(e.at_ms),
            officer: e.officer.to_string(),
            record_id: e.record_id.to_string(),
            action: e.action,
            purpose: e.purpose,
        }
    }
}

/// A code and its label, for pickers.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Choice {
    /// What is stored.
    pub code: String,
    /// What is shown.
    pub label: String,
}

/// A power to stop and search, with what it permits.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SearchPower {
    /// Short code.
    pub code: String,
    /// The legislation, as stored in `legislation`.
    pub label: String,
    /// Objects of search this power permits.
    pub objects: Vec<String>,
}

/// The reference lists the record screens pick from (one version, shipped in the library).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReferenceLists {
    /// Reference data version, e.g. `2026.1`.
    pub version: String,
    /// Home Office offence classifications.
    pub offences: Vec<Choice>,
    /// Crime outcomes (0-22).
    pub crime_outcomes: Vec<Choice>,
    /// Stop-and-search powers.
    pub search_powers: Vec<SearchPower>,
    /// Stop-and-search types (person, vehicle...).
    pub search_types: Vec<String>,
    /// Stop-and-search outcomes.
    pub search_outcomes: Vec<String>,
    /// Genders.
    pub genders: Vec<String>,
    /// Officer-defined ethnicities.
    pub officer_defined_ethnicities: Vec<String>,
    /// Self-defined ethnicities (16+1), code and label.
    pub self_defined_ethnicities: Vec<Choice>,
    /// Anti-social behaviour types.
    pub asb_types: Vec<Choice>,
    /// ASB qualifiers.
    pub asb_qualifiers: Vec<String>,
    /// Victims' Code enhanced-rights categories.
    pub enhanced_rights: Vec<Choice>,
}

impl From<&fieldbook_core::refdata::ReferenceData> for ReferenceLists {
    fn from(r: &fieldbook_core::refdata::ReferenceData) -> Self {
        let choice = |code: &str, label: &str| Choice {
            code: code.to_owned(),
            label: label.to_owned(),
        };
        ReferenceLists {
            version: r.version.clone(),
            offences: r
                .offences
                .iter()
                .map(|o| choice(&o.code, &o.label))
                .collect(),
            crime_outcomes: r
                .crime_outcomes
                .iter()
                .map(|o| choice(&o.code, &o.label))
                .collect(),
            search_powers: r
                .search_powers
                .iter()
                .map(|p| SearchPower {
                    code: p.code.clone(),
                    label: p.label.clone(),
                    objects: p.objects.clone(),
                })
                .collect(),
            search_types: r.search_types.iter().map(|t| t.label.clone()).collect(),
            search_outcomes: r.search_outcomes.iter().map(|o| o.label.clone()).collect(),
            genders: r.genders.clone(),
            officer_defined_ethnicities: r.officer_defined_ethnicities.clone(),
            self_defined_ethnicities: r
                .self_defined_ethnicities
                .iter()
                .map(|e| choice(&e.code, &e.label))
                .collect(),
            asb_types: r
                .asb_types
                .iter()
                .map(|a| choice(&a.code, &a.label))
                .collect(),
            asb_qualifiers: r.asb_qualifiers.clone(),
            enhanced_rights: r
                .enhanced_rights
                .iter()
                .map(|e| choice(&e.code, &e.label))
                .collect(),
        }
    }
}
