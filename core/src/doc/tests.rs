use super::*;
use crate::domain::{Coded, CrimeReport, RecordId};

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("valid time")
}

fn officer(id: &str) -> ChangeAuthor {
    ChangeAuthor {
        by: OfficerId::new(id).expect("valid id"),
        role: Role::Officer,
    }
}

fn crime(doc: &RecordDoc) -> CrimeReport {
    match doc.hydrate().expect("hydrates") {
        Record::Crime(c) => c,
        other => panic!("expected a crime, got {:?}", other.kind()),
    }
}

fn new_crime() -> (RecordDoc, CrimeReport) {
    let record = Record::new(
        RecordKind::CrimeReport,
        RecordId::generate(),
        OfficerId::new("PC1").expect("valid"),
        at(0),
    );
    let doc = RecordDoc::create(&record, &new_actor(), &officer("PC1"), at(0)).expect("creates");
    let Record::Crime(c) = record else {
        unreachable!()
    };
    (doc, c)
}

fn outcome(code: &str) -> Option<Coded> {
    Some(Coded {
        code: code.into(),
        label: format!("outcome {code}"),
    })
}

#[test]
fn a_created_document_hydrates_to_the_record_it_was_made_from() {
    let (doc, original) = new_crime();
    assert_eq!(crime(&doc), original);
    assert_eq!(doc.kind().expect("kind"), RecordKind::CrimeReport);
    assert_eq!(doc.change_count(), 1);
}

#[test]
fn one_update_is_one_change_and_an_unchanged_record_makes_none() {
    let (mut doc, mut c) = new_crime();
    c.narrative = "Victim states".into();
    c.flags.domestic_abuse = true;
    let hash = doc
        .update(&Record::Crime(c.clone()), &officer("PC1"), "edit", at(1))
        .expect("updates");
    assert!(hash.is_some());
    assert_eq!(doc.change_count(), 2);
    let again = doc
        .update(&Record::Crime(c), &officer("PC1"), "edit", at(2))
        .expect("updates");
    assert!(
        again.is_none(),
        "saving an unchanged record must not add a change"
    );
}

#[test]
fn concurrent_narrative_additions_both_survive_a_merge() {
    let (mut a, mut ca) = new_crime();
    ca.narrative = "Called at 21:00.".into();
    a.update(&Record::Crime(ca.clone()), &officer("PC1"), "edit", at(1))
        .expect("edit");
    let mut b = a.fork_as(&new_actor());
    let mut cb = crime(&b);
    ca.narrative.push_str(" Victim had a cut lip.");
    cb.narrative.push_str(" Neighbour heard shouting.");
    a.update(&Record::Crime(ca), &officer("PC1"), "edit", at(2))
        .expect("edit");
    b.update(&Record::Crime(cb), &officer("PC2"), "edit", at(2))
        .expect("edit");
    a.merge(&mut b).expect("merge");
    let merged = crime(&a).narrative;
    assert!(merged.starts_with("Called at 21:00."));
    assert!(merged.contains(" Victim had a cut lip."), "{merged}");
    assert!(merged.contains(" Neighbour heard shouting."), "{merged}");
}

#[test]
fn a_word_inserted_among_look_alike_words_is_never_split_by_a_concurrent_insertion() {
    // Reference-like words repeat their characters, so a character diff may build the new word
    // from characters already there; whichever device's actor sorts first, every word survives
    // whole and no two are glued together.
    let low = ActorId::from([0x01u8; 16].as_slice());
    let high = ActorId::from([0xfeu8; 16].as_slice());
    for (first, second) in [(&low, &high), (&high, &low)] {
        let (base, mut c) = new_crime();
        let mut a = base.fork_as(first);
        c.narrative = "r2e10 r2e1".into();
        a.update(&Record::Crime(c.clone()), &officer("PC1"), "edit", at(1))
            .expect("edit");
        let mut b = a.fork_as(second);
        let mut ca = c.clone();
        let mut cb = c;
        // Found by a search: a character diff writes one of these as "...e1" plus a few new
        // characters, and the merge read "r2e10 r2e1 r3e102 r2e1".
        ca.narrative = "r2e10 r2e1 r3e10".into();
        cb.narrative = "r2e10 r2e12 r2e1".into();
        a.update(&Record::Crime(ca), &officer("PC1"), "edit", at(2))
            .expect("edit");
        b.update(&Record::Crime(cb), &officer("PC2"), "edit", at(2))
            .expect("edit");
        a.merge(&mut b).expect("merge");
        let merged = crime(&a).narrative;
        let mut words: Vec<&str> = merged.split_whitespace().collect();
        words.sort_unstable();
        assert_eq!(words, ["r2e1", "r2e10", "r2e12", "r3e10"], "{merged:?}");
    }
}

