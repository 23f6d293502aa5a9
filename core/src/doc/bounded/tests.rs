use super::*;
use crate::doc::{ChangeAuthor, DocError, RecordDoc, new_actor};
use crate::domain::{OfficerId, Record, RecordId, RecordKind, Role, Timestamp};
use automerge::{ActorId, Automerge, ObjType, ROOT, transaction::Transactable};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::OnceLock;

const RECORD: Bounds = Bounds::RECORD;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("valid time")
}

fn officer(id: &str) -> ChangeAuthor {
    ChangeAuthor {
        by: OfficerId::new(id).expect("valid id"),
        role: Role::Officer,
    }
}

/// `record` with the fields of `patch` set over it.
fn patched(record: &Record, patch: Value) -> Record {
    let mut json = record.to_json();
    let (Value::Object(target), Value::Object(fields)) = (&mut json, patch) else {
        panic!("records and patches are JSON objects");
    };
    target.extend(fields);
    Record::from_json(record.kind(), json).expect("the patched record is well typed")
}

/// The fields an edit of each kind writes: its free text, if it has one, and a list or scalar.
fn edit_of(kind: RecordKind, n: usize, text: &str) -> Value {
    let officers: Vec<String> = (0..n % 4).map(|i| format!("PC{}", 10 + i)).collect();
    match kind {
        RecordKind::CrimeReport => json!({"narrative": text, "attending_officers": officers}),
        RecordKind::NeighbourhoodIssue => {
            json!({"narrative": text, "actions_taken": format!("visit {n}"), "attending_officers": officers})
        }
        RecordKind::VictimNeedsAssessment => {
            json!({"notes": text, "enhanced_rights": if n.is_multiple_of(2) { vec!["domestic-abuse"] } else { vec![] }})
        }
        RecordKind::StopSearch => json!({"grounds": text, "receipt_reference": format!("SS-{n}")}),
        RecordKind::Person => {
            json!({"address": text, "names": [{"given": "Sam", "family": format!("Example{n}")}]})
        }
    }
}

/// A document of `kind` made through `RecordDoc`: created, then edited `edits` times.
fn edited(kind: RecordKind, edits: usize) -> RecordDoc {
    let mut record = Record::new(
        kind,
        RecordId::generate(),
        OfficerId::new("PC1").expect("valid"),
        at(0),
    );
    let mut doc =
        RecordDoc::create(&record, &new_actor(), &officer("PC1"), at(0)).expect("creates");
    let mut text = String::new();
    for n in 0..edits {
        text.push_str(&format!("Line {n} of the account. "));
        record = patched(&record, edit_of(kind, n, &text));
        doc.update(&record, &officer("PC1"), "edit", at(n as i64 + 1))
            .expect("saves");
    }
    doc
}

/// Every change of `doc` reads back unchanged, raw and compressed.
fn assert_changes_pass(doc: &RecordDoc) -> usize {
    let mut compressed_seen = 0;
    for change in doc.automerge().get_changes(&[]) {
        let raw = change.raw_bytes();
        let read = read_change(raw, &RECORD).expect("an honest change passes");
        assert_eq!(read.raw_bytes(), raw);
        assert_eq!(read.hash(), change.hash());
        assert_eq!(read.len(), change.len());
        let mut copy = change.clone();
        let bytes = copy.bytes().into_owned();
        if bytes[8] == 2 {
            compressed_seen += 1;
        }
        let read = read_change(&bytes, &RECORD).expect("an honest compressed change passes");
        assert_eq!(
            read.raw_bytes(),
            raw,
            "the compressed form reads as its raw change"
        );
        assert_eq!(read.hash(), change.hash());
        assert_eq!(read.decode(), change.decode());
    }
    compressed_seen
}

/// `bytes` load the same with and without the guard.
fn assert_document_passes(bytes: &[u8]) {
    check_document(bytes, &RECORD).expect("an honest document passes");
    let actor = ActorId::from(b"fieldbook-bounds-test".as_slice());
    let plain = RecordDoc::load(bytes, &actor).expect("loads");
    let guarded = RecordDoc::load_untrusted(bytes, &actor, &RECORD).expect("loads guarded");
    assert_eq!(guarded.heads(), plain.heads());
    assert_eq!(
        guarded.hydrate().expect("hydrates"),
        plain.hydrate().expect("hydrates")
    );
    assert_eq!(guarded.to_json(), plain.to_json());
}

