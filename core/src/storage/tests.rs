//! Tests of the store against real encrypted SQLite files in temporary directories: no mocks.

use super::*;
use schema::ConnectionInitializer;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const DAY_MS: i64 = 86_400_000;
const T0: i64 = 1_700_000_000_000;

fn key() -> DatabaseKey {
    DatabaseKey::Raw([7u8; 32])
}

fn officer(s: &str) -> OfficerId {
    OfficerId::new(s).unwrap()
}

/// A record id whose order follows `n` (like UUIDv7s made one after another).
fn rid(n: u128) -> RecordId {
    RecordId(uuid::Uuid::from_u128(
        0x0192_f3c4_0000_7000_8000_0000_0000_0000 + n,
    ))
}

/// A fresh store in its own directory (kept alive by the returned `TempDir`).
fn new_store() -> (TempDir, PathBuf, Store) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("fieldbook.db");
    let store = Store::open(&path, &key(), true).unwrap();
    (dir, path, store)
}

fn projection(id: RecordId, kind: RecordKind) -> Projection {
    Projection {
        id,
        kind,
        status: Status::Draft,
        author: officer("PC1234"),
        created_at: T0,
        updated_at: T0,
        event_at: Some(T0),
        decision_due_at: None,
        receipt_needed: false,
        classification: None,
        lat: None,
        lon: None,
        flags: String::new(),
        links: Vec::new(),
        conflicts: 0,
    }
}

fn full_save(p: Projection, bytes: &[u8]) -> DocumentSave {
    DocumentSave {
        id: p.id,
        bytes: bytes.to_vec(),
        replace: true,
        expected_heads: None,
        heads: vec![0xAB; 32],
        projection: p,
        attention: None,
    }
}

fn append(p: Projection, bytes: &[u8]) -> DocumentSave {
    DocumentSave {
        replace: false,
        expected_heads: None,
        ..full_save(p, bytes)
    }
}

/// Fails, without printing megabytes, unless the file at `path` still holds exactly `before`.
#[track_caller]
fn assert_unchanged(path: &std::path::Path, before: &[u8]) {
    let now = std::fs::read(path).expect("the file is still there");
    assert!(now == before, "{} was changed", path.display());
}

fn ids_of(found: &[Projection]) -> Vec<RecordId> {
    found.iter().map(|p| p.id).collect()
}

// ---------------------------------------------------------------------------------------------
// Saving and loading
// ---------------------------------------------------------------------------------------------

#[test]
fn a_saved_record_reopens_with_the_same_bytes_heads_and_projection() {
    let (_dir, path, mut store) = new_store();
    let mut p = projection(rid(1), RecordKind::CrimeReport);
    p.classification = Some("8N".into());
    p.lat = Some(51.5);
    p.lon = Some(-0.12);
    p.flags = "domestic_abuse,repeat_victim".into();
    p.decision_due_at = Some(T0 + DAY_MS);
    p.conflicts = 2;
    p.links = vec![("suspect".into(), rid(8)), ("victim".into(), rid(9))];
    let save = DocumentSave {
        heads: [[1u8; 32], [2u8; 32]].concat(),
        ..full_save(p.clone(), b"automerge document bytes")
    };
    store.save(&save).unwrap();
    drop(store);

    let store = Store::open(&path, &key(), false).unwrap();
    let doc = store.load(rid(1)).unwrap().unwrap();
    assert_eq!(doc.bytes, b"automerge document bytes");
    assert_eq!(doc.heads, save.heads);
    assert_eq!(doc.chunks, 1);
    assert_eq!(store.projection(rid(1)).unwrap(), Some(p));
    assert_eq!(store.count().unwrap(), 1);
    assert_eq!(store.ids().unwrap(), vec![rid(1)]);
}

#[test]
fn an_unknown_record_loads_as_none() {
    let (_dir, _path, store) = new_store();
    assert!(store.load(rid(1)).unwrap().is_none());
    assert!(store.projection(rid(1)).unwrap().is_none());
}

#[test]
fn appended_chunks_load_concatenated_in_order() {
    let (_dir, _path, mut store) = new_store();
    let p = projection(rid(1), RecordKind::CrimeReport);
    store.save(&full_save(p.clone(), b"first|")).unwrap();
    store.save(&append(p.clone(), b"second|")).unwrap();
    let mut last = append(p, b"third");
    last.heads = vec![3u8; 64];
    store.save(&last).unwrap();

    let doc = store.load(rid(1)).unwrap().unwrap();
    assert_eq!(doc.bytes, b"first|second|third");
    assert_eq!(doc.chunks, 3);
    assert_eq!(doc.heads, vec![3u8; 64], "heads are those of the last save");
}

#[test]
fn replace_compacts_the_document_to_one_chunk() {
    let (_dir, _path, mut store) = new_store();
    let p = projection(rid(1), RecordKind::CrimeReport);
    store.save(&full_save(p.clone(), b"a")).unwrap();
    store.save(&append(p.clone(), b"b")).unwrap();
    store.save(&append(p.clone(), b"c")).unwrap();
    assert_eq!(store.load(rid(1)).unwrap().unwrap().chunks, 3);

    store.save(&full_save(p.clone(), b"abc compacted")).unwrap();
    let doc = store.load(rid(1)).unwrap().unwrap();
    assert_eq!(
        (doc.bytes.as_slice(), doc.chunks),
        (&b"abc compacted"[..], 1)
    );

    store.save(&append(p, b"+d")).unwrap();
    let doc = store.load(rid(1)).unwrap().unwrap();
    assert_eq!(
        (doc.bytes.as_slice(), doc.chunks),
        (&b"abc compacted+d"[..], 2)
    );
}

#[test]
fn an_empty_incremental_save_updates_the_projection_but_appends_no_chunk() {
    let (_dir, _path, mut store) = new_store();
    let mut p = projection(rid(1), RecordKind::CrimeReport);
    store.save(&full_save(p.clone(), b"doc")).unwrap();
    p.status = Status::Submitted;
    store.save(&append(p.clone(), b"")).unwrap();
    assert_eq!(store.load(rid(1)).unwrap().unwrap().chunks, 1);
    assert_eq!(
        store.projection(rid(1)).unwrap().unwrap().status,
        Status::Submitted
    );
}

#[test]
fn saving_again_replaces_the_links_of_a_record() {
    let (_dir, _path, mut store) = new_store();
    let mut p = projection(rid(1), RecordKind::VictimNeedsAssessment);
    p.links = vec![("crime".into(), rid(5)), ("victim".into(), rid(6))];
    store.save(&full_save(p.clone(), b"v1")).unwrap();
    p.links = vec![("crime".into(), rid(7))];
    store.save(&append(p.clone(), b"v2")).unwrap();

    assert_eq!(store.projection(rid(1)).unwrap().unwrap().links, p.links);
    assert!(store.linking_to(rid(5), "crime").unwrap().is_empty());
    assert_eq!(store.linking_to(rid(7), "crime").unwrap(), vec![rid(1)]);
}

