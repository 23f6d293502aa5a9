//! Lineage: the rules a change must keep before it may join a record's history.
//!
//! A change declares its place in history: its actor, that actor's sequence number, the first
//! operation counter it uses (`start_op`) and the changes it depends on (`deps`). Automerge takes
//! these claims on trust. A hand-made change can break them and still be applied: a second
//! change of an actor that does not depend on the first leaves the document unable to save and
//! load again; an operation that deletes a list element its change never saw (its `deps` rewritten
//! to an earlier version) is invisible in every historical view the change declares and still
//! acts on the merged document. [`admit`] checks the claims before automerge sees the change:
//!
//! 1. **No gap in an actor's sequence**: a change with `seq` n > 1 has the same actor's change
//!    n − 1 in its history, and no other change of that actor has `seq` n.
//! 2. **Counters after everything seen, and not beyond everything known**: `start_op` is greater
//!    than every operation counter in the change's history, so operation ids stay unique and
//!    ordered as automerge assumes; and at most one more than the highest counter of the
//!    document and the changes arriving with it (automerge numbers a change from the highest
//!    counter its writer holds), so no change can exhaust the counter space.
//! 3. **No reference outside its history**: every operation the change's operations name (the
//!    object they act in, the list element they insert after or overwrite, the operations they
//!    replace) is an operation of a change in its declared history, or an earlier operation of
//!    the change itself.
//!
//! The base document must keep rule 1 itself (every document built only of admitted changes
//! does). Pure: no I/O, no clock. Cost: one pass over the base document's change metadata, and one
//! over each new change's operations.

use automerge::legacy::{ElementId, Key, ObjectId, OpId};
use automerge::{ActorId, Automerge, Change, ChangeHash};
use std::collections::{BTreeSet, HashMap};

/// Why a change may not join a record's history. Messages say what the device must do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineageError {
    /// The change's actor sequence skips or repeats one of its own changes.
    #[error(
        "a change skips or repeats part of its writer's own history: each change of a device depends on that device's previous change"
    )]
    SequenceGap {
        /// The refused change.
        change: ChangeHash,
    },
    /// The change's operation counters do not come after everything it depends on, or jump
    /// beyond everything known.
    #[error(
        "a change numbers its operations out of place (before the history it depends on, or far beyond it): make changes with automerge, not by hand"
    )]
    CounterBeforeHistory {
        /// The refused change.
        change: ChangeHash,
    },
    /// An operation names an operation outside the change's declared history.
    #[error(
        "a change acts on operations outside the history it declares: make changes on the version you hold, with automerge"
    )]
    OutsideHistory {
        /// The refused change.
        change: ChangeHash,
    },
    /// The document the changes would join does not keep the rules itself.
    #[error("the record's stored history is inconsistent: it cannot take new changes")]
    BaseInconsistent,
}

impl LineageError {
    /// The refused change, when one is to blame.
    pub fn change(&self) -> Option<ChangeHash> {
        match self {
            LineageError::SequenceGap { change }
            | LineageError::CounterBeforeHistory { change }
            | LineageError::OutsideHistory { change } => Some(*change),
            LineageError::BaseInconsistent => None,
        }
    }

    /// A stable rule id for the refusal (`history-*`).
    pub fn rule(&self) -> &'static str {
        match self {
            LineageError::SequenceGap { .. } => "history-gap",
            LineageError::CounterBeforeHistory { .. } => "history-counter",
            LineageError::OutsideHistory { .. } => "history-outside",
            LineageError::BaseInconsistent => "history-inconsistent",
        }
    }
}

/// What [`admit`] found.
#[derive(Debug)]
pub enum Admission {
    /// Every change keeps the rules; here they are in causal order (dependencies first).
    Admitted(Vec<Change>),
    /// Some changes depend on changes that are neither in the document nor among the new ones.
    MissingDependencies(Vec<ChangeHash>),
}

/// One change's place: its operation counters.
#[derive(Debug, Clone, Copy)]
struct Span {
    start_op: u64,
    max_op: u64,
}

