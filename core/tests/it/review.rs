//! Supervision on real stores: approvals pinned to versions, the review queue, records returned
//! to their author, and two supervisors acting at once. Devices exchange whole documents
//! (export/import), as sync does.

use fieldbook_core::clock::FixedClock;
use fieldbook_core::device::ApprovalState;
use fieldbook_core::domain::{RecordId, RecordKind, Role, Status};
use fieldbook_core::testing::devices::{clock, device_in, send, set};
use fieldbook_core::workflow;
use fieldbook_core::{Device, Error};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

fn device(dir: &Path, officer: &str, role: Role, clock: &Arc<FixedClock>) -> Device {
    device_in(dir, officer, role, clock.clone())
}

/// A neighbourhood issue that passes every rule, reported at `reported_at`, submitted.
fn submitted_issue(officer: &mut Device, reported_at: &str) -> RecordId {
    let id = officer
        .create(RecordKind::NeighbourhoodIssue, None)
        .expect("create")
        .id();
    set(
        officer,
        id,
        &[
            "asb_type=noise",
            "qualifier=nuisance",
            "location.description=Park gates, Mill Lane",
            "anonymous_reporter=true",
            "narrative=Amplified music after 23:00 three nights running.",
            &format!("reported_at={reported_at}"),
        ],
    );
    officer.submit(id).expect("submit");
    id
}

struct Team {
    _dir: tempfile::TempDir,
    clock: Arc<FixedClock>,
    officer: Device,
    sergeant: Device,
}

fn team() -> Team {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = clock();
    let officer = device(dir.path(), "PC1", Role::Officer, &clock);
    let sergeant = device(dir.path(), "PS9", Role::Supervisor, &clock);
    Team {
        _dir: dir,
        clock,
        officer,
        sergeant,
    }
}

#[test]
fn an_approved_record_edited_after_reopening_is_back_in_the_queue_with_the_diff_and_is_approved_again()
 {
    let mut t = team();
    let id = submitted_issue(&mut t.officer, "2026-11-22T20:00:00Z");
    send(&mut t.officer, &mut t.sergeant, id);
    t.sergeant.approve(id).expect("approve");
    assert!(matches!(
        t.sergeant.approval_state(id).expect("state"),
        ApprovalState::Approved { .. }
    ));
    assert!(t.sergeant.review_queue().expect("queue").is_empty());

    send(&mut t.sergeant, &mut t.officer, id);
    assert!(
        t.officer
            .set_fields(id, &["narrative=Edited quietly.".into()])
            .is_err(),
        "an approved record is not edited without re-opening it"
    );
    t.officer
        .reopen(id, "the caller rang back with the times")
        .expect("reopen");
    set(
        &mut t.officer,
        id,
        &["narrative=Amplified music after 23:00 four nights running, until 02:00."],
    );
    t.officer.submit(id).expect("resubmit");
    send(&mut t.officer, &mut t.sergeant, id);

    let queue = t.sergeant.review_queue().expect("queue");
    assert_eq!(queue.len(), 1);
    let item = &queue[0];
    assert_eq!(item.id, id);
    assert_eq!(item.status, Status::Submitted);
    assert!(item.can_approve, "{:?}", item.blocked_because);
    let ApprovalState::ChangedSinceApproval {
        by, changed_fields, ..
    } = &item.approval
    else {
        panic!("changed since approval expected, got {:?}", item.approval)
    };
    assert_eq!(by.as_str(), "PS9");
    assert_eq!(changed_fields.len(), 1, "{changed_fields:?}");
    assert_eq!(changed_fields[0].field, "narrative");
    assert_eq!(
        changed_fields[0].old,
        json!("Amplified music after 23:00 three nights running.")
    );
    assert_eq!(
        changed_fields[0].new,
        json!("Amplified music after 23:00 four nights running, until 02:00.")
    );

    t.clock.advance(time::Duration::minutes(5));
    t.sergeant.approve(id).expect("approve again");
    assert!(t.sergeant.review_queue().expect("queue").is_empty());
    let ApprovalState::Approved { heads, .. } = t.sergeant.approval_state(id).expect("state")
    else {
        panic!("approved expected")
    };
    let record = t.sergeant.get(id).expect("get");
    let approvals: Vec<_> = record
        .meta()
        .workflow
        .iter()
        .filter(|e| e.action == fieldbook_core::domain::WorkflowAction::Approved)
        .collect();
    assert_eq!(approvals.len(), 2, "both approvals stay in history");
    assert_ne!(approvals[0].heads, approvals[1].heads);
    assert_eq!(
        approvals[1].heads, heads,
        "the latest approval is the one that stands"
    );
}

