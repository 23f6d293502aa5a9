//! An enrolled device that crafts its own automerge changes, against a real server over real
//! HTTP: each finding of the hostile-device probe reproduced through the protocol, and refused
//! with nothing of it stored, while honest devices carry on.

use automerge::{Change, ChangeHash};
use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{Record, RecordKind, Role, Status, WorkflowAction};
use fieldbook_core::sync::wire::{Bytes, FeedEntry, PushOutcome, RecordPush};
use fieldbook_core::testing::hostile;
use fieldbook_core::workflow;

mod support;
use support::*;

/// A neighbourhood issue by `pc1`, with `pc2` attending, submitted by `pc1` and approved by the
/// team's supervisor, all accepted by the server. Returns the approved document and the heads
/// of each step (draft, submitted, approved).
async fn approved_issue(
    f: &Fixture,
    pc1: &Dev,
    pc2: &Dev,
    sgt: &Dev,
) -> (RecordDoc, [Vec<ChangeHash>; 3]) {
    let mut doc = new_doc(pc1, RecordKind::NeighbourhoodIssue, |r| {
        if let Record::Issue(i) = r {
            i.narrative = "Youths gathering by the shops most evenings.".into();
            i.attending_officers = vec![pc2.user.officer.clone()];
        }
    });
    let draft = doc.heads();
    change_as(&mut doc, pc1, 1, |r| {
        workflow::submit(r, &pc1.user, &[], t(1)).expect("submit")
    });
    let submitted = doc.heads();
    push_accepted(f, pc1, vec![push_of(&doc, &[])]).await;
    let mut approved = doc.fork_as(&sgt.actor);
    let heads = approved.heads_hex();
    change_as(&mut approved, sgt, 2, |r| {
        workflow::approve(r, &sgt.user, &[], heads, t(2)).expect("approve")
    });
    push_accepted(f, sgt, vec![push_of(&approved, &submitted)]).await;
    let done = approved.heads();
    (approved, [draft, submitted, done])
}

/// The one change `doc` gains from `edit` made as `dev`.
fn one_change(doc: &RecordDoc, dev: &Dev, edit: impl FnOnce(&mut Record)) -> Change {
    let mut fork = doc.fork_as(&dev.actor);
    let base = change_as(&mut fork, dev, 9, edit);
    let mut changes = fork.automerge().get_changes(&base);
    assert_eq!(changes.len(), 1);
    changes.remove(0)
}

fn push_changes(doc: &RecordDoc, changes: &[Change]) -> RecordPush {
    let record = doc.hydrate().expect("record");
    RecordPush {
        record: record.id(),
        kind: record.kind(),
        changes: changes
            .iter()
            .map(|c| Bytes(c.raw_bytes().to_vec()))
            .collect(),
    }
}