#[test]
fn a_failing_item_rolls_back_the_whole_save_many_batch() {
    let (_dir, _path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"kept",
        ))
        .unwrap();

    let mut changed = projection(rid(1), RecordKind::CrimeReport);
    changed.status = Status::Submitted;
    let mut broken = full_save(projection(rid(3), RecordKind::Person), b"person");
    broken.heads = vec![0u8; 5]; // heads are whole 32-byte hashes: the CHECK constraint fails
    let batch = [
        append(changed, b"+more"),
        full_save(projection(rid(2), RecordKind::StopSearch), b"new"),
        broken,
    ];
    let err = store.save_many(&batch).unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");

    assert_eq!(
        store.count().unwrap(),
        1,
        "no record of the batch was stored"
    );
    let doc = store.load(rid(1)).unwrap().unwrap();
    assert_eq!((doc.bytes.as_slice(), doc.chunks), (&b"kept"[..], 1));
    assert_eq!(
        store.projection(rid(1)).unwrap().unwrap().status,
        Status::Draft
    );

    // The store is still usable, and a good batch goes in whole.
    store.save_many(&batch[..2]).unwrap();
    assert_eq!(store.count().unwrap(), 2);
    assert_eq!(store.load(rid(1)).unwrap().unwrap().bytes, b"kept+more");
}

// ---------------------------------------------------------------------------------------------
// Opening: keys, damage, versions
// ---------------------------------------------------------------------------------------------

#[test]
fn a_missing_file_without_create_is_missing_and_no_file_is_made() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("absent.db");
    let err = Store::open(&path, &key(), false).unwrap_err();
    assert!(matches!(err, StoreError::Missing), "{err:?}");
    assert!(!path.exists());
}

#[test]
fn a_wrong_key_is_rejected_and_the_file_is_unchanged() {
    let (_dir, path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"doc",
        ))
        .unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();

    for wrong in [
        DatabaseKey::Raw([8u8; 32]),
        DatabaseKey::Passphrase("not the key".into()),
    ] {
        let err = Store::open(&path, &wrong, false).unwrap_err();
        assert!(matches!(err, StoreError::KeyRejected), "{err:?}");
        let err = Store::open(&path, &wrong, true).unwrap_err();
        assert!(matches!(err, StoreError::KeyRejected), "{err:?}");
    }
    assert_unchanged(&path, &before);

    let store = Store::open(&path, &key(), false).unwrap();
    assert_eq!(store.load(rid(1)).unwrap().unwrap().bytes, b"doc");
}

#[test]
fn a_passphrase_store_opens_with_that_passphrase_only() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("fieldbook.db");
    let phrase = DatabaseKey::Passphrase("it's a \"quoted\" phrase".into());
    let mut store = Store::open(&path, &phrase, true).unwrap();
    store.set_meta("officer", "PC1234").unwrap();
    drop(store);

    let store = Store::open(&path, &phrase, false).unwrap();
    assert_eq!(store.meta("officer").unwrap().as_deref(), Some("PC1234"));
    drop(store);
    let err = Store::open(&path, &key(), false).unwrap_err();
    assert!(matches!(err, StoreError::KeyRejected), "{err:?}");
}

#[test]
fn an_empty_passphrase_is_a_bad_key_and_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("fieldbook.db");
    let err = Store::open(&path, &DatabaseKey::Passphrase(String::new()), true).unwrap_err();
    assert!(matches!(err, StoreError::BadKey(_)), "{err:?}");
    assert!(!path.exists());
}

#[test]
fn a_file_of_garbage_bytes_is_refused_and_kept_byte_for_byte() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("fieldbook.db");
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &garbage).unwrap();

    for create in [false, true] {
        let err = Store::open(&path, &key(), create).unwrap_err();
        assert!(
            matches!(err, StoreError::KeyRejected | StoreError::Corrupt { .. }),
            "{err:?}"
        );
    }
    assert_unchanged(&path, &garbage);
}

#[test]
fn a_page_overwritten_mid_file_is_reported_as_damage_and_the_file_is_kept() {
    let (_dir, path, mut store) = new_store();
    let saves: Vec<DocumentSave> = (0..300)
        .map(|n| {
            let doc: Vec<u8> = (0..1_000u32).map(|i| (i as u8) ^ (n as u8)).collect();
            full_save(projection(rid(n), RecordKind::CrimeReport), &doc)
        })
        .collect();
    store.save_many(&saves).unwrap();
    drop(store);
    let wal = path.with_extension("db-wal");
    assert!(!wal.exists(), "closing checkpoints the WAL into the file");

    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 64].fill(0x5A);
    std::fs::write(&path, &bytes).unwrap();

    match Store::open(&path, &key(), false) {
        Err(StoreError::Corrupt { .. } | StoreError::KeyRejected) => {}
        Err(other) => panic!("untyped error at open: {other:?}"),
        Ok(store) => {
            // Open reads only the first pages. The integrity check finds the damage; every read
            // returns the right data or a typed error, never wrong data or a panic.
            let err = store.check_integrity().unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
            for n in 0..300 {
                match store.load(rid(n)) {
                    Ok(Some(doc)) => assert!(doc.bytes == saves[n as usize].bytes),
                    Ok(None) => {} // a lost index entry: never wrong data
                    Err(StoreError::Corrupt { .. } | StoreError::KeyRejected) => {}
                    Err(other) => panic!("untyped error reading: {other:?}"),
                }
            }
            match store.list(&RecordQuery::default()) {
                Ok(_) | Err(StoreError::Corrupt { .. } | StoreError::KeyRejected) => {}
                Err(other) => panic!("untyped error listing: {other:?}"),
            }
        }
    }
    assert_unchanged(&path, &bytes);
}

#[test]
fn damage_inside_a_document_makes_its_load_a_corrupt_error_not_wrong_bytes() {
    let (_dir, path, mut store) = new_store();
    // One large document: its overflow pages fill most of the file, so the middle is in it.
    let doc: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            &doc,
        ))
        .unwrap();
    drop(store);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 16].fill(0);
    std::fs::write(&path, &bytes).unwrap();

    let store = Store::open(&path, &key(), false).unwrap();
    let err = store.load(rid(1)).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().starts_with("the store is damaged"), "{err}");
    drop(store);
    assert_unchanged(&path, &bytes);
}

#[test]
fn a_store_from_a_newer_build_is_refused_as_too_new_and_left_alone() {
    let (_dir, path, store) = new_store();
    store.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();

    let err = Store::open(&path, &key(), false).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TooNew {
                found: 99,
                supported: schema::FieldbookSchema::END_VERSION
            }
        ),
        "{err:?}"
    );
    assert_unchanged(&path, &before);
}

