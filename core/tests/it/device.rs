//! Integration tests of the `Device` façade on real encrypted SQLite files.

use fieldbook_core::clock::Clock;
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role, Status};
use fieldbook_core::storage::{DatabaseKey, RecordQuery, StoreError};
use fieldbook_core::testing::devices::{
    KEY, assert_projection_matches_document, clock, device_at as device, set, start,
};
use fieldbook_core::{Device, Error};
use proptest::prelude::*;

#[test]
fn records_survive_closing_and_reopening_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("d.fbk");
    let c = clock();
    let mut d = device(&path, "PC1", Role::Officer, c.clone());
    let id = d
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(&mut d, id, &["narrative=First.", "classification=8N"]);
    set(&mut d, id, &["narrative+= Second."]);
    let before = d.get(id).expect("get");
    drop(d);

    let mut reopened = Device::open(&path, &KEY, c).expect("reopens");
    assert_eq!(reopened.get(id).expect("get"), before);
    assert_eq!(reopened.user().officer.as_str(), "PC1");
    let Record::Crime(crime) = before else {
        panic!("a crime")
    };
    assert_eq!(crime.narrative, "First. Second.");
    assert_eq!(
        crime.classification.expect("classified").category,
        "violent-crime"
    );
}

#[test]
fn a_wrong_key_is_refused_and_the_store_still_opens_with_the_right_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("d.fbk");
    let mut d = device(&path, "PC1", Role::Officer, clock());
    d.create(RecordKind::Person, None).expect("create");
    drop(d);
    let bytes = std::fs::read(&path).expect("read");
    match Device::open(&path, &DatabaseKey::Raw([1; 32]), clock()) {
        Err(Error::Store(StoreError::KeyRejected)) => {}
        other => panic!("expected KeyRejected, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "the file must be untouched"
    );
    assert_eq!(
        Device::open(&path, &KEY, clock())
            .expect("opens")
            .count()
            .expect("count"),
        1
    );
}

#[test]
fn bad_input_names_the_field_and_leaves_the_stored_record_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut d = device(&dir.path().join("d.fbk"), "PC1", Role::Officer, clock());
    let id = d.create(RecordKind::StopSearch, None).expect("create").id();
    set(
        &mut d,
        id,
        &["grounds=Saw him hide a knife handle in his waistband."],
    );
    let before = d.get(id).expect("get");
    let huge = format!("grounds={}", "x".repeat(5000));
    let cases: [(&str, &str, &str); 7] = [
        ("bwv_used=perhaps", "bwv_used", "well-typed"),
        ("detained_at=tomorrow", "detained_at", "well-typed"),
        ("colour=blue", "colour", "well-typed"),
        ("age_range=18-24", "age_range", "managed-field"),
        ("meta.author=PC9", "meta.author", "managed-field"),
        (
            "receipt_reference=SS-1",
            "receipt_reference",
            "managed-field",
        ),
        (&huge, "grounds", "max-length"),
    ];
    for (assignment, field, rule) in cases {
        match d.set_fields(id, &[assignment.to_owned()]) {
            Err(Error::Invalid {
                field: f, rule: r, ..
            }) => {
                assert_eq!(
                    (f.as_str(), r.as_str()),
                    (field, rule),
                    "{}",
                    &assignment[..assignment.len().min(40)]
                );
            }
            other => panic!("{assignment}: expected Invalid, got {other:?}"),
        }
        assert_eq!(
            d.get(id).expect("get"),
            before,
            "a refused edit changed the record"
        );
    }
    // A good assignment in the same command as a bad one is not applied either.
    assert!(
        d.set_fields(id, &["gender=Male".into(), "bwv_used=perhaps".into()])
            .is_err()
    );
    assert_eq!(d.get(id).expect("get"), before);
}

