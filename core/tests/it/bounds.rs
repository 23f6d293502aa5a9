//! The bounds on untrusted automerge bytes (`doc::bounded`, `limits`) against the fullest records
//! an honest device can make, and the frozen documents every version must keep loading.
//!
//! `limits::MAX_CHANGE_OPS` is derived from the record limits by a model of how many automerge
//! operations writing a record takes (one per scalar, list item and object, one per character of
//! free text). These tests check the model against automerge on real records, then check that
//! the fullest record of every kind, written whole and then replaced whole, fits the bound.

use automerge::ActorId;
use fieldbook_core::doc::{Bounds, ChangeAuthor, RecordDoc, bounded};
use fieldbook_core::domain::{OfficerId, Record, RecordKind, Role, Timestamp};
use fieldbook_core::limits::{
    MAX_CHANGE_BYTES, MAX_CHANGE_OPS, MAX_FIELD_BYTES, MAX_GROUNDS_BYTES, MAX_ITEM_OPS,
    MAX_LIST_ITEMS, MAX_NARRATIVE_BYTES, MAX_RECORD_LISTS, MAX_RECORD_SCALAR_OPS, NARRATIVE_FIELDS,
};
use serde_json::{Value, json};
use std::path::PathBuf;

const T: &str = "2026-09-21T14:13:20Z";

fn id(n: usize) -> String {
    format!("0192f3c4-0000-7000-8000-{n:012x}")
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("valid time")
}

fn author() -> ChangeAuthor {
    ChangeAuthor {
        by: OfficerId::new("PC1").expect("valid"),
        role: Role::Officer,
    }
}

/// `n` copies of `item(i)`.
fn list(n: usize, item: impl Fn(usize) -> Value) -> Value {
    Value::Array((0..n).map(item).collect())
}

/// A workflow event pinning two heads (as an approval does after a merge).
fn event(i: usize) -> Value {
    json!({
        "action": "approved", "by": "PS9", "role": "supervisor", "at": T,
        "reason": format!("step {i}"), "heads": ["ab".repeat(32), "cd".repeat(32)]
    })
}

fn location() -> Value {
    json!({"lat": 51.5, "lon": -0.12, "accuracy_m": 5.0, "description": "Outside 12 High Street",
           "street": "High Street", "ward": "Central"})
}

fn thrive() -> Value {
    json!({"threat": "t", "harm": "h", "risk": "r", "investigation": "i", "vulnerability": "v",
           "engagement": "e", "advice_given": "a"})
}

fn communication() -> Value {
    json!({"interpreter_language": "Polish", "easy_read": true, "braille": true, "intermediary": true})
}

