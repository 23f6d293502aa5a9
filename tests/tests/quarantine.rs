//! Quarantine on the device after a refusal, end to end: a real `fieldbook-server` on
//! 127.0.0.1:0, devices with real encrypted SQLite stores enrolled through the protocol. The
//! officer's text is recoverable, the live record is the server's version plus what the policy
//! allows, nothing refused is pushed again, and no other device ever sees the refused data.
//!
//! The refused changes are written as an app whose checks drifted from the server's would write
//! them: with the device's own enrolled actor and user, bypassing `Device`'s workflow checks.

use automerge::ActorId;
use fieldbook_core::doc::{ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{
    Record, RecordId, RecordKind, Role, Status, WorkflowAction, WorkflowEvent,
};
use fieldbook_core::sync::wire::RefusalCode;
use fieldbook_core::sync::{NoProgress, SyncReport};
use fieldbook_core::{Device, Error};
use fieldbook_scenarios::fleet::{Fleet, Member, doc_heads, heads_of, sync_until_quiet};

fn set(member: &mut Member, id: RecordId, fields: &[&str]) {
    let owned: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
    member
        .device
        .set_fields(id, &owned)
        .unwrap_or_else(|e| panic!("set {fields:?} on {id}: {e}"));
}

async fn sync(member: &mut Member) -> SyncReport {
    member
        .device
        .sync(&NoProgress)
        .await
        .unwrap_or_else(|e| panic!("sync of device {}: {e}", member.device_id))
}

fn actor(device: &Device) -> ActorId {
    ActorId::from(hex::decode(device.actor_hex()).expect("hex"))
}

fn author(device: &Device) -> ChangeAuthor {
    ChangeAuthor {
        by: device.user().officer.clone(),
        role: device.user().role,
    }
}

/// Writes `edit` into the device's record as one change by its own actor and user, bypassing
/// the device's workflow checks.
fn forge(device: &mut Device, id: RecordId, edit: impl FnOnce(&mut Record)) {
    let bytes = device.export_document(id).expect("export");
    let mut doc = RecordDoc::load(&bytes, &actor(device)).expect("loads");
    let mut record = doc.hydrate().expect("record");
    edit(&mut record);
    doc.update(&record, &author(device), "edit", device.now())
        .expect("update");
    device
        .import_document(&doc.automerge().save())
        .expect("import");
}

fn issue(record: &Record) -> &fieldbook_core::domain::NeighbourhoodIssue {
    match record {
        Record::Issue(i) => i,
        other => panic!("an issue, not a {}", other.kind()),
    }
}

/// A neighbourhood issue by `member` that passes the rules.
fn valid_issue(member: &mut Member, narrative: &str) -> RecordId {
    let id = member
        .device
        .create(RecordKind::NeighbourhoodIssue, None)
        .expect("create issue")
        .id();
    let now = member.device.now().to_rfc3339();
    set(
        member,
        id,
        &[
            "asb_type=noise",
            "qualifier=nuisance",
            "location.description=Park gates, Mill Lane",
            "anonymous_reporter=true",
            &format!("narrative={narrative}"),
            &format!("reported_at={now}"),
        ],
    );
    id
}

/// Asserts the device's live record is the server's version: same heads, same record.
fn assert_live_is_servers(fleet: &Fleet, member: &mut Member, id: RecordId) {
    let server = fleet.server_document(id).expect("the server holds it");
    assert_eq!(heads_of(&mut member.device, id), doc_heads(&server));
    assert_eq!(
        member.device.get(id).expect("record").to_json(),
        server.hydrate().expect("server record").to_json()
    );
}

/// Every change the server stores for `id`, as JSON of the record at its heads, joined: what
/// any device could ever receive of it.
fn server_history_text(fleet: &Fleet, id: RecordId) -> String {
    let doc = fleet.server_document(id).expect("the server holds it");
    doc.history()
        .iter()
        .map(|h| format!("{:?} {:?}", h.old, h.new))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_after_approval_without_reopening_is_quarantined_and_the_live_record_is_the_servers()
 {
    let mut fleet = Fleet::start().await;
    let mut phone = fleet.enrol("PC1", Role::Officer, Some("A")).await;
    let mut tablet = fleet.enrol("PC1", Role::Officer, Some("A")).await;
    let mut sergeant = fleet.enrol("PS1", Role::Supervisor, Some("A")).await;

    let id = valid_issue(&mut phone, "Amplified music after 23:00.");
    phone.device.submit(id).expect("submit");
    sync_until_quiet(&mut [&mut phone, &mut sergeant]).await;
    sergeant.device.approve(id).expect("approve");
    sync_until_quiet(&mut [&mut sergeant, &mut phone, &mut tablet]).await;
    assert_eq!(phone.device.status(id).expect("status"), Status::Approved);
    let approved = phone.device.get(id).expect("record");

    // One save on the phone, after approval and without re-opening: a field and the narrative.
    const TYPED: &str = "Amplified music after 23:00; the caller now says it was a party of 40.";
    forge(&mut phone.device, id, |r| {
        if let Record::Issue(i) = r {
            i.qualifier = Some("personal".into());
            i.narrative = TYPED.into();
        }
    });
    let report = sync(&mut phone).await;
    assert_eq!(
        report.rejected,
        vec![(id, RefusalCode::parse("policy-approved-locked"))]
    );
    assert_eq!(report.quarantined, 1);

    // The live record is the server's, still approved; nothing is waiting to be pushed.
    assert_live_is_servers(&fleet, &mut phone, id);
    assert_eq!(phone.device.get(id).expect("record"), approved);
    let status = phone.device.sync_status().expect("status");
    assert_eq!((status.unsynced, status.quarantined), (0, 1));
    assert!(status.attention.is_empty());

    // The officer's text is recoverable, field by field and whole.
    let items = phone.device.quarantine().expect("quarantine");
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        (item.record, item.rule.as_str()),
        (id, "policy-approved-locked")
    );
    let refused: Vec<(&str, serde_json::Value, serde_json::Value)> = item
        .refused
        .iter()
        .map(|d| (d.field.as_str(), d.old.clone(), d.new.clone()))
        .collect();
    assert_eq!(
        refused,
        vec![
            (
                "narrative",
                serde_json::json!("Amplified music after 23:00."),
                serde_json::json!(TYPED)
            ),
            (
                "qualifier",
                serde_json::json!("nuisance"),
                serde_json::json!("personal")
            ),
        ]
    );
    let kept = phone
        .device
        .quarantined_record(id, item.id)
        .expect("kept record");
    assert_eq!(issue(&kept).narrative, TYPED);

    // The next sync pushes nothing; the other devices and the server never see the text.
    let again = sync(&mut phone).await;
    assert_eq!((again.pushed_changes, again.rejected.len()), (0, 0));
    sync_until_quiet(&mut [&mut tablet, &mut sergeant, &mut phone]).await;
    assert_eq!(tablet.device.get(id).expect("record"), approved);
    assert!(!server_history_text(&fleet, id).contains("party of 40"));
    assert_eq!(phone.device.quarantine().expect("quarantine").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allowed_narrative_of_a_refused_save_is_reapplied_and_the_refused_step_kept() {
    let mut fleet = Fleet::start().await;
    let mut phone = fleet.enrol("PC1", Role::Officer, Some("A")).await;
    let mut tablet = fleet.enrol("PC1", Role::Officer, Some("A")).await;

    let id = valid_issue(&mut phone, "Bins set alight.");
    sync_until_quiet(&mut [&mut phone, &mut tablet]).await;
    let server_version = phone.device.get(id).expect("record");

    // One save: more narrative, and an approval an officer may not give (an old app's button).
    const TYPED: &str = "Bins set alight behind the shops; CCTV on the corner.";
    let officer = phone.device.user().officer.clone();
    let at = phone.device.now();
    forge(&mut phone.device, id, |r| {
        if let Record::Issue(i) = r {
            i.narrative = TYPED.into();
        }
        r.meta_mut().workflow.push(WorkflowEvent {
            action: WorkflowAction::Approved,
            by: officer,
            role: Role::Officer,
            at,
            reason: None,
            heads: Vec::new(),
        });
    });
    let report = sync(&mut phone).await;
    assert_eq!(
        report.rejected,
        vec![(id, RefusalCode::parse("policy-supervisor-only"))]
    );
    assert_eq!(report.quarantined, 1);

    // Live: the server's version plus the narrative, as one re-applied change, still a draft.
    let live = phone.device.get(id).expect("record");
    let mut expected = server_version.clone();
    if let Record::Issue(i) = &mut expected {
        i.narrative = TYPED.into();
    }
    assert_eq!(live, expected);
    assert_eq!(phone.device.status(id).expect("status"), Status::Draft);
    let items = phone.device.quarantine().expect("quarantine");
    let fields: Vec<&str> = items[0].refused.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, vec!["meta.workflow"], "only the approval stays out");
    let kept = phone
        .device
        .quarantined_record(id, items[0].id)
        .expect("kept");
    assert_eq!(
        kept.meta().workflow.last().map(|e| e.action),
        Some(WorkflowAction::Approved),
        "the refused step is recoverable"
    );

    // The next sync pushes the re-applied narrative alone, and it is accepted.
    let next = sync(&mut phone).await;
    assert_eq!((next.pushed_changes, next.accepted), (1, 1));
    assert!(next.rejected.is_empty());
    assert_live_is_servers(&fleet, &mut phone, id);
    let quiet = sync(&mut phone).await;
    assert_eq!(quiet.pushed_changes, 0);

    // The tablet gets the narrative and never the approval.
    sync(&mut tablet).await;
    let on_tablet = tablet.device.get(id).expect("record");
    assert_eq!(issue(&on_tablet).narrative, TYPED);
    assert_eq!(tablet.device.status(id).expect("status"), Status::Draft);
    assert!(
        on_tablet
            .meta()
            .workflow
            .iter()
            .all(|e| e.action != WorkflowAction::Approved)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_search_a_pcso_recorded_never_reaches_the_server_and_stays_readable_on_the_device() {
    let mut fleet = Fleet::start().await;
    let mut pcso = fleet.enrol("PCSO7", Role::Pcso, Some("A")).await;
    let mut colleague = fleet.enrol("PCSO8", Role::Pcso, Some("A")).await;
    let mut sergeant = fleet.enrol("PS1", Role::Supervisor, Some("A")).await;

    // The device refuses it itself...
    assert!(matches!(
        pcso.device.create(RecordKind::StopSearch, None),
        Err(Error::Forbidden(_))
    ));
    // ...but an older app recorded one anyway, with an issue beside it.
    let mut search = Record::new(
        RecordKind::StopSearch,
        RecordId::generate(),
        pcso.device.user().officer.clone(),
        pcso.device.now(),
    );
    const GROUNDS: &str = "Saw him pass a small bag to the passenger and hide it in his sock";
    if let Record::StopSearch(s) = &mut search {
        s.grounds = Some(GROUNDS.into());
    }
    let search_id = search.id();
    let doc = RecordDoc::create(
        &search,
        &actor(&pcso.device),
        &author(&pcso.device),
        pcso.device.now(),
    )
    .expect("document");
    pcso.device
        .import_document(&doc.automerge().save())
        .expect("import");
    let issue_id = valid_issue(&mut pcso, "Cars racing on the estate road.");

    let report = sync(&mut pcso).await;
    assert_eq!(
        report.rejected,
        vec![(search_id, RefusalCode::parse("policy-pcso-stop-search"))]
    );
    assert_eq!((report.accepted, report.quarantined), (1, 1));

    // Gone from the live records and the outbox; whole in the quarantine.
    assert!(matches!(
        pcso.device.get(search_id),
        Err(Error::NotFound(_))
    ));
    let status = pcso.device.sync_status().expect("status");
    assert_eq!((status.unsynced, status.quarantined), (0, 1));
    let items = pcso.device.quarantine().expect("quarantine");
    assert!(items[0].removed);
    match pcso
        .device
        .quarantined_record(search_id, items[0].id)
        .expect("kept")
    {
        Record::StopSearch(s) => assert_eq!(s.grounds.as_deref(), Some(GROUNDS)),
        other => panic!("a stop-search, not a {}", other.kind()),
    }

    // Nothing refused is pushed again; the server and the team never hold the search.
    let again = sync(&mut pcso).await;
    assert_eq!(again.pushed_changes, 0);
    sync_until_quiet(&mut [&mut pcso, &mut colleague, &mut sergeant]).await;
    assert!(fleet.server_document(search_id).is_none());
    assert!(fleet.server_document(issue_id).is_some());
    for m in [&colleague, &sergeant] {
        assert!(matches!(
            m.device.projection(search_id),
            Err(Error::NotFound(_))
        ));
    }

    // Dismissed once the PCSO has passed it on.
    pcso.device
        .dismiss_quarantine(items[0].id)
        .expect("dismiss");
    assert_eq!(pcso.device.sync_status().expect("status").quarantined, 0);
}