#[test]
fn importing_something_that_is_not_a_document_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut d = device(&dir.path().join("d.fbk"), "PC1", Role::Officer, clock());
    let id = d
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    let good = d.export_document(id).expect("export");
    for bytes in [
        Vec::new(),
        b"garbage".to_vec(),
        good[..good.len() / 2].to_vec(),
    ] {
        assert!(matches!(d.import_document(&bytes), Err(Error::Doc(_))));
    }
    assert_eq!(d.count().expect("count"), 1);
    assert_projection_matches_document(&mut d, id);
}

#[test]
fn two_devices_exchanging_documents_converge_and_surface_the_outcome_conflict() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = clock();
    let mut a = device(&dir.path().join("a.fbk"), "PC1", Role::Officer, c.clone());
    // The same officer on a second device (phone and tablet): two actors, concurrent edits.
    let mut b = device(&dir.path().join("b.fbk"), "PC1", Role::Officer, c.clone());
    let id = a
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(&mut a, id, &["narrative=Called at 21:00."]);
    b.import_document(&a.export_document(id).expect("export"))
        .expect("import");

    set(
        &mut a,
        id,
        &["narrative+= Victim had a cut lip.", "outcome=1"],
    );
    set(
        &mut b,
        id,
        &["narrative+= Neighbour heard shouting.", "outcome=16"],
    );
    b.import_document(&a.export_document(id).expect("export"))
        .expect("import into b");
    a.import_document(&b.export_document(id).expect("export"))
        .expect("import into a");

    let (ra, rb) = (a.get(id).expect("a"), b.get(id).expect("b"));
    assert_eq!(ra, rb, "replicas differ after exchange");
    let Record::Crime(crime) = ra else {
        panic!("a crime")
    };
    assert!(crime.narrative.contains("cut lip") && crime.narrative.contains("shouting"));
    for d in [&mut a, &mut b] {
        let conflicts = d.conflicts(id).expect("conflicts");
        assert_eq!(
            conflicts
                .iter()
                .map(|c| c.field.as_str())
                .collect::<Vec<_>>(),
            ["outcome"]
        );
        assert_eq!(d.projection(id).expect("projection").conflicts, 1);
        assert_projection_matches_document(d, id);
    }
    let chosen = serde_json::json!({"code": "16", "label": crime.outcome.expect("outcome").label});
    a.resolve_conflict(id, "outcome", &chosen).expect("resolve");
    assert!(a.conflicts(id).expect("conflicts").is_empty());
    assert_eq!(a.projection(id).expect("projection").conflicts, 0);
}

#[test]
fn a_submitted_record_is_locked_for_its_author_and_its_status_is_derived() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut d = device(&dir.path().join("d.fbk"), "PCSO7", Role::Pcso, clock());
    let id = d
        .create(RecordKind::NeighbourhoodIssue, None)
        .expect("create")
        .id();
    match d.submit(id) {
        Err(Error::Refused { findings }) => {
            let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
            assert!(rules.contains(&"issue-asb-type-required"), "{rules:?}");
            assert!(rules.contains(&"issue-location-required"), "{rules:?}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    set(
        &mut d,
        id,
        &[
            "asb_type=noise",
            "qualifier=nuisance",
            "location.description=Park gates",
            "anonymous_reporter=true",
        ],
    );
    d.submit(id).expect("submits");
    assert_eq!(d.status(id).expect("status"), Status::Submitted);
    assert!(matches!(
        d.set_fields(id, &["narrative=late".into()]),
        Err(Error::NotEditable {
            status: Status::Submitted,
            ..
        })
    ));
    assert!(matches!(
        d.create(RecordKind::StopSearch, None),
        Err(Error::Forbidden(_))
    ));
}

#[test]
fn overdue_decisions_follow_the_clock_and_the_decision() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = clock();
    let mut d = device(&dir.path().join("d.fbk"), "PC1", Role::Officer, c.clone());
    let id = d
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    assert!(d.overdue_decisions().expect("query").is_empty());
    c.advance(time::Duration::hours(25));
    let overdue: Vec<RecordId> = d
        .overdue_decisions()
        .expect("query")
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(overdue, [id]);
    let now = c.now().to_rfc3339();
    set(
        &mut d,
        id,
        &[
            "recording_decision.decision=crimed",
            &format!("recording_decision.decided_at={now}"),
        ],
    );
    assert!(d.overdue_decisions().expect("query").is_empty());
    let warnings: Vec<String> = d
        .check(id)
        .expect("check")
        .into_iter()
        .map(|f| f.rule)
        .collect();
    assert!(
        warnings.contains(&"crime-decision-late".to_owned()),
        "{warnings:?}"
    );
}