#[test]
fn every_honest_change_of_every_kind_reads_back_unchanged() {
    for kind in RecordKind::ALL {
        let doc = edited(kind, 12);
        assert_changes_pass(&doc);
    }
}

#[test]
fn a_long_narrative_near_its_limit_passes_as_a_change_and_as_a_document() {
    let mut record = Record::new(
        RecordKind::CrimeReport,
        RecordId::generate(),
        OfficerId::new("PC1").expect("valid"),
        at(0),
    );
    let mut doc =
        RecordDoc::create(&record, &new_actor(), &officer("PC1"), at(0)).expect("creates");
    let long: String = "Statement. ".repeat(crate::limits::MAX_NARRATIVE_BYTES / 11);
    assert!(long.len() <= crate::limits::MAX_NARRATIVE_BYTES);
    record = patched(&record, json!({"narrative": long}));
    doc.update(&record, &officer("PC1"), "edit", at(1))
        .expect("saves");
    // An amendment at the end (a diff of a whole rewrite is slow to compute).
    let mut amended = long[..long.len() - 20].to_owned();
    amended.push_str(" Amended at 22:00.");
    record = patched(&record, json!({"narrative": amended}));
    doc.update(&record, &officer("PC1"), "edit", at(2))
        .expect("saves");
    assert!(
        assert_changes_pass(&doc) > 0,
        "a long narrative's change is compressed"
    );
    assert_document_passes(&doc.save());
}

#[test]
fn whole_documents_of_every_kind_load_the_same_with_and_without_the_guard() {
    for kind in RecordKind::ALL {
        let mut doc = edited(kind, 40);
        assert_document_passes(&doc.save());
    }
}

#[test]
fn a_compacted_save_followed_by_incremental_chunks_passes() {
    let mut doc = edited(RecordKind::NeighbourhoodIssue, 5);
    let mut bytes = doc.save();
    let mut record = doc.hydrate().expect("hydrates");
    for n in 0..6 {
        record = patched(
            &record,
            edit_of(RecordKind::NeighbourhoodIssue, n, &format!("later {n}")),
        );
        doc.update(&record, &officer("PC1"), "edit", at(100 + n as i64))
            .expect("saves");
        bytes.extend(doc.save_incremental().expect("something changed"));
    }
    assert_document_passes(&bytes);
}

#[test]
fn a_merge_of_two_replicas_passes_as_changes_and_as_a_document() {
    let mut ours = edited(RecordKind::CrimeReport, 3);
    let mut theirs = ours.fork_as(&new_actor());
    let base = ours.hydrate().expect("hydrates");
    let mine = patched(&base, json!({"narrative": "Ours: called at 21:00."}));
    let other = patched(&base, json!({"attending_officers": ["PC2"]}));
    ours.update(&mine, &officer("PC1"), "edit", at(10))
        .expect("saves");
    theirs
        .update(&other, &officer("PC2"), "edit", at(11))
        .expect("saves");
    ours.merge(&mut theirs).expect("merges");
    assert_eq!(ours.heads().len(), 2);
    assert_changes_pass(&ours);
    assert_document_passes(&ours.save());
}

#[test]
fn an_applied_untrusted_change_gives_the_same_document_as_a_plain_apply() {
    let doc = edited(RecordKind::CrimeReport, 4);
    let mut later = doc.fork_as(&new_actor());
    let mut record = later.hydrate().expect("hydrates");
    record = patched(
        &record,
        json!({"narrative": "Updated by the second officer."}),
    );
    later
        .update(&record, &officer("PC2"), "edit", at(20))
        .expect("saves");
    let change = later.automerge().get_last_local_change().expect("a change");
    let mut guarded = doc.fork_as(&new_actor());
    let mut plain = doc.fork_as(&new_actor());
    let mut compressed = change.clone();
    let hash = guarded
        .apply_untrusted_change(&compressed.bytes(), &RECORD)
        .expect("applies");
    plain.apply_changes(change.raw_bytes()).expect("applies");
    assert_eq!(hash, change.hash());
    assert_eq!(guarded.heads(), plain.heads());
    assert_eq!(guarded.hydrate().expect("ok"), record);
}