/// What is known of the history: per actor, its changes' spans in `seq` order (index `seq - 1`).
#[derive(Debug, Clone, Default)]
struct Index {
    actors: Vec<ActorId>,
    actor_index: HashMap<ActorId, usize>,
    spans: Vec<Vec<Span>>,
}

impl Index {
    fn actor(&mut self, actor: &ActorId) -> usize {
        if let Some(i) = self.actor_index.get(actor) {
            return *i;
        }
        let i = self.actors.len();
        self.actors.push(actor.clone());
        self.actor_index.insert(actor.clone(), i);
        self.spans.push(Vec::new());
        i
    }

    /// The highest operation counter of the history summarised by `clock`.
    fn max_op(&self, clock: &[u64]) -> u64 {
        clock
            .iter()
            .enumerate()
            .filter(|(_, seq)| **seq > 0)
            .filter_map(|(a, seq)| self.spans[a].get(*seq as usize - 1))
            .map(|s| s.max_op)
            .max()
            .unwrap_or(0)
    }

    /// Whether operation `counter` of `actor` belongs to a change in the history `clock`.
    fn in_history(&self, counter: u64, actor: usize, clock: &[u64]) -> bool {
        let seen = clock.get(actor).copied().unwrap_or(0) as usize;
        let spans = &self.spans[actor][..seen.min(self.spans[actor].len())];
        // Spans of one actor are ordered and disjoint (rule 2 holds for every admitted change).
        let i = spans.partition_point(|s| s.max_op < counter);
        spans
            .get(i)
            .is_some_and(|s| s.start_op <= counter && counter <= s.max_op)
    }
}

/// What is known of a document's history for [`Lineage::admit`]: per actor, its changes'
/// operation counters in `seq` order, the highest `seq` of each actor, and the heads. Built once
/// per document ([`Lineage::of`], which checks rules 1 and 2 over the whole history) and kept up
/// to date by every admission, so a check costs what is new, not what is held.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    index: Index,
    /// Per actor index, the highest `seq`: the clock of the heads.
    clock: Vec<u64>,
    heads: BTreeSet<ChangeHash>,
    hashes: HashMap<ChangeHash, ()>,
}

impl Lineage {
    /// The lineage of an empty document.
    pub fn new() -> Lineage {
        Lineage::default()
    }

