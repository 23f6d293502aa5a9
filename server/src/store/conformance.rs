//! What every [`ServerStore`] must do, as tests any store runs (as matrix-rust-sdk does for its
//! stores): a store's test module names a [`Harness`] that opens handles on one fresh database
//! and invokes [`store_conformance_tests!`](crate::store_conformance_tests). Two handles on one
//! database are two replicas: each test that needs another writer opens a second one.

use super::{CommitBatch, NewChange, RecordFacts, RecordWrite, ServerStore, StoreError};
use fieldbook_core::domain::{RecordId, RecordKind, Status};
use std::sync::Arc;

/// Opens handles on one database made for the test.
pub(crate) trait Harness {
    /// A new handle on the test's database (a replica, if called again).
    fn open(&self) -> Arc<dyn ServerStore>;
}

/// Runs every conformance test against the store `$harness` opens.
#[macro_export]
#[doc(hidden)]
macro_rules! store_conformance_tests {
    ($harness:expr) => {
        #[test]
        fn two_writers_committing_on_one_version_one_wins_and_the_other_stores_nothing() {
            $crate::store::conformance::two_writers_on_one_version(&$harness);
        }

        #[test]
        fn a_batch_holding_one_write_on_a_moved_version_stores_none_of_its_writes() {
            $crate::store::conformance::a_batch_with_one_moved_write(&$harness);
        }

        #[test]
        fn a_record_written_as_new_twice_is_stored_once() {
            $crate::store::conformance::a_record_new_twice(&$harness);
        }

        #[test]
        fn writes_of_one_record_in_one_batch_build_on_each_other() {
            $crate::store::conformance::writes_in_one_batch_chain(&$harness);
        }
    };
}

fn record(n: u128) -> RecordId {
    RecordId(uuid::Uuid::from_u128(n))
}

/// Heads as the store keeps them: one 32-byte hash.
fn heads(n: u8) -> Vec<u8> {
    vec![n; 32]
}

/// A write of `record` at heads `to`, checked against `from` (`None`: new to the server), with
/// one change whose hash is `to`'s.
fn write(record: RecordId, from: Option<u8>, to: u8) -> RecordWrite {
    RecordWrite {
        facts: RecordFacts {
            id: record,
            kind: RecordKind::CrimeReport,
            author: "PC1".to_owned(),
            team: None,
            attending: Vec::new(),
            status: Status::Draft,
            links: Vec::new(),
        },
        base_heads: from.map(heads),
        heads: heads(to),
        changes: vec![NewChange {
            hash: heads(to),
            actor: "0a".to_owned(),
            bytes: vec![to],
            heads_after: heads(to),
        }],
        snapshot: from.is_none().then(|| vec![to]),
    }
}

fn commit(store: &dyn ServerStore, writes: &[RecordWrite]) -> Result<Vec<u64>, StoreError> {
    store.commit("device-1", 1_000, writes)
}

fn stored_heads(store: &dyn ServerStore, id: RecordId) -> Option<Vec<u8>> {
    store.load_document(id).expect("load").map(|d| d.heads)
}

pub(crate) fn two_writers_on_one_version(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    let id = record(1);
    commit(&*a, &[write(id, None, 1)]).expect("the record is new");

    // Both replicas checked a push against version 1; B commits first.
    commit(&*b, &[write(id, Some(1), 2)]).expect("the first writer wins");
    let before = harness.open().dump().expect("dump");
    match commit(&*a, &[write(id, Some(1), 3)]) {
        Err(StoreError::Moved { record }) => assert_eq!(record, id),
        other => panic!("the second writer must be refused, got {other:?}"),
    }
    assert_eq!(
        harness.open().dump().expect("dump"),
        before,
        "nothing was stored"
    );
    assert_eq!(stored_heads(&*a, id), Some(heads(2)), "A reads B's version");

    // Checked again on what is stored now, A's write goes in.
    commit(&*a, &[write(id, Some(2), 3)]).expect("on the current version");
    assert_eq!(stored_heads(&*b, id), Some(heads(3)));
}

pub(crate) fn a_batch_with_one_moved_write(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    let (moved, other) = (record(1), record(2));
    commit(&*a, &[write(moved, None, 1), write(other, None, 5)]).expect("new records");
    commit(&*b, &[write(moved, Some(1), 2)]).expect("another writer");
    let before = harness.open().dump().expect("dump");
    let first = [write(other, Some(5), 6)];
    let second = [write(moved, Some(1), 3)];
    let batches = [
        CommitBatch {
            device: "device-1",
            received_at: 2_000,
            writes: &first,
        },
        CommitBatch {
            device: "device-2",
            received_at: 2_000,
            writes: &second,
        },
    ];
    assert!(matches!(
        a.commit_many(&batches),
        Err(StoreError::Moved { record }) if record == moved
    ));
    assert_eq!(
        harness.open().dump().expect("dump"),
        before,
        "all or nothing"
    );
    assert_eq!(stored_heads(&*a, other), Some(heads(5)));
}

pub(crate) fn a_record_new_twice(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    let id = record(7);
    commit(&*a, &[write(id, None, 1)]).expect("new");
    let before = harness.open().dump().expect("dump");
    assert!(matches!(
        commit(&*b, &[write(id, None, 2)]),
        Err(StoreError::Moved { record }) if record == id
    ));
    assert_eq!(harness.open().dump().expect("dump"), before);
}

pub(crate) fn writes_in_one_batch_chain(harness: &dyn Harness) {
    let store = harness.open();
    let id = record(9);
    let seqs = commit(
        &*store,
        &[
            write(id, None, 1),
            write(id, Some(1), 2),
            write(id, Some(2), 3),
        ],
    )
    .expect("each builds on the one before");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(stored_heads(&*store, id), Some(heads(3)));
    assert!(matches!(
        commit(&*store, &[write(id, Some(3), 4), write(id, Some(3), 5)]),
        Err(StoreError::Moved { record }) if record == id
    ));
    assert_eq!(stored_heads(&*store, id), Some(heads(3)));
}