/// Every field of `kind` set: each list at `items` items, each free text of `text` characters,
/// every other string at the longest it may be.
fn fullest(kind: RecordKind, items: usize, text: usize) -> Value {
    let long = "x".repeat(MAX_FIELD_BYTES);
    let narrative = "n".repeat(text);
    let meta = json!({
        "id": id(1), "kind": kind.as_str(), "author": "PC1", "created_at": T,
        "server_received_at": T, "workflow": list(items, event)
    });
    match kind {
        RecordKind::CrimeReport => json!({
            "meta": meta, "reported_at": T, "occurred_from": T, "occurred_to": T,
            "location": location(),
            "attending_officers": list(items, |i| json!(format!("PC{i}"))),
            "classification": {"offence": {"code": "8N", "label": long}, "category": "violent-crime"},
            "reclassification_reason": long,
            "recording_decision": {"decision": "crimed", "decided_at": T, "rationale": long},
            "narrative": narrative,
            "victims": list(items, |i| json!(id(100 + i))),
            "suspects": list(items, |i| json!(id(1000 + i))),
            "witnesses": list(items, |i| json!(id(2000 + i))),
            "property": list(items, |i| json!({"description": format!("item {i}"), "exhibit_ref": "EX1", "value_pence": 100})),
            "attachments": list(items, |i| json!({"sha256": "ab".repeat(32), "media_type": "image/jpeg", "caption": format!("photo {i}")})),
            "flags": {"domestic_abuse": true, "hate_crime": true, "repeat_victim": true, "vulnerable_victim": true},
            "thrive": thrive(),
            "outcome": {"code": "16", "label": long},
            "victim_decision": {"victim_id": id(100), "recorded_at": T, "method": "m", "evidence_ref": "e"},
            "assessment_exemptions": list(items, |i| json!({"victim_id": id(100 + i), "reason": "declined", "note": "n"})),
        }),
        RecordKind::VictimNeedsAssessment => json!({
            "meta": meta, "crime_id": id(1), "victim_id": id(100), "assessed_at": T,
            "enhanced_rights": list(items, |i| json!(format!("right-{i}"))),
            "enhanced_rights_overrides": list(items, |i| json!({"category": format!("c{i}"), "reason": "r"})),
            "communication": communication(),
            "contact": {"channel": "sms", "frequency": "weekly", "safe_contact_method": long, "automatic_messages": true},
            "referral": {"decision": "referred", "explicit_consent": true, "decided_at": T, "referred_at": T},
            "vps": "made", "acknowledgement_given": true, "notes": narrative,
        }),
        RecordKind::StopSearch => json!({
            "meta": meta, "type": "Person search", "detained_at": T, "searched_at": T,
            "location": location(), "search_location": location(),
            "legislation": long, "object_of_search": long, "grounds": "g".repeat(MAX_GROUNDS_BYTES),
            "authorisation_ref": long, "outcome": long,
            "outcome_linked_to_object_of_search": true, "removal_of_more_than_outer_clothing": true,
            "injury_or_damage": true, "injury_or_damage_details": long,
            "self_defined_ethnicity": long, "officer_defined_ethnicity": long, "gender": long,
            "age": {"years": 22, "estimated": true}, "age_range": "18-24",
            "vehicle_registration": long, "bwv_used": true, "bwv_reason": long,
            "receipt_given": true, "receipt_not_given_reason": long, "receipt_reference": long,
            "person_id": id(100), "person_description": long, "operation_name": long,
        }),
        RecordKind::NeighbourhoodIssue => json!({
            "meta": meta, "reported_at": T, "location": location(),
            "attending_officers": list(items, |i| json!(format!("PCSO{i}"))),
            "asb_type": "ASB-NUISANCE", "qualifier": long, "reporter_id": id(100),
            "anonymous_reporter": true, "flags": {"repeat": true, "vulnerable": true},
            "thrive": thrive(), "narrative": narrative, "actions_taken": narrative.clone(),
            "sara_plan_ref": long, "linked_crime_id": id(1),
        }),
        RecordKind::Person => json!({
            "meta": meta,
            "names": list(items, |i| json!({"given": format!("Given{i}"), "family": "Example", "alias": i > 0})),
            "date_of_birth": "1990-04-01", "address": long,
            "contact": {"phone": "07700 900123", "email": long},
            "communication": communication(), "description": long,
        }),
    }
}

/// The automerge operations writing `value` fresh takes, by the mapping's rules: an object or
/// list is one operation plus its contents, free text one plus one per character, a scalar one.
fn ops(key: &str, value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::String(s) if NARRATIVE_FIELDS.contains(&key) => 1 + s.chars().count(),
        Value::Object(m) => 1 + m.iter().map(|(k, v)| ops(k, v)).sum::<usize>(),
        Value::Array(items) => 1 + items.iter().map(|v| ops("", v).max(1)).sum::<usize>(),
        _ => 1,
    }
}

/// Operations to write a whole record (its root map already exists).
fn record_ops(json: &Value) -> usize {
    ops("", json) - 1
}

/// The parts of the bound: lists outside list items, the largest list item, and the operations
/// of everything outside lists and free text.
fn shape(json: &Value) -> (usize, usize, usize) {
    fn walk(key: &str, value: &Value, lists: &mut usize, item: &mut usize, rest: &mut usize) {
        match value {
            Value::Array(items) => {
                *lists += 1;
                *rest += 1;
                for v in items {
                    *item = (*item).max(ops("", v).max(1));
                }
            }
            Value::Object(m) => {
                *rest += 1;
                for (k, v) in m {
                    walk(k, v, lists, item, rest);
                }
            }
            Value::String(_) if NARRATIVE_FIELDS.contains(&key) => *rest += 1,
            Value::Null => {}
            _ => *rest += 1,
        }
    }
    let (mut lists, mut item, mut rest) = (0, 0, 0);
    walk("", json, &mut lists, &mut item, &mut rest);
    (lists, item, rest - 1)
}

fn create(kind: RecordKind, json: Value) -> RecordDoc {
    let record = Record::from_json(kind, json).expect("the fullest record is a record");
    RecordDoc::create(
        &record,
        &ActorId::from([3u8; 16].as_slice()),
        &author(),
        at(0),
    )
    .expect("creates")
}