    /// The lineage of `doc`, checking that its whole history keeps rules 1 and 2 (rule 3 needs
    /// every operation decoded: it is checked as changes arrive). `BaseInconsistent` when not: a
    /// document built before these checks from a hand-made change.
    pub fn of(doc: &Automerge) -> Result<Lineage, LineageError> {
        let metas = doc.get_changes_meta(&[]);
        let mut lineage = Lineage::default();
        let position: HashMap<ChangeHash, usize> =
            metas.iter().enumerate().map(|(i, m)| (m.hash, i)).collect();
        // Causal order (Kahn): a change after every change it depends on.
        let mut waiting = vec![0usize; metas.len()];
        let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); metas.len()];
        for (i, m) in metas.iter().enumerate() {
            for d in &m.deps {
                let Some(&j) = position.get(d) else {
                    return Err(LineageError::BaseInconsistent);
                };
                waiting[i] += 1;
                dependants[j].push(i);
            }
        }
        let mut ready: Vec<usize> = (0..metas.len()).filter(|i| waiting[*i] == 0).collect();
        let mut clocks: Vec<Vec<u64>> = vec![Vec::new(); metas.len()];
        let mut done = 0;
        while let Some(i) = ready.pop() {
            done += 1;
            let m = &metas[i];
            let mut clock = Vec::new();
            for d in &m.deps {
                merge_clock(&mut clock, &clocks[position[d]]);
            }
            let a = lineage.index.actor(&m.actor);
            clock.resize(lineage.index.actors.len(), 0);
            if clock[a] + 1 != m.seq || lineage.index.spans[a].len() as u64 + 1 != m.seq {
                return Err(LineageError::BaseInconsistent);
            }
            if m.start_op <= lineage.index.max_op(&clock) {
                return Err(LineageError::BaseInconsistent);
            }
            lineage.index.spans[a].push(Span {
                start_op: m.start_op,
                max_op: m.max_op,
            });
            clock[a] = m.seq;
            clocks[i] = clock;
            for &j in &dependants[i] {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    ready.push(j);
                }
            }
        }
        if done != metas.len() {
            return Err(LineageError::BaseInconsistent);
        }
        lineage.clock = lineage.index.spans.iter().map(|s| s.len() as u64).collect();
        lineage.heads = doc.get_heads().into_iter().collect();
        lineage.hashes = position.into_keys().map(|h| (h, ())).collect();
        Ok(lineage)
    }

    /// Checks `incoming` (changes new to `base`, in any order, no duplicates) against the rules
    /// of this module's header; `base` is the document this lineage describes (`None`: empty).
    /// On success the lineage includes them (as `base` will once they are applied); on an error
    /// it is left part-way and must be dropped.
    pub fn admit(
        &mut self,
        base: Option<&Automerge>,
        incoming: Vec<Change>,
    ) -> Result<Admission, LineageError> {
        // Causal order among the new changes; dependencies neither known nor new are missing.
        let order = match causal_order(&incoming, &self.hashes) {
            Ok(order) => order,
            Err(missing) => return Ok(Admission::MissingDependencies(missing)),
        };
        // The highest counter known besides a change's own: the document's and the other
        // arriving changes' (the two highest of those, so each change can leave its own out).
        let base_max_op = self
            .index
            .spans
            .iter()
            .filter_map(|s| s.last())
            .map(|s| s.max_op)
            .max()
            .unwrap_or(0);
        let mut highest = [(0u64, None::<ChangeHash>); 2];
        for c in &incoming {
            let m = (c.max_op(), Some(c.hash()));
            if m.0 > highest[0].0 {
                highest = [m, highest[0]];
            } else if m.0 > highest[1].0 {
                highest[1] = m;
            }
        }
        let known_max_op = |hash: ChangeHash| {
            let others = if highest[0].1 == Some(hash) {
                highest[1].0
            } else {
                highest[0].0
            };
            base_max_op.max(others)
        };
        let mut clocks: HashMap<ChangeHash, Vec<u64>> = HashMap::new();
        let mut base_part_clocks: HashMap<Vec<ChangeHash>, Vec<u64>> = HashMap::new();
        let mut admitted = Vec::with_capacity(order.len());
        let mut incoming: Vec<Option<Change>> = incoming.into_iter().map(Some).collect();
        for i in order {
            let Some(change) = incoming[i].take() else {
                continue;
            };
            let hash = change.hash();
            // The history the change declares, as a clock: per actor, the highest seq in it.
            let mut base_part: Vec<ChangeHash> = change
                .deps()
                .iter()
                .filter(|d| self.hashes.contains_key(d) && !clocks.contains_key(d))
                .copied()
                .collect();
            base_part.sort();
            let mut clock = match base_part_clocks.get(&base_part) {
                Some(c) => c.clone(),
                None => {
                    let c = self.clock_of_base_part(base, &base_part);
                    base_part_clocks.insert(base_part, c.clone());
                    c
                }
            };
            for dep in change.deps() {
                if let Some(c) = clocks.get(dep) {
                    merge_clock(&mut clock, c);
                }
            }
            let actor = self.index.actor(change.actor_id());
            clock.resize(self.index.actors.len(), 0);
            // Rule 1: the actor's previous change is in the history, and this seq is new.
            let seen = clock[actor];
            if seen + 1 != change.seq() || self.index.spans[actor].len() as u64 != seen {
                return Err(LineageError::SequenceGap { change: hash });
            }
            // Rule 2: counters after everything seen, not beyond everything known.
            if change.start_op().get() <= self.index.max_op(&clock)
                || change.start_op().get() > known_max_op(hash).saturating_add(1)
            {
                return Err(LineageError::CounterBeforeHistory { change: hash });
            }
            // Rule 3: every operation named is in the history, or earlier in this change.
            check_references(&change, actor, &clock, &mut self.index)?;
            self.index.spans[actor].push(Span {
                start_op: change.start_op().get(),
                max_op: change.start_op().get() + change.len() as u64 - 1,
            });
            clock[actor] = change.seq();
            clocks.insert(hash, clock);
            admitted.push(change);
        }
        // The new heads and clock.
        for c in &admitted {
            for d in c.deps() {
                self.heads.remove(d);
            }
            self.heads.insert(c.hash());
        }
        for c in &admitted {
            self.hashes.insert(c.hash(), ());
        }
        self.clock = self.index.spans.iter().map(|s| s.len() as u64).collect();
        Ok(Admission::Admitted(admitted))
    }

    /// The clock of the base document's changes among a change's dependencies.
    fn clock_of_base_part(&self, base: Option<&Automerge>, part: &[ChangeHash]) -> Vec<u64> {
        let (Some(base), false) = (base, part.is_empty()) else {
            return Vec::new();
        };
        if part.len() == self.heads.len() && part.iter().all(|h| self.heads.contains(h)) {
            return self.clock.clone();
        }
        // Changes outside the part's history: per actor, a suffix of its sequence (rule 1
        // holds in the base), so the history holds everything before the first of them.
        let mut clock = self.clock.clone();
        for m in base.get_changes_meta(part) {
            if let Some(a) = self.index.actor_index.get(m.actor.as_ref()) {
                clock[*a] = clock[*a].min(m.seq.saturating_sub(1));
            }
        }
        clock
    }
}