#[test]
fn an_open_store_uses_wal_full_sync_foreign_keys_and_the_current_version() {
    let (_dir, _path, store) = new_store();
    let pragma = |name: &str| -> String {
        store
            .conn
            .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| format!("{v:?}"))
            .unwrap()
    };
    assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
    assert_eq!(pragma("synchronous"), "Integer(2)", "2 is FULL");
    assert_eq!(pragma("foreign_keys"), "Integer(1)");
    assert_eq!(pragma("busy_timeout"), "Integer(5000)");
    assert_eq!(pragma("user_version"), "Integer(5)");
}

#[test]
fn a_healthy_store_passes_the_integrity_check() {
    let (_dir, _path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"doc",
        ))
        .unwrap();
    store.check_integrity().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Migrations
// ---------------------------------------------------------------------------------------------

/// Tables and indexes as SQLite keeps them, with comments and layout normalised away, plus the
/// schema version.
fn schema_of(conn: &Connection) -> (Vec<(String, String, Option<String>)>, i64) {
    let normalise = |sql: String| {
        let without_comments: String = sql
            .lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ");
        let mut out = without_comments
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for punct in ["(", ")", ","] {
            out = out
                .replace(&format!(" {punct}"), punct)
                .replace(&format!("{punct} "), punct);
        }
        out.to_lowercase()
    };
    let objects = conn
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?))
        })
        .unwrap()
        .map(|r| {
            let (kind, name, sql) = r.unwrap();
            (kind, name, sql.map(normalise))
        })
        .collect();
    let version = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    (objects, version)
}

/// Every frozen schema, by version: the SQL that builds a store as that version's app left it
/// (`sql/tests/create_vN_db.sql`, never edited once released). A new schema version freezes the
/// one before it here.
const FROZEN: [(u32, &str); 4] = [
    (1, include_str!("../../sql/tests/create_v1_db.sql")),
    (2, include_str!("../../sql/tests/create_v2_db.sql")),
    (3, include_str!("../../sql/tests/create_v3_db.sql")),
    (4, include_str!("../../sql/tests/create_v4_db.sql")),
];

/// A store built at frozen `version`, then opened (so upgraded) by this build, after checking
/// the upgraded schema is exactly a fresh store's, at the current version.
fn upgraded_from(version: u32) -> (TempDir, std::path::PathBuf, Store) {
    let (_, sql) = FROZEN
        .iter()
        .find(|(v, _)| *v == version)
        .expect("a frozen schema");
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(format!("v{version}.db"));
    let old = open_keyed(&path, &key(), true).unwrap();
    old.execute_batch(sql).unwrap();
    assert_eq!(
        schema_of(&old).1,
        i64::from(version),
        "the frozen SQL sets its version"
    );
    drop(old);

    let upgraded = Store::open(&path, &key(), false).unwrap();
    let (_fresh_dir, _fresh_path, fresh) = new_store();
    let (objects, version) = schema_of(&upgraded.conn);
    assert_eq!(version, i64::from(schema::FieldbookSchema::END_VERSION));
    assert_eq!((objects, version), schema_of(&fresh.conn));
    (dir, path, upgraded)
}

#[test]
fn every_frozen_schema_upgrades_to_a_fresh_stores_and_a_second_open_changes_nothing() {
    let versions: Vec<u32> = FROZEN.iter().map(|(v, _)| *v).collect();
    let every: Vec<u32> = (1..schema::FieldbookSchema::END_VERSION).collect();
    assert_eq!(versions, every, "every released schema version is frozen");
    for (version, _) in FROZEN {
        let (_dir, path, upgraded) = upgraded_from(version);
        let once = schema_of(&upgraded.conn);
        let count = upgraded.count().unwrap();
        drop(upgraded);
        let again = Store::open(&path, &key(), false).unwrap();
        assert_eq!(schema_of(&again.conn), once, "v{version} opened twice");
        assert_eq!(
            again.count().unwrap(),
            count,
            "v{version} keeps its records"
        );
    }
}

#[test]
fn a_frozen_v1_store_upgrades_to_the_schema_of_a_fresh_store_and_keeps_its_rows() {
    let (_dir, path, upgraded) = upgraded_from(1);

    let crime = RecordId(uuid::Uuid::parse_str("0192f3c4-0000-7000-8000-000000000001").unwrap());
    let vna = RecordId(uuid::Uuid::parse_str("0192f3c4-0000-7000-8000-000000000002").unwrap());
    let doc = upgraded.load(crime).unwrap().unwrap();
    assert_eq!(
        (doc.bytes, doc.heads, doc.chunks),
        (vec![1, 2, 3, 4, 5, 6], vec![0; 32], 2)
    );
    let p = upgraded.projection(crime).unwrap().unwrap();
    assert_eq!(
        (
            p.kind,
            p.status,
            p.classification.as_deref(),
            p.decision_due_at,
            p.conflicts
        ),
        (
            RecordKind::CrimeReport,
            Status::Draft,
            Some("8N"),
            Some(1_700_086_400_000),
            0
        )
    );
    assert_eq!(upgraded.linking_to(crime, "crime").unwrap(), vec![vna]);
    assert_eq!(upgraded.meta("officer").unwrap().as_deref(), Some("PC1234"));
    assert!(upgraded.access_log(crime).unwrap().is_empty());
    drop(upgraded);

    // Upgraded once: the next open takes the fast path and changes nothing.
    let again = Store::open(&path, &key(), false).unwrap();
    assert_eq!(again.count().unwrap(), 2);
}

#[test]
fn a_failing_upgrade_step_leaves_the_store_at_its_old_version_and_schema() {
    /// Upgrades like the real schema, then fails after writing: the transaction must undo it.
    struct FailsMidUpgrade;
    impl schema::ConnectionInitializer for FailsMidUpgrade {
        const END_VERSION: u32 = 2;
        fn init(&self, _tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
            unreachable!("the store exists")
        }
        fn upgrade_from(
            &self,
            tx: &rusqlite::Transaction<'_>,
            version: u32,
        ) -> Result<(), StoreError> {
            schema::FieldbookSchema.upgrade_from(tx, version)?;
            Err(StoreError::Corrupt {
                detail: "simulated failure".into(),
            })
        }
    }

    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v1.db");
    let mut conn = open_keyed(&path, &key(), true).unwrap();
    conn.execute_batch(include_str!("../../sql/tests/create_v1_db.sql"))
        .unwrap();
    let before = schema_of(&conn);

    let err = schema::initialize(&mut conn, &FailsMidUpgrade).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_eq!(schema_of(&conn), before);
    assert_eq!(before.1, 1);
}

#[test]
fn opening_an_up_to_date_store_writes_nothing_to_the_file() {
    let (_dir, path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"doc",
        ))
        .unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();

    let store = Store::open(&path, &key(), false).unwrap();
    assert_eq!(store.count().unwrap(), 1);
    drop(store);
    assert_unchanged(&path, &before);
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