// ---------------------------------------------------------------------------------------------
// Compression bombs
// ---------------------------------------------------------------------------------------------

/// Raw DEFLATE of `len` zero bytes, written in blocks so the zeros are never held whole.
fn deflated_zeros(len: usize) -> Vec<u8> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        encoder.write_all(&block[..n]).expect("in memory");
        left -= n;
    }
    encoder.finish().expect("in memory")
}

fn chunk(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend([0, 0, 0, 0]);
    out.push(kind);
    write_uleb(&mut out, body.len() as u64);
    out.extend_from_slice(body);
    out
}

const HUNDRED_MB: usize = 100 * 1024 * 1024;

fn compressed_bomb() -> Vec<u8> {
    chunk(2, &deflated_zeros(HUNDRED_MB))
}

#[test]
fn a_compressed_change_inflating_to_100_mb_is_refused() {
    let bomb = compressed_bomb();
    assert!(bomb.len() < 200 * 1024, "{} bytes", bomb.len());
    assert_eq!(
        read_change(&bomb, &RECORD).unwrap_err(),
        BoundsError::TooLarge {
            limit: RECORD.max_change_bytes
        }
    );
    assert!(matches!(
        check_document(&bomb, &RECORD),
        Err(BoundsError::TooLarge { .. })
    ));
    let actor = new_actor();
    assert!(matches!(
        RecordDoc::load_untrusted(&bomb, &actor, &RECORD),
        Err(DocError::Bounds(BoundsError::TooLarge { .. }))
    ));
}

/// The peak resident memory of this process, from `/proc/self/status`.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run alone in a child process by the test below (so no other test's memory counts).
#[test]
#[ignore = "run by refusing_a_100_mb_bomb_keeps_peak_memory_small in a process of its own"]
fn bomb_peak_memory_probe() {
    let bomb = compressed_bomb();
    let before = peak_rss_kib().expect("linux reports VmHWM");
    let refused_change = read_change(&bomb, &RECORD).is_err();
    let refused_document = check_document(&bomb, &RECORD).is_err();
    let after = peak_rss_kib().expect("linux reports VmHWM");
    println!(
        "probe: refused={} growth_kib={}",
        refused_change && refused_document,
        after.saturating_sub(before)
    );
}