fn merge_clock(into: &mut Vec<u64>, other: &[u64]) {
    if into.len() < other.len() {
        into.resize(other.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(other) {
        *a = (*a).max(*b);
    }
}

/// Indexes of `changes` so that each comes after the new changes it depends on, or the
/// dependencies that are neither in the base nor new.
fn causal_order(
    changes: &[Change],
    base: &HashMap<ChangeHash, ()>,
) -> Result<Vec<usize>, Vec<ChangeHash>> {
    let position: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash(), i))
        .collect();
    let mut missing = BTreeSet::new();
    let mut waiting = vec![0usize; changes.len()];
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, c) in changes.iter().enumerate() {
        for d in c.deps() {
            match position.get(d) {
                Some(j) => {
                    waiting[i] += 1;
                    dependants[*j].push(i);
                }
                None if base.contains_key(d) => {}
                None => {
                    missing.insert(*d);
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(missing.into_iter().collect());
    }
    let mut ready: Vec<usize> = (0..changes.len())
        .filter(|i| waiting[*i] == 0)
        .rev()
        .collect();
    let mut order = Vec::with_capacity(changes.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &j in dependants[i].iter().rev() {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.push(j);
            }
        }
    }
    // Hashes make a cycle impossible; a change left over would be one.
    Ok(order)
}

/// Rule 3 for every operation of `change`.
fn check_references(
    change: &Change,
    actor: usize,
    clock: &[u64],
    index: &mut Index,
) -> Result<(), LineageError> {
    let outside = || LineageError::OutsideHistory {
        change: change.hash(),
    };
    let start = change.start_op().get();
    let expanded = change.decode();
    for (i, op) in expanded.operations.iter().enumerate() {
        let counter = start + i as u64;
        let mut named: Vec<&OpId> = op.pred.iter().collect();
        if let ObjectId::Id(id) = &op.obj {
            named.push(id);
        }
        if let Key::Seq(ElementId::Id(id)) = &op.key {
            named.push(id);
        }
        for id in named {
            let Some(&a) = index.actor_index.get(id.actor()) else {
                return Err(outside());
            };
            let earlier_in_change = a == actor && id.counter() >= start && id.counter() < counter;
            if !earlier_in_change && !index.in_history(id.counter(), a, clock) {
                return Err(outside());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
