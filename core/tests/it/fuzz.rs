//! Every input the fuzz targets (`fuzz/`) found, replayed through the same code they run
//! (`fieldbook_core::fuzzing`), kept forever under `core/tests/fixtures/fuzz/<target>/`; and the
//! minimized corpus the targets start from (`fuzz/corpus/<target>/`), replayed the same way.
//!
//! `write_fuzz_seeds` (ignored) writes the seed inputs: real bytes the core makes. Run it with
//! `cargo test -p fieldbook-core --test it -- --ignored write_fuzz_seeds` (see
//! `docs/security.md`, "Fuzzing").

use automerge::ActorId;
use automerge::sync::SyncDoc;
use fieldbook_core::doc::{ChangeAuthor, RecordDoc};
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role, Timestamp};
use fieldbook_core::fuzzing::{self, TARGETS};
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, FeedEntry, FeedPage, Hash, PushOutcome, PushResult, Receipt,
    ReceivedChange, RecordPush, RepairRequest, SyncRequest, SyncResponse,
};
use serde_json::json;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn findings(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join("fuzz")
        .join(target)
}

fn corpus(target: &str) -> PathBuf {
    repo().join("fuzz").join("corpus").join(target)
}

/// The files of a directory (none if it does not exist), in name order.
fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path()).expect("reads");
            (name, bytes)
        })
        .filter(|(name, _)| !name.starts_with('.') && !name.ends_with(".md"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_input_the_fuzzers_found_is_now_refused_cleanly() {
    for target in TARGETS {
        for (name, bytes) in inputs(&findings(target)) {
            let outcome = fuzzing::run(target, &bytes).expect("a known target");
            assert!(
                outcome.is_err(),
                "{target}/{name} got through every step; it was a crash, a hang or an overlarge allocation"
            );
        }
    }
}

#[test]
fn the_committed_corpus_of_every_target_runs_to_an_outcome() {
    for target in TARGETS {
        let files = inputs(&corpus(target));
        assert!(!files.is_empty(), "fuzz/corpus/{target} holds inputs");
        let through = files
            .iter()
            .filter(|(_, bytes)| fuzzing::run(target, bytes).expect("a known target").is_ok())
            .count();
        // The seeds are real bytes the core makes: some of every target get all the way through.
        assert!(through > 0, "no input of fuzz/corpus/{target} got through");
    }
}

#[test]
fn the_seeds_the_core_makes_pass_the_bounds_and_the_base_document_takes_its_change() {
    for (target, inputs) in seeds() {
        for (name, bytes) in inputs {
            let outcome = fuzzing::run(target, &bytes).expect("a known target");
            if target == "change" && !name.starts_with("on-base") {
                // A change of another record: within bounds, whatever it does to the base.
                let read = fieldbook_core::doc::bounded::read_change(
                    &bytes,
                    &fieldbook_core::doc::Bounds::RECORD,
                );
                assert!(read.is_ok(), "{target}/{name}: {read:?}");
            } else {
                assert_eq!(outcome, Ok(()), "{target}/{name}");
            }
        }
    }
}

/// Writes the seeds into `fuzz/corpus/<target>/seed-*` (run by hand, then minimize the corpus).
#[test]
#[ignore = "writes the fuzz seeds; run by hand (docs/security.md)"]
fn write_fuzz_seeds() {
    for (target, inputs) in seeds() {
        let dir = corpus(target);
        std::fs::create_dir_all(&dir).expect("creates");
        for (name, bytes) in inputs {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("writes");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds: real bytes the core makes
// ---------------------------------------------------------------------------------------------

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("valid time")
}

fn author(id: &str) -> ChangeAuthor {
    ChangeAuthor {
        by: OfficerId::new(id).expect("valid"),
        role: Role::Officer,
    }
}

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 16].as_slice())
}

fn record_id(n: u128) -> RecordId {
    format!("0192f3c4-0000-7000-8000-{n:012x}")
        .parse()
        .expect("valid")
}

/// A small document of `kind`, created and edited twice (deterministic: fixed actor and times).
fn small(kind: RecordKind, n: u128) -> RecordDoc {
    let mut record = Record::new(
        kind,
        record_id(n),
        OfficerId::new("PC1").expect("valid"),
        at(0),
    );
    let mut doc = RecordDoc::create(&record, &actor(1), &author("PC1"), at(0)).expect("creates");
    for step in 0..2 {
        let mut json = record.to_json();
        match kind {
            RecordKind::CrimeReport | RecordKind::NeighbourhoodIssue => {
                json["narrative"] = format!("Called at 21:0{step}. Spoke to the caller.").into();
                json["attending_officers"] = json!(["PC2"]);
            }
            RecordKind::VictimNeedsAssessment => json["notes"] = format!("Update {step}").into(),
            RecordKind::StopSearch => json["grounds"] = format!("Seen passing a bag {step}").into(),
            RecordKind::Person => json["address"] = format!("{step} High Street").into(),
        }
        record = Record::from_json(kind, json).expect("a record");
        doc.update(&record, &author("PC1"), "edit", at(step + 1))
            .expect("saves");
    }
    doc
}

type Seeds = Vec<(&'static str, Vec<(String, Vec<u8>)>)>;

fn seeds() -> Seeds {
    let mut changes = Vec::new();
    let mut documents = Vec::new();
    for (n, kind) in RecordKind::ALL.into_iter().enumerate() {
        let mut doc = small(kind, n as u128 + 1);
        documents.push((format!("{kind}.automerge"), doc.save()));
        for (i, mut change) in doc.automerge().get_changes(&[]).into_iter().enumerate() {
            changes.push((format!("{kind}-{i}.change"), change.raw_bytes().to_vec()));
            if i == 0 {
                changes.push((
                    format!("{kind}-{i}.compressed"),
                    change.bytes().into_owned(),
                ));
            }
        }
    }
    // A change on top of the fuzz targets' base document, by a second officer.
    let base = fuzzing::base_document();
    let mut second = base.fork_as(&actor(2));
    let mut record = second.hydrate().expect("hydrates");
    if let Record::Crime(c) = &mut record {
        c.narrative.push_str(" Victim had a cut lip.");
    }
    second
        .update(&record, &author("PC2"), "edit", at(10))
        .expect("saves");
    let mut on_base = second
        .automerge()
        .get_last_local_change()
        .expect("a change");
    changes.push(("on-base.change".into(), on_base.raw_bytes().to_vec()));
    changes.push(("on-base.compressed".into(), on_base.bytes().into_owned()));
    // A compacted document followed by incremental chunks.
    let mut incremental = second.fork_as(&actor(3));
    let mut stored = incremental.save();
    record = incremental.hydrate().expect("hydrates");
    if let Record::Crime(c) = &mut record {
        c.narrative.push_str(" Later addition.");
    }
    incremental
        .update(&record, &author("PC1"), "edit", at(11))
        .expect("saves");
    stored.extend(incremental.save_incremental().expect("changed"));
    documents.push(("compacted-plus-chunk.automerge".into(), stored));

    // Sync messages: a repair conversation between the base document and a device's replica.
    let mut device = second.automerge().fork();
    let mut server = base.automerge().fork();
    let (mut device_state, mut server_state) =
        (automerge::sync::State::new(), automerge::sync::State::new());
    let mut messages = Vec::new();
    for round in 0..4 {
        if let Some(m) = device.generate_sync_message(&mut device_state) {
            let bytes = m.clone().encode();
            messages.push((format!("device-{round}.sync"), bytes));
            server
                .receive_sync_message(&mut server_state, m)
                .expect("receives");
        }
        if let Some(m) = server.generate_sync_message(&mut server_state) {
            messages.push((format!("server-{round}.sync"), m.clone().encode()));
            device
                .receive_sync_message(&mut device_state, m)
                .expect("receives");
        }
    }

    // A message carrying a change, with a Bloom filter of what the sender holds; and a V2
    // message carrying a whole document, as automerge sends to a peer with nothing.
    let held: Vec<automerge::ChangeHash> = base.heads();
    let have = automerge::sync::Have {
        last_sync: Vec::new(),
        bloom: automerge::sync::BloomFilter::from_hashes(held.iter()),
    };
    let with_change = automerge::sync::Message {
        heads: second.heads(),
        need: Vec::new(),
        have: vec![have.clone()],
        changes: vec![on_base.raw_bytes().to_vec()].into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    };
    messages.push(("with-change.sync".into(), with_change.encode()));
    let whole = automerge::sync::Message {
        heads: second.heads(),
        need: held.clone(),
        have: vec![have],
        changes: second.automerge().save().into(),
        flags: None,
        version: automerge::sync::MessageVersion::V2,
    };
    messages.push(("whole-document-v2.sync".into(), whole.encode()));

    // CBOR bodies with the bytes above inside them.
    let hash = Hash(on_base.hash().0.to_vec());
    let sync_request = SyncRequest {
        protocol: 1,
        cursor: 7,
        page_limit: 500,
        push: vec![RecordPush {
            record: record_id(1),
            kind: RecordKind::CrimeReport,
            changes: vec![Bytes(on_base.raw_bytes().to_vec())],
        }],
    };
    let repair = RepairRequest {
        protocol: 1,
        record: record_id(1),
        kind: RecordKind::CrimeReport,
        message: Bytes(messages.first().map(|m| m.1.clone()).unwrap_or_default()),
    };
    let enrol = EnrolRequest {
        protocol: 1,
        code: "ABCD-EFGH-IJKL".into(),
        actors: vec![actor(1).to_hex_string()],
        label: "PC1 phone".into(),
    };
    let response = SyncResponse {
        results: vec![
            PushResult {
                record: record_id(1),
                outcome: PushOutcome::Accepted {
                    heads: vec![hash.clone()],
                    received_at: 1_790_000_000_000,
                    new_changes: 1,
                },
            },
            PushResult {
                record: record_id(2),
                outcome: PushOutcome::Rejected {
                    rule: "policy-locked".into(),
                    message: "the record is submitted".into(),
                    change: Some(hash.clone()),
                    field: Some("narrative".into()),
                },
            },
        ],
        page: FeedPage {
            entries: vec![
                FeedEntry::Changes {
                    record: record_id(1),
                    kind: RecordKind::CrimeReport,
                    changes: vec![ReceivedChange {
                        bytes: Bytes(on_base.raw_bytes().to_vec()),
                        received_at: 1_790_000_000_001,
                    }],
                    heads: vec![hash.clone()],
                },
                FeedEntry::Snapshot {
                    record: record_id(3),
                    kind: RecordKind::StopSearch,
                    document: Bytes(documents[2].1.clone()),
                    heads: vec![hash.clone()],
                    receipts: vec![Receipt {
                        hash,
                        received_at: 1_790_000_000_002,
                    }],
                },
                FeedEntry::Evict {
                    record: record_id(4),
                },
            ],
            cursor: 9,
            more: false,
        },
    };
    let bodies = vec![
        ("sync-request.cbor".to_owned(), wire::encode(&sync_request)),
        ("repair-request.cbor".to_owned(), wire::encode(&repair)),
        ("enrol-request.cbor".to_owned(), wire::encode(&enrol)),
        ("sync-response.cbor".to_owned(), wire::encode(&response)),
    ];
    vec![
        ("cbor_bodies", bodies),
        ("change", changes),
        ("document", documents),
        ("sync_message", messages),
    ]
}

// ---------------------------------------------------------------------------------------------
// Inputs that crashed or exhausted the server before `doc::bounded`, kept as findings
// ---------------------------------------------------------------------------------------------

/// Writes the inputs found by reading automerge and by the probe of issue 9 (each crashed, hung
/// or exhausted memory before the bounds) into `core/tests/fixtures/fuzz/<target>/`.
#[test]
#[ignore = "writes the known crash inputs; run by hand"]
fn write_known_crash_inputs() {
    for (target, inputs) in known_crash_inputs() {
        let dir = findings(target);
        std::fs::create_dir_all(&dir).expect("creates");
        for (name, bytes) in inputs {
            std::fs::write(dir.join(name), bytes).expect("writes");
        }
    }
}

fn uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Raw DEFLATE of `len` zero bytes.
fn deflated_zeros(len: usize) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..len / block.len() {
        encoder.write_all(&block).expect("in memory");
    }
    encoder.finish().expect("in memory")
}

fn chunk(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, kind];
    uleb(&mut out, body.len() as u64);
    out.extend_from_slice(body);
    out
}

