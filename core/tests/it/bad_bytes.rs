//! The device against bad bytes from the server, on real encrypted SQLite files, driven by
//! hand-built feed pages (the sync state machine is sans-I/O). The bytes are made as the probe of
//! issue 9 made them: a real change decoded, edited and encoded again
//! (`fieldbook_core::testing`). Each feed entry is independent: one that does not apply is held
//! back, its record left exactly as stored, and the rest of the page applies. A document that
//! loads but does not compact keeps its chunks and needs attention; automerge's panics are
//! typed errors.

use automerge::{ActorId, Change};
use fieldbook_core::doc::{DocError, RecordDoc};
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role};
use fieldbook_core::storage::{DocumentSave, Store};
use fieldbook_core::sync::client::ResponseTally;
use fieldbook_core::sync::wire::{Bytes, FeedEntry, FeedPage, ReceivedChange, SyncResponse};
use fieldbook_core::testing::devices::{
    KEY, RECEIVED, clock, device_at, doc_of, hashes, push_and_accept, set,
};
use fieldbook_core::{Device, Error, testing};
use std::path::Path;

fn device(dir: &Path, name: &str) -> Device {
    device_at(
        &dir.join(format!("{name}.fbk")),
        "PC1",
        Role::Officer,
        clock(),
    )
}

fn reopen(dir: &Path, name: &str) -> Device {
    Device::open(&dir.join(format!("{name}.fbk")), &KEY, clock()).expect("open")
}

/// Applies one feed page to `device` as the answer to a pull.
fn pull(device: &mut Device, entries: Vec<FeedEntry>, cursor: u64) -> ResponseTally {
    let mut session = device.begin_sync().expect("session");
    session.next_request().expect("a pull");
    let tally = device
        .apply_sync_response(
            &mut session,
            SyncResponse {
                results: Vec::new(),
                page: FeedPage {
                    entries,
                    cursor,
                    more: false,
                },
            },
        )
        .expect("a page applies, whatever its entries hold");
    assert!(
        session.repairs().is_empty(),
        "nothing held back is repaired: {:?}",
        session.repairs()
    );
    tally
}

fn changes(record: RecordId, kind: RecordKind, bytes: Vec<Vec<u8>>) -> FeedEntry {
    FeedEntry::Changes {
        record,
        kind,
        changes: bytes
            .into_iter()
            .map(|b| ReceivedChange {
                bytes: Bytes(b),
                received_at: RECEIVED,
            })
            .collect(),
        heads: Vec::new(),
    }
}

/// A crime report both devices hold (synced), and two further honest changes by `b` that `a`
/// lacks: `(id, second, third)`, the third depending on the second.
struct Shared {
    id: RecordId,
    second: Change,
    third: Change,
}

fn shared_record(a: &mut Device, b: &mut Device) -> Shared {
    let id = b
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(b, id, &["narrative=One."]);
    a.import_document(&b.export_document(id).expect("export"))
        .expect("import");
    push_and_accept(a);
    let base = doc_of(b, id).get_heads();
    set(b, id, &["narrative=One. Two."]);
    set(b, id, &["narrative=One. Two. Three.", "classification=8N"]);
    let mut later = doc_of(b, id).get_changes(&base);
    assert_eq!(later.len(), 2);
    let third = later.pop().expect("two");
    let second = later.pop().expect("two");
    Shared { id, second, third }
}

fn held(device: &Device) -> Vec<(RecordId, String)> {
    device
        .held_back()
        .expect("held back")
        .into_iter()
        .map(|h| (h.record, h.reason))
        .collect()
}

#[test]
fn changes_that_make_automerge_panic_are_held_back_and_leave_the_record_exactly_as_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut a, mut b) = (device(dir.path(), "a"), device(dir.path(), "b"));
    let poisoned = shared_record(&mut a, &mut b);
    let other = shared_record(&mut a, &mut b);
    let before = a.get(poisoned.id).expect("get");
    let heads_before = doc_of(&mut a, poisoned.id).get_heads();

    for (cursor, bad) in [
        (10, testing::far_ahead(&poisoned.third)),
        (11, testing::seq_skipped(&poisoned.third)),
    ] {
        let tally = pull(
            &mut a,
            vec![
                // An honest change first: applied in memory, then dropped with the document.
                changes(
                    poisoned.id,
                    RecordKind::CrimeReport,
                    vec![poisoned.second.raw_bytes().to_vec(), bad],
                ),
                changes(
                    other.id,
                    RecordKind::CrimeReport,
                    vec![other.second.raw_bytes().to_vec()],
                ),
            ],
            cursor,
        );
        assert_eq!(tally.held_back, 1);
        // Read from memory (the cache) first, then from the store: both as before.
        assert_eq!(a.get(poisoned.id).expect("get"), before);
        assert_eq!(doc_of(&mut a, poisoned.id).get_heads(), heads_before);
        assert_eq!(a.sync_status().expect("status").cursor, cursor);
    }
    assert_eq!(
        held(&a),
        vec![
            (poisoned.id, "change-not-applied".to_owned()),
            (poisoned.id, "change-not-applied".to_owned())
        ]
    );
    assert_eq!(
        a.get(other.id).expect("get").to_json()["narrative"],
        serde_json::json!("One. Two.")
    );
    drop(a);
    let mut a = reopen(dir.path(), "a");
    assert_eq!(a.get(poisoned.id).expect("get"), before);
    assert_eq!(a.sync_status().expect("status").held_back, 2);
}

