//! A property of the server against a hostile enrolled device: whatever hand-made change it
//! pushes (arbitrary dependencies, sequence numbers and counters, deletions of workflow events,
//! forged events, compressed chunks, very many operations), the server
//!
//! - never answers with a 5xx, and keeps serving;
//! - accepts a push only if its effect on the server's current record is one the write policy
//!   allows that device's officer, and every record it holds still saves and loads;
//! - stores nothing of a refused push;
//!
//! while honest devices syncing in between are unaffected and converge with the server.

use automerge::{Change, ChangeHash};
use fieldbook_core::doc::{ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{
    OfficerId, Record, RecordId, RecordKind, Role, Timestamp, WorkflowAction, WorkflowEvent,
};
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, ErrorBody, FeedEntry, PushOutcome, RecordPush,
    SyncRequest, SyncResponse,
};
use fieldbook_core::testing::hostile;
use fieldbook_core::workflow::policy::{self, Writer};
use fieldbook_scenarios::fleet::{Fleet, Member, doc_heads, heads_of, sync_until_quiet};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use std::collections::HashMap;

const HOSTILE: &str = "PC9";

/// What one generated attack does.
#[derive(Debug, Clone)]
enum Edit {
    Narrative(String),
    ClearNarrative,
    /// Keep only the first n workflow events.
    TruncateWorkflow(usize),
    /// Append an event in the hostile officer's own name.
    Append(WorkflowAction),
    /// Append an event in the supervisor's name.
    Forge(WorkflowAction),
    /// Claim another author.
    Author,
    /// One change with this many operations.
    Operations(usize),
}

/// How the change is tampered with once made.
#[derive(Debug, Clone)]
enum Tamper {
    None,
    /// Depend on these earlier changes of the record (indexes into its history) instead.
    Deps(Vec<usize>),
    /// Depend on a change nobody has.
    UnknownDep,
    Seq(i64),
    StartOp(u64),
    Compressed,
}

#[derive(Debug, Clone)]
struct Attack {
    record: usize,
    /// Which version of the record the change is made on (index into its history; clamped).
    version: usize,
    edit: Edit,
    tamper: Tamper,
}

fn action() -> impl Strategy<Value = WorkflowAction> {
    prop_oneof![
        Just(WorkflowAction::Submitted),
        Just(WorkflowAction::Approved),
        Just(WorkflowAction::Returned),
        Just(WorkflowAction::Reopened),
    ]
}

fn attack() -> impl Strategy<Value = Attack> {
    let edit = prop_oneof![
        4 => "[a-z ]{0,40}".prop_map(Edit::Narrative),
        1 => Just(Edit::ClearNarrative),
        3 => (0usize..3).prop_map(Edit::TruncateWorkflow),
        2 => action().prop_map(Edit::Append),
        2 => action().prop_map(Edit::Forge),
        1 => Just(Edit::Author),
        1 => prop_oneof![
            Just(1_000usize),
            Just(fieldbook_core::limits::MAX_CHANGE_OPS + 1)
        ]
        .prop_map(Edit::Operations),
    ];
    let tamper = prop_oneof![
        4 => Just(Tamper::None),
        4 => proptest::collection::vec(0usize..8, 0..3).prop_map(Tamper::Deps),
        1 => Just(Tamper::UnknownDep),
        1 => (-2i64..3).prop_map(Tamper::Seq),
        1 => prop_oneof![Just(1u64), Just(2), Just(1 << 20), Just(1 << 31)].prop_map(Tamper::StartOp),
        1 => Just(Tamper::Compressed),
    ];
    (0usize..4, 0usize..8, edit, tamper).prop_map(|(record, version, edit, tamper)| Attack {
        record,
        version,
        edit,
        tamper,
    })
}

/// The hostile device: a token and an actor, speaking the protocol by hand.
struct Raw {
    client: reqwest::Client,
    url: String,
    token: String,
    actor: automerge::ActorId,
}

impl Raw {
    async fn post(&self, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", wire::CONTENT_TYPE)
            .header("authorization", format!("Bearer {}", self.token))
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("a body").to_vec())
    }

    async fn push(&self, push: RecordPush) -> (u16, Option<SyncResponse>) {
        let request = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor: u64::MAX,
            page_limit: 1,
            push: vec![push],
        };
        let (status, body) = self.post("/v1/sync", wire::encode(&request)).await;
        (status, wire::decode(&body).ok())
    }
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("a time")
}

fn hostile_author() -> ChangeAuthor {
    ChangeAuthor {
        by: OfficerId::new(HOSTILE).expect("id"),
        role: Role::Officer,
    }
}

/// The record's changes in causal order (its history) and the heads after each.
fn history(doc: &RecordDoc) -> Vec<ChangeHash> {
    doc.automerge()
        .get_changes(&[])
        .iter()
        .map(Change::hash)
        .collect()
}

