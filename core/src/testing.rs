//! Helpers for tests across the workspace (behind the `testing` feature): automerge changes as a
//! hostile or broken peer would craft them, made the way the probe of issue 9 made them (decode a
//! real change, edit it, encode it again), so the device's defences are tested against the same
//! bytes. Never used by the library itself.

use automerge::{Change, ChangeHash, ExpandedChange};
use std::num::NonZeroU64;

/// `change` re-encoded with `deps` as its dependencies. Given the dependencies of its own
/// predecessor (so that it no longer depends on the actor's previous change) it makes a document
/// that applies, reads and saves incrementally, but whose compacted bytes do not load
/// (automerge's "missing ops").
pub fn with_deps(change: &Change, deps: Vec<ChangeHash>) -> Vec<u8> {
    reencode(change, |c| c.deps = deps)
}

/// `change` re-encoded with no dependencies, a far-ahead start operation and sequence number:
/// automerge panics when it applies it (or loads a document holding it).
pub fn far_ahead(change: &Change) -> Vec<u8> {
    reencode(change, |c| {
        c.deps = Vec::new();
        c.seq = 99;
        c.start_op = NonZeroU64::new(1_000_000).unwrap_or(NonZeroU64::MIN);
    })
}

/// `change` re-encoded with its sequence number one further on (a gap in the actor's sequence):
/// automerge panics when it applies it.
pub fn seq_skipped(change: &Change) -> Vec<u8> {
    reencode(change, |c| c.seq += 1)
}

fn reencode(change: &Change, edit: impl FnOnce(&mut ExpandedChange)) -> Vec<u8> {
    let mut expanded = change.decode();
    edit(&mut expanded);
    expanded.hash = None;
    Change::from(expanded).raw_bytes().to_vec()
}