#[test]
fn the_operation_model_counts_what_automerge_writes_for_every_kind() {
    for kind in RecordKind::ALL {
        let json = fullest(kind, 3, 40);
        let doc = create(kind, json.clone());
        let change = doc.automerge().get_last_local_change().expect("a change");
        assert_eq!(change.len(), record_ops(&json), "{kind}");
    }
}

#[test]
fn replacing_a_record_whole_takes_no_more_than_writing_the_old_and_the_new() {
    for kind in RecordKind::ALL {
        let old = fullest(kind, 3, 40);
        let mut doc = create(kind, old.clone());
        let mut new = fullest(kind, 3, 40);
        // Every item, every free text and every string different.
        let text: String = "m".repeat(40);
        for field in NARRATIVE_FIELDS {
            if new.get(field).is_some() {
                new[field] = Value::String(text.clone());
            }
        }
        let rewritten = serde_json::to_string(&new)
            .expect("json")
            .replace("Example", "Exemplar")
            .replace("PC", "DC")
            .replace("item ", "thing ")
            .replace("step ", "stage ");
        let new: Value = serde_json::from_str(&rewritten).expect("json");
        let record = Record::from_json(kind, new.clone()).expect("a record");
        doc.update(&record, &author(), "edit", at(1))
            .expect("saves");
        let change = doc.automerge().get_last_local_change().expect("a change");
        assert!(
            change.len() <= record_ops(&old) + record_ops(&new),
            "{kind}: {} > {}",
            change.len(),
            record_ops(&old) + record_ops(&new)
        );
    }
}

#[test]
fn the_fullest_record_of_every_kind_written_then_replaced_whole_fits_the_change_bound() {
    for kind in RecordKind::ALL {
        let json = fullest(kind, MAX_LIST_ITEMS, MAX_NARRATIVE_BYTES);
        let (lists, item, rest) = shape(&json);
        assert!(lists <= MAX_RECORD_LISTS, "{kind}: {lists} lists");
        assert!(
            item <= MAX_ITEM_OPS,
            "{kind}: an item takes {item} operations"
        );
        assert!(
            rest <= MAX_RECORD_SCALAR_OPS,
            "{kind}: {rest} other operations"
        );
        let replaced_whole = 2 * record_ops(&json);
        assert!(
            replaced_whole <= MAX_CHANGE_OPS,
            "{kind}: {replaced_whole} > {MAX_CHANGE_OPS}"
        );
    }
}

#[test]
fn the_fullest_records_are_accepted_by_the_guard_as_changes_and_documents() {
    for kind in RecordKind::ALL {
        let json = fullest(kind, MAX_LIST_ITEMS, MAX_NARRATIVE_BYTES);
        let mut doc = create(kind, json.clone());
        let mut change = doc.automerge().get_last_local_change().expect("a change");
        assert_eq!(change.len(), record_ops(&json), "{kind}");
        // A whole replacement writes about as many bytes again.
        assert!(
            2 * change.raw_bytes().len() <= MAX_CHANGE_BYTES,
            "{kind}: {} bytes",
            change.raw_bytes().len()
        );
        let read = bounded::read_change(&change.bytes(), &Bounds::RECORD).expect("passes");
        assert_eq!(read.hash(), change.hash());
        let saved = doc.save();
        bounded::check_document(&saved, &Bounds::RECORD).expect("passes");
        let loaded =
            RecordDoc::load_untrusted(&saved, &ActorId::random(), &Bounds::RECORD).expect("loads");
        assert_eq!(
            loaded.hydrate().expect("hydrates").to_json(),
            json,
            "{kind}"
        );
    }
}

fn v1_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("fixtures")
        .join("v1")
}

#[test]
fn every_frozen_v1_document_passes_the_guard_and_loads_the_same() {
    let mut seen = 0;
    for entry in std::fs::read_dir(v1_fixtures()).expect("the v1 fixtures") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "automerge") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("reads");
        let actor = ActorId::random();
        let plain = RecordDoc::load(&bytes, &actor).expect("loads");
        let guarded = RecordDoc::load_untrusted(&bytes, &actor, &Bounds::RECORD)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(guarded.heads(), plain.heads());
        assert_eq!(guarded.to_json(), plain.to_json());
        seen += 1;
    }
    assert_eq!(seen, RecordKind::ALL.len());
}
