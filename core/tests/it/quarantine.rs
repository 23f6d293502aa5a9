//! Quarantine on the device after a refusal, on real encrypted SQLite files, driven by
//! hand-built server responses (the sync state machine is sans-I/O): the record is rebuilt from
//! the server's version with the allowed edits re-applied, the refused state is kept and
//! readable, nothing refused is pushed again, and the refused bytes never merge back.
//!
//! The refused changes are written as an app whose checks drifted from the server's would write
//! them: with the device's own actor and user, bypassing `Device`'s workflow checks (`forge`).

use automerge::ActorId;
use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{
    Record, RecordId, RecordKind, Role, Status, Timestamp, WorkflowAction, WorkflowEvent,
};
use fieldbook_core::sync::client::ResponseTally;
use fieldbook_core::sync::wire::{
    self, FeedEntry, FeedPage, Hash, PushOutcome, PushResult, SyncResponse,
};
use fieldbook_core::testing::devices::{RECEIVED, author_of, changes_entry, clock, device_in, set};
use fieldbook_core::{Device, Error};
use std::path::Path;

fn device(dir: &Path, officer: &str, role: Role) -> Device {
    device_in(dir, officer, role, clock())
}

fn actor(device: &Device) -> ActorId {
    ActorId::from(hex::decode(device.actor_hex()).expect("hex"))
}

/// Writes `edit` into the device's record as one change by the device's own actor and user,
/// bypassing the device's workflow checks.
fn forge(device: &mut Device, id: RecordId, edit: impl FnOnce(&mut Record)) {
    let bytes = device.export_document(id).expect("export");
    let mut doc = RecordDoc::load(&bytes, &actor(device)).expect("loads");
    let mut record = doc.hydrate().expect("record");
    edit(&mut record);
    doc.update(&record, &author_of(device), "edit", device.now())
        .expect("update");
    device
        .import_document(&doc.automerge().save())
        .expect("import");
}

fn narrative(record: &Record) -> &str {
    match record {
        Record::Crime(c) => &c.narrative,
        Record::Issue(i) => &i.narrative,
        other => panic!("no narrative in a {}", other.kind()),
    }
}

/// Pushes the outbox and answers each record with `outcome(record)`, with `entries` as the page.
fn answer(
    device: &mut Device,
    outcome: impl Fn(RecordId) -> PushOutcome,
    entries: Vec<FeedEntry>,
) -> ResponseTally {
    let mut session = device.begin_sync().expect("session");
    let request = session.next_request().expect("a request");
    let response = SyncResponse {
        results: request
            .push
            .iter()
            .map(|p| PushResult {
                record: p.record,
                outcome: outcome(p.record),
            })
            .collect(),
        page: FeedPage {
            entries,
            cursor: request.cursor + 1,
            more: false,
        },
    };
    device
        .apply_sync_response(&mut session, response)
        .expect("applies")
}

fn accepted() -> PushOutcome {
    PushOutcome::Accepted {
        heads: Vec::new(),
        received_at: RECEIVED,
        new_changes: 1,
    }
}

fn rejected(rule: &str, field: &str) -> PushOutcome {
    PushOutcome::Rejected {
        rule: rule.into(),
        message: "refused by the test server".into(),
        change: Some(Hash(vec![1; 32])),
        field: Some(field.into()),
    }
}

fn heads(device: &mut Device, id: RecordId) -> Vec<automerge::ChangeHash> {
    device
        .get_versioned(id)
        .expect("held")
        .1
        .to_string()
        .split(',')
        .map(|h| h.parse().expect("a hash"))
        .collect()
}

