//! What a force's deployment relies on, checked on real files and real sockets: the server's
//! database is encrypted, private to its owner, refused under a wrong key, when plaintext (until
//! `encrypt-database`) and when damaged; connections that stall are closed.

mod support;
use support::*;

use fieldbook_core::domain::{Record, RecordKind, Role};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::sync::wire::{self, SyncRequest};
use fieldbook_server::store::StoreError;
use fieldbook_server::{Admin, ServerConfig, ServerError, SqliteStore};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A narrative no other bytes of the database could hold by chance.
const NARRATIVE: &str = "Victim states the blue bicycle was taken from the rack by Quillfeather";

const SERVER: &str = env!("CARGO_BIN_EXE_fieldbook-server");

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sha(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).expect("read the file")).to_vec()
}

/// A plaintext copy of an encrypted database, made with SQLCipher's own export (what someone
/// holding the key could read): the control that the narrative is there to be found.
#[allow(clippy::disallowed_methods)]
fn decrypted_copy(db: &Path, key: &DatabaseKey, out: &Path) {
    let DatabaseKey::Raw(raw) = key else {
        panic!("the tests use raw keys")
    };
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(raw)))
        .expect("key");
    conn.execute(
        "ATTACH DATABASE ?1 AS plain KEY ''",
        [out.to_str().expect("utf-8")],
    )
    .expect("attach");
    conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(()))
        .expect("export");
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    conn.execute_batch(&format!(
        "PRAGMA plain.user_version = {version}; DETACH DATABASE plain;"
    ))
    .expect("detach");
}

/// A server fixture that holds one crime report with [`NARRATIVE`], and 30 more records.
async fn with_records(records: usize) -> (Fixture, Dev) {
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    let mut doc = new_doc(&dev, RecordKind::CrimeReport, |_| {});
    edit_narrative(&mut doc, &dev, NARRATIVE, 5);
    let mut pushes = vec![push_of(&doc, &[])];
    for _ in 0..records {
        pushes.push(push_of(
            &new_doc(&dev, RecordKind::Person, |r| {
                if let Record::Person(p) = r {
                    p.address = Some("14 Harrowgate Lane, Upper Swaddling".into());
                }
            }),
            &[],
        ));
    }
    push_accepted(&f, &dev, pushes).await;
    (f, dev)
}

fn server_command(args: &[&str], key: Option<&str>) -> std::process::Output {
    let mut command = Command::new(SERVER);
    command
        .args(args)
        .env_remove("FIELDBOOK_SERVER_KEY")
        .env_remove("FIELDBOOK_SERVER_KEY_FILE")
        .env_remove("FIELDBOOK_SERVER_DATABASE")
        .env("NO_COLOR", "1");
    if let Some(key) = key {
        command.env("FIELDBOOK_SERVER_KEY", key);
    }
    command.output().expect("the server binary runs")
}