#[test]
fn list_filters_by_kind_status_author_and_time_newest_first() {
    let (_dir, _path, mut store) = new_store();
    let mut saves = Vec::new();
    for n in 0..8u128 {
        let kind = if n % 2 == 0 {
            RecordKind::CrimeReport
        } else {
            RecordKind::StopSearch
        };
        let mut p = projection(rid(n), kind);
        p.status = if n < 4 {
            Status::Draft
        } else {
            Status::Submitted
        };
        p.author = officer(if n % 4 == 0 { "PC9999" } else { "PC1234" });
        p.created_at = T0 + n as i64 * DAY_MS;
        // Record 7 has no main time: it sorts by when it was created.
        p.event_at = (n != 7).then_some(T0 + n as i64 * DAY_MS);
        saves.push(full_save(p, b"doc"));
    }
    store.save_many(&saves).unwrap();

    let all = store.list(&RecordQuery::default()).unwrap();
    assert_eq!(ids_of(&all), (0..8).rev().map(rid).collect::<Vec<_>>());

    let crimes = store
        .list(&RecordQuery {
            kind: Some(RecordKind::CrimeReport),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids_of(&crimes), vec![rid(6), rid(4), rid(2), rid(0)]);

    let submitted_stops = RecordQuery {
        kind: Some(RecordKind::StopSearch),
        status: Some(Status::Submitted),
        ..Default::default()
    };
    assert_eq!(
        ids_of(&store.list(&submitted_stops).unwrap()),
        vec![rid(7), rid(5)]
    );

    let by_author = RecordQuery {
        author: Some(officer("PC9999")),
        ..Default::default()
    };
    assert_eq!(
        ids_of(&store.list(&by_author).unwrap()),
        vec![rid(4), rid(0)]
    );

    let window = RecordQuery {
        from: Some(T0 + 2 * DAY_MS),
        to: Some(T0 + 5 * DAY_MS),
        ..Default::default()
    };
    assert_eq!(
        ids_of(&store.list(&window).unwrap()),
        vec![rid(4), rid(3), rid(2)]
    );

    let limited = RecordQuery {
        limit: Some(3),
        ..Default::default()
    };
    assert_eq!(
        ids_of(&store.list(&limited).unwrap()),
        vec![rid(7), rid(6), rid(5)]
    );
}

#[test]
fn list_returns_at_most_a_thousand_rows_by_default() {
    let (_dir, _path, mut store) = new_store();
    let saves: Vec<_> = (0..1_005)
        .map(|n| full_save(projection(rid(n), RecordKind::Person), b"p"))
        .collect();
    store.save_many(&saves).unwrap();
    assert_eq!(store.list(&RecordQuery::default()).unwrap().len(), 1_000);
    assert_eq!(store.count().unwrap(), 1_005);
    assert_eq!(store.ids().unwrap().len(), 1_005);
}

#[test]
fn drafts_are_the_authors_own_drafts_most_recently_updated_first() {
    let (_dir, _path, mut store) = new_store();
    let mut saves = Vec::new();
    for (n, author, status, updated) in [
        (1, "PC1234", Status::Draft, 10),
        (2, "PC1234", Status::Draft, 30),
        (3, "PC1234", Status::Submitted, 40),
        (4, "PC9999", Status::Draft, 50),
        (5, "PC1234", Status::Draft, 20),
    ] {
        let mut p = projection(rid(n), RecordKind::CrimeReport);
        p.author = officer(author);
        p.status = status;
        p.updated_at = T0 + updated;
        saves.push(full_save(p, b"doc"));
    }
    store.save_many(&saves).unwrap();
    let mine = store.drafts(&officer("PC1234")).unwrap();
    assert_eq!(ids_of(&mine), vec![rid(2), rid(5), rid(1)]);
}

#[test]
fn overdue_decisions_lists_only_those_due_before_now_oldest_due_first() {
    let (_dir, _path, mut store) = new_store();
    let now = T0 + 10 * DAY_MS;
    let mut saves = Vec::new();
    for (n, due) in [
        (1, Some(now - DAY_MS)),
        (2, Some(now + DAY_MS)),
        (3, None),
        (4, Some(now - 3 * DAY_MS)),
        (5, Some(now)),
    ] {
        let mut p = projection(rid(n), RecordKind::CrimeReport);
        p.decision_due_at = due;
        saves.push(full_save(p, b"doc"));
    }
    store.save_many(&saves).unwrap();
    assert_eq!(
        ids_of(&store.overdue_decisions(now).unwrap()),
        vec![rid(4), rid(1)]
    );
}

#[test]
fn receipts_needed_lists_only_records_still_needing_a_receipt() {
    let (_dir, _path, mut store) = new_store();
    let mut saves = Vec::new();
    for (n, needed) in [(1, true), (2, false), (3, true)] {
        let mut p = projection(rid(n), RecordKind::StopSearch);
        p.receipt_needed = needed;
        p.event_at = Some(T0 + n as i64);
        saves.push(full_save(p, b"doc"));
    }
    store.save_many(&saves).unwrap();
    assert_eq!(
        ids_of(&store.receipts_needed().unwrap()),
        vec![rid(3), rid(1)]
    );

    // Giving the receipt takes it off the queue.
    let mut given = projection(rid(3), RecordKind::StopSearch);
    given.event_at = Some(T0 + 3);
    store.save(&append(given, b"+receipt")).unwrap();
    assert_eq!(ids_of(&store.receipts_needed().unwrap()), vec![rid(1)]);
}

#[test]
fn linking_to_finds_the_assessments_pointing_at_a_crime() {
    let (_dir, _path, mut store) = new_store();
    let crime = rid(1);
    let mut saves = vec![full_save(
        projection(crime, RecordKind::CrimeReport),
        b"crime",
    )];
    for n in [2, 3] {
        let mut vna = projection(rid(n), RecordKind::VictimNeedsAssessment);
        vna.links = vec![("crime".into(), crime), ("victim".into(), rid(10 + n))];
        saves.push(full_save(vna, b"vna"));
    }
    let mut other = projection(rid(4), RecordKind::VictimNeedsAssessment);
    other.links = vec![("crime".into(), rid(99))];
    saves.push(full_save(other, b"vna"));
    let mut issue = projection(rid(5), RecordKind::NeighbourhoodIssue);
    issue.links = vec![("linked_crime".into(), crime)];
    saves.push(full_save(issue, b"issue"));
    store.save_many(&saves).unwrap();

    assert_eq!(
        store.linking_to(crime, "crime").unwrap(),
        vec![rid(2), rid(3)]
    );
    assert_eq!(
        store.linking_to(crime, "linked_crime").unwrap(),
        vec![rid(5)]
    );
    assert!(store.linking_to(rid(2), "crime").unwrap().is_empty());
}

#[test]
fn the_queue_queries_use_their_indexes_not_a_table_scan() {
    let (_dir, _path, store) = new_store();
    let plan = |sql: &str| -> String {
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let unbound = rusqlite::params_from_iter(std::iter::repeat_n(1, stmt.parameter_count()));
        stmt.query_map(unbound, |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    };
    use queries::{
        ATTENTION, DRAFTS, LINKING_TO, NEWEST_FIRST, OVERDUE_DECISIONS, RECEIPTS_NEEDED, UNSYNCED,
    };
    for (sql, index) in [
        (
            format!("SELECT * FROM records {DRAFTS}"),
            "records_by_author_status",
        ),
        (
            format!("SELECT * FROM records {OVERDUE_DECISIONS}"),
            "records_decision_due",
        ),
        (
            format!("SELECT * FROM records {RECEIPTS_NEEDED}"),
            "records_receipt_needed",
        ),
        (
            format!("SELECT * FROM records ORDER BY {NEWEST_FIRST} LIMIT 10"),
            "records_by_time",
        ),
        (
            format!("SELECT * FROM records WHERE kind = ? ORDER BY {NEWEST_FIRST} LIMIT 10"),
            "records_by_kind_time",
        ),
        (LINKING_TO.to_owned(), "links_by_target"),
        (
            format!("SELECT id FROM records {UNSYNCED}"),
            "records_unsynced",
        ),
        (
            format!("SELECT count(*) FROM records {UNSYNCED}"),
            "records_unsynced",
        ),
        (
            format!("SELECT * FROM records {ATTENTION}"),
            "records_attention",
        ),
        (
            "SELECT hash FROM receipts WHERE record_id = ?1 ORDER BY received_at".to_owned(),
            "receipts_by_record",
        ),
    ] {
        let plan = plan(&sql);
        assert!(plan.contains(index), "{sql}\n  uses: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}\n  sorts: {plan}");
    }
}

// ---------------------------------------------------------------------------------------------
// Meta and access log
// ---------------------------------------------------------------------------------------------

#[test]
fn meta_values_round_trip_and_overwrite() {
    let (_dir, path, mut store) = new_store();
    assert_eq!(store.meta("cursor").unwrap(), None);
    store.set_meta("cursor", "41").unwrap();
    store.set_meta("cursor", "42").unwrap();
    drop(store);
    let store = Store::open(&path, &key(), false).unwrap();
    assert_eq!(store.meta("cursor").unwrap().as_deref(), Some("42"));
}

#[test]
fn access_log_entries_round_trip_per_record_in_time_order() {
    let (_dir, path, mut store) = new_store();
    let entry = |at_ms, record_id, action: &str| AccessLogEntry {
        at_ms,
        officer: officer("PC1234"),
        record_id,
        action: action.into(),
        purpose: "investigation".into(),
    };
    let later = entry(T0 + 60_000, rid(1), "export");
    let earlier = entry(T0, rid(1), "view");
    let other = entry(T0 + 1, rid(2), "create");
    for e in [&later, &earlier, &other] {
        store.log_access(e).unwrap();
    }
    drop(store);
    let store = Store::open(&path, &key(), false).unwrap();
    assert_eq!(store.access_log(rid(1)).unwrap(), vec![earlier, later]);
    assert_eq!(store.access_log(rid(2)).unwrap(), vec![other]);
    assert!(store.access_log(rid(3)).unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Speed (ignored by default: run with `--ignored --nocapture` in release to measure)
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "builds a 100,000-record store; run by hand to measure"]
fn opening_a_store_of_100_000_records_takes_under_100_ms() {
    let (_dir, path, store) = new_store();
    drop(store);
    let started = std::time::Instant::now();
    let mut store = Store::open(&path, &key(), false).unwrap();
    println!("empty store: open {:?}", started.elapsed());
    let doc = vec![0x42u8; 600];
    for batch in 0..100u128 {
        let saves: Vec<_> = (0..1_000u128)
            .map(|i| {
                let n = batch * 1_000 + i;
                let mut p = projection(rid(n), RecordKind::ALL[(n % 5) as usize]);
                p.event_at = Some(T0 + n as i64 * 1_000);
                full_save(p, &doc)
            })
            .collect();
        store.save_many(&saves).unwrap();
    }
    drop(store);
    let size = std::fs::metadata(&path).unwrap().len();

    let started = std::time::Instant::now();
    let store = Store::open(&path, &key(), false).unwrap();
    let opened = started.elapsed();
    let started = std::time::Instant::now();
    let first_page = store
        .list(&RecordQuery {
            limit: Some(50),
            ..Default::default()
        })
        .unwrap();
    let listed = started.elapsed();
    println!(
        "100,000 records, {} MB: open {opened:?}, first 50 of the list {listed:?}",
        size / 1_000_000
    );
    assert_eq!(first_page.len(), 50);
    assert!(
        opened < std::time::Duration::from_millis(100),
        "open took {opened:?}"
    );
}

#[test]
fn a_wrong_key_leaves_a_crashed_stores_wal_and_file_untouched() {
    let (dir, path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"in the wal",
        ))
        .unwrap();
    // Copy the store while it is open: the save sits in the WAL, as after a crash.
    let crashed = dir.path().join("crashed.db");
    let crashed_wal = dir.path().join("crashed.db-wal");
    std::fs::copy(&path, &crashed).unwrap();
    std::fs::copy(path.with_extension("db-wal"), &crashed_wal).unwrap();
    drop(store);
    let (db_before, wal_before) = (
        std::fs::read(&crashed).unwrap(),
        std::fs::read(&crashed_wal).unwrap(),
    );
    assert!(!wal_before.is_empty());

    let err = Store::open(&crashed, &DatabaseKey::Raw([8u8; 32]), false).unwrap_err();
    assert!(matches!(err, StoreError::KeyRejected), "{err:?}");
    assert_unchanged(&crashed, &db_before);
    assert_unchanged(&crashed_wal, &wal_before);

    let store = Store::open(&crashed, &key(), false).unwrap();
    assert_eq!(store.load(rid(1)).unwrap().unwrap().bytes, b"in the wal");
}

// ---------------------------------------------------------------------------------------------
// Schema v3: sync
// ---------------------------------------------------------------------------------------------

#[test]
fn a_frozen_v2_store_upgrades_to_the_schema_of_a_fresh_store_and_keeps_its_rows() {
    let (_dir, _path, upgraded) = upgraded_from(2);

    let crime = RecordId(uuid::Uuid::parse_str("0192f3c4-0000-7000-8000-000000000001").unwrap());
    let doc = upgraded.load(crime).unwrap().unwrap();
    assert_eq!((doc.bytes, doc.chunks), (vec![1, 2, 3, 4, 5, 6], 2));
    assert_eq!(upgraded.projection(crime).unwrap().unwrap().conflicts, 1);
    assert_eq!(upgraded.access_log(crime).unwrap().len(), 1);
    // Nothing was ever pushed: every record is in the outbox, none needs attention.
    assert_eq!(upgraded.count_unsynced().unwrap(), 2);
    assert!(upgraded.attention().unwrap().is_empty());
    assert!(upgraded.receipts(crime).unwrap().is_empty());
}

fn heads_of(n: u8) -> Vec<u8> {
    vec![n; 32]
}

#[test]
fn the_outbox_lists_records_never_pushed_or_changed_since_the_server_heads() {
    let (_dir, _path, mut store) = new_store();
    for n in 1..=3 {
        store
            .save(&full_save(
                projection(rid(n), RecordKind::CrimeReport),
                b"doc",
            ))
            .unwrap();
    }
    let all: Vec<RecordId> = store.unsynced(100).unwrap().iter().map(|u| u.id).collect();
    assert_eq!(all, vec![rid(1), rid(2), rid(3)], "never pushed");

    // The server holds what 1 and 2 have; 3 it holds an older version of.
    store
        .set_server_heads(&[
            (rid(1), vec![0xAB; 32]),
            (rid(2), vec![0xAB; 32]),
            (rid(3), heads_of(1)),
        ])
        .unwrap();
    let outbox = store.unsynced(100).unwrap();
    assert_eq!(
        outbox,
        vec![UnsyncedRecord {
            id: rid(3),
            kind: RecordKind::CrimeReport,
            heads: vec![0xAB; 32],
            server_heads: Some(heads_of(1)),
        }]
    );
    assert_eq!(store.count_unsynced().unwrap(), 1);

    // A local edit of 1 puts it back in the outbox.
    let mut edit = append(projection(rid(1), RecordKind::CrimeReport), b"more");
    edit.heads = heads_of(9);
    store.save(&edit).unwrap();
    assert_eq!(store.count_unsynced().unwrap(), 2);
    assert_eq!(store.unsynced(1).unwrap().len(), 1, "the limit holds");
}

#[test]
fn attention_marks_list_clear_and_never_remove_the_record() {
    let (_dir, _path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::StopSearch),
            b"doc",
        ))
        .unwrap();
    let attention = Attention {
        rule: "actor-not-bound".into(),
        message: "enrol this device again".into(),
        field: Some("grounds".into()),
    };
    store.mark_attention(rid(1), &attention).unwrap();
    assert_eq!(
        store.attention().unwrap(),
        vec![AttentionRecord {
            id: rid(1),
            kind: RecordKind::StopSearch,
            attention
        }]
    );
    store.clear_attention(rid(1)).unwrap();
    assert!(store.attention().unwrap().is_empty());
    assert_eq!(store.count().unwrap(), 1);
}