#[test]
fn refusing_a_100_mb_bomb_keeps_peak_memory_small() {
    if peak_rss_kib().is_none() {
        eprintln!("no /proc/self/status here: the peak memory check needs Linux");
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args([
            "doc::bounded::tests::bomb_peak_memory_probe",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .expect("the probe runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.find("probe: ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("the probe printed nothing: {stdout}"));
    assert!(line.contains("refused=true"), "{line}");
    let growth: u64 = line
        .rsplit('=')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number");
    assert!(
        growth < 64 * 1024,
        "peak memory grew by {growth} KiB while refusing the bomb"
    );
}

/// A document chunk whose one operation column is a deflated value column of `inflated` zeros.
fn document_with_deflated_column(inflated: usize) -> Vec<u8> {
    let column = deflated_zeros(inflated);
    let mut body = Vec::new();
    write_uleb(&mut body, 0); // actors
    write_uleb(&mut body, 0); // heads
    write_uleb(&mut body, 0); // change columns
    write_uleb(&mut body, 1); // op columns
    write_uleb(&mut body, u64::from((5 << 4) | 7 | DEFLATE_BIT));
    write_uleb(&mut body, column.len() as u64);
    body.extend(column);
    chunk(0, &body)
}

#[test]
fn a_deflated_document_column_inflating_past_the_bound_is_refused() {
    let bomb = document_with_deflated_column(HUNDRED_MB);
    assert_eq!(
        check_document(&bomb, &RECORD).unwrap_err(),
        BoundsError::TooLarge {
            limit: RECORD.max_document_bytes
        }
    );
    assert!(matches!(
        RecordDoc::load_untrusted(&bomb, &new_actor(), &RECORD),
        Err(DocError::Bounds(BoundsError::TooLarge { .. }))
    ));
}

#[test]
fn an_honest_document_that_inflates_past_a_smaller_bound_is_refused() {
    let mut doc = edited(RecordKind::CrimeReport, 60);
    let bytes = doc.save();
    let deflated = doc.automerge().save_nocompress();
    assert!(deflated.len() > bytes.len(), "the save deflates columns");
    let tight = Bounds {
        max_document_bytes: bytes.len() + 1,
        ..RECORD
    };
    assert_eq!(
        check_document(&bytes, &tight).unwrap_err(),
        BoundsError::TooLarge {
            limit: bytes.len() + 1
        }
    );
    let roomy = Bounds {
        max_document_bytes: deflated.len(),
        ..RECORD
    };
    check_document(&bytes, &roomy).expect("fits exactly when inflated");
}

// ---------------------------------------------------------------------------------------------
// Run-length encoded operation counts
// ---------------------------------------------------------------------------------------------

const TWO_MILLION: usize = 2_000_000;

/// One transaction inserting two million characters into a text object: a few KB of bytes.
fn two_million_ops() -> &'static (Vec<u8>, Vec<u8>, Vec<u8>) {
    static BYTES: OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = OnceLock::new();
    BYTES.get_or_init(|| {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let text = tx
            .put_object(ROOT, "narrative", ObjType::Text)
            .expect("a text");
        tx.splice_text(&text, 0, 0, &"a".repeat(TWO_MILLION))
            .expect("splices");
        tx.commit();
        let mut change = doc.get_last_local_change().expect("a change");
        let raw = change.raw_bytes().to_vec();
        let compressed = change.bytes().into_owned();
        (raw, compressed, doc.save())
    })
}

#[test]
fn a_change_of_two_million_run_length_encoded_operations_is_refused_by_count() {
    let (raw, compressed, _) = two_million_ops();
    assert!(compressed.len() < 8 * 1024, "{} bytes", compressed.len());
    let expected = BoundsError::TooManyOperations {
        seen: TWO_MILLION as u64 + 1,
        limit: RECORD.max_change_ops,
    };
    assert_eq!(read_change(raw, &RECORD).unwrap_err(), expected);
    assert_eq!(read_change(compressed, &RECORD).unwrap_err(), expected);
}

#[test]
fn a_document_of_two_million_operations_is_refused_by_count() {
    let (raw, compressed, document) = two_million_ops();
    for bytes in [raw, compressed, document] {
        assert!(
            matches!(
                check_document(bytes, &RECORD),
                Err(BoundsError::TooManyOperations { seen, limit })
                    if seen > TWO_MILLION as u64 && limit < seen
            ),
            "{:?}",
            check_document(bytes, &RECORD)
        );
        assert!(matches!(
            RecordDoc::load_untrusted(bytes, &new_actor(), &RECORD),
            Err(DocError::Bounds(BoundsError::TooManyOperations { .. }))
        ));
    }
}

/// A change chunk body with the given operation columns (and no dependencies).
fn change_body(columns: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    write_uleb(&mut body, 0); // deps
    write_uleb(&mut body, 16);
    body.extend([7u8; 16]); // actor
    write_uleb(&mut body, 1); // seq
    write_uleb(&mut body, 1); // start op
    write_uleb(&mut body, 0); // time
    write_uleb(&mut body, 0); // message
    write_uleb(&mut body, 0); // other actors
    write_uleb(&mut body, columns.len() as u64);
    for (spec, data) in columns {
        write_uleb(&mut body, u64::from(*spec));
        write_uleb(&mut body, data.len() as u64);
    }
    for (_, data) in columns {
        body.extend(data);
    }
    body
}

fn sleb(value: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut value = value;
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return out;
        }
    }
}

fn uleb(value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_uleb(&mut out, value);
    out
}

