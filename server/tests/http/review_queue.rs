//! `GET /v1/review-queue`: the team's waiting records, oldest first, with findings and the diff
//! since approval.

use super::*;

/// Pushes each document's changes since the heads given; asserts all are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_queue_lists_the_teams_waiting_records_oldest_first_with_findings_and_the_diff_since_approval()
 {
    use fieldbook_core::clock::FixedClock;
    use fieldbook_core::domain::{CalendarDate, Status};
    use fieldbook_core::review::ApprovalState;
    let now = t(10_000);
    let f = fixture(|c| c.clock = std::sync::Arc::new(FixedClock::new(now))).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let pc2 = f.device("PC2", Role::Officer, Some("B")).await;
    let pcso = f.device("PCSO9", Role::Pcso, Some("A")).await;
    let sgt_a = f.device("SGT1", Role::Supervisor, Some("A")).await;
    let sgt_b = f.device("SGT2", Role::Supervisor, Some("B")).await;
    let issue = |dev: &Dev, reported: i64, narrative: &str| {
        let narrative = narrative.to_owned();
        new_doc(dev, RecordKind::NeighbourhoodIssue, move |r| {
            if let Record::Issue(i) = r {
                i.reported_at = Some(t(reported));
                i.narrative = narrative;
            }
        })
    };
    let submit = |doc: &mut RecordDoc, dev: &Dev, at: i64| {
        change_as(doc, dev, at, |r| {
            workflow::submit(r, &dev.user, &[], t(at)).expect("submit")
        })
    };
    let approve = |doc: &RecordDoc, at: i64| {
        let mut approved = doc.fork_as(&sgt_a.actor);
        let heads = approved.heads_hex();
        let base = change_as(&mut approved, &sgt_a, at, |r| {
            workflow::approve(r, &sgt_a.user, &[], heads, t(at)).expect("approve")
        });
        (approved, base)
    };

    // Submitted, never approved; reported at t(5_000).
    let mut fresh = issue(&pc1, 5_000, "Music from the flats.");
    submit(&mut fresh, &pc1, 1);
    // Approved and unchanged: not waiting.
    let mut settled = issue(&pc1, 2_000, "Graffiti on the underpass.");
    submit(&mut settled, &pc1, 1);
    // Approved, re-opened, edited and submitted again: waiting, with the diff; reported first.
    let mut edited = issue(&pc1, 1_000, "Bins set alight.");
    submit(&mut edited, &pc1, 1);
    // A draft, and another team's submission: never in team A's queue.
    let draft = issue(&pc1, 500, "Dog fouling.");
    let mut other_team = issue(&pc2, 100, "Cars racing.");
    submit(&mut other_team, &pc2, 1);
    // A needs assessment of a domestic-abuse crime whose victim is 13: its findings need the
    // crime and the person, which the server must gather.
    let victim = new_doc(&pc1, RecordKind::Person, |r| {
        if let Record::Person(p) = r {
            let born: CalendarDate =
                serde_json::from_value(serde_json::json!("2013-05-01")).expect("a date");
            p.date_of_birth = Some(born);
        }
    });
    let crime = new_doc(&pc1, RecordKind::CrimeReport, |r| {
        if let Record::Crime(c) = r {
            c.flags.domestic_abuse = true;
            c.victims.push(id_of(&victim));
            c.reported_at = Some(t(3_000));
        }
    });
    let mut vna = new_doc(&pc1, RecordKind::VictimNeedsAssessment, |r| {
        if let Record::Vna(v) = r {
            v.crime_id = Some(id_of(&crime));
            v.victim_id = Some(id_of(&victim));
            v.assessed_at = Some(t(3_000));
        }
    });
    submit(&mut vna, &pc1, 1);
    push_accepted(
        &f,
        &pc1,
        [&fresh, &settled, &edited, &draft, &victim, &crime, &vna]
            .into_iter()
            .map(|d| push_of(d, &[]))
            .collect(),
    )
    .await;
    push_accepted(&f, &pc2, vec![push_of(&other_team, &[])]).await;
    let (settled_ok, base) = approve(&settled, 2);
    push_accepted(&f, &sgt_a, vec![push_of(&settled_ok, &base)]).await;
    let (edited_ok, base) = approve(&edited, 2);
    push_accepted(&f, &sgt_a, vec![push_of(&edited_ok, &base)]).await;
    let mut reopened = edited_ok.fork_as(&pc1.actor);
    let base = change_as(&mut reopened, &pc1, 3, |r| {
        workflow::reopen(r, &pc1.user, "the caller rang back", t(3)).expect("reopen")
    });
    change_as(&mut reopened, &pc1, 4, |r| {
        if let Record::Issue(i) = r {
            i.narrative = "Bins set alight, two nights running.".into();
        }
    });
    submit(&mut reopened, &pc1, 5);
    push_accepted(&f, &pc1, vec![push_of(&reopened, &base)]).await;

    // Team A's supervisor: the edited issue (reported first), the assessment, the fresh issue.
    let queue = f.review_queue(&sgt_a).await;
    assert_eq!(queue.team.as_deref(), Some("A"));
    assert_eq!(queue.at, now);
    let ids: Vec<RecordId> = queue.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![id_of(&edited), id_of(&vna), id_of(&fresh)]);
    let [first, assessment, last] = &queue.items[..] else {
        panic!("three items")
    };
    assert_eq!(first.status, Status::Submitted);
    match &first.approval {
        ApprovalState::ChangedSinceApproval {
            by, changed_fields, ..
        } => {
            assert_eq!(by, &sgt_a.user.officer);
            let diff: Vec<(&str, &serde_json::Value, &serde_json::Value)> = changed_fields
                .iter()
                .map(|d| (d.field.as_str(), &d.old, &d.new))
                .collect();
            assert_eq!(
                diff,
                vec![(
                    "narrative",
                    &serde_json::json!("Bins set alight."),
                    &serde_json::json!("Bins set alight, two nights running.")
                )]
            );
        }
        other => panic!("expected changed since approval, got {other:?}"),
    }
    assert_eq!(last.approval, ApprovalState::NotApproved);
    assert_eq!(
        (last.reported_at, last.waiting_ms),
        (t(5_000).millis(), 5_000)
    );
    assert_eq!(last.submitted_at, Some(t(1)));
    assert!(
        !last.findings.is_empty(),
        "an incomplete issue has findings"
    );
    assert!(!last.can_approve && last.blocked_because.is_some());
    let implied = assessment
        .findings
        .iter()
        .filter(|f| f.rule == "vna-enhanced-rights-implied")
        .count();
    assert_eq!(
        implied, 2,
        "domestic abuse (from the crime) and under 18 (from the person): {:#?}",
        assessment.findings
    );
    assert!(
        !assessment
            .findings
            .iter()
            .any(|f| f.rule == "vna-crime-available"),
        "the server found the crime"
    );

    // The same queue as CBOR; team B's supervisor sees only team B's submission.
    let (status, body) = f
        .get("/v1/review-queue", Some(&sgt_a.token), wire::CONTENT_TYPE)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        wire::decode::<wire::ReviewQueue>(&body).expect("CBOR"),
        queue
    );
    let queue_b = f.review_queue(&sgt_b).await;
    let ids_b: Vec<RecordId> = queue_b.items.iter().map(|i| i.id).collect();
    assert_eq!(ids_b, vec![id_of(&other_team)]);

    // Officers and PCSOs are refused with a stable code; no token is 401.
    for dev in [&pc1, &pcso] {
        let (status, body) = f
            .get("/v1/review-queue", Some(&dev.token), "application/json")
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "supervisor-only".to_owned())
        );
    }
    let (status, body) = f.get("/v1/review-queue", None, "application/json").await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "unauthenticated".to_owned())
    );
    let (status, body) = f
        .get(
            "/v1/review-queue?format=xml",
            Some(&sgt_a.token),
            "application/json",
        )
        .await;
    assert_eq!((status, error_code(&body)), (400, "malformed".to_owned()));
    f.server.shutdown().await;
}
