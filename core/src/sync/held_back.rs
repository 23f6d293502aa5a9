//! Feed entries the device keeps aside instead of applying: one poisoned record must not stop a
//! device's whole sync.
//!
//! Each entry of a feed page is independent. An entry whose changes do not decode, do not apply
//! (automerge refusing them or panicking on them), or leave a document that is not a record of
//! the entry's kind, or breaks the size limits ([`crate::limits::check`]), is not applied: the
//! record stays exactly as it was stored (its document in memory is dropped, so nothing
//! half-applied remains), the entry is kept as received in the store's `held_back` table with a
//! [`HoldReason`], and the page's other entries and the cursor are applied as usual.
//!
//! A record with held-back entries is *held*: its later entries that build on what was held back
//! (changes whose dependencies the device lacks) are held back too, in order, rather than queued
//! out of sight; and it is never repaired automatically, since a repair would fetch the same
//! bytes and fail the same way at every sync. Entries that stand on their own (a snapshot of the
//! whole record, changes on what the device holds) are still tried. The count is in
//! [`super::SyncReport::held_back`] and [`super::SyncStatus::held_back`], and
//! [`crate::device::Device::held_back`] lists them, so the officer is told.
//!
//! The check costs no save → load round trip per entry (the server round-trips every document it
//! accepts, and a compaction loads its bytes back before replacing anything:
//! [`crate::device`]); it reuses the hydration the projection needs anyway.

use super::wire::ReceivedChange;
use crate::doc::RecordDoc;
use crate::doc::bounded::{self, Bounds};
use crate::domain::{RecordId, RecordKind, Timestamp};
use crate::storage::ChangeReceipt;
use serde::{Deserialize, Serialize};

/// Why a feed entry was held back; its code is stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldReason {
    /// A change's bytes are not an automerge change.
    NotAChange,
    /// Automerge refused the changes, or failed (panicked) applying them.
    ChangeNotApplied,
    /// A snapshot's bytes do not load as a whole automerge document.
    NotADocument,
    /// The result is not a record of the entry's kind and id.
    NotARecord,
    /// The result breaks the size limits a device keeps to.
    OverLimits,
    /// The record has another entry held back, and this one waits with it.
    RecordHeldBack,
    /// The record stored on this device cannot be read, so nothing is applied to it.
    RecordUnreadable,
}

impl HoldReason {
    /// Every reason, in declaration order.
    pub const ALL: [HoldReason; 7] = [
        HoldReason::NotAChange,
        HoldReason::ChangeNotApplied,
        HoldReason::NotADocument,
        HoldReason::NotARecord,
        HoldReason::OverLimits,
        HoldReason::RecordHeldBack,
        HoldReason::RecordUnreadable,
    ];

    /// The stable code, e.g. `change-not-applied`.
    pub fn code(self) -> &'static str {
        match self {
            HoldReason::NotAChange => "not-a-change",
            HoldReason::ChangeNotApplied => "change-not-applied",
            HoldReason::NotADocument => "not-a-document",
            HoldReason::NotARecord => "not-a-record",
            HoldReason::OverLimits => "over-limits",
            HoldReason::RecordHeldBack => "record-held-back",
            HoldReason::RecordUnreadable => "record-unreadable",
        }
    }

    /// The reason with this code.
    pub fn from_code(code: &str) -> Option<HoldReason> {
        HoldReason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// What it means, for the officer (no personal data).
    pub fn explanation(self) -> &'static str {
        match self {
            HoldReason::NotAChange => "the server sent bytes that are not a change",
            HoldReason::ChangeNotApplied => "the server sent changes that do not fit the record",
            HoldReason::NotADocument => "the server sent a copy of the record that does not load",
            HoldReason::NotARecord => {
                "the server's changes would leave something that is not this record"
            }
            HoldReason::OverLimits => "the server's changes would make the record too large",
            HoldReason::RecordHeldBack => "it builds on another update of the record held back",
            HoldReason::RecordUnreadable => "the copy of the record on this device cannot be read",
        }
    }
}