#[test]
fn an_entry_that_is_not_a_record_of_its_kind_or_breaks_the_limits_is_held_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut a, mut b) = (device(dir.path(), "a"), device(dir.path(), "b"));
    let wrong_kind = shared_record(&mut a, &mut b);
    let too_large = shared_record(&mut a, &mut b);
    let not_bytes = shared_record(&mut a, &mut b);

    // A field over the limit, written past the device's own checks.
    let mut doc = RecordDoc::load(
        &a.export_document(too_large.id).expect("export"),
        &ActorId::random(),
    )
    .expect("loads");
    let mut record = doc.hydrate().expect("record");
    let Record::Crime(crime) = &mut record else {
        panic!("a crime report")
    };
    crime.reclassification_reason = Some("x".repeat(fieldbook_core::limits::MAX_FIELD_BYTES + 1));
    let author = fieldbook_core::doc::ChangeAuthor {
        by: OfficerId::new("PC1").expect("id"),
        role: Role::Officer,
    };
    let heads = doc.heads();
    doc.update(&record, &author, "edit", a.now())
        .expect("writes");
    let oversized: Vec<Vec<u8>> = doc
        .automerge()
        .get_changes(&heads)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let befores: Vec<Record> = [wrong_kind.id, too_large.id, not_bytes.id]
        .iter()
        .map(|id| a.get(*id).expect("get"))
        .collect();

    let tally = pull(
        &mut a,
        vec![
            changes(
                wrong_kind.id,
                RecordKind::Person,
                vec![wrong_kind.second.raw_bytes().to_vec()],
            ),
            changes(too_large.id, RecordKind::CrimeReport, oversized),
            changes(
                not_bytes.id,
                RecordKind::CrimeReport,
                vec![b"not a change".to_vec()],
            ),
        ],
        20,
    );
    assert_eq!((tally.held_back, tally.changes), (3, 0));
    assert_eq!(
        held(&a),
        vec![
            (wrong_kind.id, "not-a-record".to_owned()),
            (too_large.id, "over-limits".to_owned()),
            (not_bytes.id, "not-a-change".to_owned()),
        ]
    );
    for (id, before) in [wrong_kind.id, too_large.id, not_bytes.id]
        .iter()
        .zip(befores)
    {
        assert_eq!(a.get(*id).expect("get"), before);
    }
}

#[test]
fn later_changes_that_build_on_a_held_back_entry_wait_with_it_and_a_whole_snapshot_still_applies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut a, mut b) = (device(dir.path(), "a"), device(dir.path(), "b"));
    let shared = shared_record(&mut a, &mut b);
    let before = a.get(shared.id).expect("get");

    pull(
        &mut a,
        vec![changes(
            shared.id,
            RecordKind::CrimeReport,
            vec![testing::seq_skipped(&shared.second)],
        )],
        30,
    );
    // The third change depends on the real second, which this device never got: without the
    // rule it would wait unseen in automerge's queue and a repair would fetch the bad bytes.
    let tally = pull(
        &mut a,
        vec![changes(
            shared.id,
            RecordKind::CrimeReport,
            vec![shared.third.raw_bytes().to_vec()],
        )],
        31,
    );
    assert_eq!(tally.held_back, 1);
    assert_eq!(
        held(&a),
        vec![
            (shared.id, "change-not-applied".to_owned()),
            (shared.id, "record-held-back".to_owned())
        ]
    );
    assert_eq!(a.get(shared.id).expect("get"), before);

    // The server's whole document stands on its own: it is applied.
    let whole = doc_of(&mut b, shared.id);
    let tally = pull(
        &mut a,
        vec![FeedEntry::Snapshot {
            record: shared.id,
            kind: RecordKind::CrimeReport,
            document: Bytes(whole.save()),
            heads: hashes(&whole.get_heads()),
            receipts: Vec::new(),
        }],
        32,
    );
    assert_eq!((tally.snapshots, tally.held_back), (1, 0));
    assert_eq!(
        a.get(shared.id).expect("get"),
        b.get(shared.id).expect("get")
    );
}