#[test]
fn queries_filter_by_kind_status_author_and_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = clock();
    let mut d = device(&dir.path().join("d.fbk"), "PC1", Role::Officer, c.clone());
    let first = d
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    c.advance(time::Duration::hours(2));
    let second = d
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    d.create(RecordKind::Person, None).expect("create");
    let crimes = |q: RecordQuery| -> Vec<RecordId> {
        d.list(&q).expect("list").iter().map(|p| p.id).collect()
    };
    assert_eq!(
        crimes(RecordQuery {
            kind: Some(RecordKind::CrimeReport),
            ..Default::default()
        }),
        [second, first]
    );
    let later = (start().millis() + 3_600_000, RecordKind::CrimeReport);
    assert_eq!(
        crimes(RecordQuery {
            kind: Some(later.1),
            from: Some(later.0),
            ..Default::default()
        }),
        [second]
    );
    assert_eq!(
        crimes(RecordQuery {
            kind: Some(later.1),
            to: Some(later.0),
            ..Default::default()
        }),
        [first]
    );
    assert!(
        crimes(RecordQuery {
            status: Some(Status::Submitted),
            ..Default::default()
        })
        .is_empty()
    );
    let other = OfficerId::new("PC2").expect("valid");
    assert!(
        crimes(RecordQuery {
            author: Some(other),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(d.my_drafts().expect("drafts").len(), 3);
}

#[test]
fn many_edits_compact_and_still_reload_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("d.fbk");
    let c = clock();
    let mut d = device(&path, "PC1", Role::Officer, c.clone());
    let id = d
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    for i in 0..80 {
        set(&mut d, id, &[&format!("narrative+= line{i}.")]);
    }
    let before = d.get(id).expect("get");
    drop(d);
    let mut reopened = Device::open(&path, &KEY, c).expect("reopen");
    assert_eq!(reopened.get(id).expect("get"), before);
    assert_eq!(
        reopened.history(id).expect("history").len(),
        81,
        "one change per save, none lost to compaction"
    );
}

#[test]
fn reading_a_person_is_logged_with_who_and_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut d = device(&dir.path().join("d.fbk"), "PC1", Role::Officer, clock());
    let id = d.create(RecordKind::Person, None).expect("create").id();
    set(
        &mut d,
        id,
        &[r#"names+={"given":"Alex","family":"Morgan"}"#],
    );
    d.get(id).expect("view");
    d.history(id).expect("history");
    let actions: Vec<String> = d
        .access_log(id)
        .expect("log")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["create", "alter", "view", "view"]);
}

