//! The `fieldbook` binary as the force's scripts use it: real processes on real encrypted SQLite
//! stores in a temporary directory. Each test asserts what a user of the command line would
//! check: the exit code (0 done, 1 refused by the rules, 2 bad input or failure), what is printed,
//! and that a refused or bad command leaves the store as it was.

mod support;

use serde_json::{Value, json};
use support::{Device, fieldbook, parse_json, rule_ids};

/// Fixed report and decision times: the decision is an hour after the report, so no lateness
/// warning depends on when the test runs.
const REPORTED_AT: &str = "reported_at=2026-03-01T21:00:00Z";
const DECIDED_AT: &str = "recording_decision.decided_at=2026-03-01T22:00:00Z";

/// A person record with a name and an adult's date of birth; returns its id.
fn adult_victim(device: &Device) -> String {
    let person = device.create("person");
    device.set(
        &person,
        &[
            r#"names+={"given":"Sam","family":"Jones"}"#,
            "date_of_birth=1990-04-17",
        ],
    );
    person
}

/// Every stop-search field a submission needs except the grounds, for an s23 drugs search.
const SEARCH_WITHOUT_GROUNDS: [&str; 14] = [
    "type=Person search",
    "legislation=Misuse of Drugs Act 1971 (section 23)",
    "object_of_search=Controlled drugs",
    "location.description=Bus shelter, Market Street",
    "outcome=A no further action disposal",
    "removal_of_more_than_outer_clothing=false",
    "injury_or_damage=false",
    "self_defined_ethnicity=Other ethnic group - Not stated",
    "officer_defined_ethnicity=White",
    "gender=Male",
    r#"age={"years":23,"estimated":true}"#,
    "person_description=Male, early twenties, grey hooded top",
    "bwv_used=true",
    "receipt_given=true",
];

const SPECIFIC_GROUNDS: &str = "grounds=Saw him take a small clear bag of green herbal material \
     from his sock and pass it to another male for cash.";

// ---------------------------------------------------------------------------------------------
// 1. The officer's workflow
// ---------------------------------------------------------------------------------------------

#[test]
fn an_officer_records_a_crime_with_its_victim_assessment_and_submits_it() {
    let device = Device::init("PC1234", "officer");
    let victim = adult_victim(&device);
    let crime = device.create("crime");

    device.set(
        &crime,
        &[
            "classification=8N",
            &format!("victims+={victim}"),
            "narrative=Victim states her partner pushed her against the door frame.",
            "narrative+= Cut to the lip, photographed.",
            "flags.domestic_abuse=true",
            r#"thrive={"threat":"partner nearby","harm":"injury","risk":"high","investigation":"arrest enquiries","vulnerability":"isolated","engagement":"supportive","advice_given":"safety plan"}"#,
            "location.lat=53.4808",
            "location.lon=-2.2426",
            REPORTED_AT,
            "recording_decision.decision=crimed",
            DECIDED_AT,
        ],
    );
    let shown = device.show_json(&crime);
    assert_eq!(
        shown["classification"],
        json!({"offence": {"code": "8N", "label": "Assault with injury"}, "category": "violent-crime"}),
        "8N expands to the Home Office code, its label and the police.uk category"
    );
    assert_eq!(shown["victims"], json!([victim]));
    assert_eq!(shown["location"], json!({"lat": 53.4808, "lon": -2.2426}));
    assert_eq!(shown["flags"]["domestic_abuse"], json!(true));
    assert_eq!(
        shown["recording_decision"],
        json!({"decision": "crimed", "decided_at": "2026-03-01T22:00:00Z"}),
        "both parts of the decision are set by one command"
    );

    let check = device.refused(&["check", &crime]);
    assert_eq!(
        rule_ids(&check.stdout),
        ["crime-victim-assessment"],
        "only the missing needs assessment blocks it\n{}",
        check.transcript()
    );

    // The needs assessment, started from a JSON file as an app would send it.
    let assessment = json!({
        "crime_id": crime,
        "victim_id": victim,
        "enhanced_rights": ["domestic-abuse"],
        "contact": {
            "channel": "in-person",
            "safe_contact_method": "via her sister's phone",
            "automatic_messages": false
        },
        "referral": {
            "decision": "referred",
            "explicit_consent": true,
            "decided_at": "2026-03-01T22:10:00Z",
            "referred_at": "2026-03-01T22:15:00Z"
        },
        "vps": "offered",
        "acknowledgement_given": true
    });
    let file = device.write_file("vna.json", assessment.to_string());
    let vna = device
        .ok(&["new", "vna", "--json", &file])
        .trim()
        .to_owned();
    let check = device.ok(&["check", &vna]);
    assert!(check.contains("every rule passes"), "{check}");

    let check = device.ok(&["check", &crime]);
    assert!(check.contains("every rule passes"), "{check}");
    let submitted = device.ok(&["submit", &crime]);
    assert!(submitted.contains(&crime), "{submitted}");

    let edit = device.bad(&["set", &crime, "narrative+= Added later."]);
    assert!(
        edit.stderr.contains("submitted"),
        "the refusal says why: {}",
        edit.transcript()
    );

    let shown = device.show_json(&crime);
    let workflow = shown["meta"]["workflow"].as_array().expect("workflow list");
    assert_eq!(workflow.len(), 1, "{shown:#}");
    assert_eq!(workflow[0]["action"], "submitted");
    assert_eq!(workflow[0]["by"], "PC1234");
    assert_eq!(
        shown["narrative"],
        "Victim states her partner pushed her against the door frame. Cut to the lip, photographed.",
        "the appended part follows the first, and the refused edit added nothing"
    );

    let submitted = device.list_json(&["--status", "submitted"]);
    assert!(
        submitted
            .iter()
            .any(|row| row["id"] == crime.as_str() && row["status"] == "submitted"),
        "{submitted:#?}"
    );
    let drafts = device.listed_ids(&["--drafts"]);
    assert!(!drafts.contains(&crime), "a submitted crime is no draft");
    assert!(drafts.contains(&vna), "the assessment is still a draft");
}