/// Appends the change `bytes` to the stored chunks of `id` through a second handle on the
/// store, as a device would hold a change an older build stored without checking it.
fn append_chunk(path: &Path, device: &mut Device, id: RecordId, bytes: Vec<u8>) {
    let projection = device.projection(id).expect("projection");
    let mut store = Store::open(path, &KEY, false).expect("second handle");
    let heads = store.sync_heads(id).expect("heads").expect("here").heads;
    let hash = Change::from_bytes(bytes.clone()).expect("a change").hash();
    store
        .save(&DocumentSave {
            id,
            bytes,
            replace: false,
            expected_heads: Some(heads),
            heads: hash.0.to_vec(),
            projection,
            attention: None,
        })
        .expect("appends");
}

#[test]
fn a_stored_record_that_does_not_load_fails_its_reads_with_a_typed_error_and_not_the_sync() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut a, mut b) = (device(dir.path(), "a"), device(dir.path(), "b"));
    let broken = shared_record(&mut a, &mut b);
    let other = shared_record(&mut a, &mut b);
    append_chunk(
        &dir.path().join("a.fbk"),
        &mut a,
        broken.id,
        testing::far_ahead(&broken.third),
    );

    // The chunk makes automerge panic while loading: each read is an error, not a crash.
    for result in [
        a.get(broken.id).map(drop),
        a.history(broken.id).map(drop),
        a.conflicts(broken.id).map(drop),
        a.export_document(broken.id).map(drop),
        a.set_fields(broken.id, &["narrative=x".to_owned()])
            .map(drop),
    ] {
        assert!(
            matches!(result, Err(Error::Doc(DocError::Inconsistent(_)))),
            "{result:?}"
        );
    }
    let tally = pull(
        &mut a,
        vec![
            changes(
                broken.id,
                RecordKind::CrimeReport,
                vec![broken.second.raw_bytes().to_vec()],
            ),
            changes(
                other.id,
                RecordKind::CrimeReport,
                vec![other.second.raw_bytes().to_vec()],
            ),
        ],
        40,
    );
    assert_eq!((tally.changes, tally.held_back), (1, 1));
    assert_eq!(held(&a), vec![(broken.id, "record-unreadable".to_owned())]);
    assert_eq!(
        a.get(other.id).expect("get").to_json()["narrative"],
        serde_json::json!("One. Two.")
    );
    // Its own outbox still goes out, without the record that cannot be read.
    set(&mut a, other.id, &["narrative+= Four."]);
    let mut session = a.begin_sync().expect("a sync starts");
    let pushed: Vec<RecordId> = session
        .next_request()
        .expect("a request")
        .push
        .iter()
        .map(|p| p.record)
        .collect();
    assert_eq!(pushed, vec![other.id]);
}

#[test]
fn a_stored_record_that_loads_but_is_no_record_holds_back_every_entry_for_it_as_unreadable() {
    use automerge::ROOT;
    use automerge::transaction::Transactable;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut a, mut b) = (device(dir.path(), "a"), device(dir.path(), "b"));
    let broken = shared_record(&mut a, &mut b);
    let other = shared_record(&mut a, &mut b);
    // A change that loads and applies, but leaves no crime report: the narrative a number.
    let mut am = doc_of(&mut a, broken.id).with_actor(ActorId::random());
    let mut tx = am.transaction();
    tx.put(ROOT, "narrative", 42_i64).expect("puts");
    tx.commit();
    let bad = am
        .get_last_local_change()
        .expect("a change")
        .raw_bytes()
        .to_vec();
    append_chunk(&dir.path().join("a.fbk"), &mut a, broken.id, bad);
    let mut a = reopen(dir.path(), "a");
    assert!(
        matches!(a.get(broken.id), Err(Error::Doc(DocError::NotARecord(_)))),
        "the stored copy is no record"
    );
    let stored = || {
        let store = Store::open(&dir.path().join("a.fbk"), &KEY, false).expect("handle");
        store.load(broken.id).expect("load").expect("here").bytes
    };
    let before = stored();

    // Two entries for it, and one for another record, on one page.
    let tally = pull(
        &mut a,
        vec![
            changes(
                broken.id,
                RecordKind::CrimeReport,
                vec![broken.second.raw_bytes().to_vec()],
            ),
            changes(
                other.id,
                RecordKind::CrimeReport,
                vec![other.second.raw_bytes().to_vec()],
            ),
            changes(
                broken.id,
                RecordKind::CrimeReport,
                vec![broken.third.raw_bytes().to_vec()],
            ),
        ],
        60,
    );
    assert_eq!((tally.changes, tally.held_back), (1, 2));
    assert_eq!(
        held(&a),
        vec![
            (broken.id, "record-unreadable".to_owned()),
            (broken.id, "record-unreadable".to_owned())
        ]
    );
    assert_eq!(stored(), before, "nothing is written over the stored copy");
    assert_eq!(
        a.get(other.id).expect("get").to_json()["narrative"],
        serde_json::json!("One. Two.")
    );
}