#[test]
fn receipts_keep_the_first_time_and_go_with_a_deleted_record() {
    let (_dir, _path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"doc",
        ))
        .unwrap();
    let receipt = |hash: u8, at: i64| ChangeReceipt {
        record: rid(1),
        hash: heads_of(hash),
        received_at: at,
    };
    store
        .record_receipts(&[receipt(2, T0 + 5), receipt(1, T0)])
        .unwrap();
    store.record_receipts(&[receipt(1, T0 + 99)]).unwrap();
    assert_eq!(
        store.receipts(rid(1)).unwrap(),
        vec![receipt(1, T0), receipt(2, T0 + 5)]
    );

    assert!(store.delete(rid(1)).unwrap());
    assert!(!store.delete(rid(1)).unwrap(), "already gone");
    assert!(store.receipts(rid(1)).unwrap().is_empty());
    assert!(store.load(rid(1)).unwrap().is_none());
    let chunks: i64 = store
        .conn
        .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(chunks, 0, "chunks are deleted with their record");
}

#[test]
fn an_eviction_deletes_a_synced_record_and_keeps_one_with_unsynced_changes() {
    let (_dir, _path, mut store) = new_store();
    for n in 1..=2 {
        store
            .save(&full_save(
                projection(rid(n), RecordKind::CrimeReport),
                b"doc",
            ))
            .unwrap();
    }
    store.set_server_heads(&[(rid(1), vec![0xAB; 32])]).unwrap();
    let applied = store
        .apply_sync(&SyncWrite {
            evictions: vec![rid(1), rid(2)],
            ..SyncWrite::default()
        })
        .unwrap();
    assert_eq!(
        applied,
        SyncApplied {
            evicted: vec![rid(1)],
            kept: vec![rid(2)]
        }
    );
    assert_eq!(store.ids().unwrap(), vec![rid(2)]);
}