/// What a new device of `dev`'s officer (team A) receives of every record: each snapshot must
/// load.
async fn fresh_view(f: &Fixture, dev: &Dev) -> Vec<Record> {
    let phone = f
        .device(dev.user.officer.as_str(), dev.user.role, Some("A"))
        .await;
    let (entries, _) = f.pull_all(&phone, 0, 500).await;
    entries
        .into_iter()
        .filter_map(|e| match e {
            FeedEntry::Snapshot { document, .. } => Some(
                RecordDoc::load(&document.0, &dev.actor)
                    .expect("every snapshot the server sends loads")
                    .hydrate()
                    .expect("and is a record"),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_deleted_by_a_change_with_back_dated_dependencies_is_refused_and_kept() {
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let pc2 = f.device("PC2", Role::Officer, Some("A")).await;
    let sgt = f.device("SGT1", Role::Supervisor, Some("A")).await;
    let (approved, [_, submitted, _]) = approved_issue(&f, &pc1, &pc2, &sgt).await;

    // PC1 deletes the approval from the workflow list, then claims the change depends only on
    // the submission: in every view the change declares, the approval was never there.
    let deletion = one_change(&approved, &pc1, |r| {
        r.meta_mut().workflow.truncate(1);
    });
    let backdated = hostile::with_deps(&deletion, &submitted);
    let before = f.dump();
    let response = f
        .sync(
            &pc1,
            u64::MAX,
            10,
            vec![push_changes(&approved, &[backdated])],
        )
        .await;
    assert_eq!(rejected_rule(&response, 0), "history-outside");
    assert_eq!(f.dump(), before, "nothing of the refused push was stored");

    // Pushed honestly (depending on the approval), the deletion is refused by the policy.
    let response = f
        .sync(
            &pc1,
            u64::MAX,
            10,
            vec![push_changes(&approved, &[deletion])],
        )
        .await;
    assert_eq!(rejected_rule(&response, 0), "policy-workflow-rewritten");

    // Every device still sees the record approved, with the approval in its history.
    let seen = fresh_view(&f, &pc1).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(workflow::status(&seen[0].meta().workflow), Status::Approved);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_and_its_reason_cannot_be_deleted_by_back_dating() {
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let sgt = f.device("SGT1", Role::Supervisor, Some("A")).await;
    let mut doc = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    change_as(&mut doc, &pc1, 1, |r| {
        workflow::submit(r, &pc1.user, &[], t(1)).expect("submit")
    });
    let submitted = doc.heads();
    push_accepted(&f, &pc1, vec![push_of(&doc, &[])]).await;
    let mut returned = doc.fork_as(&sgt.actor);
    change_as(&mut returned, &sgt, 2, |r| {
        workflow::return_to_author(r, &sgt.user, "say where the youths were", t(2)).expect("return")
    });
    push_accepted(&f, &sgt, vec![push_of(&returned, &submitted)]).await;

    let deletion = one_change(&returned, &pc1, |r| {
        r.meta_mut().workflow.truncate(1);
    });
    let response = f
        .sync(
            &pc1,
            u64::MAX,
            10,
            vec![push_changes(
                &returned,
                &[hostile::with_deps(&deletion, &submitted)],
            )],
        )
        .await;
    assert_eq!(rejected_rule(&response, 0), "history-outside");
    let seen = fresh_view(&f, &pc1).await;
    let events = &seen[0].meta().workflow;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].action, WorkflowAction::Returned);
    assert_eq!(
        events[1].reason.as_deref(),
        Some("say where the youths were")
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_built_on_an_older_version_cannot_pass_the_submitted_or_approved_lock() {
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let pc2 = f.device("PC2", Role::Officer, Some("A")).await;
    let sgt = f.device("SGT1", Role::Supervisor, Some("A")).await;
    let (approved, [draft, _, _]) = approved_issue(&f, &pc1, &pc2, &sgt).await;

    // PC2 (attending) edits the narrative on the draft version: as its author saw it, an edit
    // of a draft by an attending officer; on the server's record, an edit of an approved one.
    let old = approved.fork_at(&draft, &pc2.actor).expect("the draft");
    let edit = one_change(&old, &pc2, |r| {
        if let Record::Issue(i) = r {
            i.narrative = "Nothing happened here.".into();
        }
    });
    assert_eq!(edit.deps(), draft.as_slice(), "built on the draft");
    let before = f.dump();
    let response = f
        .sync(&pc2, u64::MAX, 10, vec![push_changes(&approved, &[edit])])
        .await;
    assert_eq!(rejected_rule(&response, 0), "policy-approved-locked");
    assert_eq!(f.dump(), before);

    // The same against a record that is only submitted.
    let mut doc = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |r| {
        if let Record::Issue(i) = r {
            i.attending_officers = vec![pc2.user.officer.clone()];
        }
    });
    let draft = doc.heads();
    change_as(&mut doc, &pc1, 1, |r| {
        workflow::submit(r, &pc1.user, &[], t(1)).expect("submit")
    });
    push_accepted(&f, &pc1, vec![push_of(&doc, &[])]).await;
    let old = doc.fork_at(&draft, &pc2.actor).expect("the draft");
    let edit = one_change(&old, &pc2, |r| {
        if let Record::Issue(i) = r {
            i.narrative = "Changed while it waited for review.".into();
        }
    });
    let response = f
        .sync(&pc2, u64::MAX, 10, vec![push_changes(&doc, &[edit])])
        .await;
    assert_eq!(rejected_rule(&response, 0), "policy-submitted-locked");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_skipping_its_writers_sequence_is_refused_and_the_record_still_loads_everywhere() {
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let mut doc = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    push_accepted(&f, &pc1, vec![push_of(&doc, &[])]).await;
    let created = doc.heads();
    edit_narrative(&mut doc, &pc1, "A first edit.", 1);
    let first = doc.automerge().get_changes(&created);
    let after_first = doc.heads();
    edit_narrative(&mut doc, &pc1, "A second edit.", 2);
    let second = doc.automerge().get_changes(&after_first);
    // Seq 3 claiming to depend on the creation only: seq 2 is not in its history.
    let gap = hostile::with_deps(&second[0], &created);
    let before = f.dump();
    let response = f
        .sync(
            &pc1,
            u64::MAX,
            10,
            vec![push_changes(&doc, &[first[0].clone(), gap])],
        )
        .await;
    assert_eq!(rejected_rule(&response, 0), "history-gap");
    assert_eq!(f.dump(), before);
    // A new phone of the officer receives a record that loads.
    let seen = fresh_view(&f, &pc1).await;
    assert_eq!(seen.len(), 1);
    // The honest changes are still taken.
    push_accepted(&f, &pc1, vec![push_of(&doc, &created)]).await;
    let seen = fresh_view(&f, &pc1).await;
    let Record::Issue(issue) = &seen[0] else {
        panic!("an issue")
    };
    assert_eq!(issue.narrative, "A second edit.");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_with_more_operations_than_a_save_makes_or_an_over_long_narrative_is_refused() {
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let doc = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    push_accepted(&f, &pc1, vec![push_of(&doc, &[])]).await;
    let message = serde_json::json!({"by": "PC1", "role": "officer", "action": "edit"}).to_string();

    // One more character in one change than a save can make: cheap on the wire.
    let bomb = hostile::many_operations(
        Some(doc.automerge()),
        &pc1.actor,
        "narrative",
        fieldbook_core::limits::MAX_CHANGE_OPS + 1,
        &message,
    );
    assert!(bomb.raw_bytes().len() < 4 * 1024 * 1024);
    let before = f.dump();
    let compressed = RecordPush {
        changes: vec![Bytes(hostile::compressed(&bomb))],
        ..push_changes(&doc, &[])
    };
    let response = f
        .sync(
            &pc1,
            u64::MAX,
            10,
            vec![push_changes(&doc, &[bomb]), compressed],
        )
        .await;
    assert_eq!(rejected_rule(&response, 0), "too-many-operations");
    assert_eq!(
        rejected_rule(&response, 1),
        "too-many-operations",
        "compressed too"
    );
    assert_eq!(f.dump(), before);

    // Within the operation limit but over the narrative's 64 KB: refused as the device would.
    let mut long = doc.fork_as(&pc1.actor);
    let base = long.heads();
    let mut record = long.hydrate().expect("record");
    if let Record::Issue(i) = &mut record {
        i.narrative = "x".repeat(100_000);
    }
    long.update(&record, &author(&pc1), "edit", t(3))
        .expect("the document itself takes it");
    let response = f
        .sync(&pc1, u64::MAX, 10, vec![push_of(&long, &base)])
        .await;
    assert_eq!(rejected_rule(&response, 0), "over-limits");
    match &response.results[0].outcome {
        PushOutcome::Rejected { field, .. } => assert_eq!(field.as_deref(), Some("narrative")),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.dump(), before);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_numbered_far_ahead_is_refused_without_failing_the_rest_of_the_request() {
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    // A new record whose first change starts its counters at 2^31 (the probe's panic).
    let odd = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    let first = odd.automerge().get_changes(&[]);
    let ahead = hostile::rewrite(&first[0], |c| {
        c.start_op = std::num::NonZeroU64::new(1 << 31).expect("non-zero")
    });
    let honest = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    let response = f
        .sync(
            &pc1,
            u64::MAX,
            10,
            vec![push_changes(&odd, &[ahead]), push_of(&honest, &[])],
        )
        .await;
    assert_eq!(rejected_rule(&response, 0), "history-counter");
    assert!(
        matches!(response.results[1].outcome, PushOutcome::Accepted { .. }),
        "{:?}",
        response.results[1]
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_heavy_push_from_one_device_does_not_hold_up_another_devices_push() {
    let f = std::sync::Arc::new(fixture(|_| {}).await);
    let heavy = f.device("PC1", Role::Officer, Some("A")).await;
    let light = f.device("PC2", Role::Officer, Some("A")).await;
    // Five new records, each with a narrative near the limit: seconds of checking.
    let pushes: Vec<RecordPush> = (0..5)
        .map(|n| {
            let doc = new_doc(&heavy, RecordKind::NeighbourhoodIssue, |r| {
                if let Record::Issue(i) = r {
                    i.narrative = format!("{n} {}", "a long account ".repeat(4_000));
                }
            });
            push_of(&doc, &[])
        })
        .collect();
    let heavy_push = {
        let f = std::sync::Arc::clone(&f);
        tokio::spawn(async move { f.sync(&heavy, u64::MAX, 10, pushes).await })
    };
    // Give the heavy request time to reach the server and start being checked.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let doc = new_doc(&light, RecordKind::NeighbourhoodIssue, |_| {});
    let response = f.sync(&light, u64::MAX, 10, vec![push_of(&doc, &[])]).await;
    assert!(matches!(
        response.results[0].outcome,
        PushOutcome::Accepted { .. }
    ));
    assert!(
        !heavy_push.is_finished(),
        "the light push was answered only after the heavy one: it waited for its checks"
    );
    let heavy_response = heavy_push.await.expect("the heavy push");
    assert!(
        heavy_response
            .results
            .iter()
            .all(|r| matches!(r.outcome, PushOutcome::Accepted { .. }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_requests_at_once_from_one_device_are_each_answered_in_turn() {
    let f = std::sync::Arc::new(fixture(|_| {}).await);
    let pc1 = std::sync::Arc::new(f.device("PC1", Role::Officer, Some("A")).await);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (f, pc1) = (std::sync::Arc::clone(&f), std::sync::Arc::clone(&pc1));
        tasks.push(tokio::spawn(async move {
            let doc = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |r| {
                if let Record::Issue(i) = r {
                    i.narrative = format!("report {n}");
                }
            });
            f.sync(&pc1, u64::MAX, 10, vec![push_of(&doc, &[])]).await
        }));
    }
    for task in tasks {
        let response = task.await.expect("a request");
        assert!(matches!(
            response.results[0].outcome,
            PushOutcome::Accepted { new_changes: 1, .. }
        ));
    }
    let (entries, _) = f
        .pull_all(&f.device("PC1", Role::Officer, Some("A")).await, 0, 500)
        .await;
    assert_eq!(
        entries.len(),
        8,
        "every record reached the officer's other phone"
    );
}
