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