// ---------------------------------------------------------------------------------------------
// 2. Stop and search
// ---------------------------------------------------------------------------------------------

#[test]
fn a_stop_search_needs_specific_grounds_and_then_prints_its_receipt() {
    let device = Device::init("PC1234", "officer");
    let search = device.create("stop-search");

    // Everything but the grounds, the gender and the body-worn video; no receipt given.
    let partial: Vec<&str> = SEARCH_WITHOUT_GROUNDS
        .iter()
        .copied()
        .filter(|a| !a.starts_with("gender=") && !a.starts_with("bwv_used="))
        .filter(|a| !a.starts_with("receipt_given="))
        .chain([
            "receipt_given=false",
            "receipt_not_given_reason=called away to an emergency",
        ])
        .collect();
    device.set(&search, &partial);
    let refused = device.refused(&["submit", &search]);
    assert!(
        refused.stderr.contains("refused: 3 finding(s)"),
        "{}",
        refused.transcript()
    );
    let rules = rule_ids(&refused.stderr);
    for rule in [
        "ss-grounds-required",
        "ss-gender-required",
        "ss-bwv-required",
    ] {
        assert!(
            rules.iter().any(|r| r == rule),
            "{rule} missing from {rules:?}"
        );
    }

    device.set(&search, &["gender=Male", "bwv_used=true"]);
    assert!(
        device.listed_ids(&["--receipts-needed"]).is_empty(),
        "no receipt given, but the reason is recorded: it is off the receipts queue"
    );
    device.set(&search, &["receipt_not_given_reason="]);
    assert_eq!(
        device.listed_ids(&["--receipts-needed"]),
        [search.as_str()],
        "no receipt given and no reason: it is on the receipts queue"
    );
    device.set(
        &search,
        &["receipt_not_given_reason=called away to an emergency"],
    );

    device.set(
        &search,
        &["grounds=Acting suspiciously in a high crime area, known to police"],
    );
    let refused = device.refused(&["submit", &search]);
    assert_eq!(
        rule_ids(&refused.stderr),
        ["ss-grounds-specific"],
        "{}",
        refused.transcript()
    );

    device.set(&search, &[SPECIFIC_GROUNDS, "receipt_given=true"]);
    assert!(
        device.listed_ids(&["--receipts-needed"]).is_empty(),
        "a receipt was given: the queue is empty"
    );
    device.ok(&["submit", &search]);

    let reference = device.show_json(&search)["receipt_reference"]
        .as_str()
        .expect("a receipt reference is assigned at creation")
        .to_owned();
    assert!(!reference.is_empty());
    let receipt = device.ok(&["receipt", &search]);
    assert!(receipt.contains(&reference), "{receipt}");
    assert!(
        receipt.contains("Misuse of Drugs Act 1971 (section 23)"),
        "{receipt}"
    );
    assert!(receipt.contains("PC1234"), "{receipt}");
}

