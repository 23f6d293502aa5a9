//! What the feed serves each device: its officer's records, the team's for PCSOs and supervisors,
//! evictions when a record leaves scope, and writes refused outside it.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_does_not_receive_another_officers_records_unless_attending() {
    let f = fixture(|_| {}).await;
    let a = f.device("PC1", Role::Officer, Some("north")).await;
    let b = f.device("PC2", Role::Officer, Some("north")).await;
    let c = f.device("PC3", Role::Officer, Some("north")).await;
    let victim = new_doc(&a, RecordKind::Person, |_| {});
    let victim_id = id_of(&victim);
    let attended = new_doc(&a, RecordKind::CrimeReport, |r| {
        if let Record::Crime(c) = r {
            c.attending_officers
                .push(OfficerId::new("PC3").expect("id"));
            c.victims.push(victim_id);
        }
    });
    f.sync(
        &a,
        0,
        10,
        vec![push_of(&victim, &[]), push_of(&attended, &[])],
    )
    .await;
    let (entries, _) = f.pull_all(&b, 0, 10).await;
    assert!(
        entries.is_empty(),
        "officer B holds none of A's records: {:?}",
        records_in(&entries)
    );
    let (entries, _) = f.pull_all(&c, 0, 10).await;
    let got: HashSet<(String, RecordId)> = records_in(&entries).into_iter().collect();
    let want: HashSet<(String, RecordId)> = [
        ("snapshot".to_owned(), id_of(&attended)),
        ("snapshot".to_owned(), victim_id),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        got, want,
        "an attending officer gets the crime and the person it links"
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pcso_receives_the_teams_neighbourhood_issues_but_no_crime_reports() {
    let f = fixture(|_| {}).await;
    let writer = f.device("PCSO1", Role::Pcso, Some("north")).await;
    let teammate = f.device("PCSO2", Role::Pcso, Some("north")).await;
    let elsewhere = f.device("PCSO3", Role::Pcso, Some("south")).await;
    let officer = f.device("PC1", Role::Officer, Some("north")).await;
    let issue = new_doc(&writer, RecordKind::NeighbourhoodIssue, |_| {});
    let crime = new_doc(&officer, RecordKind::CrimeReport, |_| {});
    f.sync(&writer, 0, 10, vec![push_of(&issue, &[])]).await;
    f.sync(&officer, 0, 10, vec![push_of(&crime, &[])]).await;
    let (entries, _) = f.pull_all(&teammate, 0, 10).await;
    assert_eq!(
        records_in(&entries),
        vec![("snapshot".to_owned(), id_of(&issue))]
    );
    let (entries, _) = f.pull_all(&elsewhere, 0, 10).await;
    assert!(entries.is_empty(), "another team's issues stay there");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_receives_the_teams_submitted_records_and_an_eviction_once_approved() {
    let f = fixture(|_| {}).await;
    let officer = f.device("PC1", Role::Officer, Some("north")).await;
    let sergeant = f.device("SGT1", Role::Supervisor, Some("north")).await;
    let mut doc = new_doc(&officer, RecordKind::CrimeReport, |_| {});
    f.sync(&officer, 0, 10, vec![push_of(&doc, &[])]).await;
    let (entries, cursor) = f.pull_all(&sergeant, 0, 10).await;
    assert!(entries.is_empty(), "a draft is not in the review queue");

    let base = doc.heads();
    let mut record = doc.hydrate().expect("record");
    workflow::submit(&mut record, &officer.user, &[], t(50)).expect("submit");
    doc.update(&record, &author(&officer), "submit", t(50))
        .expect("update");
    f.sync(&officer, 0, 10, vec![push_of(&doc, &base)]).await;
    let page = f.sync(&sergeant, cursor, 10, vec![]).await.page;
    let [FeedEntry::Snapshot { document, .. }] = &page.entries[..] else {
        panic!("the submitted record enters the queue: {:?}", page.entries);
    };
    let mut review = RecordDoc::load(&document.0, &sergeant.actor).expect("document");
    let reviewed = review.heads();
    let mut record = review.hydrate().expect("record");
    workflow::approve(&mut record, &sergeant.user, &[], review.heads_hex(), t(90))
        .expect("approve");
    review
        .update(&record, &author(&sergeant), "approve", t(90))
        .expect("update");
    let response = f
        .sync(
            &sergeant,
            page.cursor,
            10,
            vec![push_of(&review, &reviewed)],
        )
        .await;
    assert!(matches!(
        response.results[0].outcome,
        PushOutcome::Accepted { new_changes: 1, .. }
    ));
    let evicted = if response.page.entries.is_empty() {
        f.sync(&sergeant, response.page.cursor, 10, vec![])
            .await
            .page
            .entries
    } else {
        response.page.entries
    };
    assert_eq!(
        records_in(&evicted),
        vec![("evict".to_owned(), id_of(&doc))],
        "approved: it leaves the queue"
    );
    let (entries, _) = f.pull_all(&officer, 0, 10).await;
    assert!(
        matches!(&entries[..], [FeedEntry::Changes { changes, .. }] if changes.len() == 1),
        "the author receives the approval: {:?}",
        records_in(&entries)
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_write_as_another_officer_or_into_a_record_it_has_no_part_in() {
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, None).await;
    let pc2 = f.device("PC2", Role::Officer, None).await;

    // PC1's phone signs a change as PC2: the audit trail would name the wrong officer.
    let forged_by = Dev {
        token: String::new(),
        device_id: String::new(),
        actor: pc1.actor.clone(),
        user: pc2.user.clone(),
    };
    let forged = new_doc(&forged_by, RecordKind::CrimeReport, |_| {});
    // A record created on PC1's phone but claiming PC2 as its author.
    let claimed = {
        let mut record = Record::new(
            RecordKind::CrimeReport,
            RecordId::generate(),
            pc2.user.officer.clone(),
            t(0),
        );
        record.meta_mut().created_at = t(1);
        RecordDoc::create(&record, &pc1.actor, &author(&pc1), t(1)).expect("document")
    };
    let before = f.dump();
    let response = f
        .sync(
            &pc1,
            0,
            10,
            vec![push_of(&forged, &[]), push_of(&claimed, &[])],
        )
        .await;
    assert_eq!(rejected_rule(&response, 0), "author-not-device-officer");
    assert_eq!(rejected_rule(&response, 1), "author-mismatch");
    assert_eq!(f.dump(), before, "nothing of a refused record is stored");

    // PC1's own record reaches the server; PC2 (not attending) tries to add to it.
    let mut report = new_doc(&pc1, RecordKind::CrimeReport, |_| {});
    let accepted = f.sync(&pc1, 0, 10, vec![push_of(&report, &[])]).await;
    assert!(matches!(
        accepted.results[0].outcome,
        PushOutcome::Accepted { .. }
    ));
    let mut intruder = report.fork_as(&pc2.actor);
    let base = intruder.heads();
    edit_narrative(
        &mut intruder,
        &pc2,
        "Written by someone with no part in it.",
        5,
    );
    let before = f.dump();
    let response = f.sync(&pc2, 0, 10, vec![push_of(&intruder, &base)]).await;
    assert_eq!(rejected_rule(&response, 0), "not-permitted");
    assert_eq!(f.dump(), before);

    // Once PC1 adds PC2 as attending, the same kind of edit is accepted.
    let mut record = report.hydrate().expect("record");
    if let Record::Crime(c) = &mut record {
        c.attending_officers.push(pc2.user.officer.clone());
    }
    let base = report.heads();
    report
        .update(&record, &author(&pc1), "edit", t(6))
        .expect("edit");
    let response = f.sync(&pc1, 0, 10, vec![push_of(&report, &base)]).await;
    assert!(matches!(
        response.results[0].outcome,
        PushOutcome::Accepted { .. }
    ));
    let mut colleague = report.fork_as(&pc2.actor);
    let base = colleague.heads();
    edit_narrative(&mut colleague, &pc2, "Neighbour heard shouting.", 7);
    let response = f.sync(&pc2, 0, 10, vec![push_of(&colleague, &base)]).await;
    assert!(
        matches!(
            response.results[0].outcome,
            PushOutcome::Accepted { new_changes: 1, .. }
        ),
        "{:?}",
        response.results[0].outcome
    );

    // Nobody rewrites a record's author, not even its author.
    let mut record = report.hydrate().expect("record");
    record.meta_mut().author = pc2.user.officer.clone();
    let base = report.heads();
    report
        .update(&record, &author(&pc1), "edit", t(8))
        .expect("edit");
    let response = f.sync(&pc1, 0, 10, vec![push_of(&report, &base)]).await;
    assert_eq!(rejected_rule(&response, 0), "author-changed");
    f.server.shutdown().await;
}