#[derive(Debug, Clone)]
enum Step {
    Set(usize, &'static str),
    Exchange(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let assignments = prop::sample::select(vec![
        "narrative+= more.",
        "flags.domestic_abuse=true",
        "flags.hate_crime=true",
        "classification=8N",
        "classification=28E",
        "outcome=1",
        "outcome=16",
        "location.lat=53.48",
        "location.lon=-2.24",
        "recording_decision=",
        "occurred_from=2026-11-22T19:00:00Z",
        "occurred_from=2026-11-22T18:00:00Z",
    ]);
    prop_oneof![
        (0..3usize, assignments).prop_map(|(r, a)| Step::Set(r, a)),
        (0..3usize).prop_map(Step::Exchange),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_stored_projection_always_equals_the_hydrated_document(steps in prop::collection::vec(step(), 1..16)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = clock();
        let mut devices: Vec<Device> = (0..3)
            .map(|i| device(&dir.path().join(format!("{i}.fbk")), "PC1", Role::Officer, c.clone()))
            .collect();
        let id = devices[0].create(RecordKind::CrimeReport, None).expect("create").id();
        let bytes = devices[0].export_document(id).expect("export");
        for d in devices.iter_mut().skip(1) {
            d.import_document(&bytes).expect("import");
        }
        for s in steps {
            match s {
                Step::Set(r, a) => set(&mut devices[r], id, &[a]),
                Step::Exchange(r) => {
                    let from = devices[r].export_document(id).expect("export");
                    let to = (r + 1) % devices.len();
                    devices[to].import_document(&from).expect("import");
                }
            }
            c.advance(time::Duration::seconds(1));
        }
        for d in devices.iter_mut() {
            assert_projection_matches_document(d, id);
        }
    }
}

#[test]
fn a_record_held_while_a_merge_arrives_keeps_the_merged_words_when_saved_at_its_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = clock();
    let mut phone = device(
        &dir.path().join("phone.fbk"),
        "PC1",
        Role::Officer,
        c.clone(),
    );
    let mut tablet = device(
        &dir.path().join("tablet.fbk"),
        "PC1",
        Role::Officer,
        c.clone(),
    );
    let id = phone
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(&mut phone, id, &["narrative=Called at 21:00."]);
    tablet
        .import_document(&phone.export_document(id).expect("export"))
        .expect("import");

    // The phone's screen holds the record; meanwhile the tablet's words arrive.
    let (held, version) = phone.get_versioned(id).expect("read");
    set(&mut tablet, id, &["narrative+= Neighbour heard shouting."]);
    phone
        .import_document(&tablet.export_document(id).expect("export"))
        .expect("merge");

    let Record::Crime(mut edited) = held else {
        panic!("a crime")
    };
    edited.narrative.push_str(" Victim had a cut lip.");
    phone
        .save_versioned(Record::Crime(edited), &version)
        .expect("save");
    let Record::Crime(now) = phone.get(id).expect("get") else {
        panic!("a crime")
    };
    assert!(
        now.narrative.contains("shouting"),
        "merged words lost: {}",
        now.narrative
    );
    assert!(now.narrative.contains("cut lip"), "{}", now.narrative);
    assert_projection_matches_document(&mut phone, id);
    let text = version.to_string();
    assert_eq!(
        text.parse::<fieldbook_core::Version>().expect("parses"),
        version
    );
}

#[test]
fn two_processes_on_one_store_never_overwrite_each_others_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("d.fbk");
    let c = clock();
    let mut cli = device(&path, "PC1", Role::Officer, c.clone());
    let id = cli
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(&mut cli, id, &["narrative=First."]);
    // A second handle on the same file, as a sync run in another process would hold.
    let mut sync = Device::open(&path, &KEY, c).expect("second handle");
    let _ = sync.get(id).expect("the sync run caches the record");
    set(&mut cli, id, &["narrative+= Added from the CLI."]);
    // The sync run's cached copy is now stale: its next edit must build on the CLI's change.
    set(&mut sync, id, &["flags.hate_crime=true"]);
    // Many more edits from both sides, crossing compaction (32 chunks).
    for i in 0..40 {
        set(&mut cli, id, &[&format!("narrative+= c{i}.")]);
        set(&mut sync, id, &[&format!("narrative+= s{i}.")]);
    }
    let Record::Crime(seen_by_cli) = cli.get(id).expect("get") else {
        panic!("a crime")
    };
    let Record::Crime(seen_by_sync) = sync.get(id).expect("get") else {
        panic!("a crime")
    };
    assert_eq!(seen_by_cli, seen_by_sync);
    assert!(seen_by_cli.narrative.contains("Added from the CLI."));
    assert!(seen_by_cli.flags.hate_crime);
    for i in 0..40 {
        assert!(
            seen_by_cli.narrative.contains(&format!(" c{i}.")),
            "c{i} lost"
        );
        assert!(
            seen_by_cli.narrative.contains(&format!(" s{i}.")),
            "s{i} lost"
        );
    }
    assert_projection_matches_document(&mut cli, id);
}
