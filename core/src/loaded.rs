//! A record's document as loaded in memory ([`Loaded`]), and what saving it writes
//! ([`document_save`], [`document_replace`]): the incremental chunk or the whole compacted
//! document, with the projection derived from the hydrated record.
//!
//! It sits below both [`crate::device`] (which keeps loaded documents in its cache and saves an
//! edit) and [`crate::sync`] (whose client applies feed pages and rebuilds refused records on
//! them), so neither imports the other's internals.

use crate::doc::RecordDoc;
use crate::domain::{Record, RecordId, Timestamp};
use crate::error::Error;
use crate::projection;
use crate::storage::{Attention, DocumentSave};

/// Chunks a document may be stored as before it is compacted into one. A compaction that fails
/// its check is tried again this many chunks later.
const COMPACT_AFTER_CHUNKS: u32 = 32;

/// The attention rule of a record whose document could not be compacted.
pub const COMPACTION_FAILED: &str = "compaction-failed";

/// A document in memory, with how many chunks it is stored as (the compaction trigger).
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) doc: RecordDoc,
    pub(crate) chunks: u32,
    /// For a document not yet stored, the whole-document bytes it was loaded from (a snapshot
    /// received, a file imported): stored as they are while the document has not changed since,
    /// instead of saving it again (the first pull of a new phone is mostly this).
    whole: Option<Vec<u8>>,
}

impl Loaded {
    /// A document read from the store, stored as `chunks` chunks.
    pub(crate) fn stored(doc: RecordDoc, chunks: u32) -> Loaded {
        Loaded {
            doc,
            chunks,
            whole: None,
        }
    }

    /// A document not yet stored.
    pub(crate) fn new(doc: RecordDoc) -> Loaded {
        Loaded::stored(doc, 0)
    }

    /// A document not yet stored, loaded from `bytes` (a whole saved document) and unchanged
    /// since.
    pub(crate) fn from_whole(doc: RecordDoc, bytes: Vec<u8>) -> Loaded {
        Loaded {
            whole: Some(bytes),
            ..Loaded::new(doc)
        }
    }

    /// Bytes for the first store of this document: those it was loaded from if nothing changed
    /// it since, else a whole save.
    fn first_save(&mut self) -> Result<Vec<u8>, crate::doc::DocError> {
        match self.whole.take() {
            Some(bytes) if self.doc.is_saved() => Ok(bytes),
            _ => self.doc.try_save(),
        }
    }
}

/// What to write for `loaded` since its last save: an incremental chunk (or the whole document
/// when it is new or due for compaction) with the projection derived from the hydrated document.
/// `None` when nothing changed. Counts the chunk as written: on a failed write the caller drops
/// the document, so the stored version stays the truth.
///
/// A compaction replaces every stored chunk, so its bytes are loaded back first
/// ([`RecordDoc::save_compacted`]): a document holding changes that do not fit together (sent by
/// a hostile device) can load from its chunks and yet compact into bytes that do not. Then the
/// chunks are kept, the new one is appended, the record is marked as needing attention
/// ([`COMPACTION_FAILED`]) and compaction is tried again [`COMPACT_AFTER_CHUNKS`] chunks later.
pub(crate) fn document_save(
    id: RecordId,
    loaded: &mut Loaded,
    now: Timestamp,
    known: Option<Record>,
) -> Result<Option<DocumentSave>, Error> {
    // What the store held when this document was read (none for a record never stored).
    let expected_heads = (loaded.chunks > 0).then(|| loaded.doc.saved_heads_bytes());
    let compacting =
        loaded.chunks >= COMPACT_AFTER_CHUNKS && loaded.chunks.is_multiple_of(COMPACT_AFTER_CHUNKS);
    let mut attention = None;
    let (bytes, replace) = if loaded.chunks == 0 {
        (Some(loaded.first_save()?), true)
    } else if compacting {
        match loaded.doc.save_compacted() {
            Ok(bytes) => (Some(bytes), true),
            Err(e) => {
                tracing::warn!(record = %id, error = %e, "the document does not compact; its chunks are kept");
                attention = Some(compaction_failed());
                (loaded.doc.try_save_incremental()?, false)
            }
        }
    } else {
        (loaded.doc.try_save_incremental()?, false)
    };
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    // The caller may already hold the hydrated state (a save on the current heads).
    let record = match known {
        Some(r) => r,
        None => loaded.doc.hydrate_cached()?,
    };
    let conflicts = u32::try_from(loaded.doc.try_conflict_count()?).unwrap_or(u32::MAX);
    loaded.chunks = if replace { 1 } else { loaded.chunks + 1 };
    Ok(Some(DocumentSave {
        id,
        bytes,
        replace,
        expected_heads,
        heads: loaded.doc.heads_bytes(),
        projection: projection::derive(&record, now.millis(), conflicts),
        attention,
    }))
}

/// The mark of a record whose document could not be compacted.
fn compaction_failed() -> Attention {
    Attention {
        rule: COMPACTION_FAILED.to_owned(),
        message: "this record's document holds changes that do not fit together, so it cannot be compacted: it is kept as stored and still syncs; report the record id to your IT team".to_owned(),
        field: None,
    }
}

/// A whole-document save of `loaded` replacing what the store holds, allowed only if the store
/// still holds `expected` heads (a record rebuilt from the server's version after a refusal: a
/// change another process stored meanwhile must not be lost). Counts the chunk as written.
pub(crate) fn document_replace(
    id: RecordId,
    loaded: &mut Loaded,
    expected: Vec<u8>,
    now: Timestamp,
) -> Result<DocumentSave, Error> {
    let bytes = loaded.doc.save_compacted()?;
    loaded.whole = None;
    let record = loaded.doc.hydrate_cached()?;
    let conflicts = u32::try_from(loaded.doc.try_conflict_count()?).unwrap_or(u32::MAX);
    loaded.chunks = 1;
    Ok(DocumentSave {
        id,
        bytes,
        replace: true,
        expected_heads: Some(expected),
        heads: loaded.doc.heads_bytes(),
        projection: projection::derive(&record, now.millis(), conflicts),
        attention: None,
    })
}