#[test]
fn a_returned_record_reaches_its_author_with_the_reason_and_is_approved_once_resubmitted() {
    let mut t = team();
    let id = submitted_issue(&mut t.officer, "2026-11-22T20:00:00Z");
    send(&mut t.officer, &mut t.sergeant, id);
    assert!(
        t.sergeant.return_to_author(id, "too short").is_err(),
        "a return needs a real reason"
    );
    t.sergeant
        .return_to_author(id, "Say which flats the music came from.")
        .expect("return");
    assert!(t.sergeant.review_queue().expect("queue").is_empty());
    assert!(
        t.officer.returned_to_me().expect("returned").is_empty(),
        "nothing reaches the author before the exchange"
    );

    send(&mut t.sergeant, &mut t.officer, id);
    let returned = t.officer.returned_to_me().expect("returned");
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0].id, id);
    assert_eq!(returned[0].by.as_str(), "PS9");
    assert_eq!(returned[0].reason, "Say which flats the music came from.");
    assert!(
        t.sergeant.returned_to_me().expect("returned").is_empty(),
        "only its author's task"
    );

    set(
        &mut t.officer,
        id,
        &["narrative+= Music from flats 3 and 4, Mill Court."],
    );
    t.officer.submit(id).expect("resubmit");
    assert!(t.officer.returned_to_me().expect("returned").is_empty());
    send(&mut t.officer, &mut t.sergeant, id);
    let queue = t.sergeant.review_queue().expect("queue");
    assert_eq!(queue.len(), 1);
    assert_eq!(
        queue[0].approval,
        ApprovalState::NotApproved,
        "never approved: no diff"
    );
    t.sergeant.approve(id).expect("approve");
    send(&mut t.sergeant, &mut t.officer, id);
    assert_eq!(t.officer.status(id).expect("status"), Status::Approved);
}

#[test]
fn two_supervisors_acting_at_once_both_stay_in_history_and_both_devices_agree_on_the_status() {
    let mut t = team();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut other = device(dir.path(), "PS7", Role::Supervisor, &t.clock);
    let id = submitted_issue(&mut t.officer, "2026-11-22T20:00:00Z");
    send(&mut t.officer, &mut t.sergeant, id);
    send(&mut t.officer, &mut other, id);

    // Neither has seen the other's action.
    t.sergeant.approve(id).expect("approve");
    other
        .return_to_author(id, "Add the reporter's callback number.")
        .expect("return");
    send(&mut t.sergeant, &mut other, id);
    send(&mut other, &mut t.sergeant, id);

    let a = t.sergeant.get(id).expect("get");
    let b = other.get(id).expect("get");
    assert_eq!(a, b, "both devices hold the same record");
    let actions: Vec<_> = a.meta().workflow.iter().map(|e| e.action).collect();
    use fieldbook_core::domain::WorkflowAction::{Approved, Returned, Submitted};
    assert_eq!(actions.len(), 3, "{actions:?}");
    assert_eq!(actions[0], Submitted);
    assert!(actions.contains(&Approved) && actions.contains(&Returned));
    let status = workflow::status(&a.meta().workflow);
    assert_eq!(t.sergeant.status(id).expect("status"), status);
    assert_eq!(other.status(id).expect("status"), status);
    assert_eq!(
        status,
        match actions[2] {
            Approved => Status::Approved,
            _ => Status::Returned,
        },
        "the event last in list order decides"
    );
}

#[test]
fn the_queue_lists_the_oldest_report_first_with_its_findings_and_waiting_time() {
    let mut t = team();
    let newer = submitted_issue(&mut t.officer, "2026-11-22T20:30:00Z");
    let oldest = submitted_issue(&mut t.officer, "2026-11-22T18:00:00Z");
    let middle = submitted_issue(&mut t.officer, "2026-11-22T19:00:00Z");
    let draft = t
        .officer
        .create(RecordKind::NeighbourhoodIssue, None)
        .expect("create")
        .id();
    for id in [newer, oldest, middle, draft] {
        send(&mut t.officer, &mut t.sergeant, id);
    }
    let queue = t.sergeant.review_queue().expect("queue");
    let ids: Vec<RecordId> = queue.iter().map(|q| q.id).collect();
    assert_eq!(ids, vec![oldest, middle, newer], "drafts are not queued");
    assert_eq!(queue[0].waiting_ms, 3 * 60 * 60 * 1000);
    assert!(queue.iter().all(|q| q.author.as_str() == "PC1"));
    assert!(
        queue
            .iter()
            .all(|q| q.kind == RecordKind::NeighbourhoodIssue)
    );
}

#[test]
fn only_a_supervisor_sees_the_review_queue() {
    let mut t = team();
    assert!(matches!(t.officer.review_queue(), Err(Error::Forbidden(_))));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut pcso = device(dir.path(), "PCSO4", Role::Pcso, &t.clock);
    assert!(matches!(pcso.review_queue(), Err(Error::Forbidden(_))));
    assert!(t.sergeant.review_queue().expect("queue").is_empty());
}

#[test]
fn a_supervisors_own_record_is_queued_but_cannot_be_approved_by_them() {
    let mut t = team();
    let id = submitted_issue(&mut t.sergeant, "2026-11-22T20:00:00Z");
    let queue = t.sergeant.review_queue().expect("queue");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].id, id);
    assert!(!queue[0].can_approve);
    assert!(queue[0].blocked_because.is_some());
}