#[test]
fn run_lengths_claiming_huge_counts_in_any_column_are_refused_before_automerge() {
    let huge_run = [sleb(i64::MAX), uleb(1)].concat();
    let huge_nulls = [sleb(0), uleb(u64::MAX)].concat();
    let min_literal = [sleb(i64::MIN), uleb(1)].concat();
    let huge_bools = uleb(u64::MAX);
    let huge_group = [sleb(1), uleb(u64::MAX)].concat();
    let cases: [(u32, Vec<u8>); 7] = [
        (CHANGE_ACTION_SPEC, huge_run.clone()),
        (CHANGE_ACTION_SPEC, huge_nulls.clone()),
        (
            (1 << 4) | 5,
            [sleb(1 << 40), uleb(1), b"k".to_vec()].concat(),
        ),
        ((3 << 4) | 4, huge_bools),
        (7 << 4, huge_group),
        ((2 << 4) | 3, huge_nulls),
        (1, min_literal),
    ];
    for (spec, data) in cases {
        let bytes = chunk(1, &change_body(&[(spec, data)]));
        let err = read_change(&bytes, &RECORD).unwrap_err();
        assert!(
            matches!(
                err,
                BoundsError::TooManyOperations { .. }
                    | BoundsError::TooManyEntries { .. }
                    | BoundsError::Malformed(_)
            ),
            "column {spec:#x}: {err:?}"
        );
        assert!(check_document(&bytes, &RECORD).is_err());
    }
}

#[test]
fn a_change_whose_columns_are_deflated_is_refused() {
    let bytes = chunk(
        1,
        &change_body(&[(CHANGE_ACTION_SPEC | DEFLATE_BIT, deflated_zeros(10))]),
    );
    assert_eq!(
        read_change(&bytes, &RECORD).unwrap_err(),
        BoundsError::Malformed("a change's columns may not be deflated")
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed input: errors, never panics
// ---------------------------------------------------------------------------------------------

fn honest_samples() -> Vec<Vec<u8>> {
    let mut doc = edited(RecordKind::CrimeReport, 3);
    let mut change = doc.automerge().get_last_local_change().expect("a change");
    vec![
        change.raw_bytes().to_vec(),
        change.bytes().into_owned(),
        doc.save(),
    ]
}

#[test]
fn truncated_inputs_are_errors_not_panics() {
    let actor = new_actor();
    for bytes in honest_samples() {
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            assert!(read_change(cut, &RECORD).is_err(), "prefix of {len}");
            assert!(check_document(cut, &RECORD).is_err(), "prefix of {len}");
            assert!(RecordDoc::load_untrusted(cut, &actor, &RECORD).is_err());
        }
    }
}

#[test]
fn trailing_bytes_and_bad_magic_are_errors() {
    let samples = honest_samples();
    for bytes in &samples[..2] {
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            read_change(&trailing, &RECORD).unwrap_err(),
            BoundsError::Malformed("bytes follow the change")
        );
        assert!(check_document(&trailing, &RECORD).is_err());
    }
    for bytes in &samples {
        let mut bad = bytes.clone();
        bad[0] ^= 0xff;
        assert_eq!(
            read_change(&bad, &RECORD).unwrap_err(),
            BoundsError::Malformed("not an automerge chunk")
        );
        assert_eq!(
            check_document(&bad, &RECORD).unwrap_err(),
            BoundsError::Malformed("not an automerge chunk")
        );
    }
}

#[test]
fn a_wrong_checksum_and_the_wrong_chunk_kind_are_refused() {
    let samples = honest_samples();
    let mut bad = samples[0].clone();
    bad[4] ^= 0x01;
    assert_eq!(
        read_change(&bad, &RECORD).unwrap_err(),
        BoundsError::Malformed("the checksum does not match the change")
    );
    assert_eq!(
        read_change(&samples[2], &RECORD).unwrap_err(),
        BoundsError::NotAChange
    );
    assert_eq!(
        check_document(&chunk(3, &[0]), &RECORD).unwrap_err(),
        BoundsError::Malformed("bundle chunks are not accepted")
    );
    assert_eq!(
        check_document(&[], &RECORD).unwrap_err(),
        BoundsError::NotADocument
    );
}

#[test]
fn every_single_byte_flip_of_a_change_is_read_or_refused_without_a_panic() {
    let samples = honest_samples();
    for bytes in &samples[..2] {
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] ^= flip;
                // Either outcome is fine; a panic or an abort is not.
                let _ = read_change(&bad, &RECORD);
                let _ = check_document(&bad, &RECORD);
            }
        }
    }
}

