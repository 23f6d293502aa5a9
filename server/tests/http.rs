//! The server over real HTTP: a server on 127.0.0.1:0 per test, CBOR bodies, real automerge
//! changes built with the core's `RecordDoc`.

use automerge::sync::SyncDoc;
use automerge::{Automerge, transaction::Transactable};
use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role};
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, ErrorBody, FeedEntry, Hash, PushOutcome, RecordPush,
    RepairRequest, RepairResponse, SyncRequest, SyncResponse,
};
use fieldbook_core::workflow;
use std::collections::HashSet;
use std::time::Duration;

mod support;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_returns_a_token_and_a_reused_code_is_refused_with_bad_code() {
    let f = fixture(|_| {}).await;
    let code = f.code("PC1", Role::Officer, Some("north")).await;
    let actor = fieldbook_core::doc::new_actor();
    let (status, body) = f.enrol_with(&code, &actor).await;
    assert_eq!(status, 200);
    let response: EnrolResponse = wire::decode(&body).expect("response");
    assert_eq!(response.token.len(), 64, "256 random bits in hex");
    assert_eq!(response.team.as_deref(), Some("north"));
    assert!(
        !f.dump().contains(&response.token),
        "only the token's hash is stored"
    );
    let before = f.dump();
    let (status, body) = f.enrol_with(&code, &fieldbook_core::doc::new_actor()).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "bad-code"));
    let (status, body) = f
        .enrol_with("NOPE-NOPE", &fieldbook_core::doc::new_actor())
        .await;
    assert_eq!((status, error_code(&body).as_str()), (403, "bad-code"));
    assert_eq!(f.dump(), before, "a refused enrolment changes nothing");
    let devices = f.admin().devices().expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, response.device_id);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_already_bound_to_another_device_is_refused_with_actor_taken() {
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    let code = f.code("PC2", Role::Officer, None).await;
    let before = f.dump();
    let (status, body) = f.enrol_with(&code, &dev.actor).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "actor-taken"));
    assert_eq!(f.dump(), before, "the code stays unused");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_or_from_a_revoked_device_are_refused() {
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    let body = wire::encode(&SyncRequest {
        protocol: 1,
        cursor: 0,
        page_limit: 10,
        push: vec![],
    });
    let (status, resp) = f.post("/v1/sync", None, body.clone()).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "unauthenticated")
    );
    let (status, resp) = f.post("/v1/sync", Some("garbage"), body.clone()).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "unauthenticated")
    );
    let (status, _) = f.post("/v1/sync", Some(&dev.token), body.clone()).await;
    assert_eq!(status, 200);
    f.admin().revoke(&dev.device_id).expect("revoke");
    assert!(f.admin().devices().expect("devices")[0].revoked);
    let (status, resp) = f.post("/v1/sync", Some(&dev.token), body.clone()).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "device-revoked")
    );
    let repair = wire::encode(&RepairRequest {
        protocol: 1,
        record: RecordId::generate(),
        kind: RecordKind::Person,
        message: Bytes(vec![]),
    });
    let (status, resp) = f.post("/v1/repair", Some(&dev.token), repair).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "device-revoked")
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_with_token_expired() {
    let f = fixture(|c| c.token_ttl = Duration::from_millis(200)).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = wire::encode(&SyncRequest {
        protocol: 1,
        cursor: 0,
        page_limit: 10,
        push: vec![],
    });
    let (status, resp) = f.post("/v1/sync", Some(&dev.token), body).await;
    assert_eq!((status, error_code(&resp).as_str()), (401, "token-expired"));
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_record_is_accepted_idempotently_and_reaches_the_officers_second_device() {
    let f = fixture(|_| {}).await;
    let phone = f.device("PC1", Role::Officer, None).await;
    let tablet = f.device("PC1", Role::Officer, None).await;
    let mut doc = new_doc(&phone, RecordKind::CrimeReport, |_| {});
    let first = f.sync(&phone, 0, 100, vec![push_of(&doc, &[])]).await;
    match &first.results[0].outcome {
        PushOutcome::Accepted {
            heads, new_changes, ..
        } => {
            assert_eq!(heads, &heads_of(&doc));
            assert_eq!(*new_changes, 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        first.page.entries.is_empty(),
        "a device's own changes are not echoed"
    );
    let again = f
        .sync(&phone, first.page.cursor, 100, vec![push_of(&doc, &[])])
        .await;
    assert!(
        matches!(
            again.results[0].outcome,
            PushOutcome::Accepted { new_changes: 0, .. }
        ),
        "{:?}",
        again.results
    );

    let pulled = f.sync(&tablet, 0, 100, vec![]).await.page;
    let FeedEntry::Snapshot {
        record,
        document,
        heads,
        receipts,
        ..
    } = &pulled.entries[0]
    else {
        panic!(
            "a record new to the device arrives whole: {:?}",
            pulled.entries
        );
    };
    assert_eq!(*record, id_of(&doc));
    assert_eq!(heads, &heads_of(&doc));
    assert_eq!(receipts.len(), 1);
    let copy =
        RecordDoc::load(&document.0, &fieldbook_core::doc::new_actor()).expect("a whole document");
    assert_eq!(copy.heads(), doc.heads());

    let base = doc.heads();
    edit_narrative(&mut doc, &phone, "Window forced at the rear.", 10);
    f.sync(&phone, 0, 100, vec![push_of(&doc, &base)]).await;
    let later = f.sync(&tablet, pulled.cursor, 100, vec![]).await.page;
    match &later.entries[..] {
        [
            FeedEntry::Changes {
                record,
                changes,
                heads,
                ..
            },
        ] => {
            assert_eq!(*record, id_of(&doc));
            assert_eq!(changes.len(), 1);
            assert_eq!(heads, &heads_of(&doc));
        }
        other => panic!("a held record gets changes: {other:?}"),
    }
    assert!(!later.more);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_with_a_small_page_limit_delivers_every_change_exactly_once() {
    let f = fixture(|_| {}).await;
    let phone = f.device("PC1", Role::Officer, None).await;
    let tablet = f.device("PC1", Role::Officer, None).await;
    let mut docs: Vec<RecordDoc> = (0..3)
        .map(|_| new_doc(&phone, RecordKind::CrimeReport, |_| {}))
        .collect();
    f.sync(
        &phone,
        0,
        10,
        docs.iter().map(|d| push_of(d, &[])).collect(),
    )
    .await;
    let (entries, cursor) = f.pull_all(&tablet, 0, 2).await;
    let snapshots: HashSet<RecordId> = entries
        .iter()
        .filter_map(|e| match e {
            FeedEntry::Snapshot { record, .. } => Some(*record),
            _ => None,
        })
        .collect();
    assert_eq!(snapshots.len(), 3, "{:?}", records_in(&entries));

    let mut pushed = HashSet::new();
    let mut pushes = Vec::new();
    for (i, doc) in docs.iter_mut().enumerate() {
        let base = doc.heads();
        for n in 0..3 {
            edit_narrative(doc, &phone, &format!("Account {i} version {n}."), 100 + n);
        }
        let push = push_of(doc, &base);
        pushed.extend(push.changes.iter().map(|b| b.0.clone()));
        pushes.push(push);
    }
    f.sync(&phone, 0, 10, pushes).await;
    let mut seen = Vec::new();
    let mut cursor = cursor;
    let mut pages = 0;
    loop {
        let page = f.sync(&tablet, cursor, 2, vec![]).await.page;
        pages += 1;
        for e in &page.entries {
            let FeedEntry::Changes { changes, .. } = e else {
                panic!("only changes now: {e:?}")
            };
            seen.extend(changes.iter().map(|c| c.bytes.0.clone()));
        }
        assert!(page.cursor > cursor || !page.more);
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(seen.len(), 9, "every change once");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), pushed);
    assert!(pages >= 5, "two changes per page: {pages} pages");
    f.server.shutdown().await;
}

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
async fn missing_dependencies_are_reported_and_repair_rounds_converge_the_server_to_the_device() {
    let f = fixture(|_| {}).await;
    let phone = f.device("PC1", Role::Officer, None).await;
    let mut doc = new_doc(&phone, RecordKind::CrimeReport, |_| {});
    let base = doc.heads();
    edit_narrative(&mut doc, &phone, "Second change only.", 5);
    let before = f.dump();
    let response = f.sync(&phone, 0, 10, vec![push_of(&doc, &base)]).await;
    match &response.results[0].outcome {
        PushOutcome::MissingDependencies { missing } => {
            assert_eq!(
                missing,
                &base.iter().copied().map(Hash::from).collect::<Vec<_>>()
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.dump(), before, "nothing stored for the record");

    let mut local = doc.automerge().fork();
    let mut state = automerge::sync::State::new();
    let mut converged = false;
    for _ in 0..10 {
        let Some(message) = local.generate_sync_message(&mut state) else {
            converged = true;
            break;
        };
        let request = RepairRequest {
            protocol: wire::PROTOCOL_VERSION,
            record: id_of(&doc),
            kind: RecordKind::CrimeReport,
            message: Bytes(message.encode()),
        };
        let (status, body) = f
            .post("/v1/repair", Some(&phone.token), wire::encode(&request))
            .await;
        assert_eq!(status, 200, "{:?}", wire::decode::<ErrorBody>(&body));
        let response: RepairResponse = wire::decode(&body).expect("repair response");
        assert!(response.rejected.is_none(), "{:?}", response.rejected);
        if let Some(m) = response.message {
            let m = automerge::sync::Message::decode(&m.0).expect("a sync message");
            local.receive_sync_message(&mut state, m).expect("applies");
        }
        if response.heads == heads_of(&doc) && local.generate_sync_message(&mut state).is_none() {
            converged = true;
            break;
        }
    }
    assert!(converged, "repair converges");
    let again = f.sync(&phone, 0, 10, vec![push_of(&doc, &[])]).await;
    match &again.results[0].outcome {
        PushOutcome::Accepted {
            heads, new_changes, ..
        } => {
            assert_eq!(heads, &heads_of(&doc));
            assert_eq!(
                *new_changes, 0,
                "the server holds every change after repair"
            );
        }
        other => panic!("{other:?}"),
    }
    f.server.shutdown().await;
}

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
            PushOutcome::Rejected { rule, .. } => rule.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(rules, ["malformed-change", "not-a-record", "kind-mismatch"]);
    assert_eq!(f.dump(), before, "rejected records leave nothing behind");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_answer_in_plain_text() {
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    f.sync(
        &dev,
        0,
        10,
        vec![push_of(&new_doc(&dev, RecordKind::Person, |_| {}), &[])],
    )
    .await;
    let health = f
        .client
        .get(format!("{}/health", f.server.url()))
        .send()
        .await
        .expect("health");
    assert_eq!(health.text().await.expect("text"), "ok");
    let metrics = f
        .client
        .get(format!("{}/metrics", f.server.url()))
        .send()
        .await
        .expect("metrics");
    let text = metrics.text().await.expect("text");
    for needle in [
        "fieldbook_requests_total{endpoint=\"sync\",status=\"200\"} 1",
        "fieldbook_changes_accepted_total 1",
        "fieldbook_sync_duration_seconds_count 1",
        "fieldbook_feed_lag",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_completes_during_graceful_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    let body = wire::encode(&SyncRequest {
        protocol: 1,
        cursor: 0,
        page_limit: 10,
        push: vec![push_of(&new_doc(&dev, RecordKind::Person, |_| {}), &[])],
    });
    let mut stream = tokio::net::TcpStream::connect(f.server.addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nhost: test\r\ncontent-type: application/cbor\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        dev.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&body[..body.len() / 2])
        .await
        .expect("half the body");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Fixture { server, _dir, .. } = f;
    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream
        .write_all(&body[body.len() / 2..])
        .await
        .expect("the rest");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .expect("read");
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        text.lines().next().unwrap_or("")
    );
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("stops")
        .expect("joins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_reload_from_a_compacted_snapshot_plus_later_changes_when_not_cached() {
    let f = fixture(|c| {
        c.document_cache = 1;
        c.compact_every = 2;
    })
    .await;
    let phone = f.device("PC1", Role::Officer, None).await;
    let tablet = f.device("PC1", Role::Officer, None).await;
    let mut docs: Vec<RecordDoc> = (0..2)
        .map(|_| new_doc(&phone, RecordKind::CrimeReport, |_| {}))
        .collect();
    f.sync(
        &phone,
        0,
        10,
        docs.iter().map(|d| push_of(d, &[])).collect(),
    )
    .await;
    for round in 0..5 {
        for doc in &mut docs {
            let base = doc.heads();
            edit_narrative(doc, &phone, &format!("Version {round}."), 10 + round);
            let response = f.sync(&phone, 0, 10, vec![push_of(doc, &base)]).await;
            assert!(
                matches!(&response.results[0].outcome, PushOutcome::Accepted { heads, new_changes: 1, .. } if *heads == heads_of(doc)),
                "{:?}",
                response.results
            );
        }
    }
    let (entries, _) = f.pull_all(&tablet, 0, 100).await;
    assert_eq!(entries.len(), 2);
    for entry in entries {
        let FeedEntry::Snapshot {
            record,
            document,
            heads,
            receipts,
            ..
        } = entry
        else {
            panic!("snapshots")
        };
        let doc = docs
            .iter()
            .find(|d| id_of(d) == record)
            .expect("a pushed record");
        assert_eq!(heads, heads_of(doc));
        assert_eq!(receipts.len(), 6, "one receipt per change");
        let copy = RecordDoc::load(&document.0, &fieldbook_core::doc::new_actor()).expect("loads");
        assert_eq!(
            copy.hydrate().expect("record"),
            doc.hydrate().expect("record")
        );
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_committed_together_are_each_answered_and_delivered_once() {
    // Pushes arriving while another commits are checked in order and committed as one group:
    // every push gets its own answer, a change pushed twice at once is stored once, and a
    // second device of the officer gets each record exactly once.
    let f = fixture(|_| {}).await;
    let tablet = f.device("PC1", Role::Officer, None).await;
    let mut devs = Vec::new();
    for _ in 0..4 {
        devs.push(f.device("PC1", Role::Officer, None).await);
    }
    let docs: Vec<RecordDoc> = devs
        .iter()
        .map(|d| new_doc(d, RecordKind::CrimeReport, |_| {}))
        .collect();
    let push = |i: usize| f.sync(&devs[i], u64::MAX, 10, vec![push_of(&docs[i], &[])]);
    let (a, b, c, d, a_again) = tokio::join!(push(0), push(1), push(2), push(3), push(0));
    for (i, response) in [&a, &b, &c, &d].into_iter().enumerate() {
        match &response.results[0].outcome {
            PushOutcome::Accepted { heads, .. } => assert_eq!(heads, &heads_of(&docs[i])),
            other => panic!("push {i}: {other:?}"),
        }
    }
    let new_changes = |r: &SyncResponse| match r.results[0].outcome {
        PushOutcome::Accepted { new_changes, .. } => new_changes,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(
        new_changes(&a) + new_changes(&a_again),
        1,
        "the same change pushed twice at once is stored once"
    );
    let (entries, _) = f.pull_all(&tablet, 0, 2).await;
    let mut got: Vec<RecordId> = entries
        .iter()
        .map(|e| match e {
            FeedEntry::Snapshot { record, .. } => *record,
            other => panic!("new records arrive whole: {other:?}"),
        })
        .collect();
    got.sort();
    let mut want: Vec<RecordId> = docs.iter().map(id_of).collect();
    want.sort();
    assert_eq!(got, want, "each record exactly once");
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

impl Fixture {
    async fn get(&self, path: &str, token: Option<&str>, accept: &str) -> (u16, Vec<u8>) {
        let mut req = self
            .client
            .get(format!("{}{path}", self.server.url()))
            .header("accept", accept);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.bytes().await.expect("body").to_vec())
    }

    async fn review_queue(&self, dev: &Dev) -> wire::ReviewQueue {
        let (status, body) = self
            .get("/v1/review-queue", Some(&dev.token), "application/json")
            .await;
        assert_eq!(status, 200, "{:?}", wire::decode::<ErrorBody>(&body));
        serde_json::from_slice(&body).expect("a review queue as JSON")
    }
}

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