/// The change an attack pushes (None when the edit changes nothing).
fn make_change(attack: &Attack, doc: &RecordDoc, raw: &Raw) -> Option<Vec<u8>> {
    let hist = history(doc);
    let version = attack.version.min(hist.len() - 1);
    let base = doc
        .fork_at(&[hist[version]], &raw.actor)
        .unwrap_or_else(|_| doc.fork_as(&raw.actor));
    let change = if let Edit::Operations(n) = attack.edit {
        let message = json!({"by": HOSTILE, "role": "officer", "action": "edit"}).to_string();
        hostile::many_operations(Some(base.automerge()), &raw.actor, "notes", n, &message)
    } else {
        let mut fork = base;
        let heads = fork.heads();
        let mut record = fork.hydrate().ok()?;
        let supervisor = OfficerId::new("SGT1").expect("id");
        let event = |by: OfficerId, role: Role, action: WorkflowAction| WorkflowEvent {
            action,
            by,
            role,
            at: t(5),
            reason: Some("generated".into()),
            heads: heads.iter().map(|h| h.to_string()).collect(),
        };
        match &attack.edit {
            Edit::Narrative(text) => set_narrative(&mut record, text),
            Edit::ClearNarrative => set_narrative(&mut record, ""),
            Edit::TruncateWorkflow(n) => record.meta_mut().workflow.truncate(*n),
            Edit::Append(a) => record.meta_mut().workflow.push(event(
                OfficerId::new(HOSTILE).expect("id"),
                Role::Officer,
                *a,
            )),
            Edit::Forge(a) => {
                record
                    .meta_mut()
                    .workflow
                    .push(event(supervisor, Role::Supervisor, *a))
            }
            Edit::Author => record.meta_mut().author = OfficerId::new(HOSTILE).expect("id"),
            Edit::Operations(_) => unreachable!("handled above"),
        }
        fork.update(&record, &hostile_author(), "edit", t(6))
            .ok()??;
        fork.automerge().get_last_local_change()?
    };
    let tampered = match &attack.tamper {
        Tamper::None => change,
        Tamper::Deps(picks) => {
            let deps: Vec<ChangeHash> = picks.iter().map(|i| hist[*i % hist.len()]).collect();
            let mut deps: Vec<ChangeHash> = deps
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            deps.sort();
            hostile::with_deps(&change, &deps)
        }
        Tamper::UnknownDep => hostile::with_deps(&change, &[ChangeHash([7; 32])]),
        Tamper::Seq(delta) => {
            let seq = (change.seq() as i64 + delta).max(1) as u64;
            hostile::with_seq(&change, seq)
        }
        Tamper::StartOp(n) => hostile::rewrite(&change, |c| {
            c.start_op = std::num::NonZeroU64::new(*n).expect("non-zero")
        }),
        Tamper::Compressed => return Some(hostile::compressed(&change)),
    };
    Some(tampered.raw_bytes().to_vec())
}

fn set_narrative(record: &mut Record, text: &str) {
    if let Record::Issue(i) = record {
        i.narrative = text.to_owned();
    }
}