#[test]
fn a_document_nesting_maps_ten_thousand_deep_is_refused_without_exhausting_the_stack() {
    let (bytes, _) = nested_documents(10_001);
    check_document(&bytes, &RECORD).expect("within every count");
    // A small stack: reading the document must not recurse with its depth.
    let loaded = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || RecordDoc::load_untrusted(&bytes, &new_actor(), &RECORD).map(|d| d.heads()))
        .expect("spawns")
        .join()
        .expect("no stack overflow");
    // Refused from the document's columns, before automerge loads it.
    assert!(
        matches!(
            loaded,
            Err(DocError::Bounds(BoundsError::TooDeep { limit })) if limit == crate::limits::MAX_NESTING_DEPTH
        ),
        "{loaded:?}"
    );
}

/// The nesting bound read change by change over the whole history of `bytes`.
fn nesting_by_changes(bytes: &[u8]) -> Result<(), BoundsError> {
    let mut nesting = Nesting::default();
    Automerge::load(bytes)
        .expect("loads")
        .get_changes(&[])
        .iter()
        .try_for_each(|c| nesting.check(c, |_| 0))
}

/// A document whose objects nest exactly `levels` deep under the record, saved whole; and the
/// same after the outermost object is deleted (its history still made them).
fn nested_documents(levels: usize) -> (Vec<u8>, Vec<u8>) {
    let mut doc = edited(RecordKind::NeighbourhoodIssue, 1);
    let mut plain = Automerge::load(&doc.save()).expect("loads");
    let mut tx = plain.transaction();
    let mut obj = tx
        .put_object(ROOT, "sara_plan_ref", ObjType::Map)
        .expect("a map");
    for _ in 1..levels {
        obj = tx.put_object(&obj, "x", ObjType::Map).expect("a map");
    }
    tx.commit();
    let whole = plain.save();
    let mut tx = plain.transaction();
    tx.delete(ROOT, "sara_plan_ref").expect("deletes");
    tx.commit();
    (whole, plain.save())
}

#[test]
fn nesting_read_from_a_documents_columns_counts_deleted_objects_and_stops_exactly_at_the_bound() {
    let limit = crate::limits::MAX_NESTING_DEPTH;
    for (levels, refused) in [(limit, false), (limit + 1, true)] {
        let (whole, deleted) = nested_documents(levels);
        for bytes in [whole, deleted] {
            check_document(&bytes, &RECORD).expect("within every count");
            assert_eq!(
                document_nesting(&bytes, &RECORD).err(),
                refused.then_some(BoundsError::TooDeep { limit }),
                "{levels} levels"
            );
            // The change-by-change reading gives the same answer.
            assert_eq!(
                nesting_by_changes(&bytes).is_err(),
                refused,
                "{levels} levels"
            );
        }
    }
    // Bytes with a change chunk after the document are left to the change-by-change reading.
    let (whole, _) = nested_documents(2);
    let mut doc = Automerge::load(&whole).expect("loads");
    let heads = doc.get_heads();
    let mut tx = doc.transaction();
    tx.put(ROOT, "title", "more").expect("puts");
    tx.commit();
    let mut chunks = whole.clone();
    chunks.extend(doc.save_after(&heads));
    assert_eq!(document_nesting(&whole, &RECORD), Ok(true));
    assert_eq!(document_nesting(&chunks, &RECORD), Ok(false));
    // So are two document chunks: the second is applied as changes on top of the first, and its
    // objects may nest inside the first's. Too deep across them, it is still refused.
    let (first, _) = nested_documents(limit - 2);
    let mut twice = first.clone();
    twice.extend(&first);
    assert_eq!(document_nesting(&twice, &RECORD), Ok(false));
    let honest = edited(RecordKind::NeighbourhoodIssue, 1);
    let (deep_change, deepest) = nesting_change(&honest, None, limit - 2);
    let mut base = honest.automerge().fork();
    base.apply_changes([automerge::Change::from_bytes(deep_change).expect("a change")])
        .expect("applies");
    // Another document holding the same history and four levels more inside the deepest.
    let mut other = base.fork().with_actor(ActorId::from([8u8; 16].as_slice()));
    let mut tx = other.transaction();
    let mut obj = deepest;
    for _ in 0..4 {
        obj = tx.put_object(&obj, "x", ObjType::Map).expect("a map");
    }
    tx.commit();
    let mut stacked = base.save();
    stacked.extend(other.save());
    assert_eq!(document_nesting(&stacked, &RECORD), Ok(false));
    assert_eq!(
        nesting_by_changes(&stacked),
        Err(BoundsError::TooDeep { limit })
    );
    assert!(RecordDoc::load_untrusted(&stacked, &new_actor(), &RECORD).is_err());
}

