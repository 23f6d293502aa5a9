//! Officers and enrolment, through the real protocol and the real `fieldbook-server` binary: a
//! code never changes an officer, `officer set` does and is audited, an install enrols again
//! after its token expired or it was revoked (and keeps its unsynced work), labels and names
//! hold no control characters, and enrolment attempts are rate limited.

use fieldbook_core::Device;
use fieldbook_core::clock::{FixedClock, SystemClock};
use fieldbook_core::domain::{OfficerId, RecordKind, Role};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::sync::NoProgress;
use fieldbook_core::sync::http::RetryPolicy;
use fieldbook_core::sync::wire::{self, EnrolRequest, EnrolResponse, SyncRequest};
use fieldbook_server::{OfficerDetails, ServerError, TeamGiven};
use std::process::Command;
use std::sync::Arc;

mod support;
use support::*;

fn officer(id: &str) -> OfficerId {
    OfficerId::new(id).expect("collar number")
}

/// Runs the real binary; (success, stdout, stderr).
fn server_cli(f: &Fixture, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldbook-server"))
        .args(args)
        .env(
            "FIELDBOOK_SERVER_DATABASE",
            format!("sqlite://{}", f.db.display()),
        )
        .env("FIELDBOOK_SERVER_KEY", key_hex())
        .env_remove("FIELDBOOK_SERVER_KEY_FILE")
        .env("USER", "desk-admin")
        .env("RUST_LOG", "warn")
        .output()
        .expect("fieldbook-server runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn get_status(f: &Fixture, path: &str, token: &str) -> u16 {
    f.client
        .get(format!("{}{path}", f.server.url()))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16()
}

fn sync_request() -> Vec<u8> {
    wire::encode(&SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        page_limit: 10,
        push: vec![],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_asked_for_with_other_details_is_refused_and_the_officer_is_unchanged() {
    let f = fixture(|_| {}).await;
    let pc2 = f.device("PC2", Role::Officer, Some("north")).await;
    let admin = f.admin();
    let before = f.dump();

    // The probe's typo: `enrol --officer PC2 --role supervisor`.
    let err = admin
        .enrol(
            &officer("PC2"),
            "Test Officer",
            Role::Supervisor,
            Some("north"),
        )
        .expect_err("a different role is refused");
    assert!(
        matches!(err, ServerError::OfficerDiffers { field: "role", .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("registered: officer; given: supervisor"),
        "{message}"
    );
    assert!(
        message.contains("fieldbook-server officer set --officer PC2"),
        "{message}"
    );
    // Leaving the team out of a full enrolment once cleared it.
    let err = admin
        .enrol(&officer("PC2"), "Test Officer", Role::Officer, None)
        .expect_err("no team is not north");
    assert!(
        matches!(err, ServerError::OfficerDiffers { field: "team", .. }),
        "{err:?}"
    );
    let err = admin
        .enrol(
            &officer("PC2"),
            "Someone Else",
            Role::Officer,
            Some("north"),
        )
        .expect_err("another name");
    assert!(
        matches!(err, ServerError::OfficerDiffers { field: "name", .. }),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("Someone Else"),
        "names are not quoted"
    );
    assert_eq!(
        f.dump(),
        before,
        "a refused code changes nothing and stores nothing"
    );

    let registered = admin.officer(&officer("PC2")).expect("officer");
    assert_eq!(
        (registered.role, registered.team.as_deref()),
        (Role::Officer, Some("north"))
    );
    assert_eq!(
        get_status(&f, "/v1/review-queue", &pc2.token).await,
        403,
        "the officer's device has no supervisor's queue"
    );

    // With no details, or the registered ones, a code is issued and enrols as registered.
    let code = admin
        .code_for(&officer("PC2"), &OfficerDetails::default())
        .expect("a code for the officer as registered");
    let (status, body) = f.enrol_with(&code, &fieldbook_core::doc::new_actor()).await;
    assert_eq!(status, 200);
    let answer: EnrolResponse = wire::decode(&body).expect("enrolment");
    assert_eq!(
        (answer.role, answer.team.as_deref()),
        (Role::Officer, Some("north"))
    );
    admin
        .enrol(
            &officer("PC2"),
            "Test Officer",
            Role::Officer,
            Some("north"),
        )
        .expect("the registered details");

    // A new officer needs a name and a role.
    let err = admin
        .code_for(
            &officer("PC7"),
            &OfficerDetails {
                role: Some(Role::Officer),
                ..OfficerDetails::default()
            },
        )
        .expect_err("no name");
    assert!(
        matches!(err, ServerError::NewOfficerNeeds { flag: "--name", .. }),
        "{err:?}"
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_officer_command_changes_role_and_team_audited_and_enrolled_devices_follow() {
    let f = fixture(|_| {}).await;
    let pc2 = f.device("PC2", Role::Officer, Some("north")).await;
    let db = format!("sqlite://{}", f.db.display());

    let (ok, _, stderr) = server_cli(&f, &["enrol", "--officer", "PC2", "--role", "supervisor"]);
    assert!(!ok, "the typo is refused");
    assert!(stderr.contains("officer set --officer PC2"), "{stderr}");
    let (ok, stdout, stderr) = server_cli(&f, &["enrol", "--officer", "pc2"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim().len(), 19, "a code: {stdout}");

    let (ok, stdout, stderr) = server_cli(
        &f,
        &[
            "officer",
            "set",
            "--database",
            &db,
            "--officer",
            "PC2",
            "--role",
            "supervisor",
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "PC2: role officer -> supervisor\n");
    assert_eq!(
        get_status(&f, "/v1/review-queue", &pc2.token).await,
        200,
        "the enrolled device has the supervisor's queue at its next request"
    );
    let (ok, stdout, _) = server_cli(&f, &["officer", "set", "--officer", "PC2", "--no-team"]);
    assert!(ok);
    assert_eq!(stdout, "PC2: team north -> -\n");
    let (ok, stdout, _) = server_cli(&f, &["officer", "set", "--officer", "PC2", "--no-team"]);
    assert!(ok);
    assert_eq!(stdout, "PC2: nothing changed\n");
    let (ok, stdout, _) = server_cli(
        &f,
        &[
            "officer",
            "set",
            "--officer",
            "PC2",
            "--role",
            "officer",
            "--team",
            "south",
        ],
    );
    assert!(ok);
    assert_eq!(
        stdout,
        "PC2: role supervisor -> officer\nPC2: team - -> south\n"
    );
    assert_eq!(get_status(&f, "/v1/review-queue", &pc2.token).await, 403);
    let (ok, _, stderr) = server_cli(&f, &["officer", "set", "--officer", "PC2"]);
    assert!(!ok && stderr.contains("nothing to change"), "{stderr}");
    let (ok, _, stderr) = server_cli(&f, &["officer", "set", "--officer", "PC404", "--no-team"]);
    assert!(!ok && stderr.contains("no officer 'PC404'"), "{stderr}");

    let (ok, stdout, _) = server_cli(&f, &["officer", "show", "--officer", "PC2"]);
    assert!(ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "id\tname\trole\tteam");
    assert_eq!(lines[1], "PC2\tTest Officer\tofficer\tsouth");
    assert_eq!(lines[3], "at\tby\taction\tfield\told\tnew");
    let audit: Vec<Vec<&str>> = lines[4..].iter().map(|l| l.split('\t').collect()).collect();
    let rows: Vec<Vec<&str>> = audit.iter().map(|r| r[2..].to_vec()).collect();
    assert_eq!(
        rows,
        [
            ["created", "name", "-", "Test Officer"],
            ["created", "role", "-", "officer"],
            ["created", "team", "-", "north"],
            ["changed", "role", "officer", "supervisor"],
            ["changed", "team", "north", "-"],
            ["changed", "role", "supervisor", "officer"],
            ["changed", "team", "-", "south"],
        ]
    );
    assert!(audit[3..].iter().all(|r| r[1] == "desk-admin"), "{audit:?}");
    assert!(
        audit.iter().all(|r| r[0].ends_with('Z')),
        "times in RFC 3339: {audit:?}"
    );

    let (ok, stdout, _) = server_cli(&f, &["officer", "list"]);
    assert!(ok);
    assert_eq!(
        stdout,
        "id\tname\trole\tteam\nPC2\tTest Officer\tofficer\tsouth\n"
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_officer_audit_is_append_only_in_the_database() {
    let f = fixture(|_| {}).await;
    f.device("PC2", Role::Officer, Some("north")).await;
    // The database as someone holding the key would reach it, past the server.
    let conn = raw_connection(&f.db);
    for sql in [
        "UPDATE officer_audit SET new = 'supervisor' WHERE field = 'role'",
        "DELETE FROM officer_audit",
    ] {
        let err = conn.execute(sql, []).expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_names_and_teams_with_control_characters_are_refused_and_stored_ones_shown_escaped()
{
    let f = fixture(|_| {}).await;
    let code = f.code("PC1", Role::Officer, None).await;
    let before = f.dump();
    for label in [
        "phone\tPC9\tforged",
        "phone\nabc\tPC9\tlabel\tactive",
        "\u{1b}[2Jphone",
    ] {
        let request = EnrolRequest {
            protocol: wire::PROTOCOL_VERSION,
            code: code.clone(),
            actors: vec![fieldbook_core::doc::new_actor().to_hex_string()],
            label: label.into(),
        };
        let (status, body) = f.post("/v1/enrol", None, wire::encode(&request)).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (400, "control-character")
        );
        let message = wire::decode::<wire::ErrorBody>(&body)
            .expect("error")
            .message;
        assert!(
            message.starts_with("the device label holds a control character"),
            "{message}"
        );
    }
    assert_eq!(f.dump(), before, "nothing stored, the code still unused");

    let admin = f.admin();
    for (name, team) in [("Alex\nKerr", None), ("Alex Kerr", Some("north\u{1b}[31m"))] {
        let err = admin
            .enrol(&officer("PC8"), name, Role::Officer, team)
            .expect_err("control characters");
        assert!(matches!(err, ServerError::NotPlainText(_)), "{err:?}");
    }
    let err = admin
        .set_officer(
            &officer("PC1"),
            &OfficerDetails {
                name: Some("PC1\tsupervisor".into()),
                ..OfficerDetails::default()
            },
        )
        .expect_err("control characters");
    assert!(
        err.to_string()
            .starts_with("the officer name holds a control character"),
        "{err}"
    );
    let (ok, _, stderr) = server_cli(
        &f,
        &[
            "enrol",
            "--officer",
            "PC9",
            "--name",
            "A\tB",
            "--role",
            "officer",
        ],
    );
    assert!(!ok && stderr.contains("control character"), "{stderr}");

    // A label and a name stored before these checks are shown escaped.
    f.device("PC1", Role::Officer, None).await;
    {
        // A database written before the checks.
        let conn = raw_connection(&f.db);
        conn.execute(
            "UPDATE devices SET label = 'phone\tPC9\tforged\tactive\n\u{1b}[2J'",
            [],
        )
        .expect("label");
        conn.execute("UPDATE officers SET name = 'Alex\nPC9\tEvil'", [])
            .expect("name");
    }
    let (ok, stdout, _) = server_cli(&f, &["devices"]);
    assert!(ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one header, one device: {stdout}");
    let fields: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(fields.len(), 4, "{stdout}");
    assert_eq!(fields[2], "phone\\tPC9\\tforged\\tactive\\n\\u{1b}[2J");
    assert!(!stdout.contains('\u{1b}'));
    let (ok, stdout, _) = server_cli(&f, &["officer", "list"]);
    assert!(ok);
    assert_eq!(
        stdout,
        "id\tname\trole\tteam\nPC1\tAlex\\nPC9\\tEvil\tofficer\t-\n"
    );
    let (ok, stdout, _) = server_cli(&f, &["officer", "show", "--officer", "PC1"]);
    assert!(
        ok && stdout.contains("PC1\tAlex\\nPC9\\tEvil\tofficer\t-\n"),
        "{stdout}"
    );
    f.server.shutdown().await;
}

fn device_at(dir: &std::path::Path, name: &str, officer_id: &str) -> Device {
    let mut device = Device::init(
        &dir.join(format!("{name}.fbk")),
        &DatabaseKey::Raw([7u8; 32]),
        officer(officer_id),
        Role::Officer,
        Arc::new(SystemClock),
    )
    .expect("device store");
    device.set_retry_policy(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    });
    device
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_whose_token_expired_enrols_again_and_its_offline_work_is_accepted() {
    let now = fieldbook_core::domain::Timestamp::from_millis(1_790_000_000_000).expect("time");
    let clock = Arc::new(FixedClock::new(now));
    let server_clock = Arc::clone(&clock);
    let f = fixture(move |c| c.clock = server_clock).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut phone = device_at(dir.path(), "phone", "PC1");
    let admin = f.admin().with_clock(clock.clone());
    let code = admin
        .enrol(&officer("PC1"), "Test Officer", Role::Officer, Some("A"))
        .expect("code");
    let first = phone
        .enrol(&f.server.url(), &code, "phone")
        .await
        .expect("enrols");
    let synced = phone
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    phone.sync(&NoProgress).await.expect("sync");

    // Offline for longer than the token lives: edits and a new record.
    phone
        .set_fields(
            synced,
            &["narrative=written while the token ran out".into()],
        )
        .expect("edit");
    let offline = phone
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    clock.advance(time::Duration::days(91));
    match phone.sync(&NoProgress).await {
        Err(fieldbook_core::Error::TokenExpired) => {}
        other => panic!("expected token-expired, got {other:?}"),
    }
    assert_eq!(phone.sync_status().expect("status").unsynced, 2);

    // Another officer cannot take this install's actor.
    let thief_code = admin
        .enrol(&officer("PC9"), "Test Officer", Role::Officer, Some("A"))
        .expect("code");
    let actor = phone_actor(&f, &first.device_id);
    let before = f.dump();
    let (status, body) = f.enrol_with(&thief_code, &actor).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "actor-taken"));
    assert_eq!(f.dump(), before);

    // The same officer's new code: the install enrols again and its work goes through.
    let code = admin
        .code_for(&officer("PC1"), &OfficerDetails::default())
        .expect("code");
    let again = phone
        .enrol(&f.server.url(), &code, "phone")
        .await
        .expect("enrols again");
    assert_ne!(again.device_id, first.device_id);
    let report = phone
        .sync(&NoProgress)
        .await
        .expect("sync after enrolling again");
    assert_eq!(report.rejected, vec![], "{report:?}");
    assert_eq!(report.accepted, 2, "{report:?}");
    assert_eq!(phone.sync_status().expect("status").unsynced, 0);
    assert!(
        server_holds(&f, offline),
        "the record made offline reached the server"
    );

    let devices = admin.devices().expect("devices");
    let old = devices
        .iter()
        .find(|d| d.id == first.device_id)
        .expect("old row");
    assert!(old.revoked, "the old row stays refused");
    assert_eq!(old.replaced_by.as_deref(), Some(again.device_id.as_str()));
    let (ok, stdout, _) = server_cli(&f, &["devices"]);
    assert!(
        ok && stdout.contains(&format!("replaced by {}", again.device_id)),
        "{stdout}"
    );
    f.server.shutdown().await;
}

/// The actor bound to a device row, read from the server's database dump.
fn phone_actor(f: &Fixture, device_id: &str) -> automerge::ActorId {
    let dump: serde_json::Value = serde_json::from_str(&f.dump()).expect("json");
    let hex = dump["actors"]
        .as_array()
        .expect("actors")
        .iter()
        .find(|a| a["device"] == device_id)
        .and_then(|a| a["actor"].as_str())
        .expect("the device's actor")
        .to_owned();
    automerge::ActorId::from(hex::decode(hex).expect("hex").as_slice())
}

fn server_holds(f: &Fixture, id: fieldbook_core::domain::RecordId) -> bool {
    let dump: serde_json::Value = serde_json::from_str(&f.dump()).expect("json");
    dump["records"]
        .as_array()
        .expect("records")
        .iter()
        .any(|r| r["id"] == id.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_install_that_enrols_again_keeps_its_holdings_and_pushes_what_it_kept() {
    let f = fixture(|_| {}).await;
    let phone = f.device("PC1", Role::Officer, Some("A")).await;
    let colleague = f.device("PC2", Role::Officer, Some("A")).await;
    // The phone's own report, and a colleague's that PC1 attends: the phone holds both.
    let mut own = new_doc(&phone, RecordKind::CrimeReport, |_| {});
    push_accepted(&f, &phone, vec![push_of(&own, &[])]).await;
    let mut shared = new_doc(&colleague, RecordKind::CrimeReport, |r| {
        if let fieldbook_core::domain::Record::Crime(c) = r {
            c.attending_officers.push(officer("PC1"));
        }
    });
    push_accepted(&f, &colleague, vec![push_of(&shared, &[])]).await;
    let (entries, cursor) = f.pull_all(&phone, 0, 100).await;
    assert_eq!(
        records_in(&entries),
        [("snapshot".to_owned(), id_of(&shared))]
    );

    // Revoked; edits offline; found again and enrolled with a fresh code.
    f.admin().revoke(&phone.device_id).expect("revoke");
    let base = own.heads();
    edit_narrative(&mut own, &phone, "kept on the phone while it was lost", 5);
    let code = f.code("PC1", Role::Officer, Some("A")).await;
    let (status, body) = f.enrol_with(&code, &phone.actor).await;
    assert_eq!(status, 200, "{:?}", wire::decode::<wire::ErrorBody>(&body));
    let answer: EnrolResponse = wire::decode(&body).expect("enrolment");
    let again = Dev {
        token: answer.token,
        device_id: answer.device_id,
        actor: phone.actor.clone(),
        user: phone.user.clone(),
    };
    let (status, _) = f.post("/v1/sync", Some(&phone.token), sync_request()).await;
    assert_eq!(status, 401, "the old token stays revoked");
    push_accepted(&f, &again, vec![push_of(&own, &base)]).await;

    // The colleague's edit reaches the new row as changes to a record it holds (the old row's
    // holdings moved with the actor), not as a snapshot of a record new to it.
    let base = shared.heads();
    edit_narrative(&mut shared, &colleague, "the colleague adds a line", 6);
    push_accepted(&f, &colleague, vec![push_of(&shared, &base)]).await;
    let (entries, _) = f.pull_all(&again, cursor, 100).await;
    assert_eq!(
        records_in(&entries),
        [("changes".to_owned(), id_of(&shared))]
    );

    // Another officer's code cannot take the actor now bound to the new row.
    let code = f.code("PC2", Role::Officer, Some("A")).await;
    let (status, body) = f.enrol_with(&code, &phone.actor).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "actor-taken"));
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_enrolment_attempts_gets_429_and_an_enrolment_after_the_window_succeeds() {
    let now = fieldbook_core::domain::Timestamp::from_millis(1_790_000_000_000).expect("time");
    let clock = Arc::new(FixedClock::new(now));
    let server_clock = Arc::clone(&clock);
    let f = fixture(move |c| {
        c.clock = server_clock;
        c.enrol_limit = fieldbook_server::EnrolLimit {
            per_client_per_minute: 6,
            per_client_burst: 5,
            global_per_minute: 1000,
            global_burst: 1000,
        };
    })
    .await;
    let code = f
        .admin()
        .with_clock(clock.clone())
        .enrol(&officer("PC1"), "Test Officer", Role::Officer, None)
        .expect("code");
    let attempt = |code: String| {
        let request = EnrolRequest {
            protocol: wire::PROTOCOL_VERSION,
            code,
            actors: vec![fieldbook_core::doc::new_actor().to_hex_string()],
            label: "phone".into(),
        };
        f.client
            .post(format!("{}/v1/enrol", f.server.url()))
            .header("content-type", wire::CONTENT_TYPE)
            .body(wire::encode(&request))
            .send()
    };
    let mut statuses = Vec::new();
    let mut last = None;
    for n in 0..12 {
        let response = attempt(format!("GUESS-{n:04}")).await.expect("answer");
        statuses.push(response.status().as_u16());
        last = Some(response);
    }
    assert_eq!(
        statuses,
        [403, 403, 403, 403, 403, 429, 429, 429, 429, 429, 429, 429]
    );
    let last = last.expect("a response");
    assert_eq!(
        last.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("10"),
        "one attempt every 10 s"
    );
    let body = last.bytes().await.expect("body");
    assert_eq!(error_code(&body), "rate-limited");
    let response = attempt(code.clone()).await.expect("answer");
    assert_eq!(
        response.status().as_u16(),
        429,
        "the real code waits its turn too"
    );

    clock.advance(time::Duration::seconds(10));
    let response = attempt(code).await.expect("answer");
    assert_eq!(
        response.status().as_u16(),
        200,
        "after the window the enrolment succeeds"
    );
    let metrics = f
        .client
        .get(format!("{}/metrics", f.server.url()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("status=\"429\""), "{metrics}");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_read_without_regard_to_case() {
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    for (header, status) in [
        (format!("Bearer {}", dev.token), 200),
        (format!("bearer {}", dev.token), 200),
        (format!("BEARER {}", dev.token), 200),
        (format!("bEaReR   {}", dev.token), 200),
        (format!("Basic {}", dev.token), 401),
        (format!("Bearer{}", dev.token), 401),
        (dev.token.clone(), 401),
    ] {
        let response = f
            .client
            .post(format!("{}/v1/sync", f.server.url()))
            .header("content-type", wire::CONTENT_TYPE)
            .header("authorization", &header)
            .body(sync_request())
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status().as_u16(), status, "{header:.12}");
    }
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_supervisor_approves_the_record_of_an_officer_enrolled_without_a_team() {
    use fieldbook_core::domain::WorkflowAction;
    use fieldbook_core::workflow;
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, None).await;
    let sgt = f.device("SGT1", Role::Supervisor, Some("A")).await;
    let loner = f.device("SGT2", Role::Supervisor, None).await;
    let pc2 = f.device("PC2", Role::Officer, Some("A")).await;

    let submitted = |dev: &Dev| {
        let mut report = new_doc(dev, RecordKind::NeighbourhoodIssue, |_| {});
        change_as(&mut report, dev, 1, |r| {
            workflow::submit(r, &dev.user, &[], t(1)).expect("submit");
        });
        report
    };
    let approving = |report: &fieldbook_core::doc::RecordDoc, by: &Dev| {
        let mut d = report.fork_as(&by.actor);
        let heads = report.heads_hex();
        let base = change_as(&mut d, by, 2, |r| {
            let mut event = workflow_event(by, WorkflowAction::Approved, 2);
            event.reason = None;
            event.heads = heads;
            r.meta_mut().workflow.push(event);
        });
        push_of(&d, &base)
    };
    let teamless = submitted(&pc1);
    let of_team_a = submitted(&pc2);
    push_accepted(&f, &pc1, vec![push_of(&teamless, &[])]).await;
    push_accepted(&f, &pc2, vec![push_of(&of_team_a, &[])]).await;

    let before = f.dump();
    let response = f
        .sync(&sgt, u64::MAX, 10, vec![approving(&teamless, &sgt)])
        .await;
    assert_eq!(rejected_rule(&response, 0), "policy-other-team");
    let response = f
        .sync(&loner, u64::MAX, 10, vec![approving(&of_team_a, &loner)])
        .await;
    assert_eq!(rejected_rule(&response, 0), "policy-other-team");
    assert_eq!(f.dump(), before, "nothing of either approval is stored");

    // Team A's supervisor approves team A's record.
    push_accepted(&f, &sgt, vec![approving(&of_team_a, &sgt)]).await;
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_given_as_no_team_registers_an_officer_without_one() {
    let f = fixture(|_| {}).await;
    let admin = f.admin();
    admin
        .code_for(
            &officer("PCSO5"),
            &OfficerDetails {
                name: Some("Sam Reid".into()),
                role: Some(Role::Pcso),
                team: TeamGiven::NoTeam,
            },
        )
        .expect("code");
    let o = admin.officer(&officer("PCSO5")).expect("registered");
    assert_eq!((o.role, o.team), (Role::Pcso, None));
    let history = admin.officer_history(&officer("PCSO5")).expect("history");
    assert_eq!(
        history
            .iter()
            .map(|c| (c.action.as_str(), c.field.as_str(), c.new.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("created", "name", Some("Sam Reid")),
            ("created", "role", Some("pcso")),
            ("created", "team", None)
        ]
    );
    f.server.shutdown().await;
}