#[test]
fn a_pcso_cannot_record_a_stop_search_a_crime_or_a_needs_assessment() {
    let device = Device::init("PCSO77", "pcso");
    let run = device.bad(&["new", "stop-search"]);
    assert!(run.stderr.contains("PCSO"), "{}", run.transcript());
    assert!(
        run.stderr.contains("[policy-pcso-stop-search]"),
        "{}",
        run.transcript()
    );
    for kind in ["crime", "vna"] {
        let run = device.bad(&["new", kind]);
        assert!(
            run.stderr.contains("[policy-pcso-create]"),
            "{}",
            run.transcript()
        );
    }
    assert!(device.list_json(&[]).is_empty(), "nothing was created");
    device.ok(&["new", "issue"]);
    assert_eq!(
        device.list_json(&[]).len(),
        1,
        "an issue is theirs to record"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Bad input
// ---------------------------------------------------------------------------------------------

/// What a user can see of a store: every record's JSON and the list.
fn snapshot(device: &Device, ids: &[&str]) -> Vec<Value> {
    let mut all: Vec<Value> = ids.iter().map(|id| device.show_json(id)).collect();
    all.push(Value::Array(device.list_json(&[])));
    all
}

#[test]
fn bad_input_names_the_field_and_the_rule_and_changes_nothing() {
    let device = Device::init("PC1234", "officer");
    let crime = device.create("crime");
    device.set(&crime, &["classification=8L", "narrative=First account."]);
    let search = device.create("stop-search");
    let before = snapshot(&device, &[&crime, &search]);

    let huge = format!("narrative={}", "a".repeat(70 * 1024));
    let many: Vec<String> = (0..501)
        .map(|i| format!("\"01a204fe-11fc-7633-9ba2-{i:012x}\""))
        .collect();
    let many = format!("suspects=[{}]", many.join(","));
    let invalid_json = device.write_file("invalid.json", "{\"narrative\": ");
    let unknown_field = device.write_file("unknown.json", r#"{"nonsense": 1}"#);
    let with_meta = device.write_file("meta.json", r#"{"meta": {"author": "X"}}"#);
    let unknown_id = "01a204fe-0000-7000-8000-000000000000";

    // (command, text the message must contain, the rule suffix)
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["set", &crime, "nonsense=1"],
            "nonsense",
            "[well-typed]",
        ),
        (
            vec!["set", &crime, "flags.domestic_abuse=maybe"],
            "flags.domestic_abuse",
            "[well-typed]",
        ),
        (
            vec!["set", &crime, "occurred_from=yesterday"],
            "occurred_from",
            "[well-typed]",
        ),
        (
            vec!["set", &crime, "narrative=Rewritten.", "nonsense=1"],
            "nonsense",
            "[well-typed]",
        ),
        (vec!["set", &crime, "no equals sign"], "", "[assignment]"),
        (vec!["set", "not-an-id", "narrative=x"], "id", "[uuid]"),
        (vec!["set", &crime, &huge], "narrative", "[max-length]"),
        (vec!["set", &crime, &many], "suspects", "[max-items]"),
        (
            vec!["set", &crime, "meta.author=X"],
            "meta.author",
            "[managed-field]",
        ),
        (
            vec!["set", &search, "age_range=18-24"],
            "age_range",
            "[managed-field]",
        ),
        (
            vec!["set", &search, "receipt_reference=X"],
            "receipt_reference",
            "[managed-field]",
        ),
        (vec!["new", "burglary"], "kind", "[known-kind]"),
        (
            vec!["new", "crime", "--json", &invalid_json],
            "--json",
            "[json]",
        ),
        (
            vec!["new", "crime", "--json", &unknown_field],
            "nonsense",
            "[well-typed]",
        ),
        (
            vec!["new", "crime", "--json", &with_meta],
            "meta",
            "[managed-field]",
        ),
    ];
    for (args, field, rule) in &cases {
        let run = device.bad(args);
        let line = run.stderr.trim_end();
        assert!(
            line.starts_with("error: ") && line.contains(field) && line.ends_with(rule),
            "{args:?}: the message names {field:?} and ends with {rule}\n{}",
            run.transcript()
        );
        assert_eq!(
            snapshot(&device, &[&crime, &search]),
            before,
            "{args:?} changed the store"
        );
    }

    // Failures that are not about one field still say what is wrong.
    for args in [
        vec!["set", unknown_id, "narrative=x"],
        vec!["show", unknown_id],
    ] {
        let run = device.bad(&args);
        assert!(
            run.stderr.contains(unknown_id) && run.stderr.contains("no record"),
            "{}",
            run.transcript()
        );
    }
    assert_eq!(snapshot(&device, &[&crime, &search]), before);
}

#[test]
fn import_doc_refuses_files_that_are_not_record_documents() {
    let device = Device::init("PC1234", "officer");
    let crime = device.create("crime");
    device.set(&crime, &["narrative=First account."]);
    let export = device.export(&crime, "crime.automerge");
    let bytes = std::fs::read(&export).expect("export written");
    let before = snapshot(&device, &[&crime]);

    let garbage: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
    let files = [
        ("garbage.bin", garbage),
        ("empty.bin", Vec::new()),
        ("truncated.bin", bytes[..bytes.len() / 2].to_vec()),
    ];
    for (name, content) in files {
        let file = device.write_file(name, content);
        let run = device.bad(&["import-doc", &file]);
        assert!(
            run.stderr.contains("error: not a Fieldbook document"),
            "{name}\n{}",
            run.transcript()
        );
        assert_eq!(
            snapshot(&device, &[&crime]),
            before,
            "{name} changed the store"
        );
    }
}

/// The key a test device's store is encrypted under (its `FIELDBOOK_KEY` as bytes).
fn store_key(seed: u8) -> fieldbook_core::storage::DatabaseKey {
    fieldbook_core::storage::DatabaseKey::Raw([seed; 32])
}

/// A change by the record's own actor re-encoded as a hostile device would (no dependencies, a
/// far-ahead start operation): automerge panics on a document holding it.
fn hostile_change(document: &[u8]) -> Vec<u8> {
    let doc = automerge::Automerge::load(document).expect("a document");
    let last = doc.get_changes(&[]).pop().expect("a change");
    fieldbook_core::testing::far_ahead(&last)
}

#[test]
fn a_record_whose_document_makes_automerge_panic_fails_its_commands_with_exit_2_and_others_still_show()
 {
    let device = Device::init("PC1234", "officer");
    let poisoned = device.create("crime");
    device.set(&poisoned, &["narrative=Stored by an older build."]);
    let other = device.create("crime");
    device.set(&other, &["narrative=Unaffected."]);
    let export = device.export(&poisoned, "poisoned.automerge");
    let bytes = std::fs::read(&export).expect("export written");
    let change = hostile_change(&bytes);

    // import-doc of a document holding the change: refused, nothing changes.
    let mut poisoned_file = bytes.clone();
    poisoned_file.extend_from_slice(&change);
    let file = device.write_file("hostile.automerge", &poisoned_file);
    let run = device.bad(&["import-doc", &file]);
    assert!(run.stderr.contains("inconsistent"), "{}", run.transcript());

    // The same change among the record's stored chunks, as a build that did not check them
    // would have stored it from the feed.
    {
        use fieldbook_core::storage::{DocumentSave, Store};
        let id: fieldbook_core::domain::RecordId = poisoned.parse().expect("id");
        let mut store = Store::open(device.store(), &store_key(1), false).expect("opens");
        let projection = store.projection(id).expect("reads").expect("here");
        let heads = store.sync_heads(id).expect("reads").expect("here").heads;
        let hash = automerge::Change::from_bytes(change.clone())
            .expect("a change")
            .hash();
        store
            .save(&DocumentSave {
                id,
                bytes: change,
                replace: false,
                expected_heads: Some(heads),
                heads: hash.0.to_vec(),
                projection,
                attention: None,
            })
            .expect("appends");
    }
    for args in [
        vec!["show", poisoned.as_str()],
        vec!["history", poisoned.as_str()],
        vec!["set", poisoned.as_str(), "narrative=More."],
    ] {
        let run = device.bad(&args);
        assert!(
            run.stderr
                .contains("error: the record's document is inconsistent"),
            "{args:?}\n{}",
            run.transcript()
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.transcript());
    }
    assert_eq!(
        device.show_json(&other)["narrative"],
        json!("Unaffected."),
        "every other record still shows"
    );
    assert_eq!(device.listed_ids(&[]).len(), 2, "and both are listed");
}

/// Answers each connection on 127.0.0.1 with the next fixed (status, CBOR body), then stops.
fn fixed_server(runtime: &tokio::runtime::Runtime, answers: Vec<(u16, Vec<u8>)>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(async move {
        for (status, body) in answers {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut seen = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let Ok(n) = socket.read(&mut chunk).await else {
                    return;
                };
                seen.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&seen).to_lowercase();
                let done = text.find("\r\n\r\n").is_some_and(|end| {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    seen.len() >= end + 4 + length
                });
                if n == 0 || done {
                    break;
                }
            }
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
            let _ = socket.shutdown().await;
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_feed_entry_that_does_not_apply_is_held_back_and_sync_and_status_say_so() {
    use fieldbook_core::sync::wire;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let broken: fieldbook_core::domain::RecordId = fieldbook_core::domain::RecordId::generate();
    let enrolled = wire::encode(&wire::EnrolResponse {
        device_id: "dev-1".into(),
        token: "token".into(),
        officer: fieldbook_core::domain::OfficerId::new("PC1234").expect("id"),
        role: fieldbook_core::domain::Role::Officer,
        team: None,
    });
    let page = wire::encode(&wire::SyncResponse {
        results: Vec::new(),
        page: wire::FeedPage {
            entries: vec![wire::FeedEntry::Snapshot {
                record: broken,
                kind: fieldbook_core::domain::RecordKind::CrimeReport,
                document: wire::Bytes(b"not a document".to_vec()),
                heads: Vec::new(),
                receipts: Vec::new(),
            }],
            cursor: 12,
            more: false,
        },
    });
    let server = fixed_server(&runtime, vec![(200, enrolled), (200, page)]);
    let device = Device::init("PC1234", "officer");
    device.ok(&["enrol", "--server", &server, "--code", "CODE"]);

    let synced = device.ok(&["sync"]);
    assert!(
        synced.contains("1 update(s) from the server could not be applied and are held back"),
        "{synced}"
    );
    let status = device.ok(&["status"]);
    assert!(status.contains("held back:       1"), "{status}");
    assert!(
        status.contains(&broken.to_string()) && status.contains("[not-a-document]"),
        "{status}"
    );
    let json = parse_json(&device.ok(&["status", "--json"]));
    assert_eq!(json["cursor"], json!(12), "the page's cursor applied");
    assert_eq!(json["held_back"][0]["record"], json!(broken.to_string()));
    assert_eq!(json["held_back"][0]["reason"], json!("not-a-document"));
}

#[test]
fn an_unknown_role_at_init_creates_no_store() {
    let device = Device::uninitialised(1);
    let run = device.bad(&["init", "--officer", "PC1234", "--role", "chief"]);
    assert!(
        run.stderr.contains("role") && run.stderr.trim_end().ends_with("[known-role]"),
        "{}",
        run.transcript()
    );
    assert!(!device.store().exists(), "no store file was left behind");
}

#[test]
fn a_wrong_key_is_refused_and_the_store_file_is_untouched() {
    let device = Device::init("PC1234", "officer");
    let crime = device.create("crime");
    let before = std::fs::read(device.store()).expect("store file");
    let files_before = dir_listing(device.dir());

    let wrong = support::raw_key(0xee);
    for args in [vec!["list"], vec!["show", &crime]] {
        let run = device.run_with_key(Some(&wrong), &args);
        assert_eq!(run.code, 2, "{}", run.transcript());
        assert!(run.stderr.contains("key"), "{}", run.transcript());
    }
    let run = device.run_with_key(None, &["list"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("FIELDBOOK_KEY"), "{}", run.transcript());

    assert_eq!(
        std::fs::read(device.store()).expect("store file"),
        before,
        "the bytes of the store are unchanged"
    );
    assert_eq!(dir_listing(device.dir()), files_before);
    assert_eq!(
        device.listed_ids(&[]),
        [crime],
        "the right key still opens it"
    );
}

fn dir_listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_missing_store_says_to_run_init_and_is_not_created() {
    let device = Device::uninitialised(1);
    let run = device.bad(&["list"]);
    assert!(
        run.stderr.contains("fieldbook init"),
        "{}",
        run.transcript()
    );
    assert!(!device.store().exists());
}

#[test]
fn an_empty_store_file_is_refused_by_every_command_and_stays_empty() {
    let device = Device::uninitialised(1);
    std::fs::write(device.store(), b"").expect("an empty file");
    for args in [vec!["list"], vec!["status"]] {
        let run = device.bad(&args);
        assert!(
            run.stderr.contains("the store file is empty (0 bytes)"),
            "{}",
            run.transcript()
        );
    }
    assert_eq!(std::fs::metadata(device.store()).expect("file").len(), 0);
    assert_eq!(dir_listing(device.dir()), ["device.fbk"]);
}

#[test]
fn a_store_whose_wal_was_lost_after_a_crash_is_refused_until_the_officer_accepts_the_loss() {
    let device = Device::init("PC1234", "officer");
    let kept = device.create("crime");
    // A save that is only in the -wal file, then a crash: copies taken while a handle is open.
    let open = fieldbook_core::storage::Store::open(device.store(), &store_key(1), false)
        .expect("a second handle");
    let lost = device.create("crime");
    let store_file = std::fs::read(device.store()).expect("store file");
    drop(open);
    std::fs::write(device.store(), &store_file).expect("the crashed store file");
    let wal = device.dir().join("device.fbk-wal");
    let _ = std::fs::remove_file(&wal);

    let run = device.bad(&["list"]);
    assert!(
        run.stderr.contains("write-ahead log") && run.stderr.contains("accept-lost-saves"),
        "{}",
        run.transcript()
    );
    assert_eq!(
        std::fs::read(device.store()).expect("store file"),
        store_file,
        "refused untouched"
    );
    device.ok(&["accept-lost-saves"]);
    let listed = device.listed_ids(&[]);
    assert!(listed.contains(&kept), "{listed:?}");
    assert!(!listed.contains(&lost), "{listed:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Two devices: export-doc / import-doc
// ---------------------------------------------------------------------------------------------

/// Sends the record's document from `from` to `to` (export, then import).
fn send(from: &Device, to: &Device, id: &str, name: &str) {
    let file = from.export(id, name);
    let imported = to.ok(&["import-doc", &file]);
    assert_eq!(imported.trim(), id, "import-doc prints the record id");
}

/// The same officer's phone (A) and tablet (B), each with its own store and key, holding one
/// crime report created on A and copied to B.
fn two_devices_sharing_a_crime() -> (Device, Device, String) {
    let phone = Device::init_with_key("PC1234", "officer", 0xa1);
    let tablet = Device::init_with_key("PC1234", "officer", 0xb2);
    let crime = phone.create("crime");
    phone.set(&crime, &["classification=8L", "narrative=From the phone."]);
    send(&phone, &tablet, &crime, "first.automerge");
    (phone, tablet, crime)
}

/// Both devices set a different outcome offline, then exchange documents.
fn concurrent_outcomes(phone: &Device, tablet: &Device, crime: &str) {
    phone.set(crime, &["outcome=1"]);
    tablet.set(crime, &["outcome=16"]);
    send(phone, tablet, crime, "outcome-a.automerge");
    send(tablet, phone, crime, "outcome-b.automerge");
}

#[test]
fn a_record_copied_to_another_device_reads_the_same_and_edits_on_both_converge() {
    let (phone, tablet, crime) = two_devices_sharing_a_crime();
    assert_eq!(phone.show_json(&crime), tablet.show_json(&crime));

    phone.set(&crime, &["narrative+= More from the phone."]);
    tablet.set(&crime, &["narrative+= More from the tablet."]);
    send(&phone, &tablet, &crime, "a.automerge");
    send(&tablet, &phone, &crime, "b.automerge");

    let merged = phone.show_json(&crime);
    assert_eq!(merged, tablet.show_json(&crime), "both devices converge");
    let narrative = merged["narrative"].as_str().expect("narrative");
    for part in [
        "From the phone.",
        "More from the phone.",
        "More from the tablet.",
    ] {
        assert!(narrative.contains(part), "{part:?} missing: {narrative}");
    }
}

#[test]
fn concurrent_outcomes_are_kept_as_a_conflict_until_someone_resolves_it() {
    let (phone, tablet, crime) = two_devices_sharing_a_crime();
    concurrent_outcomes(&phone, &tablet, &crime);

    for device in [&phone, &tablet] {
        let conflicts = parse_json(&device.ok(&["conflicts", &crime, "--json"]));
        assert_eq!(conflicts.as_array().map(Vec::len), Some(1), "{conflicts:#}");
        assert_eq!(conflicts[0]["field"], "outcome");
        let mut codes: Vec<&str> = conflicts[0]["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v["value"]["code"].as_str().expect("a coded outcome"))
            .collect();
        codes.sort_unstable();
        assert_eq!(codes, ["1", "16"], "both values are kept");
        let shown = device.ok(&["show", &crime]);
        assert!(shown.contains("CONFLICT outcome"), "{shown}");
        assert_eq!(device.list_json(&[])[0]["conflicts"], 1);
    }

    let resolved = phone.ok(&[
        "resolve",
        &crime,
        "outcome",
        r#"{"code":"1","label":"Charged/summonsed"}"#,
    ]);
    assert!(resolved.contains("resolved outcome"), "{resolved}");
    assert_eq!(
        parse_json(&phone.ok(&["conflicts", &crime, "--json"])),
        json!([])
    );
    assert!(!phone.ok(&["show", &crime]).contains("CONFLICT"));
    assert_eq!(phone.show_json(&crime)["outcome"]["code"], "1");

    send(&phone, &tablet, &crime, "resolved.automerge");
    assert_eq!(
        parse_json(&tablet.ok(&["conflicts", &crime, "--json"])),
        json!([]),
        "the resolution settles the conflict on the other device too"
    );
    assert_eq!(phone.show_json(&crime), tablet.show_json(&crime));
}

#[test]

fn resolving_with_a_value_of_the_wrong_type_names_the_rule_once() {
    let (phone, tablet, crime) = two_devices_sharing_a_crime();
    concurrent_outcomes(&phone, &tablet, &crime);
    let run = phone.bad(&["resolve", &crime, "outcome", "true"]);
    assert_eq!(
        run.stderr.matches("[well-typed]").count(),
        1,
        "{}",
        run.transcript()
    );
    assert_eq!(
        parse_json(&phone.ok(&["conflicts", &crime, "--json"]))
            .as_array()
            .map(Vec::len),
        Some(1),
        "the conflict is still there"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Audit: history and the access log
// ---------------------------------------------------------------------------------------------

#[test]
fn history_names_the_officer_the_field_and_the_old_and_new_values() {
    let device = Device::init("PC1234", "officer");
    let crime = device.create("crime");
    device.set(&crime, &["classification=8N"]);
    device.set(&crime, &["classification=8L", "narrative=Account."]);

    let history = parse_json(&device.ok(&["history", &crime, "--json"]));
    let entries = history.as_array().expect("a list of changes");
    assert!(
        entries.iter().all(|e| e["officer"] == "PC1234"),
        "every change names the officer: {history:#}"
    );
    // The change may be recorded at `classification` or below it (`classification.offence`).
    let reclassified = entries
        .iter()
        .find(|e| {
            e["field"]
                .as_str()
                .is_some_and(|f| f.starts_with("classification"))
                && !e["old"].is_null()
        })
        .unwrap_or_else(|| panic!("no reclassification in {history:#}"));
    assert!(
        reclassified["old"].to_string().contains(r#""code":"8N""#)
            && reclassified["new"].to_string().contains(r#""code":"8L""#),
        "old and new offence: {reclassified:#}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["field"] == "narrative" && e["new"] == "Account."),
        "{history:#}"
    );

    let text = device.ok(&["history", &crime]);
    assert!(
        text.lines()
            .any(|l| l.contains("classification") && l.contains('→')),
        "{text}"
    );

    // The same rows as CSV: a header, then one line per row (no value here holds a line break).
    let csv = device.ok(&["history", &crime, "--csv"]);
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(
        lines.next(),
        Some(
            "record,change,officer,role,device,device_time,server_received_at,action,field,old,new,reason"
        ),
        "{csv}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), entries.len(), "{csv}");
    assert!(
        rows.iter()
            .any(|r| r.contains(",narrative,,Account.,") && r.contains(",PC1234,officer,")),
        "{csv}"
    );
    assert!(
        entries.iter().all(|e| e["server_received_at"].is_null()),
        "never synced: no receipt times"
    );
}

#[test]
fn the_access_log_shows_who_created_altered_and_viewed_a_person() {
    let device = Device::init("PC1234", "officer");
    let person = adult_victim(&device);
    device.ok(&["show", &person]);

    let log = device.ok(&["access-log", &person]);
    for action in ["create", "alter", "view"] {
        assert!(
            log.lines()
                .any(|l| l.contains("PC1234") && l.contains(action)),
            "no {action} entry:\n{log}"
        );
    }
    assert!(
        !log.contains("Jones"),
        "the log holds no personal data:\n{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. The demo and diagnostics
// ---------------------------------------------------------------------------------------------

#[test]
fn the_demo_runs_the_whole_scenario_without_a_store_or_key() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = fieldbook(dir.path(), None, &["demo"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    for expected in [
        "[ss-grounds-required]",
        "[ss-grounds-specific]",
        "STOP AND SEARCH RECEIPT",
        "Done in",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("UNEXPECTED"), "{}", run.stdout);
}

#[test]

fn diagnostics_stay_off_unless_fieldbook_log_is_set() {
    let device = Device::init("PC1234", "officer");
    let file = device.write_file("garbage.bin", [0x42u8; 64]);
    let run = device.bad(&["import-doc", &file]);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "only the error line is printed\n{}",
        run.transcript()
    );
}

#[test]
fn a_key_file_opens_the_store_its_hex_key_created() {
    let device = Device::init("PC1234", "officer");
    let crime = device.create("crime");
    let key_file = device.write_file("store.key", format!("{}\n", support::raw_key(1)));
    let run = device.run_with_key(None, &["--key-file", &key_file, "list", "--json"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(parse_json(&run.stdout)[0]["id"], crime.as_str());
}

#[test]

fn a_reader_that_stops_early_does_not_make_the_binary_panic() {
    let device = Device::init("PC1234", "officer");
    device.create("crime");
    let store = device.store().to_str().expect("UTF-8 path");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fieldbook"))
        .args(["--store", store, "list", "--json"])
        .env_remove("FIELDBOOK_LOG")
        .env("FIELDBOOK_KEY", support::raw_key(1))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the fieldbook binary starts");
    // Close the reading end while the child is still opening its encrypted store.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("the child exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Sync commands against a real server on loopback
// ---------------------------------------------------------------------------------------------

#[test]
fn enrol_sync_and_status_move_records_between_two_devices_through_a_real_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server_dir = tempfile::tempdir().expect("temporary directory");
    let db = server_dir.path().join("server.db");
    let config = fieldbook_server::ServerConfig::new(
        "127.0.0.1:0".parse().expect("address"),
        &db,
        store_key(0x5a),
    );
    let server = runtime
        .block_on(fieldbook_server::start(config))
        .expect("server starts");
    let admin = fieldbook_server::Admin::open(&db, &store_key(0x5a)).expect("admin");
    let officer = fieldbook_core::domain::OfficerId::new("PC1234").expect("id");
    let code = |role| {
        admin
            .enrol(&officer, "Alex Kerr", role, Some("A"))
            .expect("code")
    };

    let phone = Device::init("PC1234", "officer");
    let tablet = Device::init_with_key("PC1234", "officer", 2);
    let url = server.url();
    let role = fieldbook_core::domain::Role::Officer;
    let enrolled = phone.ok(&["enrol", "--server", &url, "--code", &code(role)]);
    assert!(enrolled.contains("enrolled PC1234"), "{enrolled}");
    tablet.ok(&["enrol", "--server", &url, "--code", &code(role)]);
    // A used code is refused with the server's reason.
    let reused = tablet.bad(&["enrol", "--server", &url, "--code", "AAAA-BBBB-CCCC-DDDD"]);
    assert!(
        reused.stderr.contains("bad-code"),
        "{}",
        reused.transcript()
    );
    // Plain http to anything but this machine is refused before any code is sent.
    let insecure = tablet.bad(&[
        "enrol",
        "--server",
        "http://sync.example.police.uk",
        "--code",
        "X",
    ]);
    assert!(
        insecure.stderr.contains("[server-url]"),
        "{}",
        insecure.transcript()
    );

    let crime = phone.create("crime");
    phone.set(&crime, &["narrative=Recorded on the phone."]);
    let status = phone.ok(&["status"]);
    assert!(status.contains("unsynced:        1"), "{status}");
    let synced = phone.ok(&["sync"]);
    assert!(synced.contains("1 accepted"), "{synced}");
    assert!(phone.ok(&["status"]).contains("unsynced:        0"));

    let pulled = tablet.ok(&["sync"]);
    assert!(pulled.contains("1 new records"), "{pulled}");
    let on_tablet = parse_json(&tablet.ok(&["show", &crime, "--json"]));
    assert_eq!(on_tablet["narrative"], "Recorded on the phone.");
    let status = parse_json(&tablet.ok(&["status", "--json"]));
    assert_eq!(status["unsynced"], 0, "{status}");
    // After sync, the phone's history names its server device id and the receipt times.
    let phone_id = parse_json(&phone.ok(&["status", "--json"]))["device_id"].clone();
    let history = parse_json(&phone.ok(&["history", &crime, "--json"]));
    let rows = history.as_array().expect("rows");
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row["device"], phone_id, "{history:#}");
        assert!(row["server_received_at"].is_string(), "{history:#}");
    }
    let csv = tablet.ok(&["history", &crime, "--csv"]);
    assert!(csv.starts_with("record,change,officer,"), "{csv}");
    assert_eq!(csv.matches("\r\n").count(), rows.len() + 1, "{csv}");

    runtime.block_on(server.shutdown());
    // With the server gone, sync says the device is offline and keeps its work.
    phone.set(&crime, &["narrative+= Then more, offline."]);
    let offline = phone.run(&["sync", "--server", &url]);
    assert_eq!(offline.code, 2, "{}", offline.transcript());
    assert!(
        offline.stderr.contains("[offline]"),
        "{}",
        offline.transcript()
    );
    assert!(phone.ok(&["status"]).contains("unsynced:        1"));
}

// ---------------------------------------------------------------------------------------------
// Supervision: queue, approve, return, returned
// ---------------------------------------------------------------------------------------------

/// A neighbourhood issue that passes every rule, submitted; returns its id.
fn submitted_issue(device: &Device) -> String {
    let issue = device.create("issue");
    device.set(
        &issue,
        &[
            "asb_type=noise",
            "qualifier=nuisance",
            "location.description=Park gates, Mill Lane",
            "anonymous_reporter=true",
            "narrative=Amplified music after 23:00 three nights running.",
            "reported_at=2026-03-01T21:00:00Z",
        ],
    );
    device.ok(&["submit", &issue]);
    issue
}

#[test]
fn a_supervisor_clears_the_queue_by_returning_and_approving_and_the_author_sees_the_return() {
    let officer = Device::init_with_key("PC1234", "officer", 0xc1);
    let sergeant = Device::init_with_key("PS99", "supervisor", 0xc2);
    let first = submitted_issue(&officer);
    let second = submitted_issue(&officer);
    send(&officer, &sergeant, &first, "first.automerge");
    send(&officer, &sergeant, &second, "second.automerge");

    let refused = officer.bad(&["queue"]);
    assert!(
        refused.stderr.contains("[forbidden]"),
        "{}",
        refused.transcript()
    );

    let queue = parse_json(&sergeant.ok(&["queue", "--json"]));
    let ids: Vec<&str> = queue
        .as_array()
        .expect("a list")
        .iter()
        .map(|q| q["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.as_str()) && ids.contains(&second.as_str()));
    assert_eq!(queue[0]["can_approve"], json!(true));
    assert_eq!(queue[0]["approval"]["state"], json!("not_approved"));
    let text = sergeant.ok(&["queue"]);
    assert!(text.contains("2 record(s) waiting for review"), "{text}");

    sergeant.bad(&["return", &first, "--reason", "short"]);
    let returned = sergeant.ok(&[
        "return",
        &first,
        "--reason",
        "Say which flats the music came from.",
    ]);
    assert!(returned.contains("returned"), "{returned}");
    sergeant.ok(&["approve", &second]);
    let text = sergeant.ok(&["queue"]);
    assert!(text.contains("0 record(s) waiting for review"), "{text}");

    send(&sergeant, &officer, &first, "first-back.automerge");
    send(&sergeant, &officer, &second, "second-back.automerge");
    let tasks = parse_json(&officer.ok(&["returned", "--json"]));
    assert_eq!(tasks.as_array().expect("a list").len(), 1);
    assert_eq!(tasks[0]["id"], json!(first));
    assert_eq!(tasks[0]["by"], json!("PS99"));
    assert_eq!(
        tasks[0]["reason"],
        json!("Say which flats the music came from.")
    );
    let text = officer.ok(&["returned"]);
    assert!(text.contains("Say which flats"), "{text}");
    assert_eq!(
        officer.show_json(&second)["meta"]["workflow"][1]["action"],
        json!("approved")
    );

    // An edit after approval: re-open, edit, resubmit; the queue shows the diff.
    officer.ok(&["reopen", &second, "--reason", "the caller rang back"]);
    officer.set(&second, &["narrative=Music four nights running."]);
    officer.ok(&["submit", &second]);
    send(&officer, &sergeant, &second, "second-again.automerge");
    let text = sergeant.ok(&["queue"]);
    assert!(text.contains("CHANGED SINCE APPROVAL"), "{text}");
    assert!(
        text.contains("narrative") && text.contains("Music four nights running."),
        "{text}"
    );
    sergeant.ok(&["approve", &second]);
}

#[test]
fn a_refused_record_is_listed_shown_and_dismissed_from_the_quarantine_and_status_counts_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server_dir = tempfile::tempdir().expect("temporary directory");
    let db = server_dir.path().join("server.db");
    let config = fieldbook_server::ServerConfig::new(
        "127.0.0.1:0".parse().expect("address"),
        &db,
        store_key(0x5a),
    );
    let server = runtime
        .block_on(fieldbook_server::start(config))
        .expect("server starts");
    let admin = fieldbook_server::Admin::open(&db, &store_key(0x5a)).expect("admin");
    let pcso = fieldbook_core::domain::OfficerId::new("PCSO77").expect("id");
    let role = fieldbook_core::domain::Role::Pcso;
    let code = admin
        .enrol(&pcso, "Sam Reid", role, Some("A"))
        .expect("code");

    let device = Device::uninitialised(5);
    let init = device.ok(&["init", "--officer", "PCSO77", "--role", "pcso"]);
    let actor_hex = init
        .trim()
        .rsplit(' ')
        .next()
        .expect("init prints the device actor");
    device.ok(&["enrol", "--server", &server.url(), "--code", &code]);

    // A stop-search an older app let the PCSO record, written with this device's actor.
    let actor = automerge::ActorId::from(hex::decode(actor_hex).expect("hex actor"));
    let now = fieldbook_core::domain::Timestamp::parse("2026-11-22T21:00:00Z").expect("time");
    let mut search = fieldbook_core::domain::Record::new(
        fieldbook_core::domain::RecordKind::StopSearch,
        fieldbook_core::domain::RecordId::generate(),
        pcso.clone(),
        now,
    );
    const GROUNDS: &str = "Saw him pass a small bag to the passenger and hide it in his sock";
    if let fieldbook_core::domain::Record::StopSearch(s) = &mut search {
        s.grounds = Some(GROUNDS.into());
    }
    let author = fieldbook_core::doc::ChangeAuthor { by: pcso, role };
    let doc = fieldbook_core::doc::RecordDoc::create(&search, &actor, &author, now).expect("doc");
    let file = device.write_file("search.automerge", doc.automerge().save());
    let id = device.ok(&["import-doc", &file]).trim().to_owned();

    let synced = device.ok(&["sync"]);
    assert!(
        synced.contains(&format!("refused: {id} [policy-pcso-stop-search]")),
        "{synced}"
    );
    assert!(synced.contains("fieldbook quarantine"), "{synced}");
    let status = device.ok(&["status"]);
    assert!(status.contains("quarantined:     1"), "{status}");
    assert!(status.contains("unsynced:        0"), "{status}");
    assert_eq!(
        parse_json(&device.ok(&["status", "--json"]))["quarantined"],
        1
    );
    device.bad(&["show", &id]);

    let listed = device.ok(&["quarantine"]);
    assert!(listed.contains("policy-pcso-stop-search"), "{listed}");
    assert!(
        listed.contains("the server never held this record"),
        "{listed}"
    );
    let items = parse_json(&device.ok(&["quarantine", "--json"]));
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items:#}");
    assert_eq!(items[0]["record"], id.as_str());
    let qid = items[0]["id"].to_string();
    let shown = device.ok(&["quarantine", "show", &qid]);
    assert!(shown.contains(GROUNDS), "{shown}");
    let shown = parse_json(&device.ok(&["quarantine", "show", &qid, "--json"]));
    assert_eq!(shown["record"]["grounds"], GROUNDS);
    assert_eq!(shown["item"]["rule"], "policy-pcso-stop-search");

    let again = device.ok(&["sync"]);
    assert!(again.contains("pushed 0 records"), "{again}");
    device.ok(&["quarantine", "dismiss", &qid]);
    assert!(device.ok(&["status"]).contains("quarantined:     0"));
    let gone = device.bad(&["quarantine", "dismiss", &qid]);
    assert!(
        gone.stderr.contains("[unknown-quarantine]"),
        "{}",
        gone.transcript()
    );
    runtime.block_on(server.shutdown());
}