// ---------------------------------------------------------------------------------------------
// Random honest edits
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Edit {
    Narrative(String),
    Officers(usize),
    Outcome(u8),
    Concurrent(String),
    Compact,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        "[a-zA-Z0-9 .,éü€\n]{0,300}".prop_map(Edit::Narrative),
        (0usize..5).prop_map(Edit::Officers),
        (0u8..4).prop_map(Edit::Outcome),
        "[a-z ]{0,40}".prop_map(Edit::Concurrent),
        Just(Edit::Compact),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_honest_edits_pass_the_guard_unchanged(edits in proptest::collection::vec(edit(), 1..16)) {
        let mut record = Record::new(
            RecordKind::CrimeReport,
            RecordId::generate(),
            OfficerId::new("PC1").expect("valid"),
            at(0),
        );
        let mut doc = RecordDoc::create(&record, &new_actor(), &officer("PC1"), at(0)).expect("creates");
        let mut stored = doc.save();
        for (n, edit) in edits.into_iter().enumerate() {
            let when = at(n as i64 + 1);
            match edit {
                Edit::Narrative(text) => {
                    record = patched(&record, json!({"narrative": text}));
                    doc.update(&record, &officer("PC1"), "edit", when).expect("saves");
                }
                Edit::Officers(k) => {
                    let officers: Vec<String> = (0..k).map(|i| format!("PC{}", 20 + i)).collect();
                    record = patched(&record, json!({"attending_officers": officers}));
                    doc.update(&record, &officer("PC1"), "edit", when).expect("saves");
                }
                Edit::Outcome(code) => {
                    record = patched(&record, json!({"outcome": {"code": code.to_string(), "label": "x"}}));
                    doc.update(&record, &officer("PC1"), "edit", when).expect("saves");
                }
                Edit::Concurrent(text) => {
                    let mut other = doc.fork_as(&new_actor());
                    let theirs = patched(&record, json!({"narrative": format!("{} {text}", "Also:")}));
                    other.update(&theirs, &officer("PC2"), "edit", when).expect("saves");
                    doc.merge(&mut other).expect("merges");
                    record = doc.hydrate().expect("hydrates");
                }
                Edit::Compact => stored = doc.save(),
            }
            if let Some(chunk) = doc.save_incremental() {
                stored.extend(chunk);
            }
        }
        assert_changes_pass(&doc);
        assert_document_passes(&stored);
        assert_document_passes(&doc.save());
    }
}

// ---------------------------------------------------------------------------------------------
// Sync messages
// ---------------------------------------------------------------------------------------------

/// A V1 sync message with one Bloom filter of the given header, and `changes` as its chunks.
fn sync_message(bloom: &[u8], changes: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![SYNC_V1];
    write_uleb(&mut out, 0); // heads
    write_uleb(&mut out, 0); // need
    write_uleb(&mut out, 1); // one have
    write_uleb(&mut out, 0); // its last sync
    write_uleb(&mut out, bloom.len() as u64);
    out.extend_from_slice(bloom);
    write_uleb(&mut out, changes.len() as u64);
    for change in changes {
        write_uleb(&mut out, change.len() as u64);
        out.extend_from_slice(change);
    }
    out
}

fn bloom(entries: u64, bits_per_entry: u64, probes: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for value in [entries, bits_per_entry, probes] {
        write_uleb(&mut out, value);
    }
    let bits = (entries * bits_per_entry).div_ceil(8);
    out.extend(std::iter::repeat_n(0u8, bits as usize));
    out
}