#[test]
fn whatever_a_hostile_device_pushes_the_server_keeps_only_what_the_policy_allows() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (mut fleet, mut officer, mut supervisor, raw, records) = runtime.block_on(setup());
    let writer = Writer {
        officer: OfficerId::new(HOSTILE).expect("id"),
        role: Role::Officer,
        team: Some("A".into()),
    };
    let cases = std::env::var("FIELDBOOK_STRESS").map_or(96, |_| 1_000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    // The runner takes a `Fn`: the state it changes lives in cells.
    let accepted = std::cell::Cell::new(0usize);
    let counter = std::cell::Cell::new(0usize);
    let honest = std::cell::RefCell::new((&mut officer, &mut supervisor));
    let result = runner.run(&attack(), |attack| {
        counter.set(counter.get() + 1);
        let id = records[attack.record];
        let before = fleet.server_document(id).expect("the server holds it");
        let Some(bytes) = make_change(&attack, &before, &raw) else {
            return Ok(());
        };
        let push = RecordPush {
            record: id,
            kind: RecordKind::NeighbourhoodIssue,
            changes: vec![Bytes(bytes)],
        };
        let (status, response) = runtime.block_on(raw.push(push));
        prop_assert!(status < 500, "the server failed ({status}) on {attack:?}");
        let after = fleet
            .server_document(id)
            .expect("the server still holds it");
        let stored_changed = doc_heads(&after) != doc_heads(&before);
        let outcome = response.map(|r| r.results[0].outcome.clone());
        match outcome {
            Some(PushOutcome::Accepted { new_changes, .. }) if new_changes > 0 => {
                accepted.set(accepted.get() + 1);
                prop_assert!(stored_changed);
                let old = before.hydrate().expect("record");
                let new = after.hydrate().expect("record");
                let violations = policy::check_change(Some(&old), &new, &writer, Some("A"));
                prop_assert!(
                    violations.is_empty(),
                    "accepted {attack:?} against the policy: {violations:?}"
                );
                // Every accepted document saves and loads again.
                let mut copy = after.fork_as(&raw.actor);
                RecordDoc::load(&copy.save(), &raw.actor).expect("it round-trips");
            }
            _ => prop_assert!(!stored_changed, "refused {attack:?} but stored something"),
        }
        // The server keeps serving honest devices in between.
        if counter.get().is_multiple_of(16) {
            let mut devices = honest.borrow_mut();
            let (o, s) = &mut *devices;
            runtime.block_on(honest_round(o, s, &records, counter.get()));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Some attacks are honest edits of a draft the hostile officer attends: they are taken.
    assert!(
        accepted.get() > 0,
        "no attack was ever accepted: the property saw only refusals"
    );
    runtime.block_on(async {
        honest_round(&mut officer, &mut supervisor, &records, counter.get() + 1).await;
        sync_until_quiet(&mut [&mut officer, &mut supervisor]).await;
        for id in &records {
            let server = fleet.server_document(*id).expect("held");
            assert_eq!(
                heads_of(&mut officer.device, *id),
                doc_heads(&server),
                "the honest officer converged with the server"
            );
        }
        fleet.kill_server();
    });
}

/// The honest officer edits their draft and syncs; the supervisor syncs.
async fn honest_round(
    officer: &mut Member,
    supervisor: &mut Member,
    records: &[RecordId],
    n: usize,
) {
    officer
        .device
        .set_fields(records[0], &[format!("actions_taken=round {n}")])
        .expect("an honest edit of a draft");
    officer
        .device
        .sync(&fieldbook_core::sync::NoProgress)
        .await
        .expect("the honest officer syncs");
    supervisor
        .device
        .sync(&fieldbook_core::sync::NoProgress)
        .await
        .expect("the supervisor syncs");
}

/// A server; an honest officer's four issues (draft, submitted, approved, returned) attended by
/// the hostile officer; their supervisor; and the hostile device enrolled by hand.
async fn setup() -> (Fleet, Member, Member, Raw, Vec<RecordId>) {
    let mut fleet = Fleet::start().await;
    let mut officer = fleet.enrol("PC1", Role::Officer, Some("A")).await;
    let mut supervisor = fleet.enrol("SGT1", Role::Supervisor, Some("A")).await;
    let mut records = Vec::new();
    for n in 0..4 {
        let r = officer
            .device
            .create(
                RecordKind::NeighbourhoodIssue,
                Some(json!({
                    "narrative": format!("Group of youths throwing bottles, issue {n}."),
                    "attending_officers": [HOSTILE],
                    "asb_type": "rowdy-inconsiderate",
                    "qualifier": "nuisance",
                    "anonymous_reporter": true,
                    "location": {"description": "Play park behind Elm Road"},
                    "reported_at": "2026-09-21T14:13:20Z",
                })),
            )
            .expect("create");
        records.push(r.id());
    }
    let _ = sync_until_quiet(&mut [&mut officer]).await;
    for id in &records[1..] {
        officer
            .device
            .submit(*id)
            .expect("a complete issue submits");
    }
    sync_until_quiet(&mut [&mut officer, &mut supervisor]).await;
    supervisor.device.approve(records[2]).expect("approve");
    supervisor
        .device
        .return_to_author(records[3], "say where the group gathers")
        .expect("return");
    sync_until_quiet(&mut [&mut officer, &mut supervisor]).await;

    // The hostile device, enrolled by hand.
    let code = fleet
        .admin()
        .enrol(
            &OfficerId::new(HOSTILE).expect("id"),
            "Hostile Officer",
            Role::Officer,
            Some("A"),
        )
        .expect("code");
    let actor = fieldbook_core::doc::new_actor();
    let client = reqwest::Client::new();
    let request = EnrolRequest {
        protocol: wire::PROTOCOL_VERSION,
        code,
        actors: vec![actor.to_hex_string()],
        label: "crafted".into(),
    };
    let response = client
        .post(format!("{}/v1/enrol", fleet.url()))
        .header("content-type", wire::CONTENT_TYPE)
        .body(wire::encode(&request))
        .send()
        .await
        .expect("enrol");
    let body = response.bytes().await.expect("body");
    let enrolled: EnrolResponse = wire::decode(&body)
        .unwrap_or_else(|_| panic!("enrolment refused: {:?}", wire::decode::<ErrorBody>(&body)));
    let raw = Raw {
        client,
        url: fleet.url(),
        token: enrolled.token,
        actor,
    };
    // It receives the records it attends (a feed pull), as a phone would.
    let (status, body) = raw
        .post(
            "/v1/sync",
            wire::encode(&SyncRequest {
                protocol: wire::PROTOCOL_VERSION,
                cursor: 0,
                page_limit: 500,
                push: Vec::new(),
            }),
        )
        .await;
    assert_eq!(status, 200);
    let page: SyncResponse = wire::decode(&body).expect("a page");
    let received: HashMap<RecordId, ()> = page
        .page
        .entries
        .iter()
        .filter_map(|e| match e {
            FeedEntry::Snapshot { record, .. } => Some((*record, ())),
            _ => None,
        })
        .collect();
    assert_eq!(received.len(), 4, "the hostile officer attends all four");
    (fleet, officer, supervisor, raw, records)
}
