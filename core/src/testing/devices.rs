//! Devices on real encrypted stores for the integration tests, and the few steps every test of
//! them repeats: write fields, read a document back, push and be accepted, build feed entries.
//! One copy here, behind the `testing` feature, instead of one in each test file.

use crate::clock::FixedClock;
use crate::device::Device;
use crate::doc::ChangeAuthor;
use crate::domain::{OfficerId, RecordId, RecordKind, Role, Timestamp};
use crate::projection;
use crate::storage::DatabaseKey;
use crate::sync::wire::{
    Bytes, FeedEntry, FeedPage, Hash, PushOutcome, PushResult, Receipt, ReceivedChange,
    SyncResponse,
};
use automerge::{Automerge, ChangeHash};
use std::path::Path;
use std::sync::Arc;

/// The key of every test store.
pub const KEY: DatabaseKey = DatabaseKey::Raw([9; 32]);
/// The server receipt time every hand-built answer gives (ms since epoch).
pub const RECEIVED: i64 = 1_795_000_000_000;

/// The time the tests' clocks start at.
pub fn start() -> Timestamp {
    Timestamp::parse("2026-11-22T21:00:00Z").expect("valid time")
}

/// A clock stopped at [`start`], moved by the test.
pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(start()))
}

/// A new device for `officer` in `role`, its store at `path`.
pub fn device_at(path: &Path, officer: &str, role: Role, clock: Arc<FixedClock>) -> Device {
    Device::init(
        path,
        &KEY,
        OfficerId::new(officer).expect("valid id"),
        role,
        clock,
    )
    .expect("init")
}

/// A new device for `officer` in `role`, its store `OFFICER.fbk` in `dir`.
pub fn device_in(dir: &Path, officer: &str, role: Role, clock: Arc<FixedClock>) -> Device {
    device_at(&dir.join(format!("{officer}.fbk")), officer, role, clock)
}

/// `device.set_fields` with each `field=value` assignment.
pub fn set(device: &mut Device, id: RecordId, fields: &[&str]) {
    let owned: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
    device.set_fields(id, &owned).expect("set");
}

/// The device's document of `id`, as automerge loads its export.
pub fn doc_of(device: &mut Device, id: RecordId) -> Automerge {
    Automerge::load(&device.export_document(id).expect("export")).expect("loads")
}

/// Heads as the wire carries them.
pub fn hashes(heads: &[ChangeHash]) -> Vec<Hash> {
    heads.iter().copied().map(Hash::from).collect()
}

/// Who the device's changes name.
pub fn author_of(device: &Device) -> ChangeAuthor {
    ChangeAuthor {
        by: device.user().officer.clone(),
        role: device.user().role,
    }
}

/// `from`'s document of `id`, imported whole into `to` (as sync brings it).
pub fn send(from: &mut Device, to: &mut Device, id: RecordId) {
    let bytes = from.export_document(id).expect("export");
    to.import_document(&bytes).expect("import");
}

/// A server answer with no push results and one feed page.
pub fn page(entries: Vec<FeedEntry>, cursor: u64) -> SyncResponse {
    SyncResponse {
        results: Vec::new(),
        page: FeedPage {
            entries,
            cursor,
            more: false,
        },
    }
}

/// Pushes `device`'s outbox and answers every record with `Accepted` at [`RECEIVED`]; returns
/// the changes sent.
pub fn push_and_accept(device: &mut Device) -> usize {
    let mut session = device.begin_sync().expect("session");
    let request = session.next_request().expect("a request");
    let sent = request.push.iter().map(|p| p.changes.len()).sum();
    let response = SyncResponse {
        results: request
            .push
            .iter()
            .map(|p| PushResult {
                record: p.record,
                outcome: PushOutcome::Accepted {
                    heads: Vec::new(),
                    received_at: RECEIVED,
                    new_changes: u32::try_from(p.changes.len()).expect("few"),
                },
            })
            .collect(),
        page: FeedPage {
            entries: Vec::new(),
            cursor: request.cursor,
            more: false,
        },
    };
    device
        .apply_sync_response(&mut session, response)
        .expect("applies");
    sent
}

/// The changes `from` holds of `id` (of `kind`) beyond `since`, as a feed entry.
pub fn changes_entry(
    from: &mut Device,
    id: RecordId,
    kind: RecordKind,
    since: &[ChangeHash],
) -> FeedEntry {
    let doc = doc_of(from, id);
    FeedEntry::Changes {
        record: id,
        kind,
        changes: doc
            .get_changes(since)
            .iter()
            .map(|c| ReceivedChange {
                bytes: Bytes(c.raw_bytes().to_vec()),
                received_at: RECEIVED,
            })
            .collect(),
        heads: hashes(&doc.get_heads()),
    }
}

/// `from`'s whole document of `id` (of `kind`), as the feed brings a record new to a device.
pub fn snapshot_entry(from: &mut Device, id: RecordId, kind: RecordKind) -> FeedEntry {
    let doc = doc_of(from, id);
    FeedEntry::Snapshot {
        record: id,
        kind,
        document: Bytes(doc.save()),
        heads: hashes(&doc.get_heads()),
        receipts: doc
            .get_changes(&[])
            .iter()
            .map(|c| Receipt {
                hash: c.hash().into(),
                received_at: RECEIVED,
            })
            .collect(),
    }
}

/// The stored projection equals one derived now from the hydrated document (but for the time
/// of the last change, which only the store knows).
pub fn assert_projection_matches_document(device: &mut Device, id: RecordId) {
    let stored = device.projection(id).expect("projection");
    let record = device.get(id).expect("record");
    let conflicts = u32::try_from(device.conflicts(id).expect("conflicts").len()).expect("few");
    assert_eq!(
        stored,
        projection::derive(&record, stored.updated_at, conflicts)
    );
}