#[test]
fn a_failing_item_rolls_back_the_whole_sync_write_with_its_cursor_and_receipts() {
    let (_dir, path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"kept",
        ))
        .unwrap();
    store.set_meta("sync.cursor", "7").unwrap();

    let mut changed = projection(rid(1), RecordKind::CrimeReport);
    changed.status = Status::Submitted;
    let write = SyncWrite {
        saves: vec![
            append(changed, b"+new"),
            full_save(projection(rid(2), RecordKind::Person), b"new record"),
        ],
        server_heads: vec![(rid(1), vec![0xAB; 32])],
        removals: Vec::new(),
        quarantine: Vec::new(),
        attention: Vec::new(),
        receipts: vec![
            ChangeReceipt {
                record: rid(1),
                hash: heads_of(1),
                received_at: T0,
            },
            // A receipt for a record that is not here: the foreign key refuses it.
            ChangeReceipt {
                record: rid(9),
                hash: heads_of(2),
                received_at: T0,
            },
        ],
        held_back: vec![held(rid(3), "not-a-document")],
        evictions: Vec::new(),
        meta: vec![("sync.cursor".into(), "12".into())],
    };
    let err = store.apply_sync(&write).unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    drop(store);

    let store = Store::open(&path, &key(), false).unwrap();
    assert_eq!(store.meta("sync.cursor").unwrap().as_deref(), Some("7"));
    assert_eq!(store.load(rid(1)).unwrap().unwrap().bytes, b"kept");
    assert_eq!(
        store.projection(rid(1)).unwrap().unwrap().status,
        Status::Draft
    );
    assert!(store.load(rid(2)).unwrap().is_none());
    assert!(store.receipts(rid(1)).unwrap().is_empty());
    assert_eq!(store.count_unsynced().unwrap(), 1, "server heads unchanged");
    assert_eq!(
        store.count_held_back().unwrap(),
        0,
        "nothing held back either"
    );
}