#[test]
fn a_refused_save_is_rebuilt_on_the_servers_version_with_the_allowed_narrative_and_the_rest_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut pc = device(dir.path(), "PC1", Role::Officer);
    let id = pc
        .create(RecordKind::CrimeReport, None)
        .expect("create")
        .id();
    set(&mut pc, id, &["narrative=Window smashed."]);
    answer(&mut pc, |_| accepted(), Vec::new());
    let server_version = pc.get(id).expect("record");

    // One save: more narrative, and an approval an officer may not give.
    const TYPED: &str = "Window smashed. A neighbour saw two people run towards the park.";
    let officer = pc.user().officer.clone();
    forge(&mut pc, id, |r| {
        if let Record::Crime(c) = r {
            c.narrative = TYPED.into();
        }
        r.meta_mut().workflow.push(WorkflowEvent {
            action: WorkflowAction::Approved,
            by: officer,
            role: Role::Officer,
            at: Timestamp::parse("2026-11-22T21:00:00Z").expect("time"),
            reason: None,
            heads: vec!["00".repeat(32)],
        });
    });
    let refused_copy = pc.export_document(id).expect("export");

    let tally = answer(
        &mut pc,
        |_| rejected("policy-supervisor-only", "meta.workflow"),
        Vec::new(),
    );
    assert_eq!(
        tally.rejected,
        vec![(id, wire::RefusalCode::parse("policy-supervisor-only"))]
    );
    assert_eq!(tally.quarantined, 1);

    // Live: the server's version plus the narrative, still a draft.
    let live = pc.get(id).expect("record");
    assert_eq!(narrative(&live), TYPED);
    assert_eq!(live.meta().workflow, server_version.meta().workflow);
    assert_eq!(pc.status(id).expect("status"), Status::Draft);
    let status = pc.sync_status().expect("status");
    assert_eq!((status.quarantined, status.attention.len()), (1, 0));
    assert_eq!(
        status.unsynced, 1,
        "the re-applied narrative waits to be pushed"
    );

    // Kept: the refused state whole, and what of it is not live.
    let items = pc.quarantine().expect("quarantine");
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        (
            item.record,
            item.kind,
            item.rule.as_str(),
            item.field.as_deref(),
            item.removed
        ),
        (
            id,
            RecordKind::CrimeReport,
            "policy-supervisor-only",
            Some("meta.workflow"),
            false
        )
    );
    assert_eq!(item.change.as_deref(), Some("01".repeat(32).as_str()));
    let fields: Vec<&str> = item.refused.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, vec!["meta.workflow"]);
    let kept = pc.quarantined_record(id, item.id).expect("kept record");
    assert_eq!(narrative(&kept), TYPED);
    assert_eq!(
        kept.meta().workflow.last().map(|e| e.action),
        Some(WorkflowAction::Approved)
    );

    // The next push carries one change: the re-applied narrative, nothing refused.
    let mut session = pc.begin_sync().expect("session");
    let request = session.next_request().expect("a request");
    assert_eq!(request.push.len(), 1);
    assert_eq!(request.push[0].changes.len(), 1);
    let change = automerge::Change::from_bytes(request.push[0].changes[0].0.clone()).expect("c");
    assert!(
        change.message().is_some_and(|m| m.contains("reapply")),
        "{:?}",
        change.message()
    );
    let before = (pc.get(id).expect("record"), heads(&mut pc, id));

    // The refused bytes never merge back: the re-applied change reuses the refused change's
    // actor sequence number, so importing the old copy is refused and changes nothing.
    let err = pc.import_document(&refused_copy).expect_err("refused");
    assert_eq!(err.code(), "document", "{err}");
    assert_eq!((pc.get(id).expect("record"), heads(&mut pc, id)), before);

    // Dismissed once read.
    pc.dismiss_quarantine(item.id).expect("dismiss");
    assert!(pc.quarantine().expect("quarantine").is_empty());
    assert_eq!(pc.sync_status().expect("status").quarantined, 0);
    let again = pc.dismiss_quarantine(item.id).expect_err("gone");
    assert_eq!(again.code(), "unknown-quarantine");
    assert!(matches!(
        pc.quarantined_record(id, item.id),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn a_record_the_server_never_held_leaves_the_outbox_and_lives_whole_in_the_quarantine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut pcso = device(dir.path(), "PCSO7", Role::Pcso);
    assert!(matches!(
        pcso.create(RecordKind::StopSearch, None),
        Err(Error::Forbidden(_))
    ));
    // An older app let the PCSO record a search anyway.
    let mut search = Record::new(
        RecordKind::StopSearch,
        RecordId::generate(),
        pcso.user().officer.clone(),
        pcso.now(),
    );
    const GROUNDS: &str = "Saw him pass a small bag to the passenger and hide it in his sock";
    if let Record::StopSearch(s) = &mut search {
        s.grounds = Some(GROUNDS.into());
    }
    let doc =
        RecordDoc::create(&search, &actor(&pcso), &author_of(&pcso), pcso.now()).expect("doc");
    let search_id = pcso
        .import_document(&doc.automerge().save())
        .expect("import");
    let issue = pcso
        .create(RecordKind::NeighbourhoodIssue, None)
        .expect("create")
        .id();

    let tally = answer(
        &mut pcso,
        |record| {
            if record == search_id {
                rejected("policy-pcso-stop-search", "meta.author")
            } else {
                accepted()
            }
        },
        Vec::new(),
    );
    assert_eq!((tally.accepted, tally.quarantined), (1, 1));

    assert!(matches!(pcso.get(search_id), Err(Error::NotFound(_))));
    assert!(matches!(
        pcso.projection(search_id),
        Err(Error::NotFound(_))
    ));
    assert_eq!(pcso.count().expect("count"), 1, "the issue stays");
    pcso.get(issue).expect("the issue");
    let status = pcso.sync_status().expect("status");
    assert_eq!((status.unsynced, status.quarantined), (0, 1));

    let items = pcso.quarantine().expect("quarantine");
    let item = &items[0];
    assert!(item.removed);
    assert_eq!(item.rule, "policy-pcso-stop-search");
    let grounds = item
        .refused
        .iter()
        .find(|d| d.field == "grounds")
        .expect("the grounds are listed");
    assert_eq!(
        (grounds.old.clone(), grounds.new.clone()),
        (serde_json::Value::Null, serde_json::json!(GROUNDS))
    );
    match pcso.quarantined_record(search_id, item.id).expect("kept") {
        Record::StopSearch(s) => assert_eq!(s.grounds.as_deref(), Some(GROUNDS)),
        other => panic!("a stop-search, not a {}", other.kind()),
    }
    // Nothing is pushed again.
    let mut session = pcso.begin_sync().expect("session");
    assert!(session.next_request().expect("a pull").push.is_empty());
}

#[test]
fn a_refusal_answered_with_newer_server_changes_is_rebuilt_on_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut pc = device(dir.path(), "PC1", Role::Officer);
    let mut ps = device(dir.path(), "PS9", Role::Supervisor);
    let id = pc
        .create(RecordKind::NeighbourhoodIssue, None)
        .expect("create")
        .id();
    set(
        &mut pc,
        id,
        &[
            "asb_type=noise",
            "qualifier=nuisance",
            "location.description=Park gates, Mill Lane",
            "anonymous_reporter=true",
            "narrative=Amplified music after 23:00.",
            "reported_at=2026-11-22T20:00:00Z",
        ],
    );
    pc.submit(id).expect("submit");
    answer(&mut pc, |_| accepted(), Vec::new());
    let submitted = heads(&mut pc, id);

    // The supervisor approves; the officer's phone receives it.
    ps.import_document(&pc.export_document(id).expect("export"))
        .expect("import");
    ps.approve(id).expect("approve");
    let approval = changes_entry(&mut ps, id, RecordKind::NeighbourhoodIssue, &submitted);
    answer(&mut pc, |_| accepted(), vec![approval]);
    assert_eq!(pc.status(id).expect("status"), Status::Approved);
    let approved = heads(&mut pc, id);

    // Offline, the phone writes into the approved issue; meanwhile the supervisor re-opens it.
    forge(&mut pc, id, |r| {
        if let Record::Issue(i) = r {
            i.narrative = "Amplified music after 23:00, three nights running.".into();
            i.qualifier = Some("personal".into());
        }
    });
    ps.reopen(id, "the caller rang back with more")
        .expect("reopen");
    let reopened = changes_entry(&mut ps, id, RecordKind::NeighbourhoodIssue, &approved);

    // The push is refused (as of its dependencies the issue was approved), and the same answer
    // carries the re-opening: the edits are judged against the re-opened version, and kept.
    let tally = answer(
        &mut pc,
        |_| rejected("policy-approved-locked", "narrative"),
        vec![reopened],
    );
    assert_eq!(tally.quarantined, 1);
    let live = pc.get(id).expect("record");
    assert_eq!(
        narrative(&live),
        "Amplified music after 23:00, three nights running."
    );
    match &live {
        Record::Issue(i) => assert_eq!(i.qualifier.as_deref(), Some("personal")),
        other => panic!("an issue, not a {}", other.kind()),
    }
    assert_eq!(pc.status(id).expect("status"), Status::Draft, "re-opened");
    let items = pc.quarantine().expect("quarantine");
    assert_eq!(items.len(), 1);
    assert!(
        items[0].refused.is_empty(),
        "everything was re-applied: {:?}",
        items[0].refused
    );
    assert_eq!(pc.sync_status().expect("status").unsynced, 1);
    // The re-applied edit is the officer's own, after the re-opening.
    let history = pc.history(id).expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.action.as_deref() == Some("reapply") && h.field == "narrative"),
        "{history:#?}"
    );
}
