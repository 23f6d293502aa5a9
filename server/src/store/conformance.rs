//! What every [`ServerStore`] must do, as tests any store runs (as matrix-rust-sdk does for its
//! stores): a store's test module names a [`Harness`] that opens handles on one fresh database
//! and invokes [`store_conformance_tests!`](crate::store_conformance_tests). Two handles on one
//! database are two replicas: each test that needs another writer opens a second one.

use super::{
    CommitBatch, EnrolOutcome, Holding, NewChange, NewDevice, Officer, OfficerDetails, RecordFacts,
    RecordWrite, ServerStore, StoreError, TeamGiven,
};
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role, Status};
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

        #[test]
        fn a_code_enrols_one_device_once_and_every_replica_knows_its_token_and_revocation() {
            $crate::store::conformance::enrolment_and_tokens(&$harness);
        }

        #[test]
        fn an_actor_is_bound_to_one_officer_and_the_same_install_enrolling_again_replaces_its_device() {
            $crate::store::conformance::actors_and_replaced_devices(&$harness);
        }

        #[test]
        fn officers_are_created_once_and_every_change_is_audited() {
            $crate::store::conformance::officers_and_their_audit(&$harness);
        }

        #[test]
        fn the_feed_serves_in_commit_order_what_any_replica_committed() {
            $crate::store::conformance::the_feed_across_replicas(&$harness);
        }

        #[test]
        fn what_a_device_holds_is_the_same_on_every_replica_whichever_decided_it() {
            $crate::store::conformance::holdings_across_replicas(&$harness);
        }

        #[test]
        fn a_scoped_feed_reads_every_row_a_scope_reaches_and_none_of_the_rest() {
            $crate::store::conformance::scoped_feed(&$harness);
        }

        #[test]
        fn a_new_database_is_ready_on_every_handle() {
            $crate::store::conformance::ready(&$harness);
        }

        #[test]
        fn a_records_facts_and_links_written_by_one_replica_are_read_by_another() {
            $crate::store::conformance::facts_across_replicas(&$harness);
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

fn officer(id: &str, team: Option<&str>) -> Officer {
    Officer {
        id: OfficerId::new(id).expect("id"),
        name: format!("Officer {id}"),
        role: Role::Officer,
        team: team.map(str::to_owned),
    }
}

fn device(id: &str, token: u8, actors: &[&str]) -> NewDevice {
    NewDevice {
        id: id.to_owned(),
        label: format!("phone {id}"),
        token_hash: [token; 32],
        actors: actors.iter().map(|a| (*a).to_owned()).collect(),
        created_at: 1_000,
    }
}

/// Registers `officer` and enrols `device` for them with a fresh code.
fn enrolled(store: &dyn ServerStore, who: &Officer, code: u8, new: &NewDevice) -> EnrolOutcome {
    store.create_officer(who, "admin", 1).expect("officer");
    assert!(
        store
            .create_code(&who.id, [code; 32], 10_000)
            .expect("code")
    );
    store.enrol([code; 32], 2_000, new).expect("enrol")
}

pub(crate) fn enrolment_and_tokens(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    let pc1 = officer("PC1", Some("T1"));
    assert!(
        !a.create_code(&pc1.id, [1; 32], 10_000).expect("code"),
        "no code for an officer not registered"
    );
    let outcome = enrolled(&*a, &pc1, 1, &device("d1", 11, &["0a"]));
    assert_eq!(
        outcome,
        EnrolOutcome::Enrolled {
            officer: pc1.clone(),
            replaced: Vec::new()
        }
    );
    assert_eq!(
        b.enrol([1; 32], 2_000, &device("d2", 12, &["0b"]))
            .expect("enrol"),
        EnrolOutcome::BadCode,
        "a used code is used up on every replica"
    );
    assert!(a.create_code(&pc1.id, [2; 32], 3_000).expect("code"));
    assert_eq!(
        b.enrol([2; 32], 3_000, &device("d3", 13, &["0c"]))
            .expect("enrol"),
        EnrolOutcome::BadCode,
        "an expired code"
    );
    assert_eq!(
        b.enrol([9; 32], 2_000, &device("d4", 14, &["0d"]))
            .expect("enrol"),
        EnrolOutcome::BadCode,
        "an unknown code"
    );

    let auth = b
        .device_by_token([11; 32])
        .expect("token")
        .expect("known on B");
    assert_eq!((auth.device_id.as_str(), auth.revoked), ("d1", false));
    assert_eq!(auth.officer, pc1);
    assert_eq!(auth.actors, vec!["0a".to_owned()]);
    assert!(b.device_by_token([12; 32]).expect("token").is_none());

    assert!(a.revoke("d1").expect("revoke"));
    assert!(!a.revoke("no-such-device").expect("revoke"));
    assert!(
        b.device_by_token([11; 32])
            .expect("token")
            .expect("known")
            .revoked,
        "revoked on every replica at once"
    );
    let devices = b.devices().expect("devices");
    assert_eq!(devices.len(), 1);
    assert!(devices[0].revoked);
}

pub(crate) fn actors_and_replaced_devices(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    let (pc1, pc2) = (officer("PC1", None), officer("PC2", None));
    assert!(matches!(
        enrolled(&*a, &pc1, 1, &device("d1", 11, &["0a"])),
        EnrolOutcome::Enrolled { .. }
    ));
    let before = harness.open().dump().expect("dump");
    assert_eq!(
        enrolled(&*b, &pc2, 2, &device("d2", 12, &["0a"])),
        EnrolOutcome::ActorTaken("0a".to_owned()),
        "another officer cannot take an actor"
    );
    let after = harness.open().dump().expect("dump");
    assert_eq!(before["devices"], after["devices"], "no device was made");
    assert_eq!(before["actors"], after["actors"]);

    // The same install (the same actor) enrolling again for its officer replaces its device.
    assert!(b.create_code(&pc1.id, [3; 32], 10_000).expect("code"));
    assert_eq!(
        b.enrol([3; 32], 2_500, &device("d3", 13, &["0a"]))
            .expect("enrol"),
        EnrolOutcome::Enrolled {
            officer: pc1,
            replaced: vec!["d1".to_owned()]
        }
    );
    let old = a.device_by_token([11; 32]).expect("token").expect("kept");
    assert!(old.revoked, "the replaced device is revoked");
    let new = a.device_by_token([13; 32]).expect("token").expect("known");
    assert_eq!(new.actors, vec!["0a".to_owned()]);
    let rows = a.devices().expect("devices");
    let d1 = rows.iter().find(|d| d.id == "d1").expect("d1 listed");
    assert_eq!(d1.replaced_by.as_deref(), Some("d3"));
}

pub(crate) fn officers_and_their_audit(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    let pc1 = officer("PC1", Some("T1"));
    assert!(a.create_officer(&pc1, "admin", 10).expect("create"));
    assert!(
        !b.create_officer(&officer("PC1", None), "admin", 11)
            .expect("create")
    );
    assert_eq!(b.officer(&pc1.id).expect("read"), Some(pc1.clone()));
    let changes = b
        .update_officer(
            &pc1.id,
            &OfficerDetails {
                team: TeamGiven::Team("T2".to_owned()),
                role: Some(Role::Officer),
                ..OfficerDetails::default()
            },
            "sgt",
            20,
        )
        .expect("update")
        .expect("registered");
    assert_eq!(changes.len(), 1, "only the team differed: {changes:?}");
    assert_eq!(
        (
            changes[0].field.as_str(),
            changes[0].old.as_deref(),
            changes[0].new.as_deref()
        ),
        ("team", Some("T1"), Some("T2"))
    );
    assert_eq!(
        a.officer(&pc1.id).expect("read").and_then(|o| o.team),
        Some("T2".to_owned())
    );
    let history = a.officer_history(&pc1.id).expect("history");
    assert!(
        history
            .iter()
            .any(|c| c.action == "created" && c.field == "name")
    );
    assert_eq!(
        history
            .last()
            .map(|c| (c.action.as_str(), c.by.as_str(), c.at)),
        Some(("changed", "sgt", 20))
    );
    assert!(
        a.update_officer(
            &OfficerId::new("PC9").expect("id"),
            &OfficerDetails::default(),
            "sgt",
            30
        )
        .expect("update")
        .is_none()
    );
    assert_eq!(
        a.officers().expect("officers"),
        vec![officer("PC1", Some("T2"))]
    );
}

pub(crate) fn the_feed_across_replicas(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    assert_eq!(a.max_seq().expect("max"), 0);
    let (r1, r2) = (record(1), record(2));
    let s1 = commit(&*a, &[write(r1, None, 1)]).expect("a")[0];
    let s2 = b
        .commit("device-2", 1_500, &[write(r2, None, 2)])
        .expect("b")[0];
    let s3 = commit(&*a, &[write(r1, Some(1), 3)]).expect("a")[0];
    assert!(s1 < s2 && s2 < s3, "{s1} {s2} {s3}");
    for store in [&a, &b] {
        assert_eq!(
            store.max_seq().expect("max"),
            s3,
            "every replica serves up to the last commit"
        );
        let rows = store.feed_rows(0, s3, 10).expect("rows");
        let got: Vec<(u64, RecordId, &str)> =
            rows.iter().map(|r| (r.seq, r.record, &*r.device)).collect();
        assert_eq!(
            got,
            vec![
                (s1, r1, "device-1"),
                (s2, r2, "device-2"),
                (s3, r1, "device-1")
            ]
        );
        let after_first = store.feed_rows(s1, s3, 1).expect("rows");
        assert_eq!(
            after_first.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![s2]
        );
        let bodies = store.change_bodies(&[s2, s3]).expect("bodies");
        assert_eq!(
            bodies
                .iter()
                .map(|b| (b.seq, b.bytes.clone(), b.received_at))
                .collect::<Vec<_>>(),
            vec![(s2, vec![2], 1_500), (s3, vec![3], 1_000)]
        );
        assert_eq!(bodies[1].heads_after, heads(3));
    }
}

pub(crate) fn facts_across_replicas(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    a.create_officer(&officer("PC1", Some("T1")), "admin", 1)
        .expect("officer");
    let (crime, person) = (record(1), record(2));
    let mut linked = write(crime, None, 1);
    linked.facts.links = vec![("victim".to_owned(), person)];
    linked.facts.status = Status::Submitted;
    b.commit("device-2", 1_000, &[linked]).expect("commit on B");

    // As of the position A serves up to (see `ServerStore::facts`).
    assert!(a.max_seq().expect("max") > 0);
    let facts = a
        .facts(crime)
        .expect("facts")
        .expect("A reads what B wrote");
    assert_eq!(
        facts.team.as_deref(),
        Some("T1"),
        "the author's team when written"
    );
    assert_eq!(facts.status, Status::Submitted);
    assert_eq!(a.linking_to(person).expect("links"), vec![crime]);
    let queue = a
        .team_records("T1", &[Status::Submitted])
        .expect("team records");
    assert_eq!(queue.iter().map(|f| f.id).collect::<Vec<_>>(), vec![crime]);

    // B moves it on; A sees the new status at once.
    let mut approved = write(crime, Some(1), 2);
    approved.facts.status = Status::Approved;
    b.commit("device-2", 2_000, &[approved])
        .expect("commit on B");
    a.max_seq().expect("max");
    assert_eq!(
        a.facts(crime).expect("facts").expect("here").status,
        Status::Approved
    );
    assert!(
        a.team_records("T1", &[Status::Submitted])
            .expect("team")
            .is_empty()
    );
    assert_eq!(
        a.linking_to(person).expect("links"),
        Vec::<RecordId>::new(),
        "links as last written"
    );
}

pub(crate) fn scoped_feed(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    scoped_feed_checks(&*a, &*b, &|scope, after, upto, limit| {
        a.scoped_feed_rows(scope, after, upto, limit).expect("rows")
    });
}

/// Reads scoped feed rows (a store's own method, or one of its ways to them).
pub(crate) type ScopedRows<'a> =
    dyn Fn(&super::FeedScope, u64, u64, usize) -> Vec<super::FeedRow> + 'a;

/// The scoped feed's checks on `a` (B commits, A reads), reading rows through `rows`.
pub(crate) fn scoped_feed_checks(a: &dyn ServerStore, b: &dyn ServerStore, rows: &ScopedRows<'_>) {
    let by = |record: RecordId, n: u8, author: &str, kind: RecordKind| {
        let mut w = write(record, None, n);
        w.facts.author = author.to_owned();
        w.facts.kind = kind;
        w
    };
    let (crime, victim, assessment, relative) = (record(1), record(2), record(3), record(4));
    let (elsewhere, attended, held) = (record(5), record(6), record(7));
    a.create_officer(&officer("PC1", Some("T1")), "admin", 1)
        .expect("officer");
    let mut own = by(crime, 1, "PC1", RecordKind::CrimeReport);
    own.facts.links = vec![("victim".to_owned(), victim)];
    own.facts.status = Status::Submitted;
    let mut needs = by(assessment, 3, "PC2", RecordKind::VictimNeedsAssessment);
    needs.facts.links = vec![
        ("crime".to_owned(), crime),
        ("relative".to_owned(), relative),
    ];
    let mut with_pc1 = by(attended, 6, "PC2", RecordKind::CrimeReport);
    with_pc1.facts.attending = vec!["PC1".to_owned()];
    let writes = [
        own,
        by(victim, 2, "PC2", RecordKind::Person),
        needs,
        by(relative, 4, "PC2", RecordKind::Person),
        by(elsewhere, 5, "PC2", RecordKind::CrimeReport),
        with_pc1,
        by(held, 7, "PC2", RecordKind::StopSearch),
    ];
    let seqs = b.commit("device-2", 1_000, &writes).expect("commit on B");
    b.set_holdings(
        "device-9",
        &[(
            held,
            Holding {
                held: true,
                as_of_cursor: 0,
                prev_held: false,
                through_seq: 0,
            },
        )],
    )
    .expect("held");
    // A later change of the out-of-scope crime, and of the crime in scope.
    let later = b
        .commit(
            "device-2",
            2_000,
            &[
                {
                    let mut w = by(elsewhere, 15, "PC2", RecordKind::CrimeReport);
                    w.base_heads = Some(heads(5));
                    w.snapshot = None;
                    w
                },
                {
                    let mut w = by(crime, 11, "PC1", RecordKind::CrimeReport);
                    w.base_heads = Some(heads(1));
                    w.snapshot = None;
                    w.facts.links = vec![("victim".to_owned(), victim)];
                    w.facts.status = Status::Submitted;
                    w
                },
            ],
        )
        .expect("later");
    let max = a.max_seq().expect("max");
    let scope = super::FeedScope {
        device: "device-9".to_owned(),
        keys: vec!["attends:PC1".to_owned()],
    };
    let all = rows(&scope, 0, max, 100);
    let got: Vec<(u64, RecordId)> = all.iter().map(|r| (r.seq, r.record)).collect();
    let want: Vec<(u64, RecordId)> = [
        (seqs[0], crime),
        (seqs[1], victim),
        (seqs[2], assessment),
        (seqs[3], relative),
        (seqs[5], attended),
        (seqs[6], held),
        (later[1], crime),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        got, want,
        "the crime, its victim, its needs assessment and the relative it names, the crime PC1 \
         attends and the record the device holds; not the other crime"
    );
    let page = rows(&scope, seqs[1], max, 2);
    assert_eq!(
        page.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![seqs[2], seqs[3]],
        "after the cursor, in order, at most the limit"
    );
    // A supervisor of the author's team (the team is the officers table's, not the push's).
    let supervisor = super::FeedScope {
        device: "device-8".to_owned(),
        keys: vec!["author:SGT1".to_owned(), "submitted:T1".to_owned()],
    };
    let queue: Vec<RecordId> = rows(&supervisor, 0, seqs[6], 100)
        .iter()
        .map(|r| r.record)
        .collect();
    assert_eq!(queue, vec![crime, victim, assessment, relative]);
    let nobody = super::FeedScope {
        device: "device-0".to_owned(),
        keys: vec!["attends:PC9".to_owned()],
    };
    assert!(rows(&nobody, 0, max, 100).is_empty());
}

pub(crate) fn ready(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    a.ready().expect("ready");
    b.ready().expect("ready");
}

pub(crate) fn holdings_across_replicas(harness: &dyn Harness) {
    let (a, b) = (harness.open(), harness.open());
    let (r1, r2) = (record(1), record(2));
    let held = |as_of_cursor, through_seq| Holding {
        held: true,
        as_of_cursor,
        prev_held: false,
        through_seq,
    };
    assert!(
        a.holdings("device-1", &[r1, r2])
            .expect("none yet")
            .is_empty()
    );
    a.set_holdings("device-1", &[(r1, held(5, 4))])
        .expect("A decides");
    assert_eq!(
        b.holding("device-1", r1).expect("B reads"),
        Some(held(5, 4))
    );

    // The device's next page is served by B, which evicts r1 and sends r2.
    let evicted = Holding {
        held: false,
        as_of_cursor: 9,
        prev_held: true,
        through_seq: 4,
    };
    b.set_holdings("device-1", &[(r1, evicted), (r2, held(9, 8))])
        .expect("B decides");
    let on_a = a.holdings("device-1", &[r1, r2]).expect("A reads");
    assert_eq!(on_a.get(&r1), Some(&evicted), "A sees B's eviction");
    assert_eq!(on_a.get(&r2), Some(&held(9, 8)));
    assert!(
        a.holdings("device-2", &[r1])
            .expect("another device")
            .is_empty()
    );

    // A commit by the device marks what it pushed as held, on every replica.
    commit(&*b, &[write(record(3), None, 3)]).expect("pushed through B");
    assert!(
        a.holding("device-1", record(3))
            .expect("A reads")
            .is_some_and(|h| h.held)
    );
}