#[test]
fn an_honest_sync_message_with_a_change_passes() {
    let samples = honest_samples();
    let message = sync_message(&bloom(2, 10, 7), &[&samples[0]]);
    let read = read_sync_message(&message, &RECORD).expect("passes");
    assert_eq!(read.changes.len(), 1);
}

#[test]
fn a_bloom_filter_asking_for_billions_of_probes_or_no_bits_is_refused() {
    for (filter, reason) in [
        (
            bloom(1, 10, u64::from(u32::MAX)),
            "a bloom filter asks for too many probes",
        ),
        (bloom(5, 0, 7), "a bloom filter has entries but no bits"),
    ] {
        assert_eq!(
            read_sync_message(&sync_message(&filter, &[]), &RECORD).unwrap_err(),
            BoundsError::Malformed(reason)
        );
    }
}

#[test]
fn a_sync_message_carrying_a_bomb_or_two_million_operations_is_refused() {
    let bomb = compressed_bomb();
    assert!(matches!(
        read_sync_message(&sync_message(&[], &[&bomb]), &RECORD),
        Err(BoundsError::TooLarge { .. })
    ));
    let (_, compressed, document) = two_million_ops();
    for chunk in [compressed, document] {
        assert!(matches!(
            read_sync_message(&sync_message(&[], &[chunk]), &RECORD),
            Err(BoundsError::TooManyOperations { .. })
        ));
    }
}

#[test]
fn a_sync_message_claiming_millions_of_empty_chunks_is_refused_before_decoding() {
    let mut message = vec![SYNC_V1, 0, 0, 0];
    write_uleb(&mut message, 10_000_000);
    message.extend(std::iter::repeat_n(0u8, 1000));
    assert!(matches!(
        read_sync_message(&message, &RECORD),
        Err(BoundsError::TooManyChanges { .. })
    ));
}

/// A change nesting `levels` maps under `under` (the root when `None`) of `doc`.
fn nesting_change(
    doc: &RecordDoc,
    under: Option<&automerge::ObjId>,
    levels: usize,
) -> (Vec<u8>, automerge::ObjId) {
    let mut plain = doc
        .automerge()
        .fork()
        .with_actor(ActorId::from([9u8; 16].as_slice()));
    let mut tx = plain.transaction();
    let mut obj = match under {
        Some(obj) => obj.clone(),
        None => tx
            .put_object(ROOT, "sara_plan_ref", ObjType::Map)
            .expect("a map"),
    };
    for _ in 1..levels {
        obj = tx.put_object(&obj, "x", ObjType::Map).expect("a map");
    }
    tx.commit();
    let change = plain.get_last_local_change().expect("a change");
    (change.raw_bytes().to_vec(), obj)
}

#[test]
fn a_change_nesting_objects_deeper_than_any_record_is_refused_alone_and_on_top_of_a_document() {
    let limit = crate::limits::MAX_NESTING_DEPTH;
    let doc = edited(RecordKind::NeighbourhoodIssue, 1);
    let (too_deep, _) = nesting_change(&doc, None, limit + 1);
    assert_eq!(
        read_change(&too_deep, &RECORD).unwrap_err(),
        BoundsError::TooDeep { limit }
    );
    // Two changes each within the bound, the second inside the first: refused when applied.
    let (first, deepest) = nesting_change(&doc, None, limit - 2);
    let mut target = doc.fork_as(&new_actor());
    target
        .apply_untrusted_change(&first, &RECORD)
        .expect("within the bound");
    let (second, _) = nesting_change(&target, Some(&deepest), 4);
    read_change(&second, &RECORD).expect("alone, within the bound");
    assert!(matches!(
        target.apply_untrusted_change(&second, &RECORD),
        Err(DocError::Bounds(BoundsError::TooDeep { .. }))
    ));
    // And a document holding such a history is refused whole.
    let mut plain = target.automerge().fork();
    plain
        .apply_changes([automerge::Change::from_bytes(second).expect("a change")])
        .expect("applies");
    assert!(matches!(
        RecordDoc::load_untrusted(&plain.save(), &new_actor(), &RECORD),
        Err(DocError::Bounds(BoundsError::TooDeep { .. }))
    ));
}
