//! The quarantine on the device: what the server refused, kept for the officer to see and act
//! on (copy the words into the live record, tell a supervisor, then dismiss it). How a refusal
//! fills it is [`crate::sync::quarantine`].
//!
//! A quarantined state is read back only hydrated, as a [`Record`], from a copy loaded with a
//! throwaway actor: its bytes are never merged into a live document (the rebuilt record reuses
//! the refused change's actor sequence number). Reading or dismissing the state of a person
//! record is written to the access log, as any read of personal data is; so is listing one,
//! since the list shows the refused values.

use super::Device;
use crate::doc::RecordDoc;
use crate::domain::{Record, RecordId, RecordKind, Timestamp};
use crate::error::Error;
use crate::review::FieldDiff;
use crate::storage::QuarantineRow;
use automerge::ActorId;
use serde::{Deserialize, Serialize};

/// A refused state kept on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineItem {
    /// The quarantine id: what the officer names it by (never reused).
    pub id: u64,
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The server's rule, e.g. `policy-approved-locked`.
    pub rule: String,
    /// The field the server blamed, if one.
    pub field: Option<String>,
    /// What the server said (what is wrong, what to do).
    pub message: String,
    /// The first refused change (hex), if the server named it.
    pub change: Option<String>,
    /// When it was kept (this device's clock).
    pub when: Timestamp,
    /// The server never held the record: it is no longer among the live records, and lives
    /// whole here.
    pub removed: bool,
    /// What the officer typed that the live record does not hold: per field, `old` is the live
    /// (server's) value, `new` the refused one. Empty when every edit was re-applied.
    pub refused: Vec<FieldDiff>,
}

impl QuarantineItem {
    fn from_row(row: QuarantineRow) -> Result<QuarantineItem, Error> {
        let e = row.entry;
        let refused: Vec<FieldDiff> =
            serde_json::from_str(&e.refused).map_err(|_| crate::storage::StoreError::Corrupt {
                detail: "a quarantined item's refused fields are not readable".into(),
            })?;
        Ok(QuarantineItem {
            id: row.id,
            record: e.record,
            kind: e.kind,
            rule: e.rule,
            field: e.field,
            message: e.message,
            change: e.change.map(hex::encode),
            when: Timestamp::from_millis(e.at).ok_or_else(|| {
                crate::storage::StoreError::Corrupt {
                    detail: "a quarantined item's time is out of range".into(),
                }
            })?,
            removed: e.removed,
            refused,
        })
    }
}

fn unknown(quarantine_id: u64) -> Error {
    Error::invalid(
        "quarantine",
        "unknown-quarantine",
        format!(
            "no quarantined item {quarantine_id} of this record on this device: list the record's quarantined items for their numbers"
        ),
    )
}

impl Device {
    /// Every refused state kept on this device, oldest first, with the refused values.
    pub fn quarantine(&mut self) -> Result<Vec<QuarantineItem>, Error> {
        let items = self
            .store
            .quarantined()?
            .into_iter()
            .map(QuarantineItem::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for item in items.iter().filter(|i| i.kind.profile().personal) {
            self.log_access(item.record, "view", "quarantine list")?;
        }
        Ok(items)
    }

    /// One quarantined item, with its refused values.
    pub fn quarantine_item(&mut self, quarantine_id: u64) -> Result<QuarantineItem, Error> {
        let (row, _) = self
            .store
            .quarantined_document(quarantine_id)?
            .ok_or_else(|| unknown(quarantine_id))?;
        let item = QuarantineItem::from_row(row)?;
        if item.kind.profile().personal {
            self.log_access(item.record, "view", "quarantine item")?;
        }
        Ok(item)
    }

    /// The whole refused state of record `id` kept as quarantine item `quarantine_id`. Reading
    /// a person's is logged.
    pub fn quarantined_record(
        &mut self,
        id: RecordId,
        quarantine_id: u64,
    ) -> Result<Record, Error> {
        let (row, bytes) = self
            .store
            .quarantined_document(quarantine_id)?
            .filter(|(row, _)| row.entry.record == id)
            .ok_or_else(|| unknown(quarantine_id))?;
        // A throwaway actor: this copy is read, never written to or merged anywhere.
        let doc = RecordDoc::load(&bytes, &ActorId::random())?;
        let record = doc.hydrate()?;
        if row.entry.kind.profile().personal {
            self.log_access(id, "view", "quarantined version")?;
        }
        Ok(record)
    }

    /// Deletes a quarantined state once the officer has read or copied it. Dismissing a person's
    /// is logged (its copy of their details is erased).
    pub fn dismiss_quarantine(&mut self, quarantine_id: u64) -> Result<(), Error> {
        let (row, _) = self
            .store
            .quarantined_document(quarantine_id)?
            .ok_or_else(|| unknown(quarantine_id))?;
        if !self.store.dismiss_quarantined(quarantine_id)? {
            return Err(unknown(quarantine_id));
        }
        if row.entry.kind.profile().personal {
            self.log_access(row.entry.record, "erase", "quarantine dismissed")?;
        }
        Ok(())
    }
}
