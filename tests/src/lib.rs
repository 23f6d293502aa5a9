//! Helpers shared by the cross-crate scenario tests in `tests/tests/`: fixed clocks, officers,
//! actor ids and record ids, reference values, and typed access to a record's document.
//!
//! Everything here is deterministic (no random ids, no wall clock), so a test that saves a
//! document produces the same bytes every run. It also holds what the tests share with the helper
//! binaries in `src/bin/`.

pub mod fleet;
pub mod proxy;

use automerge::ActorId;
use fieldbook_core::doc::{ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{
    Classification, Coded, CrimeReport, OfficerId, Record, RecordId, Role, Timestamp,
};

/// A fixed instant: `ms` milliseconds after 2026-09-21T14:13:20Z.
pub fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("a time within range")
}

/// A change author with the given collar number and role.
pub fn author(collar: &str, role: Role) -> ChangeAuthor {
    ChangeAuthor {
        by: OfficerId::new(collar).expect("a valid collar number"),
        role,
    }
}

/// An officer (role `officer`) as change author.
pub fn officer(collar: &str) -> ChangeAuthor {
    author(collar, Role::Officer)
}

/// A fixed actor id: sixteen bytes of `n`.
pub fn actor(n: u8) -> ActorId {
    ActorId::from(&[n; 16][..])
}

/// A fixed record id.
pub fn record_id(n: u128) -> RecordId {
    RecordId(uuid::Uuid::from_u128(n))
}

/// The crime report a document holds; panics on any other kind.
pub fn crime(doc: &RecordDoc) -> CrimeReport {
    match doc.hydrate().expect("the document hydrates") {
        Record::Crime(c) => c,
        other => panic!("expected a crime report, got a {}", other.kind()),
    }
}

/// Crime outcome codes with their labels (Home Office outcome framework).
pub const OUTCOMES: [(&str, &str); 5] = [
    ("1", "Charged/Summonsed"),
    ("3", "Caution - adults"),
    (
        "14",
        "Evidential difficulties: suspect not identified; victim does not support action",
    ),
    (
        "16",
        "Evidential difficulties: suspect identified; victim does not support action",
    ),
    ("18", "Investigation complete: no suspect identified"),
];

/// The outcome with index `i` of [`OUTCOMES`] (wrapping).
pub fn outcome(i: usize) -> Coded {
    let (code, label) = OUTCOMES[i % OUTCOMES.len()];
    Coded {
        code: code.into(),
        label: label.into(),
    }
}

/// Offence codes, labels and police.uk categories; two share a category on purpose.
pub const OFFENCES: [(&str, &str, &str); 4] = [
    ("8N", "Assault with injury", "violent-crime"),
    ("105A", "Assault without injury", "violent-crime"),
    ("49", "Other theft", "other-theft"),
    (
        "58J",
        "Criminal damage to a vehicle",
        "criminal-damage-arson",
    ),
];

/// The classification with index `i` of [`OFFENCES`] (wrapping).
pub fn classification(i: usize) -> Classification {
    let (code, label, category) = OFFENCES[i % OFFENCES.len()];
    Classification {
        offence: Coded {
            code: code.into(),
            label: label.into(),
        },
        category: category.into(),
    }
}

/// How many crime reports `fieldbook-saver` keeps editing: the newest this many in the store
/// when it starts, plus the ones it creates. The durability test relies on it to know which
/// records a killed run can have touched.
pub const SAVER_WORKING_SET: u32 = 40;