/// A V1 sync message with one Bloom filter (entries, bits per entry, probes).
fn sync_with_bloom(entries: u64, bits_per_entry: u64, probes: u64) -> Vec<u8> {
    let mut bloom = Vec::new();
    for value in [entries, bits_per_entry, probes] {
        uleb(&mut bloom, value);
    }
    bloom.extend(std::iter::repeat_n(
        0xffu8,
        (entries * bits_per_entry).div_ceil(8) as usize,
    ));
    let mut out = vec![0x42, 0, 0, 1, 0];
    uleb(&mut out, bloom.len() as u64);
    out.extend(bloom);
    out.push(0); // no changes
    out
}

fn known_crash_inputs() -> Seeds {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT};
    let base = fuzzing::base_document();

    // Two million characters in one transaction: 2 KB compressed, 10-33 s for a server to apply.
    let mut am = base.automerge().fork().with_actor(actor(4));
    let mut tx = am.transaction();
    let text = tx
        .put_object(ROOT, "sara_plan_ref", ObjType::Text)
        .expect("text");
    tx.splice_text(&text, 0, 0, &"a".repeat(2_000_000))
        .expect("splices");
    tx.commit();
    let mut two_million = am.get_last_local_change().expect("a change");

    // Maps nested 10,000 deep: the recursive reader overflowed the stack (an abort).
    let mut am = base.automerge().fork().with_actor(actor(5));
    let mut tx = am.transaction();
    let mut obj = tx
        .put_object(ROOT, "sara_plan_ref", ObjType::Map)
        .expect("map");
    for _ in 0..10_000 {
        obj = tx.put_object(&obj, "x", ObjType::Map).expect("map");
    }
    tx.commit();
    let mut deep = am.get_last_local_change().expect("a change");

    // A deflated document column of 16 MiB of zeros.
    let column = deflated_zeros(16 << 20);
    let mut doc_body = vec![0, 0, 0, 1];
    uleb(&mut doc_body, (5 << 4) | 7 | 8);
    uleb(&mut doc_body, column.len() as u64);
    doc_body.extend(column);

    vec![
        (
            "change",
            vec![
                (
                    "probe-two-million-ops.compressed".into(),
                    two_million.bytes().into_owned(),
                ),
                (
                    "reading-nested-10000-deep.compressed".into(),
                    deep.bytes().into_owned(),
                ),
                (
                    "probe-inflates-to-16-mib.compressed".into(),
                    chunk(2, &deflated_zeros(16 << 20)),
                ),
            ],
        ),
        (
            "document",
            vec![
                ("reading-nested-10000-deep.automerge".into(), am.save()),
                (
                    "reading-deflated-column-16-mib.automerge".into(),
                    chunk(0, &doc_body),
                ),
            ],
        ),
        (
            "sync_message",
            vec![
                (
                    "reading-bloom-4-billion-probes.sync".into(),
                    sync_with_bloom(1, 10, u64::from(u32::MAX)),
                ),
                (
                    "reading-bloom-no-bits.sync".into(),
                    sync_with_bloom(5, 0, 7),
                ),
            ],
        ),
    ]
}