impl std::fmt::Display for HoldReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A held-back feed entry, as the device lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBackItem {
    /// Its id (never reused).
    pub id: u64,
    /// The record the entry is for.
    pub record: RecordId,
    /// Its kind, as the entry says.
    pub kind: RecordKind,
    /// Why it was not applied: a [`HoldReason`] code (kept as text, so a code from a newer
    /// build still lists).
    pub reason: String,
    /// When it was kept (this device's clock).
    pub when: Timestamp,
}

/// Applies a changes entry to `doc` and checks the result is still the record; returns the
/// changes' receipts. On an error `doc` may hold some of the changes and must be dropped.
pub(crate) fn apply_changes(
    record: RecordId,
    kind: RecordKind,
    doc: &mut RecordDoc,
    changes: &[ReceivedChange],
) -> Result<Vec<ChangeReceipt>, HoldReason> {
    match doc.kind() {
        Ok(k) if k == kind => {}
        Ok(_) => return Err(HoldReason::NotARecord),
        // The copy here has no known kind: it is no record to apply anything over.
        Err(_) => return Err(HoldReason::RecordUnreadable),
    }
    let before = doc.automerge().get_heads();
    let mut receipts = Vec::with_capacity(changes.len());
    let mut batch = Vec::with_capacity(changes.len());
    for change in changes {
        // Read bounded: nothing of automerge inflates or counts past the record's bounds (their
        // nesting is bounded where they land, as `doc.apply` applies them).
        let decoded =
            bounded::read_change_to_apply(&change.bytes.0, &Bounds::RECORD).map_err(|e| {
                if e.is_malformed() {
                    HoldReason::NotAChange
                } else {
                    HoldReason::OverLimits
                }
            })?;
        receipts.push(ChangeReceipt {
            record,
            hash: decoded.hash().0.to_vec(),
            received_at: change.received_at,
        });
        batch.push(decoded);
    }
    // One call for the entry: automerge applies a batch of changes far faster than one by one.
    doc.apply(batch).map_err(|e| match e {
        // Objects nested past the bound, counted where they land.
        crate::doc::DocError::Bounds(e) if !e.is_malformed() => HoldReason::OverLimits,
        _ => HoldReason::ChangeNotApplied,
    })?;
    check_after(record, kind, doc, &before)?;
    Ok(receipts)
}

/// [`check_record`] of a document changed from the version at `before`, which may never have
/// been read (see `RecordDoc::load_stored_unread`): when the result is no record, and nor was
/// the version it was changed from, the copy here is what cannot be read.
pub(crate) fn check_after(
    record: RecordId,
    kind: RecordKind,
    doc: &mut RecordDoc,
    before: &[automerge::ChangeHash],
) -> Result<(), HoldReason> {
    match check_record(record, kind, doc) {
        Err(HoldReason::NotARecord) if crate::doc::record_at(doc.automerge(), before).is_err() => {
            Err(HoldReason::RecordUnreadable)
        }
        checked => checked,
    }
}

/// The document holds a record of `kind` with id `record`, within the size limits. Hydrates it
/// (remembered: the projection reuses it).
pub(crate) fn check_record(
    record: RecordId,
    kind: RecordKind,
    doc: &mut RecordDoc,
) -> Result<(), HoldReason> {
    let (hydrated, json) = doc.hydrated().map_err(|_| HoldReason::NotARecord)?;
    if hydrated.kind() != kind || hydrated.id() != record {
        return Err(HoldReason::NotARecord);
    }
    crate::limits::check(json).map_err(|_| HoldReason::OverLimits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_code_and_reads_back_from_it() {
        let codes: std::collections::BTreeSet<&str> =
            HoldReason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), HoldReason::ALL.len());
        for reason in HoldReason::ALL {
            assert_eq!(HoldReason::from_code(reason.code()), Some(reason));
            assert_eq!(
                serde_json::to_value(reason).expect("serialises"),
                serde_json::json!(reason.code())
            );
        }
        assert_eq!(HoldReason::from_code("no-such-reason"), None);
    }
}