#[test]
fn a_document_that_does_not_compact_keeps_its_chunks_and_needs_attention_and_others_compact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut a, mut b) = (device(dir.path(), "a"), device(dir.path(), "b"));
    let poisoned = shared_record(&mut a, &mut b);
    let honest = shared_record(&mut a, &mut b);
    // The third change without the second in its dependencies: it applies and reads, but the
    // document no longer survives save -> load.
    let deps = poisoned.second.deps().to_vec();
    let tally = pull(
        &mut a,
        vec![changes(
            poisoned.id,
            RecordKind::CrimeReport,
            vec![
                poisoned.second.raw_bytes().to_vec(),
                testing::with_deps(&poisoned.third, deps),
            ],
        )],
        50,
    );
    assert_eq!((tally.changes, tally.held_back), (2, 0));

    for i in 0..40 {
        set(&mut a, poisoned.id, &[&format!("narrative+= e{i}.")]);
        set(&mut a, honest.id, &[&format!("narrative+= {i}.")]);
    }
    let status = a.sync_status().expect("status");
    let marked: Vec<(RecordId, &str)> = status
        .attention
        .iter()
        .map(|x| (x.id, x.rule.as_str()))
        .collect();
    assert_eq!(marked, vec![(poisoned.id, "compaction-failed")]);

    let store = Store::open(&dir.path().join("a.fbk"), &KEY, false).expect("second handle");
    let chunks = |id| store.load(id).expect("load").expect("here").chunks;
    assert!(
        chunks(poisoned.id) > 32,
        "kept as chunks: {}",
        chunks(poisoned.id)
    );
    assert!(chunks(honest.id) < 32, "compacted: {}", chunks(honest.id));
    drop(store);

    drop(a);
    let mut a = reopen(dir.path(), "a");
    let record = a.get(poisoned.id).expect("still loads");
    let narrative = record.to_json()["narrative"].as_str().map(str::to_owned);
    assert!(
        narrative
            .as_deref()
            .is_some_and(|n| n.ends_with(" e38. e39.")),
        "every edit is kept: {narrative:?}"
    );
    a.history(poisoned.id).expect("history reads");
    // It still syncs: the outbox holds both records.
    let mut session = a.begin_sync().expect("session");
    let pushed = session.next_request().expect("a request").push.len();
    assert_eq!(pushed, 2);
}

#[test]
fn automerge_panics_on_an_inconsistent_document_are_typed_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut a, mut b) = (device(dir.path(), "a"), device(dir.path(), "b"));
    let shared = shared_record(&mut a, &mut b);
    let stored = a.export_document(shared.id).expect("export");
    let actor = ActorId::random();

    let mut doc = RecordDoc::load(&stored, &actor).expect("loads");
    let applied = doc.apply_changes(&testing::far_ahead(&shared.third));
    assert!(
        matches!(applied, Err(DocError::Inconsistent(_))),
        "{applied:?}"
    );

    let mut bytes = stored.clone();
    bytes.extend(testing::far_ahead(&shared.third));
    let loaded = RecordDoc::load(&bytes, &actor);
    assert!(
        matches!(loaded, Err(DocError::Inconsistent(_))),
        "{loaded:?}"
    );
    let imported = a.import_document(&bytes);
    assert!(
        matches!(imported, Err(Error::Doc(DocError::Inconsistent(_)))),
        "{imported:?}"
    );

    let mut doc = RecordDoc::load(&stored, &actor).expect("loads");
    doc.apply_changes(shared.second.raw_bytes())
        .expect("applies");
    doc.apply_changes(&testing::with_deps(
        &shared.third,
        shared.second.deps().to_vec(),
    ))
    .expect("applies");
    let compacted = doc.save_compacted();
    assert!(compacted.is_err(), "its compacted bytes do not load");
    assert!(doc.try_save_incremental().expect("saves").is_some());
}
