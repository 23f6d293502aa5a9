use super::*;
use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 16].as_slice())
}

/// A document by actor 1: a `workflow` list with one event, then a `narrative` key.
fn base_doc() -> Automerge {
    let mut doc = Automerge::new().with_actor(actor(1));
    let mut tx = doc.transaction();
    let list = tx
        .put_object(ROOT, "workflow", ObjType::List)
        .expect("list");
    tx.insert(&list, 0, "submitted").expect("insert");
    tx.put(ROOT, "narrative", "first account").expect("put");
    tx.commit();
    doc
}

fn list(doc: &Automerge) -> automerge::ObjId {
    doc.get(ROOT, "workflow")
        .expect("read")
        .map(|(_, id)| id)
        .expect("the list")
}

/// `doc` forked as `who`, changed by `edit`, and the changes made (in order).
fn changes_by(
    doc: &Automerge,
    who: &ActorId,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId),
) -> (Automerge, Vec<Change>) {
    let mut fork = doc.fork().with_actor(who.clone());
    let heads = fork.get_heads();
    let l = list(&fork);
    let mut tx = fork.transaction();
    edit(&mut tx, &l);
    tx.commit();
    let changes = fork.get_changes(&heads);
    (fork, changes)
}

fn check(base: &Automerge, changes: Vec<Change>) -> Result<Admission, LineageError> {
    Lineage::of(base)
        .expect("a sound base")
        .admit(Some(base), changes)
}

fn admitted(result: Result<Admission, LineageError>) -> Vec<ChangeHash> {
    match result {
        Ok(Admission::Admitted(changes)) => changes.iter().map(Change::hash).collect(),
        other => panic!("expected the changes admitted, got {other:?}"),
    }
}

#[test]
fn honest_changes_from_two_replicas_are_admitted_in_causal_order() {
    let base = base_doc();
    let (mut a, _) = changes_by(&base, &actor(1), |tx, l| {
        tx.insert(l, 1, "returned").expect("insert");
    });
    let (mut b, _) = changes_by(&base, &actor(2), |tx, _| {
        tx.put(ROOT, "narrative", "second account").expect("put");
    });
    a.merge(&mut b).expect("merge");
    let (merged, _) = changes_by(&a, &actor(2), |tx, l| {
        tx.delete(l, 0).expect("delete");
    });
    let new = merged.get_changes(&base.get_heads());
    assert_eq!(new.len(), 3);
    // Given newest first, they come back dependencies first.
    let mut reversed = new.clone();
    reversed.reverse();
    let order = admitted(check(&base, reversed));
    let expected: Vec<ChangeHash> = new.iter().map(Change::hash).collect();
    assert_eq!(order.last(), expected.last(), "the merge change comes last");
    assert_eq!(order.len(), 3);
    // A whole history is admitted into an empty document too.
    let all = merged.get_changes(&[]);
    assert_eq!(admitted(Lineage::new().admit(None, all)).len(), 4);
}

#[test]
fn a_second_change_that_does_not_depend_on_the_actors_first_is_a_sequence_gap() {
    let base = base_doc();
    let (_, changes) = changes_by(&base, &actor(1), |tx, _| {
        tx.put(ROOT, "narrative", "edited").expect("put");
    });
    // Actor 1's seq 2, claiming to depend on nothing: its own seq 1 is not in its history.
    let gap = crate::testing::hostile::with_deps(&changes[0], &[]);
    let result = check(&base, vec![gap.clone()]);
    assert_eq!(
        result.err(),
        Some(LineageError::SequenceGap { change: gap.hash() })
    );
    // A sequence number that jumps ahead is a gap too.
    let jump = crate::testing::hostile::with_seq(&changes[0], 3);
    assert!(matches!(
        check(&base, vec![jump]),
        Err(LineageError::SequenceGap { .. })
    ));
    // And one that repeats an existing seq.
    let repeat = crate::testing::hostile::with_seq(&changes[0], 1);
    assert!(matches!(
        check(&base, vec![repeat]),
        Err(LineageError::SequenceGap { .. })
    ));
}

#[test]
fn deleting_an_event_the_change_claims_not_to_have_seen_is_outside_its_history() {
    let base = base_doc();
    let submitted = base.get_heads();
    // A supervisor (actor 2) appends an approval.
    let (approved, _) = changes_by(&base, &actor(2), |tx, l| {
        tx.insert(l, 1, "approved").expect("insert");
    });
    // The officer (actor 1) deletes it, then claims the change depends only on the submission.
    let (_, deletion) = changes_by(&approved, &actor(1), |tx, l| {
        tx.delete(l, 1).expect("delete");
    });
    let backdated = crate::testing::hostile::with_deps(&deletion[0], &submitted);
    let result = check(&approved, vec![backdated.clone()]);
    assert_eq!(
        result.err(),
        Some(LineageError::OutsideHistory {
            change: backdated.hash()
        })
    );
    // The honest deletion (depending on the approval) keeps the rules: the policy judges it.
    admitted(check(&approved, deletion));
}

#[test]
fn a_change_numbering_its_operations_inside_its_history_is_refused() {
    let base = base_doc();
    let (_, changes) = changes_by(&base, &actor(2), |tx, _| {
        tx.put(ROOT, "narrative", "edited").expect("put");
    });
    let early =
        crate::testing::hostile::rewrite(&changes[0], |c| c.start_op = std::num::NonZeroU64::MIN);
    assert!(matches!(
        check(&base, vec![early]),
        Err(LineageError::CounterBeforeHistory { .. })
    ));
    // Far ahead of anything known: it would use up the counter space.
    let ahead = crate::testing::hostile::rewrite(&changes[0], |c| {
        c.start_op = std::num::NonZeroU64::new(1 << 31).expect("non-zero")
    });
    assert!(matches!(
        check(&base, vec![ahead]),
        Err(LineageError::CounterBeforeHistory { .. })
    ));
}

#[test]
fn a_change_depending_on_an_unknown_change_is_reported_missing_not_refused() {
    let base = base_doc();
    let (fork, first) = changes_by(&base, &actor(2), |tx, _| {
        tx.put(ROOT, "narrative", "one").expect("put");
    });
    let (_, second) = changes_by(&fork, &actor(2), |tx, _| {
        tx.put(ROOT, "narrative", "two").expect("put");
    });
    match check(&base, second) {
        Ok(Admission::MissingDependencies(missing)) => assert_eq!(missing, vec![first[0].hash()]),
        other => panic!("expected missing dependencies, got {other:?}"),
    }
}

#[test]
fn a_document_already_holding_a_sequence_gap_takes_no_new_change() {
    let base = base_doc();
    let (_, changes) = changes_by(&base, &actor(1), |tx, _| {
        tx.put(ROOT, "narrative", "edited").expect("put");
    });
    let gap = crate::testing::hostile::with_deps(&changes[0], &[]);
    // Automerge itself applies it: that is the poisoned document the probe built.
    let mut poisoned = base.fork();
    poisoned.apply_changes([gap]).expect("automerge takes it");
    let (_, next) = changes_by(&base, &actor(3), |tx, _| {
        tx.put(ROOT, "other", "x").expect("put");
    });
    assert_eq!(
        Lineage::of(&poisoned).err(),
        Some(LineageError::BaseInconsistent)
    );
    let _ = next;
}