#[test]
fn a_legal_conflict_is_reported_and_survives_an_unrelated_save() {
    let (mut a, _) = new_crime();
    let mut b = a.fork_as(&new_actor());
    let mut ca = crime(&a);
    let mut cb = crime(&b);
    ca.outcome = outcome("1");
    cb.outcome = outcome("16");
    a.update(&Record::Crime(ca), &officer("PC1"), "edit", at(1))
        .expect("edit");
    b.update(&Record::Crime(cb), &officer("PC2"), "edit", at(1))
        .expect("edit");
    a.merge(&mut b).expect("merge");

    let conflicts = a.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, "outcome");
    let mut by: Vec<String> = conflicts[0]
        .values
        .iter()
        .filter_map(|v| v.by.as_ref().map(|o| o.to_string()))
        .collect();
    by.sort();
    assert_eq!(by, ["PC1", "PC2"]);

    // An unrelated edit by either officer must not settle it.
    let mut c = crime(&a);
    c.narrative = "More detail.".into();
    a.update(&Record::Crime(c), &officer("PC1"), "edit", at(2))
        .expect("edit");
    assert_eq!(
        a.conflicts().len(),
        1,
        "an unrelated save settled a legal conflict"
    );

    // A person resolving it does.
    let chosen = serde_json::to_value(outcome("16")).expect("json");
    a.resolve("outcome", &chosen, &officer("PS9"), at(3))
        .expect("resolves");
    assert!(a.conflicts().is_empty());
    assert_eq!(crime(&a).outcome, outcome("16"));
}

#[test]
fn conflicts_are_found_the_same_whether_or_not_the_version_was_just_read() {
    // Reading a version notes whether any value has concurrent values, and a version read
    // with none skips the conflict walk: a conflict is still found after a load (which reads
    // the version) and after a local edit on top, and none once it is resolved.
    let (mut a, _) = new_crime();
    a.hydrate_cached().expect("reads");
    assert_eq!(a.conflict_count(), 0);
    let mut edited = crime(&a);
    edited.narrative = "First account.".into();
    a.update(&Record::Crime(edited), &officer("PC1"), "edit", at(1))
        .expect("edit");
    assert_eq!(a.conflict_count(), 0);

    let mut b = a.fork_as(&new_actor());
    let mut ca = crime(&a);
    let mut cb = crime(&b);
    ca.outcome = outcome("1");
    cb.outcome = outcome("16");
    a.update(&Record::Crime(ca), &officer("PC1"), "edit", at(2))
        .expect("edit");
    b.update(&Record::Crime(cb), &officer("PC2"), "edit", at(2))
        .expect("edit");
    a.merge(&mut b).expect("merge");

    let mut loaded = RecordDoc::load(&a.automerge().save(), &new_actor()).expect("loads");
    assert_eq!(loaded.conflict_count(), 1);
    assert_eq!(loaded.conflicts().len(), 1);
    let mut c = crime(&loaded);
    c.narrative = "More detail.".into();
    loaded
        .update(&Record::Crime(c), &officer("PC1"), "edit", at(3))
        .expect("edit");
    assert_eq!(
        loaded.conflict_count(),
        1,
        "an unrelated edit hid the conflict"
    );
    let chosen = serde_json::to_value(outcome("16")).expect("json");
    loaded
        .resolve("outcome", &chosen, &officer("PS9"), at(4))
        .expect("resolves");
    loaded.hydrate_cached().expect("reads");
    assert_eq!(loaded.conflict_count(), 0);
}

#[test]
fn concurrent_identical_values_are_not_a_conflict() {
    let (mut a, _) = new_crime();
    let mut b = a.fork_as(&new_actor());
    let mut ca = crime(&a);
    ca.occurred_from = Some(at(-3_600_000));
    let mut cb = crime(&b);
    cb.occurred_from = Some(at(-3_600_000));
    a.update(&Record::Crime(ca), &officer("PC1"), "edit", at(1))
        .expect("edit");
    b.update(&Record::Crime(cb), &officer("PC2"), "edit", at(1))
        .expect("edit");
    a.merge(&mut b).expect("merge");
    assert!(a.conflicts().is_empty());
}

#[test]
fn concurrently_added_victims_are_both_kept() {
    let (mut a, _) = new_crime();
    let mut b = a.fork_as(&new_actor());
    let (v1, v2) = (RecordId::generate(), RecordId::generate());
    let mut ca = crime(&a);
    ca.victims.push(v1);
    let mut cb = crime(&b);
    cb.victims.push(v2);
    a.update(&Record::Crime(ca), &officer("PC1"), "edit", at(1))
        .expect("edit");
    b.update(&Record::Crime(cb), &officer("PC2"), "edit", at(1))
        .expect("edit");
    a.merge(&mut b).expect("merge");
    let victims = crime(&a).victims;
    assert_eq!(victims.len(), 2);
    assert!(victims.contains(&v1) && victims.contains(&v2));
}