#[test]
fn a_save_built_on_heads_the_store_no_longer_holds_is_refused_and_writes_nothing() {
    let (_dir, _path, mut store) = new_store();
    let first = DocumentSave {
        heads: vec![1u8; 32],
        ..full_save(projection(rid(1), RecordKind::CrimeReport), b"v1")
    };
    store.save(&first).unwrap();
    // Another process appends a change: the stored heads move on.
    let theirs = DocumentSave {
        heads: vec![2u8; 32],
        expected_heads: Some(vec![1u8; 32]),
        ..append(projection(rid(1), RecordKind::CrimeReport), b"+theirs")
    };
    store.save(&theirs).unwrap();
    // This process still believes the heads are the first ones.
    let ours = DocumentSave {
        heads: vec![3u8; 32],
        expected_heads: Some(vec![1u8; 32]),
        ..full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"ours, compacted",
        )
    };
    let err = store.save(&ours).unwrap_err();
    assert!(matches!(err, StoreError::Stale), "{err:?}");
    let doc = store.load(rid(1)).unwrap().unwrap();
    assert_eq!(
        doc.bytes, b"v1+theirs",
        "the other process's change must survive"
    );
    assert_eq!(doc.heads, vec![2u8; 32]);
    // A record deleted underneath is stale too: an incremental chunk alone is not a document.
    assert!(store.delete(rid(1)).unwrap());
    let err = store.save(&theirs).unwrap_err();
    assert!(matches!(err, StoreError::Stale), "{err:?}");
    assert!(store.load(rid(1)).unwrap().is_none());
}

// ---------------------------------------------------------------------------------------------
// Schema v4: quarantine
// ---------------------------------------------------------------------------------------------

#[test]
fn a_frozen_v3_store_upgrades_to_the_schema_of_a_fresh_store_and_keeps_its_rows() {
    let (_dir, _path, upgraded) = upgraded_from(3);

    let crime = rid(1);
    let search = rid(3);
    let doc = upgraded.load(crime).unwrap().unwrap();
    assert_eq!((doc.bytes, doc.chunks), (vec![1, 2, 3, 4, 5, 6], 2));
    assert_eq!(upgraded.receipts(crime).unwrap().len(), 1);
    assert_eq!(upgraded.access_log(crime).unwrap().len(), 1);
    assert_eq!(upgraded.meta("sync.cursor").unwrap().as_deref(), Some("7"));
    // The refused stop-search keeps its mark and its place in the outbox; nothing is quarantined
    // by the upgrade itself (the next sync rebuilds it).
    let unsynced: Vec<RecordId> = upgraded
        .unsynced(10)
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(unsynced, vec![search]);
    assert_eq!(upgraded.attention().unwrap().len(), 1);
    assert!(upgraded.quarantined().unwrap().is_empty());
    assert_eq!(upgraded.count_quarantined().unwrap(), 0);
}

fn kept(record: RecordId, removed: bool) -> NewQuarantine {
    NewQuarantine {
        record,
        kind: RecordKind::StopSearch,
        rule: "policy-pcso-stop-search".into(),
        message: "PCSOs do not carry out stop and search".into(),
        field: Some("meta.author".into()),
        change: Some(vec![7; 32]),
        at: T0,
        removed,
        document: b"the refused document".to_vec(),
        refused: r#"[{"field":"grounds","old":null,"new":"typed"}]"#.into(),
    }
}

#[test]
fn a_record_removed_into_the_quarantine_goes_in_the_same_transaction_and_only_at_its_heads() {
    let (_dir, _path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::StopSearch),
            b"doc",
        ))
        .unwrap();

    // Heads that are not the stored ones: nothing is removed and nothing is kept.
    let stale = SyncWrite {
        removals: vec![(rid(1), vec![0xCD; 32])],
        quarantine: vec![kept(rid(1), true)],
        ..SyncWrite::default()
    };
    assert!(matches!(store.apply_sync(&stale), Err(StoreError::Stale)));
    assert!(store.projection(rid(1)).unwrap().is_some());
    assert!(store.quarantined().unwrap().is_empty());

    let write = SyncWrite {
        removals: vec![(rid(1), vec![0xAB; 32])],
        quarantine: vec![kept(rid(1), true)],
        ..SyncWrite::default()
    };
    store.apply_sync(&write).unwrap();
    assert!(store.projection(rid(1)).unwrap().is_none());
    assert!(store.load(rid(1)).unwrap().is_none(), "chunks go with it");
    assert_eq!(
        store.count_unsynced().unwrap(),
        0,
        "not in the outbox any more"
    );
    let rows = store.quarantined().unwrap();
    assert_eq!(rows.len(), 1);
    let mut expected = kept(rid(1), true);
    expected.document = Vec::new();
    assert_eq!(rows[0].entry, expected);
    let (row, document) = store.quarantined_document(rows[0].id).unwrap().unwrap();
    assert_eq!(
        (row, document),
        (rows[0].clone(), b"the refused document".to_vec())
    );
}

#[test]
fn a_dismissed_quarantine_id_is_never_given_to_another_item() {
    let (_dir, _path, mut store) = new_store();
    for n in 1..=2 {
        store
            .apply_sync(&SyncWrite {
                quarantine: vec![kept(rid(n), false)],
                ..SyncWrite::default()
            })
            .unwrap();
    }
    let ids: Vec<u64> = store.quarantined().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(store.dismiss_quarantined(ids[1]).unwrap());
    assert!(!store.dismiss_quarantined(ids[1]).unwrap(), "already gone");
    assert!(store.quarantined_document(ids[1]).unwrap().is_none());
    store
        .apply_sync(&SyncWrite {
            quarantine: vec![kept(rid(3), false)],
            ..SyncWrite::default()
        })
        .unwrap();
    let now: Vec<u64> = store.quarantined().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(now.len(), 2);
    assert!(
        now[1] > ids[1],
        "ids are never reused: {now:?} after {ids:?}"
    );
    assert_eq!(store.count_quarantined().unwrap(), 2);
}

// ---------------------------------------------------------------------------------------------
// Schema v5: held-back feed entries
// ---------------------------------------------------------------------------------------------

#[test]
fn a_frozen_v4_store_upgrades_to_the_schema_of_a_fresh_store_and_keeps_its_rows() {
    let (_dir, _path, upgraded) = upgraded_from(4);

    let crime = rid(1);
    let doc = upgraded.load(crime).unwrap().unwrap();
    assert_eq!((doc.bytes, doc.chunks), (vec![1, 2, 3, 4, 5, 6], 2));
    assert_eq!(upgraded.receipts(crime).unwrap().len(), 1);
    assert_eq!(upgraded.meta("sync.cursor").unwrap().as_deref(), Some("7"));
    assert_eq!(upgraded.attention().unwrap().len(), 1);
    let quarantined = upgraded.quarantined().unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].entry.rule, "policy-submitted-locked");
    // Nothing was held back before v5.
    assert_eq!(upgraded.count_held_back().unwrap(), 0);
    assert!(upgraded.held_back().unwrap().is_empty());
}

fn held(record: RecordId, reason: &str) -> NewHeldBack {
    NewHeldBack {
        record,
        kind: RecordKind::CrimeReport,
        entry: b"the entry as received".to_vec(),
        reason: reason.into(),
        at: T0,
    }
}

