//! Helpers for tests in this and other crates (feature `testing`, never in a release build).
//!
//! [`hostile`] makes the automerge changes a hostile enrolled device could push: an honest
//! change re-encoded with rewritten claims (dependencies, sequence number, operation counter),
//! compressed chunks that inflate far beyond their size, and changes with very many operations.
//! The free functions give a few of them as bytes, as the device's tests feed them. [`devices`]
//! is the integration tests' kit: devices on real stores and the steps every test repeats. Never
//! used by the library itself.

pub mod devices;

/// The fields of a full crime report (location described as `place`, classification, narrative,
/// property, flags), as `Device::create` takes them: what benchmarks and scenarios create.
pub fn crime_report_fields(place: &str) -> serde_json::Value {
    serde_json::json!({
        "location": { "lat": 51.5007, "lon": -0.1246, "description": place },
        "classification": {
            "offence": { "code": "8N", "label": "Assault with injury" },
            "category": "violent-crime"
        },
        "narrative": "The victim reports being pushed to the ground outside the station.",
        "property": [{ "description": "Mobile phone, screen cracked", "value_pence": 25_000 }],
        "flags": { "domestic_abuse": false, "vulnerable_victim": true }
    })
}

/// Hand-made automerge changes that break the claims automerge takes on trust.
pub mod hostile {
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{ActorId, Automerge, Change, ChangeHash, ExpandedChange, ObjType, ROOT};
    use std::io::Write;

    /// `change` decoded, edited by `edit`, and encoded again (a new hash; no signature to break).
    pub fn rewrite(change: &Change, edit: impl FnOnce(&mut ExpandedChange)) -> Change {
        let mut expanded = change.decode();
        edit(&mut expanded);
        expanded.hash = None;
        Change::from(expanded)
    }

    /// `change` claiming to depend on `deps` instead of what it really depends on.
    pub fn with_deps(change: &Change, deps: &[ChangeHash]) -> Change {
        rewrite(change, |c| c.deps = deps.to_vec())
    }

    /// `change` claiming sequence number `seq`.
    pub fn with_seq(change: &Change, seq: u64) -> Change {
        rewrite(change, |c| c.seq = seq)
    }

    /// A chunk of type "compressed change" (2) whose body inflates to `inflated` zero bytes: what
    /// a few hundred kilobytes on the wire can claim. Not a valid change once inflated.
    pub fn deflate_bomb(inflated: usize) -> Vec<u8> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 16];
        let mut left = inflated;
        while left > 0 {
            let n = left.min(block.len());
            // Writing into a Vec cannot fail.
            let _ = encoder.write_all(&block[..n]);
            left -= n;
        }
        let body = encoder.finish().unwrap_or_default();
        let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
        leb128(&mut chunk, body.len() as u64);
        chunk.extend(body);
        chunk
    }

    /// `change` as a compressed-change chunk (type 2), as automerge sends large changes.
    pub fn compressed(change: &Change) -> Vec<u8> {
        let raw = change.raw_bytes();
        // Header: magic (4), checksum (4), type (1), uleb128 length, then the body.
        let mut at = 9;
        let mut len = 0u64;
        let mut shift = 0;
        while let Some(b) = raw.get(at) {
            len |= u64::from(b & 0x7f) << shift;
            at += 1;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let body = &raw[at..at + len as usize];
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let _ = encoder.write_all(body);
        let deflated = encoder.finish().unwrap_or_default();
        let mut chunk = raw[..8].to_vec();
        chunk.push(2);
        leb128(&mut chunk, deflated.len() as u64);
        chunk.extend(deflated);
        chunk
    }

    /// One change by `actor` on top of `base` (None: a new document) inserting `ops` characters
    /// into a new text object at the root key `key`: run-length encoding makes it small on the
    /// wire however many operations it holds. The message names `officer` and `role`.
    pub fn many_operations(
        base: Option<&Automerge>,
        actor: &ActorId,
        key: &str,
        ops: usize,
        message: &str,
    ) -> Change {
        let mut doc = base
            .map(|b| b.fork())
            .unwrap_or_default()
            .with_actor(actor.clone());
        let mut tx = doc.transaction();
        if let Ok(text) = tx.put_object(ROOT, key, ObjType::Text) {
            let _ = tx.splice_text(&text, 0, 0, &"a".repeat(ops));
        }
        tx.commit_with(CommitOptions::default().with_message(message.to_owned()));
        doc.get_last_local_change()
            .expect("a change was just committed")
    }

    fn leb128(out: &mut Vec<u8>, mut n: u64) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
}

/// `change` re-encoded with `deps` as its dependencies, as bytes. Given the dependencies of its
/// own predecessor (so that it no longer depends on the actor's previous change) it makes a
/// document that applies, reads and saves incrementally, but whose compacted bytes do not load
/// (automerge's "missing ops").
pub fn with_deps(change: &automerge::Change, deps: Vec<automerge::ChangeHash>) -> Vec<u8> {
    hostile::with_deps(change, &deps).raw_bytes().to_vec()
}

/// `change` re-encoded with no dependencies, a far-ahead start operation and sequence number, as
/// bytes: automerge panics when it applies it (or loads a document holding it).
pub fn far_ahead(change: &automerge::Change) -> Vec<u8> {
    hostile::rewrite(change, |c| {
        c.deps = Vec::new();
        c.seq = 99;
        c.start_op = std::num::NonZeroU64::new(1_000_000).unwrap_or(std::num::NonZeroU64::MIN);
    })
    .raw_bytes()
    .to_vec()
}

/// `change` re-encoded with its sequence number one further on (a gap in the actor's sequence),
/// as bytes: automerge panics when it applies it.
pub fn seq_skipped(change: &automerge::Change) -> Vec<u8> {
    hostile::with_seq(change, change.seq() + 1)
        .raw_bytes()
        .to_vec()
}