#[test]
fn history_names_the_officer_the_field_and_old_and_new_values() {
    let (mut doc, mut c) = new_crime();
    c.flags.hate_crime = true;
    doc.update(&Record::Crime(c.clone()), &officer("PC1"), "edit", at(5))
        .expect("edit");
    c.outcome = outcome("1");
    doc.update(&Record::Crime(c), &officer("PC7"), "edit", at(9))
        .expect("edit");
    let history = doc.history();
    let flag = history
        .iter()
        .find(|h| h.field == "flags.hate_crime")
        .expect("flag change listed");
    assert_eq!(flag.old, Some(serde_json::json!(false)));
    assert_eq!(flag.new, Some(serde_json::json!(true)));
    assert_eq!(flag.by.as_ref().map(OfficerId::as_str), Some("PC1"));
    assert_eq!(flag.at, Some(at(5)));
    let out = history
        .iter()
        .find(|h| h.field == "outcome")
        .expect("outcome listed");
    assert_eq!(out.old, None);
    assert_eq!(out.by.as_ref().map(OfficerId::as_str), Some("PC7"));
}

#[test]
fn incremental_saves_concatenate_into_a_loadable_document() {
    let (mut doc, mut c) = new_crime();
    let mut bytes = doc.save();
    for i in 0..5 {
        c.narrative.push_str(&format!(" line {i}."));
        doc.update(&Record::Crime(c.clone()), &officer("PC1"), "edit", at(i))
            .expect("edit");
        bytes.extend(doc.save_incremental().expect("a change to save"));
    }
    assert!(doc.save_incremental().is_none());
    let loaded = RecordDoc::load(&bytes, &new_actor()).expect("loads");
    assert_eq!(crime(&loaded), c);
    assert_eq!(loaded.heads(), doc.heads());
}

#[test]
fn bytes_that_are_not_a_document_are_refused_with_a_typed_error() {
    for bytes in [
        &b""[..],
        b"not automerge at all",
        &[0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
    ] {
        match RecordDoc::load(bytes, &new_actor()) {
            Err(DocError::NotADocument(_)) => {}
            other => panic!("expected NotADocument, got {other:?}"),
        }
    }
}

#[test]
fn a_truncated_document_is_refused() {
    let (mut doc, _) = new_crime();
    let bytes = doc.save();
    let cut = &bytes[..bytes.len() - 7];
    assert!(RecordDoc::load(cut, &new_actor()).is_err());
}

#[test]
fn an_edit_made_on_an_older_version_keeps_what_was_merged_since() {
    let (mut doc, mut c) = new_crime();
    c.narrative = "Called at 21:00.".into();
    doc.update(&Record::Crime(c), &officer("PC1"), "edit", at(1))
        .expect("edit");
    // The app reads the record and its version, then sync merges another officer's addition.
    let base = doc.heads();
    let mut read = crime(&doc);
    let mut other = doc.fork_as(&new_actor());
    let mut theirs = crime(&other);
    theirs.narrative.push_str(" Neighbour heard shouting.");
    theirs.flags.repeat_victim = true;
    other
        .update(&Record::Crime(theirs), &officer("PC2"), "edit", at(2))
        .expect("edit");
    doc.merge(&mut other).expect("merge");
    // The officer saves what they edited on the version they read.
    read.narrative.push_str(" Victim had a cut lip.");
    read.flags.hate_crime = true;
    doc.update_at(&Record::Crime(read), &base, &officer("PC1"), "edit", at(3))
        .expect("edit at base");
    let merged = crime(&doc);
    assert!(
        merged.narrative.contains("shouting"),
        "{}",
        merged.narrative
    );
    assert!(merged.narrative.contains("cut lip"), "{}", merged.narrative);
    assert!(merged.flags.repeat_victim && merged.flags.hate_crime);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// Whatever the two texts (repeated words, runs of white space, characters of several
    /// bytes), saving the second over the first leaves exactly the second.
    #[test]
    fn a_narrative_saved_over_another_reads_back_exactly(
        before in "[ab é\n\t]{0,40}",
        after in "[ab é\n\t]{0,40}",
    ) {
        let (mut doc, mut c) = new_crime();
        c.narrative = before;
        doc.update(&Record::Crime(c.clone()), &officer("PC1"), "edit", at(1))
            .expect("edit");
        c.narrative = after.clone();
        doc.update(&Record::Crime(c), &officer("PC1"), "edit", at(2))
            .expect("edit");
        proptest::prop_assert_eq!(crime(&doc).narrative, after);
    }
}
