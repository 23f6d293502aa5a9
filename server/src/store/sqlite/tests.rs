//! The schema's migrations, against frozen old schemas (`server/sql/tests/create_vN_db.sql`):
//! an old database opens, upgrades to exactly the schema a new one gets, and keeps its rows.

use super::*;

/// The key every database of these tests is encrypted under.
const KEY: DatabaseKey = DatabaseKey::Raw([7; 32]);

/// Every table's columns, every index and trigger: what makes two schemas the same.
fn schema_of(path: &Path) -> Vec<String> {
    let conn = connect(path, &KEY).expect("connect");
    let mut out = Vec::new();
    let objects: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (kind, name, sql) in objects {
        if kind == "table" {
            let columns: Vec<String> = conn
                .prepare(&format!("PRAGMA table_info({name})"))
                .expect("table_info")
                .query_map([], |r| {
                    Ok(format!(
                        "{}:{}:{}:{:?}:{}",
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, i64>(5)?
                    ))
                })
                .expect("columns")
                .collect::<Result<_, _>>()
                .expect("rows");
            let without_rowid = sql.as_deref().is_some_and(|s| s.contains("WITHOUT ROWID"));
            out.push(format!(
                "table {name} {columns:?} without_rowid={without_rowid}"
            ));
        } else {
            let sql = sql.unwrap_or_default();
            out.push(format!(
                "{kind} {name} {}",
                sql.split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
    }
    out
}

fn user_version(path: &Path) -> u32 {
    connect(path, &KEY)
        .expect("connect")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version")
}

#[test]
fn a_frozen_v1_database_upgrades_to_the_schema_of_a_new_one_and_keeps_its_rows() {
    let dir = tempfile::tempdir().expect("dir");
    let old = dir.path().join("v1.db");
    {
        // A v1 server encrypted nothing; its database was encrypted (`encrypt-database`) before
        // this build opens it, so the frozen schema is written to an encrypted file here.
        std::fs::File::create(&old).expect("the file");
        let conn = connect(&old, &KEY).expect("connect");
        conn.execute_batch(include_str!("../../../sql/tests/create_v1_db.sql"))
            .expect("the frozen v1 schema");
        conn.execute_batch(
            "INSERT INTO officers (id, name, role, team) VALUES ('PC1', 'Alex Kerr', 'officer', 'A');
             INSERT INTO enrolment_codes (hash, officer, expires_at) VALUES (x'01', 'PC1', 99);
             INSERT INTO devices (id, officer, label, token_hash, created_at, revoked)
                 VALUES ('dev-1', 'PC1', 'phone', x'02', 5, 0);
             INSERT INTO actors (actor, device) VALUES ('abcd', 'dev-1');",
        )
        .expect("rows");
    }
    assert_eq!(user_version(&old), 1);

    let store = SqliteStore::open(&old, &KEY).expect("a v1 database opens");
    assert_eq!(user_version(&old), SCHEMA_VERSION);
    let new = dir.path().join("new.db");
    drop(SqliteStore::open(&new, &KEY).expect("a new database"));
    assert_eq!(
        schema_of(&old),
        schema_of(&new),
        "the upgraded schema is a new one's"
    );

    let officer = store
        .officer(&OfficerId::new("PC1").expect("id"))
        .expect("read")
        .expect("the officer is kept");
    assert_eq!(
        (officer.name.as_str(), officer.role, officer.team.as_deref()),
        ("Alex Kerr", Role::Officer, Some("A"))
    );
    let devices = store.devices().expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(
        (
            devices[0].id.as_str(),
            devices[0].label.as_str(),
            devices[0].revoked
        ),
        ("dev-1", "phone", false)
    );
    assert_eq!(devices[0].replaced_by, None);
    assert_eq!(
        store.officer_history(&officer.id).expect("history").len(),
        0,
        "the audit starts empty: it records changes from the upgrade on"
    );
    // The new table works on the upgraded database, and stays append-only there.
    store
        .update_officer(
            &officer.id,
            &OfficerDetails {
                role: Some(Role::Supervisor),
                ..OfficerDetails::default()
            },
            "admin",
            7,
        )
        .expect("update")
        .expect("the officer exists");
    assert_eq!(
        store.officer_history(&officer.id).expect("history").len(),
        1
    );
    drop(store);
    let conn = connect(&old, &KEY).expect("connect");
    assert!(conn.execute("DELETE FROM officer_audit", []).is_err());
}

#[test]
fn a_frozen_v2_database_upgrades_to_the_schema_of_a_new_one_and_its_records_are_found_by_team() {
    let dir = tempfile::tempdir().expect("dir");
    let old = dir.path().join("v2.db");
    let record = RecordId::generate();
    let person = RecordId::generate();
    {
        std::fs::File::create(&old).expect("the file");
        let conn = connect(&old, &KEY).expect("connect");
        conn.execute_batch(include_str!("../../../sql/tests/create_v2_db.sql"))
            .expect("the frozen v2 schema");
        conn.execute(
            "INSERT INTO records (id, kind, author, team, attending, status, links, heads, snapshot,
                                  snapshot_seq, last_seq, changes_since_snapshot)
             VALUES (?1, ?3, 'PC1', 'A', '[\"PC1\"]', ?4, ?2, x'', x'', 0, 0, 0)",
            params![
                record.to_string(),
                format!("[[\"victim\",\"{person}\"]]"),
                RecordKind::CrimeReport.as_str(),
                Status::Submitted.as_str(),
            ],
        )
        .expect("a record");
        conn.execute(
            "INSERT INTO record_links (from_id, role, to_id) VALUES (?1, 'victim', ?2)",
            params![record.to_string(), person.to_string()],
        )
        .expect("its link");
    }
    assert_eq!(user_version(&old), 2);

    let store = SqliteStore::open(&old, &KEY).expect("a v2 database opens");
    assert_eq!(user_version(&old), SCHEMA_VERSION);
    let new = dir.path().join("new.db");
    drop(SqliteStore::open(&new, &KEY).expect("a new database"));
    assert_eq!(
        schema_of(&old),
        schema_of(&new),
        "the upgraded schema is a new one's"
    );
    let queue = store
        .team_records("A", &[Status::Submitted])
        .expect("team records");
    assert_eq!(queue.iter().map(|f| f.id).collect::<Vec<_>>(), [record]);
    assert_eq!(queue[0].links, [("victim".to_owned(), person)]);
    assert_eq!(store.linking_to(person).expect("links"), [record]);
    assert!(
        store
            .team_records("B", &[Status::Submitted])
            .expect("none")
            .is_empty()
    );
    // The upgrade gave the records already held their scope keys: the feed finds them.
    let scope = crate::store::FeedScope {
        device: "dev-1".into(),
        keys: vec!["attends:PC1".into()],
    };
    let queue = crate::store::FeedScope {
        device: "dev-2".into(),
        keys: vec!["submitted:A".into()],
    };
    let conn = connect(&old, &KEY).expect("connect");
    conn.execute(
        "INSERT INTO changes (hash, record, device, actor, bytes, received_at, heads_after)
         VALUES (x'01', ?1, 'dev-1', 'ab', x'', 0, x'')",
        [record.to_string()],
    )
    .expect("a change row");
    drop(conn);
    for scope in [scope, queue] {
        let rows = store.scoped_feed_rows(&scope, 0, 10, 10).expect("rows");
        assert_eq!(rows.iter().map(|r| r.record).collect::<Vec<_>>(), [record]);
    }
}

#[test]
fn damage_the_background_check_finds_makes_the_store_refuse_every_call_from_then_on() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("server.db");
    let store = SqliteStore::open(&path, &KEY).expect("opens");
    {
        let conn = connect(&path, &KEY).expect("connect");
        for i in 0..400 {
            conn.execute(
                "INSERT INTO officers (id, name, role, team) VALUES (?1, ?2, 'officer', 'A')",
                params![format!("PC{i}"), "x".repeat(900)],
            )
            .expect("an officer");
        }
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
    }
    assert_eq!(store.officers().expect("read").len(), 400);
    store.check_integrity().expect("sound");

    // A disk that returns garbage for part of a page while the server runs.
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes.len() / 2;
    bytes[at..at + 64].fill(0xA5);
    std::fs::write(&path, &bytes).expect("write");
    let damaged = std::fs::read(&path).expect("read");

    match store.check_integrity() {
        Err(StoreError::Damaged { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Damaged, got {other:?}"),
    }
    assert!(matches!(store.officers(), Err(StoreError::Damaged { .. })));
    assert!(matches!(store.max_seq(), Err(StoreError::Damaged { .. })));
    assert!(matches!(store.ready(), Err(StoreError::Damaged { .. })));
    let officer = Officer {
        id: OfficerId::new("PC9999").expect("id"),
        name: "New".into(),
        role: Role::Officer,
        team: None,
    };
    assert!(matches!(
        store.create_officer(&officer, "admin", 1),
        Err(StoreError::Damaged { .. })
    ));
    drop(store);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        damaged,
        "nothing was written onto it"
    );
}

#[test]
fn a_database_from_a_newer_server_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path, &KEY).expect("new"));
    connect(&path, &KEY)
        .expect("connect")
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    let schema = schema_of(&path);
    match SqliteStore::open(&path, &KEY) {
        Err(StoreError::TooNew(found, known)) => {
            assert_eq!((found, known), (SCHEMA_VERSION + 1, SCHEMA_VERSION))
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    assert_eq!(schema_of(&path), schema);
}

#[test]
fn both_ways_to_a_scoped_feed_read_the_same_rows() {
    for sql in [SCOPED_ROWS_BY_RECORD, SCOPED_ROWS_BY_ROW] {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("server.db");
        let a = SqliteStore::open(&path, &KEY).expect("a");
        let b = SqliteStore::open(&path, &KEY).expect("b");
        crate::store::conformance::scoped_feed_checks(&a, &b, &|scope, after, upto, limit| {
            a.scoped_rows_with(sql, scope, after, upto, limit)
                .expect("rows")
        });
    }
}

/// The conformance suite on SQLite: every handle opens the same encrypted file.
mod conformance {
    use super::KEY;
    use crate::store::{ServerStore, SqliteStore, conformance::Harness};
    use std::sync::Arc;

    struct Sqlite(tempfile::TempDir);

    impl Sqlite {
        fn new() -> Sqlite {
            Sqlite(tempfile::tempdir().expect("dir"))
        }
    }

    impl Harness for Sqlite {
        fn open(&self) -> Arc<dyn ServerStore> {
            Arc::new(SqliteStore::open(&self.0.path().join("server.db"), &KEY).expect("opens"))
        }
    }

    crate::store_conformance_tests!(Sqlite::new());
}
