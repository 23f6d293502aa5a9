//! What each fuzz target does with one input, shared by the fuzz targets (`fuzz/`) and the
//! regression test that replays every input they found (`core/tests/it/fuzz.rs`), so a crash
//! found by fuzzing is replayed by `cargo test` through exactly the same code. Behind the
//! `testing` feature; never part of an app or the server.
//!
//! Each function runs one decoder that faces the network or a file, then what the device or the
//! server does next with what it decoded, and says whether the input got through or where it was
//! refused. Any input must end in one of those two; a panic, an abort, a hang or an allocation
//! past the bounds is a finding.

use crate::doc::bounded::{self, Bounds};
use crate::doc::{RecordDoc, record_at};
use crate::domain::{OfficerId, Record, RecordId, RecordKind, Role, Timestamp};
use crate::sync::wire::{self, EnrolRequest, FeedEntry, RepairRequest, SyncRequest, SyncResponse};
use automerge::ActorId;
use automerge::sync::SyncDoc;
use std::sync::OnceLock;

/// How one input ended: through every step, or refused at one (a stable code).
pub type Outcome = Result<(), &'static str>;

/// The fuzz targets, by name (the directories of their inputs).
pub const TARGETS: [&str; 4] = ["cbor_bodies", "change", "document", "sync_message"];

/// Runs the target called `name` on `data`; `None` for an unknown target.
pub fn run(name: &str, data: &[u8]) -> Option<Outcome> {
    match name {
        "cbor_bodies" => Some(cbor_bodies(data)),
        "change" => Some(change(data)),
        "document" => Some(document(data)),
        "sync_message" => Some(sync_message(data)),
        _ => None,
    }
}

const BOUNDS: Bounds = Bounds::RECORD;

fn actor() -> ActorId {
    ActorId::from(b"fieldbook-fuzz".as_slice())
}

/// A small valid record document (a crime report with a narrative and an officer), the one every
/// fuzzed change and sync message is applied to.
pub fn base_document() -> &'static RecordDoc {
    static BASE: OnceLock<RecordDoc> = OnceLock::new();
    BASE.get_or_init(|| {
        let officer = OfficerId::new("PC1").expect("a valid id");
        let at = Timestamp::from_millis(1_790_000_000_000).expect("a valid time");
        let id: RecordId = "0192f3c4-0000-7000-8000-000000000001"
            .parse()
            .expect("a valid id");
        let record = Record::new(RecordKind::CrimeReport, id, officer.clone(), at);
        let author = crate::doc::ChangeAuthor {
            by: officer,
            role: Role::Officer,
        };
        let mut doc = RecordDoc::create(&record, &ActorId::from([1u8; 16].as_slice()), &author, at)
            .expect("a new record is a document");
        let mut json = record.to_json();
        json["narrative"] = "Called to a disturbance at 21:00.".into();
        json["attending_officers"] = serde_json::json!(["PC2"]);
        if let Ok(edited) = Record::from_json(RecordKind::CrimeReport, json) {
            let _ = doc.update(&edited, &author, "edit", at);
        }
        doc
    })
}

/// The CBOR bodies a server or device decodes: each request the server accepts and the response
/// a device reads, and the automerge bytes inside them.
pub fn cbor_bodies(data: &[u8]) -> Outcome {
    let mut decoded = false;
    if let Ok(request) = wire::decode::<SyncRequest>(data) {
        decoded = true;
        for push in &request.push {
            for change in &push.changes {
                let _ = bounded::read_change(&change.0, &BOUNDS);
            }
        }
    }
    if let Ok(request) = wire::decode::<RepairRequest>(data) {
        decoded = true;
        let _ = bounded::read_sync_message(&request.message.0, &BOUNDS);
    }
    if wire::decode::<EnrolRequest>(data).is_ok() {
        decoded = true;
    }
    if let Ok(response) = wire::decode::<SyncResponse>(data) {
        decoded = true;
        for entry in &response.page.entries {
            match entry {
                FeedEntry::Changes { changes, .. } => {
                    for change in changes {
                        let _ = bounded::read_change(&change.bytes.0, &BOUNDS);
                    }
                }
                FeedEntry::Snapshot { document, .. } => {
                    let _ = RecordDoc::load_untrusted(&document.0, &actor(), &BOUNDS);
                }
                FeedEntry::Evict { .. } => {}
            }
        }
    }
    if decoded { Ok(()) } else { Err("not-a-body") }
}

/// A pushed or fed change: read within bounds, applied to a small record, then what the server
/// does with it (the record as of its dependencies, the record now, its history, its limits) and
/// a save and load of the result.
pub fn change(data: &[u8]) -> Outcome {
    let change = bounded::read_change(data, &BOUNDS).map_err(|e| e.code())?;
    let mut doc = base_document().fork_as(&actor());
    doc.apply_untrusted_change(data, &BOUNDS)
        .map_err(|_| "not-applied")?;
    let _ = record_at(doc.automerge(), change.deps());
    let _ = doc.history();
    let _ = doc.conflicts();
    let record = doc.hydrate().map_err(|_| "not-a-record")?;
    crate::limits::check(&record.to_json()).map_err(|_| "over-limits")?;
    RecordDoc::load_untrusted(&doc.save(), &actor(), &BOUNDS).map_err(|_| "no-round-trip")?;
    Ok(())
}

/// A document from elsewhere (a fed snapshot, an imported file): checked and loaded, then read
/// the ways a device reads it.
pub fn document(data: &[u8]) -> Outcome {
    let doc = RecordDoc::load_untrusted(data, &actor(), &BOUNDS).map_err(|e| match e {
        crate::doc::DocError::Bounds(b) => b.code(),
        _ => "not-a-record",
    })?;
    let record = doc.hydrate().map_err(|_| "not-a-record")?;
    crate::limits::check(&record.to_json()).map_err(|_| "over-limits")?;
    let _ = doc.conflicts();
    let _ = doc.history();
    let _ = doc.kind();
    Ok(())
}

/// A repair round's sync message: read within bounds, each change it carries read as a change,
/// then received by a replica of a small record and answered, as the server does.
pub fn sync_message(data: &[u8]) -> Outcome {
    let message = bounded::read_sync_message(data, &BOUNDS).map_err(|e| e.code())?;
    for chunk in message.changes.iter() {
        let _ = bounded::read_change(chunk, &BOUNDS);
    }
    let mut doc = base_document().automerge().fork();
    let mut state = automerge::sync::State::new();
    bounded::guarded(|| doc.receive_sync_message(&mut state, message))
        .map_err(|e| e.code())?
        .map_err(|_| "not-received")?;
    let _ = bounded::guarded(|| doc.generate_sync_message(&mut state)).map_err(|e| e.code())?;
    Ok(())
}