const KEY_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_narrative_is_in_no_database_file_in_plaintext() {
    let (f, _dev) = with_records(0).await;
    let db = f.db.clone();
    // While the server runs, the change is in the write-ahead log.
    for file in [db.clone(), sibling(&db, "-wal")] {
        let bytes = std::fs::read(&file).expect("read");
        assert!(
            !contains(&bytes, NARRATIVE),
            "{} holds the narrative",
            file.display()
        );
        assert!(
            !contains(&bytes, "Test Officer"),
            "{} holds a name",
            file.display()
        );
    }
    let Fixture { server, _dir, .. } = f;
    server.shutdown().await;
    // The last connection closed folded the log into the file.
    assert!(!sibling(&db, "-wal").exists(), "the log was checkpointed");
    let bytes = std::fs::read(&db).expect("read");
    assert!(
        !bytes.starts_with(b"SQLite format 3\0"),
        "not a plaintext SQLite file"
    );
    assert!(
        !contains(&bytes, NARRATIVE),
        "the database holds the narrative"
    );
    assert!(!contains(&bytes, "Test Officer"));

    let plain = _dir.path().join("plain.db");
    decrypted_copy(&db, &key(), &plain);
    let plain = std::fs::read(&plain).expect("read");
    assert!(
        contains(&plain, NARRATIVE),
        "control: decrypted with the key, the narrative is there to be found"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_and_its_wal_and_shm_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (f, _dev) = with_records(0).await;
    for file in [f.db.clone(), sibling(&f.db, "-wal"), sibling(&f.db, "-shm")] {
        let mode = std::fs::metadata(&file)
            .expect("the file exists while the server runs")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{} has mode {:o}",
            file.display(),
            mode & 0o777
        );
    }
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_the_database_is_left_byte_for_byte() {
    let (f, _dev) = with_records(3).await;
    let Fixture {
        server, db, _dir, ..
    } = f;
    server.shutdown().await;
    let before = sha(&db);

    let wrong = DatabaseKey::Raw([0x33; 32]);
    let err = Admin::open(&db, &wrong).expect_err("a wrong key");
    assert!(
        matches!(err, ServerError::Store(StoreError::KeyRejected { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("the key does not open this database"),
        "{err}"
    );
    let config = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &db, wrong);
    let err = fieldbook_server::start(config)
        .await
        .expect_err("a wrong key");
    assert!(
        err.to_string()
            .contains("the key does not open this database"),
        "{err}"
    );
    let database = format!("sqlite://{}", db.display());
    for args in [
        vec!["serve", "--listen", "127.0.0.1:0", "--database", &database],
        vec!["devices", "--database", &database],
    ] {
        let out = server_command(&args, Some("not the passphrase"));
        assert!(!out.status.success(), "{args:?} exits non-zero");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("the key does not open this database"),
            "{stderr}"
        );
    }
    assert_eq!(sha(&db), before, "the refused opens changed nothing");
    assert!(
        !sibling(&db, "-wal").exists()
            || std::fs::metadata(sibling(&db, "-wal")).unwrap().len() == 0
    );
    // The right key still opens it.
    assert_eq!(
        Admin::open(&db, &key())
            .expect("opens")
            .devices()
            .expect("devices")
            .len(),
        1
    );
}

#[test]
fn a_database_address_the_server_cannot_use_is_refused_saying_what_to_give() {
    for (database, says) in [
        (
            "mysql://fb:s3cret@db.example/fb",
            "give sqlite://PATH or postgres://",
        ),
        ("server.db", "give sqlite://PATH or postgres://"),
        ("sqlite://", "needs the database file's path"),
        ("postgres://127.0.0.1:9/fieldbook", "no postgres store yet"),
    ] {
        for args in [
            vec!["serve", "--listen", "127.0.0.1:0", "--database", database],
            vec!["devices", "--database", database],
        ] {
            let out = server_command(&args, Some(KEY_HEX));
            assert!(!out.status.success(), "{args:?} exits non-zero");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(says), "{args:?}: {stderr}");
            assert!(
                !stderr.contains("s3cret"),
                "{args:?} shows no password: {stderr}"
            );
        }
    }
}

#[test]
fn a_missing_key_is_refused_saying_how_to_give_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}", dir.path().join("server.db").display());
    for args in [
        vec!["serve", "--listen", "127.0.0.1:0", "--database", &database],
        vec!["devices", "--database", &database],
        vec!["revoke", "--database", &database, "--device", "d"],
        vec![
            "enrol",
            "--database",
            &database,
            "--officer",
            "PC1",
            "--name",
            "A",
            "--role",
            "officer",
        ],
    ] {
        let out = server_command(&args, None);
        assert!(!out.status.success(), "{args:?} exits non-zero");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for how in [
            "--key-file",
            "FIELDBOOK_SERVER_KEY_FILE",
            "FIELDBOOK_SERVER_KEY",
            "key_file",
        ] {
            assert!(stderr.contains(how), "{args:?}: {stderr}");
        }
    }
    assert!(
        !dir.path().join("server.db").exists(),
        "nothing was created without a key"
    );
    // A key file works, and so does the key in the environment.
    let key_file = dir.path().join("server.key");
    std::fs::write(&key_file, format!("{KEY_HEX}\n")).expect("key file");
    let out = server_command(
        &[
            "devices",
            "--database",
            &database,
            "--key-file",
            key_file.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server_command(&["devices", "--database", &database], Some(KEY_HEX));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_database_is_refused_until_encrypt_database_encrypts_it_in_place() {
    let (f, _dev) = with_records(3).await;
    let Fixture {
        server, db, _dir, ..
    } = f;
    server.shutdown().await;
    let dump = Admin::open(&db, &key())
        .expect("opens")
        .dump()
        .expect("dump");
    // What a server before this change left: the same state, in plaintext.
    let old = _dir.path().join("old.db");
    decrypted_copy(&db, &key(), &old);
    assert!(contains(&std::fs::read(&old).expect("read"), NARRATIVE));
    let before = sha(&old);

    let err = SqliteStore::open(&old, &key()).expect_err("plaintext");
    assert!(matches!(err, StoreError::NotEncrypted { .. }), "{err:?}");
    assert!(err.to_string().contains("encrypt-database"), "{err}");
    let database = format!("sqlite://{}", old.display());
    let out = server_command(
        &["serve", "--listen", "127.0.0.1:0", "--database", &database],
        Some(KEY_HEX),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not encrypted") && stderr.contains("encrypt-database"),
        "{stderr}"
    );
    assert_eq!(sha(&old), before, "refusing changed nothing");

    let out = server_command(
        &["encrypt-database", "--database", &database],
        Some(KEY_HEX),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&old).expect("read");
    assert!(!contains(&bytes, NARRATIVE), "encrypted in place");
    let mut left: Vec<String> = std::fs::read_dir(_dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("old.db"))
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["old.db"],
        "no plaintext file, log or partial copy is left beside it"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&old).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        Admin::open(&old, &key())
            .expect("opens under the key")
            .dump()
            .expect("dump"),
        dump,
        "every row came across"
    );
    // A second run has nothing to do and says so.
    let out = server_command(
        &["encrypt-database", "--database", &database],
        Some(KEY_HEX),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a plaintext SQLite file"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_is_found_by_the_check_after_start_and_then_refused_naming_the_file_and_the_backup()
 {
    let (f, dev) = with_records(40).await;
    let Fixture {
        server,
        db,
        _dir,
        client,
    } = f;
    server.shutdown().await;
    assert!(!sibling(&db, "-wal").exists(), "checkpointed");
    let mut bytes = std::fs::read(&db).expect("read");
    let len = bytes.len();
    assert!(len >= 16 * 4096, "a database of many pages ({len} bytes)");
    // A disk that returned garbage for part of a page in the middle of the file.
    for at in [len / 3, len / 2] {
        bytes[at..at + 64].fill(0xA5);
    }
    std::fs::write(&db, &bytes).expect("write");
    let damaged = sha(&db);

    // Opening reads only what it needs (the schema, the feed's end), so the server starts at
    // once and the whole-file check after it finds the damage; from then the replica is out of
    // rotation and refuses every request: nothing is written onto the damaged file. (Should
    // the damage sit on a page opening reads, the start is refused with the same error.)
    let config = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &db, key());
    let _dir = match fieldbook_server::start(config).await {
        Ok(mut server) => {
            let err = server
                .integrity()
                .outcome()
                .await
                .expect_err("the check finds the damage");
            assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
            let f = Fixture {
                server,
                db: db.clone(),
                _dir,
                client,
            };
            let (status, body) = f.get("/ready", None, "text/plain").await;
            assert_eq!(status, 503);
            let body = String::from_utf8_lossy(&body);
            assert!(body.contains("damaged"), "{body}");
            assert!(
                !body.contains(&db.display().to_string()),
                "no path on the wire: {body}"
            );
            let request = SyncRequest {
                protocol: wire::PROTOCOL_VERSION,
                cursor: 0,
                page_limit: 0,
                push: Vec::new(),
            };
            let (status, _) = f
                .post("/v1/sync", Some(&dev.token), wire::encode(&request))
                .await;
            assert_eq!(status, 503, "a sync is refused, to be retried");
            let Fixture { server, _dir, .. } = f;
            server.shutdown().await;
            _dir
        }
        Err(err) => {
            assert!(
                matches!(err, ServerError::Store(StoreError::Damaged { .. })),
                "{err:?}"
            );
            _dir
        }
    };

    // `serve` stops on it, and `check-database` says so before a restored file is served.
    let database = format!("sqlite://{}", db.display());
    for args in [
        &["serve", "--listen", "127.0.0.1:0", "--database", &database][..],
        &["check-database", "--database", &database][..],
    ] {
        let out = server_command(args, Some(KEY_HEX));
        assert!(!out.status.success(), "{} exits non-zero", args[0]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is damaged"), "{stderr}");
        assert!(
            stderr.contains(&db.display().to_string()),
            "names the file: {stderr}"
        );
        assert!(
            stderr.contains("restore the database from the last backup"),
            "{stderr}"
        );
    }
    assert_eq!(sha(&db), damaged, "the damaged file was left as it was");
}

/// A server whose timeouts are short enough to test: head 1 s, body 1 s, idle 2 s.
async fn impatient() -> Fixture {
    fixture(|c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.body_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(2);
    })
    .await
}

/// Reads until the server closes the connection (or 10 s pass: a failure).
async fn until_closed(stream: &mut tokio::net::TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    match tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await {
        Ok(_) => (got, started.elapsed()),
        Err(_) => panic!("the server kept the connection open for 10 s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stalling_in_its_request_head_is_disconnected() {
    let f = impatient().await;
    let mut stream = tokio::net::TcpStream::connect(f.server.addr())
        .await
        .expect("connect");
    stream
        .write_all(b"POST /v1/sync HTTP/1.1\r\nhost: test\r\ncontent-ty")
        .await
        .expect("half a head");
    let (answer, after) = until_closed(&mut stream).await;
    assert!(
        after >= Duration::from_millis(900),
        "closed after {after:?}"
    );
    assert!(after < Duration::from_secs(4), "closed after {after:?}");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_nothing_is_disconnected_after_the_idle_timeout() {
    let f = impatient().await;
    let mut stream = tokio::net::TcpStream::connect(f.server.addr())
        .await
        .expect("connect");
    let (answer, after) = until_closed(&mut stream).await;
    assert!(answer.is_empty());
    assert!(
        after >= Duration::from_millis(1900),
        "closed after {after:?}"
    );
    assert!(after < Duration::from_secs(5), "closed after {after:?}");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_body_is_cut_off() {
    let f = impatient().await;
    let mut stream = tokio::net::TcpStream::connect(f.server.addr())
        .await
        .expect("connect");
    stream
        .write_all(
            b"POST /v1/enrol HTTP/1.1\r\nhost: test\r\ncontent-type: application/cbor\r\ncontent-length: 1000\r\n\r\n",
        )
        .await
        .expect("head");
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b"\0").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection in time")
        .ok();
    let after = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(after < Duration::from_secs(4), "cut off after {after:?}");
    trickle.abort();
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_client_may_wait_between_requests_longer_than_the_head_timeout() {
    let f = impatient().await;
    let mut stream = tokio::net::TcpStream::connect(f.server.addr())
        .await
        .expect("connect");
    for round in 0..2 {
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("request");
        let mut answer = vec![0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
            .await
            .expect("answered")
            .expect("read");
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "round {round}: {text}");
        assert!(text.ends_with("ok"), "round {round}: {text}");
        // Longer than the head timeout, shorter than the idle one: still served.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    // And a whole sync through a real client still works.
    let dev = f.device("PC2", Role::Officer, None).await;
    push_accepted(
        &f,
        &dev,
        vec![push_of(&new_doc(&dev, RecordKind::Person, |_| {}), &[])],
    )
    .await;
    f.server.shutdown().await;
}