#[test]
fn held_back_entries_are_kept_in_the_order_they_came_with_the_rest_of_the_sync_write() {
    let (_dir, path, mut store) = new_store();
    store
        .apply_sync(&SyncWrite {
            held_back: vec![
                held(rid(2), "change-not-applied"),
                held(rid(1), "not-a-record"),
            ],
            meta: vec![("sync.cursor".into(), "9".into())],
            ..SyncWrite::default()
        })
        .unwrap();
    drop(store);

    let store = Store::open(&path, &key(), false).unwrap();
    let rows = store.held_back().unwrap();
    let kept: Vec<(RecordId, &str, i64)> = rows
        .iter()
        .map(|r| (r.entry.record, r.entry.reason.as_str(), r.entry.at))
        .collect();
    assert_eq!(
        kept,
        vec![
            (rid(2), "change-not-applied", T0),
            (rid(1), "not-a-record", T0)
        ]
    );
    assert!(rows[0].id < rows[1].id, "oldest first");
    assert_eq!(store.count_held_back().unwrap(), 2);
    assert_eq!(store.held_back_records().unwrap(), vec![rid(1), rid(2)]);
    assert_eq!(store.meta("sync.cursor").unwrap().as_deref(), Some("9"));
}

// ---------------------------------------------------------------------------------------------
// An empty file, a lost write-ahead log
// ---------------------------------------------------------------------------------------------

#[test]
fn an_empty_file_is_refused_without_create_and_stays_empty() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("fieldbook.db");
    std::fs::write(&path, b"").unwrap();

    for _ in 0..2 {
        let err = Store::open(&path, &key(), false).unwrap_err();
        assert!(matches!(err, StoreError::Empty), "{err:?}");
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("fieldbook.db")]);
}

/// A copy of the store at `path` as a crash would leave it while `store` is open: the store
/// file and, unless `with_wal` is false, its write-ahead log.
fn crashed_copy(path: &Path, with_wal: bool) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let copy = dir.path().join("crashed.db");
    std::fs::copy(path, &copy).unwrap();
    if with_wal {
        std::fs::copy(wal_path(path), wal_path(&copy)).unwrap();
    }
    (dir, copy)
}

#[test]
fn a_store_whose_wal_is_gone_after_an_unclean_close_is_refused_untouched_until_the_wal_is_back() {
    let (_dir, path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"one",
        ))
        .unwrap();
    drop(store);
    let mut store = Store::open(&path, &key(), false).unwrap();
    store
        .save(&full_save(
            projection(rid(2), RecordKind::CrimeReport),
            b"two",
        ))
        .unwrap();
    // A crash now: the second save is acknowledged and only in the -wal file.
    let (_crash_dir, crashed) = crashed_copy(&path, true);
    drop(store);
    let wal = std::fs::read(wal_path(&crashed)).unwrap();
    std::fs::remove_file(wal_path(&crashed)).unwrap();
    let before = std::fs::read(&crashed).unwrap();

    for _ in 0..2 {
        let err = Store::open(&crashed, &key(), false).unwrap_err();
        assert!(matches!(err, StoreError::WalMissing), "{err:?}");
        assert!(err.to_string().contains("put the -wal file back"), "{err}");
        assert_unchanged(&crashed, &before);
    }

    std::fs::write(wal_path(&crashed), &wal).unwrap();
    let store = Store::open(&crashed, &key(), false).unwrap();
    assert_eq!(store.load(rid(2)).unwrap().unwrap().bytes, b"two");
    assert_eq!(store.count().unwrap(), 2);
}

#[test]
fn a_cleanly_closed_store_opens_without_its_wal_and_a_crashed_one_with_it() {
    let (_dir, path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"one",
        ))
        .unwrap();
    let (_crash_dir, crashed) = crashed_copy(&path, true);
    drop(store);
    assert!(!wal_path(&path).exists(), "a clean close folds the log in");
    assert_eq!(
        Store::open(&path, &key(), false).unwrap().count().unwrap(),
        1
    );
    // After a crash with the log intact, SQLite recovers it; the next clean close ends it.
    let store = Store::open(&crashed, &key(), false).unwrap();
    assert_eq!(store.load(rid(1)).unwrap().unwrap().bytes, b"one");
    drop(store);
    std::fs::remove_file(wal_path(&crashed)).ok();
    assert_eq!(
        Store::open(&crashed, &key(), false)
            .unwrap()
            .count()
            .unwrap(),
        1
    );
}

#[test]
fn with_two_handles_open_only_the_last_to_close_ends_the_session() {
    let (_dir, path, mut writer) = new_store();
    let reader = Store::open(&path, &key(), false).unwrap();
    writer
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"one",
        ))
        .unwrap();
    drop(writer);
    // The reader is still open: a crash now, and a lost log, must still be known.
    let (_crash_dir, crashed) = crashed_copy(&path, false);
    let err = Store::open(&crashed, &key(), false).unwrap_err();
    assert!(matches!(err, StoreError::WalMissing), "{err:?}");
    assert_eq!(reader.count().unwrap(), 1);
    drop(reader);
    assert!(
        !wal_path(&path).exists(),
        "the last handle folded the log in"
    );
    assert_eq!(
        Store::open(&path, &key(), false).unwrap().count().unwrap(),
        1
    );
}

#[test]
fn accepting_a_lost_wal_opens_the_store_as_its_file_holds_it() {
    let (_dir, path, mut store) = new_store();
    store
        .save(&full_save(
            projection(rid(1), RecordKind::CrimeReport),
            b"one",
        ))
        .unwrap();
    drop(store);
    let mut store = Store::open(&path, &key(), false).unwrap();
    store
        .save(&full_save(
            projection(rid(2), RecordKind::CrimeReport),
            b"two",
        ))
        .unwrap();
    let (_crash_dir, crashed) = crashed_copy(&path, false);
    drop(store);

    let err = Store::accept_lost_wal(&crashed, &DatabaseKey::Raw([8u8; 32])).unwrap_err();
    assert!(matches!(err, StoreError::KeyRejected), "{err:?}");
    Store::accept_lost_wal(&crashed, &key()).unwrap();
    let store = Store::open(&crashed, &key(), false).unwrap();
    assert_eq!(store.load(rid(1)).unwrap().unwrap().bytes, b"one");
    assert!(
        store.load(rid(2)).unwrap().is_none(),
        "it was only in the lost log"
    );
}

#[test]
fn a_key_given_as_text_is_raw_when_64_hex_characters_and_a_passphrase_otherwise() {
    let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
    match DatabaseKey::from_text(&format!("  {hex}\n")).expect("a key") {
        DatabaseKey::Raw(raw) => assert_eq!(raw[1], 0x11),
        DatabaseKey::Passphrase(_) => panic!("64 hex characters are a raw key"),
    }
    for phrase in [
        &hex[..63],
        "correct horse battery staple",
        &format!("{}g", &hex[..63]),
    ] {
        match DatabaseKey::from_text(phrase).expect("a key") {
            DatabaseKey::Passphrase(p) => assert_eq!(p, phrase),
            DatabaseKey::Raw(_) => panic!("{phrase} is a passphrase"),
        }
    }
    assert_eq!(
        DatabaseKey::from_text(" \n").unwrap_err(),
        KeyTextError::Empty
    );
}
