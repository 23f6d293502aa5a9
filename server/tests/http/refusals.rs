//! Pushes the trust checks refuse, and bodies no endpoint accepts: nothing of them is stored and
//! honest devices are unaffected.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_actor_is_not_bound_to_the_device_is_rejected_and_nothing_of_it_is_stored() {
    let f = fixture(|_| {}).await;
    let phone = f.device("PC1", Role::Officer, None).await;
    let stranger = Dev {
        token: String::new(),
        device_id: String::new(),
        actor: fieldbook_core::doc::new_actor(),
        user: phone.user.clone(),
    };
    let foreign = new_doc(&stranger, RecordKind::CrimeReport, |_| {});
    let before = f.dump();
    let response = f.sync(&phone, 0, 10, vec![push_of(&foreign, &[])]).await;
    match &response.results[0].outcome {
        PushOutcome::Rejected { rule, change, .. } => {
            assert_eq!(rule, "actor-not-bound");
            assert_eq!(change.as_ref(), Some(&heads_of(&foreign)[0]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.dump(), before, "nothing of a rejected record is stored");

    let own = new_doc(&phone, RecordKind::CrimeReport, |_| {});
    let response = f
        .sync(
            &phone,
            0,
            10,
            vec![push_of(&foreign, &[]), push_of(&own, &[])],
        )
        .await;
    assert!(matches!(
        response.results[0].outcome,
        PushOutcome::Rejected { .. }
    ));
    assert!(
        matches!(
            response.results[1].outcome,
            PushOutcome::Accepted { new_changes: 1, .. }
        ),
        "other records are unaffected"
    );
    let dump = f.dump();
    assert!(dump.contains(&id_of(&own).to_string()));
    assert!(!dump.contains(&id_of(&foreign).to_string()));
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_to_every_endpoint_is_refused_and_changes_nothing() {
    let f = fixture(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_push_changes = 3;
    })
    .await;
    let dev = f.device("PC1", Role::Officer, None).await;
    let token = Some(dev.token.as_str());
    let known = new_doc(&dev, RecordKind::CrimeReport, |_| {});
    f.sync(&dev, 0, 10, vec![push_of(&known, &[])]).await;
    let sync_body = wire::encode(&SyncRequest {
        protocol: 1,
        cursor: 0,
        page_limit: 10,
        push: vec![push_of(&known, &[])],
    });
    let repair_body = wire::encode(&RepairRequest {
        protocol: 1,
        record: id_of(&known),
        kind: RecordKind::CrimeReport,
        message: Bytes(b"not a sync message".to_vec()),
    });
    let enrol_body = wire::encode(&EnrolRequest {
        protocol: 1,
        code: "X".into(),
        actors: vec!["zz".into()],
        label: "l".into(),
    });
    let sync_99 = wire::encode(&SyncRequest {
        protocol: 99,
        cursor: 0,
        page_limit: 10,
        push: vec![],
    });
    let repair_99 = wire::encode(&RepairRequest {
        protocol: 99,
        record: id_of(&known),
        kind: RecordKind::CrimeReport,
        message: Bytes(vec![]),
    });
    let enrol_99 = wire::encode(&EnrolRequest {
        protocol: 99,
        code: "X".into(),
        actors: vec!["aa".into()],
        label: "l".into(),
    });
    let mut too_many = push_of(&known, &[]);
    too_many.changes = vec![too_many.changes[0].clone(); 4];
    // (path, what, content type, body, status, code)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "/v1/sync",
            "garbage body",
            wire::CONTENT_TYPE,
            b"\xff\x00garbage".to_vec(),
            400,
            "malformed",
        ),
        (
            "/v1/sync",
            "truncated CBOR",
            wire::CONTENT_TYPE,
            sync_body[..sync_body.len() - 3].to_vec(),
            400,
            "malformed",
        ),
        (
            "/v1/sync",
            "wrong content type",
            "application/json",
            sync_body.clone(),
            415,
            "content-type",
        ),
        (
            "/v1/sync",
            "oversized body",
            wire::CONTENT_TYPE,
            vec![0u8; 100 * 1024],
            413,
            "too-large",
        ),
        (
            "/v1/sync",
            "protocol 99",
            wire::CONTENT_TYPE,
            sync_99,
            400,
            "protocol",
        ),
        (
            "/v1/sync",
            "too many changes",
            wire::CONTENT_TYPE,
            wire::encode(&SyncRequest {
                protocol: 1,
                cursor: 0,
                page_limit: 10,
                push: vec![too_many],
            }),
            400,
            "too-many-changes",
        ),
        (
            "/v1/repair",
            "garbage body",
            wire::CONTENT_TYPE,
            b"garbage".to_vec(),
            400,
            "malformed",
        ),
        (
            "/v1/repair",
            "not a sync message",
            wire::CONTENT_TYPE,
            repair_body.clone(),
            400,
            "malformed",
        ),
        (
            "/v1/repair",
            "wrong content type",
            "text/plain",
            repair_body.clone(),
            415,
            "content-type",
        ),
        (
            "/v1/repair",
            "protocol 99",
            wire::CONTENT_TYPE,
            repair_99,
            400,
            "protocol",
        ),
        (
            "/v1/repair",
            "oversized body",
            wire::CONTENT_TYPE,
            vec![1u8; 100 * 1024],
            413,
            "too-large",
        ),
        (
            "/v1/enrol",
            "garbage body",
            wire::CONTENT_TYPE,
            b"garbage".to_vec(),
            400,
            "malformed",
        ),
        (
            "/v1/enrol",
            "truncated CBOR",
            wire::CONTENT_TYPE,
            enrol_body[..5].to_vec(),
            400,
            "malformed",
        ),
        (
            "/v1/enrol",
            "an actor id that is not hex",
            wire::CONTENT_TYPE,
            enrol_body.clone(),
            400,
            "malformed",
        ),
        (
            "/v1/enrol",
            "protocol 99",
            wire::CONTENT_TYPE,
            enrol_99,
            400,
            "protocol",
        ),
        (
            "/v1/enrol",
            "wrong content type",
            "application/x-www-form-urlencoded",
            enrol_body.clone(),
            415,
            "content-type",
        ),
        (
            "/v1/enrol",
            "oversized body",
            wire::CONTENT_TYPE,
            vec![2u8; 100 * 1024],
            413,
            "too-large",
        ),
    ];
    for (path, what, content_type, body, status, code) in cases {
        let before = f.dump();
        let (got, resp) = f
            .post_raw(
                path,
                if path == "/v1/enrol" { None } else { token },
                content_type,
                body,
            )
            .await;
        assert_eq!(
            (got, error_code(&resp).as_str()),
            (status, code),
            "{path}: {what}"
        );
        assert_eq!(f.dump(), before, "{path}: {what} changed server state");
    }

    // Per-record problems are answered per record (the rest of a push is unaffected).
    let fresh = new_doc(&dev, RecordKind::CrimeReport, |_| {});
    let mut truncated = push_of(&fresh, &[]);
    let n = truncated.changes[0].0.len();
    truncated.changes[0].0.truncate(n - 10);
    let mut plain = Automerge::new().with_actor(dev.actor.clone());
    let mut tx = plain.transaction();
    tx.put(automerge::ROOT, "note", "not a record")
        .expect("put");
    // Signed as the device's own officer, so it is refused for what it holds, not who wrote it.
    let message = serde_json::json!({
        "by": dev.user.officer.as_str(),
        "role": dev.user.role.as_str(),
        "action": "edit",
    });
    tx.commit_with(
        automerge::transaction::CommitOptions::default().with_message(message.to_string()),
    );
    let not_a_record = RecordPush {
        record: RecordId::generate(),
        kind: RecordKind::CrimeReport,
        changes: plain
            .get_changes(&[])
            .iter()
            .map(|c| Bytes(c.raw_bytes().to_vec()))
            .collect(),
    };
    let person = new_doc(&dev, RecordKind::Person, |_| {});
    let mut wrong_kind = push_of(&person, &[]);
    wrong_kind.kind = RecordKind::StopSearch;
    let before = f.dump();
    let response = f
        .sync(
            &dev,
            u64::MAX,
            10,
            vec![truncated, not_a_record, wrong_kind],
        )
        .await;
    let rules: Vec<String> = response
        .results
        .iter()
        .map(|r| match &r.outcome {
            PushOutcome::Rejected { rule, .. } => rule.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(rules, ["malformed-change", "not-a-record", "kind-mismatch"]);
    assert_eq!(f.dump(), before, "rejected records leave nothing behind");
    f.server.shutdown().await;
}

/// Applies `edit` to the record in `doc` as `dev`, one change; returns the heads before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_with_valid_tokens_are_refused_and_honest_devices_are_unaffected() {
    use fieldbook_core::domain::WorkflowAction;
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let pc2 = f.device("PC2", Role::Officer, Some("A")).await;
    let pcso = f.device("PCSO9", Role::Pcso, Some("A")).await;
    let sgt = f.device("SGT1", Role::Supervisor, Some("A")).await;

    // An honest submitted report from PC1.
    let mut report = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    let created = push_of(&report, &[]);
    let base = change_as(&mut report, &pc1, 1, |r| {
        workflow::submit(r, &pc1.user, &[], t(1)).expect("submit");
    });
    let submitted = push_of(&report, &base);
    let response = f.sync(&pc1, 0, 10, vec![created, submitted]).await;
    assert!(
        response
            .results
            .iter()
            .all(|r| matches!(r.outcome, PushOutcome::Accepted { .. })),
        "{response:?}"
    );

    let cases: Vec<(&str, &Dev, RecordPush, &str)> = vec![
        // An officer appending an approval to their own submitted report.
        (
            "self-approval by the author",
            &pc1,
            {
                let mut d = report.fork_as(&pc1.actor);
                let base = change_as(&mut d, &pc1, 2, |r| {
                    r.meta_mut()
                        .workflow
                        .push(workflow_event(&pc1, WorkflowAction::Approved, 2))
                });
                push_of(&d, &base)
            },
            "policy-supervisor-only",
        ),
        // A supervisor approving their own submitted record.
        (
            "a supervisor approving their own record",
            &sgt,
            {
                let mut own = new_doc(&sgt, RecordKind::NeighbourhoodIssue, |_| {});
                change_as(&mut own, &sgt, 1, |r| {
                    workflow::submit(r, &sgt.user, &[], t(1)).expect("submit")
                });
                change_as(&mut own, &sgt, 2, |r| {
                    r.meta_mut()
                        .workflow
                        .push(workflow_event(&sgt, WorkflowAction::Approved, 2))
                });
                push_of(&own, &[])
            },
            "policy-self-approval",
        ),
        // A PCSO creating a stop-search.
        (
            "a PCSO creating a stop-search",
            &pcso,
            push_of(&new_doc(&pcso, RecordKind::StopSearch, |_| {}), &[]),
            "policy-pcso-stop-search",
        ),
        // An officer editing another officer's submitted report (content locked).
        (
            "an edit to a submitted report",
            &pc1,
            {
                let mut d = report.fork_as(&pc1.actor);
                let base = change_as(&mut d, &pc1, 3, |r| {
                    if let Record::Issue(i) = r {
                        i.narrative = "changed after submission".into()
                    }
                });
                push_of(&d, &base)
            },
            "policy-submitted-locked",
        ),
        // A record created with an approval already in its history.
        (
            "a record born approved",
            &pc2,
            {
                let d = new_doc(&pc2, RecordKind::NeighbourhoodIssue, |r| {
                    r.meta_mut()
                        .workflow
                        .push(workflow_event(&pc2, WorkflowAction::Approved, 0))
                });
                push_of(&d, &[])
            },
            "policy-workflow-forged",
        ),
        // A rival top-level `approval` object: not part of any record, refused whole.
        (
            "a rival approval object",
            &pc1,
            {
                let mut am = report.automerge().clone();
                let base = am.get_heads();
                let mut tx = am.transaction();
                let obj = tx
                    .put_object(automerge::ROOT, "approval", automerge::ObjType::Map)
                    .expect("put");
                tx.put(&obj, "by", "SGT1").expect("put");
                let message = serde_json::json!({"by": "PC1", "role": "officer", "action": "edit"})
                    .to_string();
                tx.commit_with(
                    automerge::transaction::CommitOptions::default().with_message(message),
                );
                RecordPush {
                    record: id_of(&report),
                    kind: RecordKind::NeighbourhoodIssue,
                    changes: am
                        .get_changes(&base)
                        .iter()
                        .map(|c| Bytes(c.raw_bytes().to_vec()))
                        .collect(),
                }
            },
            "not-a-record",
        ),
    ];
    for (what, dev, push, rule) in cases {
        let before = f.dump();
        let response = f.sync(dev, u64::MAX, 10, vec![push]).await;
        assert_eq!(rejected_rule(&response, 0), rule, "{what}");
        assert_eq!(
            f.dump(),
            before,
            "{what}: something of a refused push was stored"
        );
    }

    // The supervisor of the team approves honestly; replaying an old push adds nothing.
    let mut approved = report.fork_as(&sgt.actor);
    let heads: Vec<String> = approved.heads_hex();
    let base = change_as(&mut approved, &sgt, 4, |r| {
        workflow::approve(r, &sgt.user, &[], heads, t(4)).expect("approve");
    });
    let response = f
        .sync(&sgt, u64::MAX, 10, vec![push_of(&approved, &base)])
        .await;
    assert!(
        matches!(
            response.results[0].outcome,
            PushOutcome::Accepted { new_changes: 1, .. }
        ),
        "{response:?}"
    );
    let replay = f
        .sync(&pc1, u64::MAX, 10, vec![push_of(&report, &[])])
        .await;
    assert!(
        matches!(
            replay.results[0].outcome,
            PushOutcome::Accepted { new_changes: 0, .. }
        ),
        "{replay:?}"
    );

    // Editing the approved report without re-opening it is refused; re-opening first is allowed.
    let mut locked = approved.fork_as(&pc1.actor);
    let base = change_as(&mut locked, &pc1, 5, |r| {
        if let Record::Issue(i) = r {
            i.narrative = "quietly changed".into()
        }
    });
    let response = f
        .sync(&pc1, u64::MAX, 10, vec![push_of(&locked, &base)])
        .await;
    assert_eq!(rejected_rule(&response, 0), "policy-approved-locked");
    let mut reopened = approved.fork_as(&pc1.actor);
    let base = change_as(&mut reopened, &pc1, 6, |r| {
        workflow::reopen(r, &pc1.user, "a late witness came forward", t(6)).expect("reopen");
    });
    change_as(&mut reopened, &pc1, 7, |r| {
        if let Record::Issue(i) = r {
            i.narrative = "with the late witness".into()
        }
    });
    let response = f
        .sync(&pc1, u64::MAX, 10, vec![push_of(&reopened, &base)])
        .await;
    assert!(
        matches!(
            response.results[0].outcome,
            PushOutcome::Accepted { new_changes: 2, .. }
        ),
        "{response:?}"
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_pinning_a_version_outside_the_records_history_is_refused() {
    use fieldbook_core::domain::WorkflowAction;
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let sgt = f.device("SGT1", Role::Supervisor, Some("A")).await;

    let mut report = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    change_as(&mut report, &pc1, 1, |r| {
        workflow::submit(r, &pc1.user, &[], t(1)).expect("submit");
    });
    let other = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    let response = f
        .sync(
            &pc1,
            0,
            10,
            vec![push_of(&report, &[]), push_of(&other, &[])],
        )
        .await;
    assert!(
        response
            .results
            .iter()
            .all(|r| matches!(r.outcome, PushOutcome::Accepted { .. })),
        "{response:?}"
    );

    // An approval by the right supervisor, in the right state, pinning `heads`.
    let approving = |heads: Vec<String>| {
        let mut d = report.fork_as(&sgt.actor);
        let base = change_as(&mut d, &sgt, 2, |r| {
            let mut event = workflow_event(&sgt, WorkflowAction::Approved, 2);
            event.reason = None;
            event.heads = heads;
            r.meta_mut().workflow.push(event);
        });
        push_of(&d, &base)
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("a version no record ever had", vec!["00".repeat(32)]),
        ("another record's version", other.heads_hex()),
        (
            "the report's version plus another record's",
            report
                .heads_hex()
                .into_iter()
                .chain(other.heads_hex())
                .collect(),
        ),
        (
            "heads that are not change hashes",
            vec!["not-a-hash".into()],
        ),
    ];
    for (what, heads) in cases {
        let before = f.dump();
        let response = f.sync(&sgt, u64::MAX, 10, vec![approving(heads)]).await;
        assert_eq!(
            rejected_rule(&response, 0),
            "approval-heads-unknown",
            "{what}"
        );
        match &response.results[0].outcome {
            PushOutcome::Rejected { field, change, .. } => {
                assert_eq!(field.as_deref(), Some("meta.workflow"), "{what}");
                assert!(change.is_some(), "{what}: the refused change is named");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(
            f.dump(),
            before,
            "{what}: nothing of a refused push is stored"
        );
    }

    // Pinning the version the supervisor read (an older one of this record, too) is accepted.
    let created = report.automerge().get_changes(&[])[0].hash().to_string();
    let response = f
        .sync(&sgt, u64::MAX, 10, vec![approving(vec![created])])
        .await;
    assert!(
        matches!(
            response.results[0].outcome,
            PushOutcome::Accepted { new_changes: 1, .. }
        ),
        "{response:?}"
    );
    f.server.shutdown().await;
}
