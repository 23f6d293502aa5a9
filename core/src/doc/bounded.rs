//! Bounded reading of automerge bytes that came from someone else: a pushed change, a fed
//! snapshot, an imported document. Nothing of automerge sees such bytes before this module has
//! bounded them.
//!
//! Automerge's binary format lets a few bytes claim a great deal: a compressed change chunk is
//! inflated with no bound inside `Change::from_bytes` (a 261 KB push once took a server from
//! 11 MB to 800 MB), and run-length encoding lets 2 KB describe two million operations. So this
//! module reads the format itself, only far enough to count: the chunk headers, a change's or
//! document's prefix and column metadata, and the run-length, delta and boolean encodings of every
//! column. Each count is summed with saturating arithmetic and stops at its cap ([`Bounds`])
//! before anything is allocated for it; every inflation is bounded while it runs. Only bytes
//! within every bound reach automerge, and then inside `catch_unwind`: automerge panics on some
//! malformed input, and a panic is an error here, never a crash.
//!
//! A compressed change is inflated here, once, and handed to automerge as the uncompressed change
//! chunk it wraps (its hash is the same: automerge hashes the uncompressed chunk), so automerge
//! never inflates a change. A document's deflated columns are inflated here only to count them;
//! automerge inflates them again, to a size now known to be within bounds.
//!
//! Objects may not nest deeper than [`crate::limits::MAX_NESTING_DEPTH`] (`Nesting`): a few KB
//! can nest maps thousands deep, which costs automerge's diff time and memory in the square of
//! the depth.
//!
//! Sync messages (the repair path) are read the same way ([`read_sync_message`]): their lists and
//! Bloom filters are checked before automerge decodes them, and the chunks they carry are checked
//! as a document.
//!
//! Pure: no I/O, no clock. Errors never quote the input.

use automerge::Change;
use std::io::Read;

/// Limits on what untrusted automerge bytes may hold, for one use.
///
/// [`Bounds::RECORD`] is the one for Fieldbook records, derived from [`crate::limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Largest change chunk, in bytes once inflated.
    pub max_change_bytes: usize,
    /// Most operations one change may hold.
    pub max_change_ops: u64,
    /// Most entries any one column (of a change or of a document) may claim, and most values a
    /// group column's counts may add up to.
    pub max_column_entries: u64,
    /// Most operations a whole document may hold (its document chunks' rows plus its change
    /// chunks' operations).
    pub max_document_ops: u64,
    /// Most changes a whole document may hold.
    pub max_document_changes: u64,
    /// Largest whole document, in bytes once every chunk and column is inflated.
    pub max_document_bytes: usize,
}

impl Bounds {
    /// The bounds of one Fieldbook record: what an honest device can make, and no more.
    pub const RECORD: Bounds = Bounds {
        max_change_bytes: crate::limits::MAX_CHANGE_BYTES,
        max_change_ops: crate::limits::MAX_CHANGE_OPS as u64,
        max_column_entries: crate::limits::MAX_COLUMN_ENTRIES as u64,
        max_document_ops: crate::limits::MAX_DOCUMENT_OPS as u64,
        max_document_changes: crate::limits::MAX_DOCUMENT_CHANGES as u64,
        max_document_bytes: crate::limits::MAX_DOCUMENT_BYTES,
    };
}

/// Why untrusted automerge bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    /// The bytes do not follow automerge's format (the reason names the part, never the input).
    #[error(
        "the automerge bytes are malformed ({0}): send the bytes the record's own document made"
    )]
    Malformed(&'static str),
    /// A chunk, column or document would inflate past its bound.
    #[error(
        "the automerge bytes inflate to more than {limit} bytes: save the record in smaller steps"
    )]
    TooLarge {
        /// The bound, in inflated bytes.
        limit: usize,
    },
    /// A change, or a whole document, holds more operations than its bound.
    #[error(
        "the automerge bytes hold at least {seen} operations where at most {limit} are allowed: save the record in smaller steps"
    )]
    TooManyOperations {
        /// How many were counted before counting stopped (at least this many).
        seen: u64,
        /// The bound.
        limit: u64,
    },
    /// One column claims more entries than any column may hold.
    #[error(
        "an automerge column claims at least {seen} entries where at most {limit} are allowed: send the bytes the record's own document made"
    )]
    TooManyEntries {
        /// How many were counted before counting stopped (at least this many).
        seen: u64,
        /// The bound.
        limit: u64,
    },
    /// A document holds more changes than a record may.
    #[error(
        "the document holds at least {seen} changes where at most {limit} are allowed: the record must be rebuilt from a shorter history"
    )]
    TooManyChanges {
        /// How many were counted before counting stopped (at least this many).
        seen: u64,
        /// The bound.
        limit: u64,
    },
    /// Objects nested deeper than any record nests.
    #[error(
        "the automerge bytes nest objects deeper than {limit}: no record nests that deep, send the record's own changes"
    )]
    TooDeep {
        /// The bound ([`crate::limits::MAX_NESTING_DEPTH`]).
        limit: usize,
    },
    /// The bytes are an automerge chunk, but not one change.
    #[error("the bytes are not one automerge change: send each change as its own chunk")]
    NotAChange,
    /// The bytes are not an automerge document.
    #[error("the bytes are not an automerge document: send the record's saved document")]
    NotADocument,
    /// Automerge panicked on the bytes; the panic was caught.
    #[error(
        "automerge failed on these bytes (it panicked): they are refused; report it if Fieldbook made them"
    )]
    Panicked,
}

impl BoundsError {
    /// The bytes are not what they claim to be (not automerge, not one change or document, or
    /// automerge panicked on them), as against well-formed bytes claiming more than the bounds
    /// allow. Callers name the first "malformed" and the second "over the limits".
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            BoundsError::Malformed(_)
                | BoundsError::NotAChange
                | BoundsError::NotADocument
                | BoundsError::Panicked
        )
    }

    /// A stable code for scripts and apps.
    pub fn code(&self) -> &'static str {
        match self {
            BoundsError::Malformed(_) => "malformed-automerge",
            BoundsError::TooLarge { .. } => "automerge-too-large",
            BoundsError::TooManyOperations { .. } => "too-many-operations",
            BoundsError::TooManyEntries { .. } => "too-many-entries",
            BoundsError::TooManyChanges { .. } => "too-many-changes",
            BoundsError::TooDeep { .. } => "too-deep",
            BoundsError::NotAChange => "not-a-change",
            BoundsError::NotADocument => "not-a-document",
            BoundsError::Panicked => "automerge-panicked",
        }
    }
}

/// Reads one change from untrusted bytes: exactly one change chunk (compressed or not), within
/// `bounds`. The returned change's `raw_bytes()` are its uncompressed chunk.
pub fn read_change(bytes: &[u8], bounds: &Bounds) -> Result<Change, BoundsError> {
    let change = read_change_to_apply(bytes, bounds)?;
    // Objects this change makes inside objects made elsewhere count from there: the document's
    // own depth is added by `RecordDoc::apply_untrusted_change`.
    Nesting::default().check(&change, |_| 0)?;
    Ok(change)
}

/// [`read_change`] of a change that goes straight to [`apply_changes`], which bounds its
/// nesting where it lands (so it is decoded for that once, not twice).
pub(crate) fn read_change_to_apply(bytes: &[u8], bounds: &Bounds) -> Result<Change, BoundsError> {
    let mut reader = Reader::new(bytes);
    let chunk = read_chunk(&mut reader)?;
    if !reader.is_empty() {
        return Err(BoundsError::Malformed("bytes follow the change"));
    }
    let whole = match chunk.kind {
        ChunkKind::Change => {
            bound_size(chunk.data.len(), bounds.max_change_bytes)?;
            scan_change(chunk.data, bounds)?;
            bytes.to_vec()
        }
        ChunkKind::Compressed => {
            let body = inflate(chunk.data, bounds.max_change_bytes, bounds.max_change_bytes)?;
            scan_change(&body, bounds)?;
            change_chunk(chunk.checksum, &body)
        }
        ChunkKind::Document | ChunkKind::Bundle => return Err(BoundsError::NotAChange),
    };
    let change = guarded(|| Change::from_bytes(whole))?
        .map_err(|_| BoundsError::Malformed("automerge could not decode the change"))?;
    if change.hash().0[..4] != chunk.checksum {
        return Err(BoundsError::Malformed(
            "the checksum does not match the change",
        ));
    }
    let ops = change.len() as u64;
    if ops > bounds.max_change_ops {
        return Err(BoundsError::TooManyOperations {
            seen: ops,
            limit: bounds.max_change_ops,
        });
    }
    Ok(change)
}

/// How deep the objects a history makes are nested, by the id of the operation that made each.
///
/// A change nesting maps thousands deep is a few KB, and reading it costs time and memory in the
/// square of its depth (automerge's diff gives every patch its whole path: 10,000 levels took a
/// history read past 2 GB), so objects deeper than [`crate::limits::MAX_NESTING_DEPTH`] are
/// refused when they arrive.
#[derive(Debug, Default)]
pub(crate) struct Nesting {
    made: std::collections::HashMap<automerge::legacy::OpId, usize>,
}

impl Nesting {
    /// Checks the objects `change` makes; `outside` gives the depth of an object this history
    /// has not seen made (0 for the root's children's parent, the root).
    pub(crate) fn check(
        &mut self,
        change: &Change,
        outside: impl Fn(&automerge::legacy::OpId) -> usize,
    ) -> Result<(), BoundsError> {
        use automerge::legacy::{ObjectId, OpId, OpType};
        let limit = crate::limits::MAX_NESTING_DEPTH;
        let expanded = guarded(|| change.decode())?;
        let start = expanded.start_op.get();
        for (i, op) in expanded.operations.iter().enumerate() {
            if !matches!(op.action, OpType::Make(_)) {
                continue;
            }
            let parent = match &op.obj {
                ObjectId::Root => 0,
                ObjectId::Id(id) => self.made.get(id).copied().unwrap_or_else(|| outside(id)),
            };
            let depth = parent.saturating_add(1);
            if depth > limit {
                return Err(BoundsError::TooDeep { limit });
            }
            let id = OpId(start.saturating_add(i as u64), expanded.actor_id.clone());
            self.made.insert(id, depth);
        }
        Ok(())
    }
}

/// Applies `changes` (each read with [`read_change`]) to `doc`, refusing any that would nest an
/// object deeper than [`crate::limits::MAX_NESTING_DEPTH`] counting from where it lands in `doc`
/// or in an earlier change of the batch. A panic inside automerge is [`BoundsError::Panicked`]:
/// `doc` is then in an unknown state and must be dropped.
pub fn apply_changes(
    doc: &mut automerge::Automerge,
    changes: Vec<Change>,
) -> Result<(), BoundsError> {
    let mut nesting = Nesting::default();
    for change in &changes {
        nesting.check(change, |id| {
            doc.import(&format!("{}@{}", id.0, id.1))
                .ok()
                .and_then(|(obj, _)| automerge::ReadDoc::parents(doc, &obj).ok())
                .map_or(0, |parents| parents.count())
        })?;
    }
    match guarded(|| doc.apply_changes(changes))? {
        Ok(()) => Ok(()),
        Err(_) => Err(BoundsError::Malformed(
            "automerge could not apply the changes",
        )),
    }
}

/// Checks untrusted document bytes before automerge loads them: a sequence of chunks (document
/// chunks as `Automerge::save` makes them, change chunks as `save_after` makes them, compressed
/// change chunks), every one of them, and the whole, within `bounds`. Bundles are refused.
pub fn check_document(bytes: &[u8], bounds: &Bounds) -> Result<(), BoundsError> {
    if bytes.is_empty() {
        return Err(BoundsError::NotADocument);
    }
    bound_size(bytes.len(), bounds.max_document_bytes)?;
    let mut tally = Tally {
        inflated: bytes.len(),
        ops: 0,
        changes: 0,
    };
    let mut reader = Reader::new(bytes);
    while !reader.is_empty() {
        let chunk = read_chunk(&mut reader)?;
        match chunk.kind {
            ChunkKind::Document => scan_document(chunk.data, bounds, &mut tally)?,
            ChunkKind::Change => {
                bound_size(chunk.data.len(), bounds.max_change_bytes)?;
                let ops = scan_change(chunk.data, bounds)?;
                tally.add(ops, 1, bounds)?;
            }
            ChunkKind::Compressed => {
                let room = tally.room(chunk.data.len(), bounds);
                let body = if room < bounds.max_change_bytes {
                    inflate(chunk.data, room, bounds.max_document_bytes)?
                } else {
                    inflate(chunk.data, bounds.max_change_bytes, bounds.max_change_bytes)?
                };
                tally.inflate(chunk.data.len(), body.len(), bounds)?;
                let ops = scan_change(&body, bounds)?;
                tally.add(ops, 1, bounds)?;
            }
            ChunkKind::Bundle => {
                return Err(BoundsError::Malformed("bundle chunks are not accepted"));
            }
        }
    }
    Ok(())
}

/// Reads an automerge sync message from untrusted bytes (the repair path). Before automerge
/// decodes it, its lists are counted and its Bloom filters checked (a filter may claim billions of
/// probes, which automerge would allocate when it next generates a message, or no bits, which it
/// would divide by); after, the chunks it carries (changes, or a whole document in a V2 message)
/// are checked as one document ([`check_document`]).
pub fn read_sync_message(
    bytes: &[u8],
    bounds: &Bounds,
) -> Result<automerge::sync::Message, BoundsError> {
    bound_size(bytes.len(), bounds.max_document_bytes)?;
    let mut r = Reader::new(bytes);
    if !matches!(r.byte()?, SYNC_V1 | SYNC_V2) {
        return Err(BoundsError::Malformed("not a sync message"));
    }
    skip_hashes(&mut r)?; // heads
    skip_hashes(&mut r)?; // need
    let haves = r.uleb()?;
    if haves > MAX_HAVES {
        return Err(BoundsError::Malformed(
            "a sync message has too many bloom filters",
        ));
    }
    for _ in 0..haves {
        skip_hashes(&mut r)?;
        let len = r.length()?;
        check_bloom(r.take(len)?)?;
    }
    let chunks = r.uleb()?;
    if chunks > bounds.max_document_changes {
        return Err(BoundsError::TooManyChanges {
            seen: chunks,
            limit: bounds.max_document_changes,
        });
    }
    for _ in 0..chunks {
        let len = r.length()?;
        r.take(len)?;
    }
    // The rest is the message's flags.
    let message = guarded(|| automerge::sync::Message::decode(bytes))?
        .map_err(|_| BoundsError::Malformed("automerge could not decode the sync message"))?;
    let carried: Vec<u8> = message.changes.iter().flatten().copied().collect();
    if !carried.is_empty() {
        check_document(&carried, bounds)?;
    }
    Ok(message)
}

const SYNC_V1: u8 = 0x42;
const SYNC_V2: u8 = 0x43;
/// Bloom filters one sync message may carry (automerge sends one).
const MAX_HAVES: u64 = 16;
/// Probes one Bloom filter may ask for (automerge uses 7).
const MAX_BLOOM_PROBES: u64 = 64;

/// A length-prefixed list of 32-byte hashes.
fn skip_hashes(r: &mut Reader<'_>) -> Result<(), BoundsError> {
    let count = r.length()?;
    r.take(
        count
            .checked_mul(32)
            .ok_or(BoundsError::Malformed("truncated"))?,
    )?;
    Ok(())
}

/// A Bloom filter: nothing, or entries, bits per entry, probes (each a u32) and the bits.
fn check_bloom(bytes: &[u8]) -> Result<(), BoundsError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut r = Reader::new(bytes);
    let mut field = || -> Result<u64, BoundsError> {
        let value = r.uleb()?;
        if value > u64::from(u32::MAX) {
            return Err(BoundsError::Malformed("a bloom filter field is too large"));
        }
        Ok(value)
    };
    let entries = field()?;
    let bits_per_entry = field()?;
    let probes = field()?;
    if probes > MAX_BLOOM_PROBES {
        return Err(BoundsError::Malformed(
            "a bloom filter asks for too many probes",
        ));
    }
    if entries > 0 && bits_per_entry == 0 {
        return Err(BoundsError::Malformed(
            "a bloom filter has entries but no bits",
        ));
    }
    Ok(())
}

/// Runs automerge on untrusted input: a panic becomes [`BoundsError::Panicked`].
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, BoundsError> {
    // The same guard as the document's reads (a program's panic hook knows the panic is caught).
    super::guarded("reading automerge bytes from elsewhere", f).map_err(|_| BoundsError::Panicked)
}

// ---------------------------------------------------------------------------------------------
// Chunks
// ---------------------------------------------------------------------------------------------

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkKind {
    Document,
    Change,
    Compressed,
    Bundle,
}

#[derive(Debug)]
struct Chunk<'a> {
    checksum: [u8; 4],
    kind: ChunkKind,
    data: &'a [u8],
}

/// Magic bytes, checksum, type, uleb128 length, data.
fn read_chunk<'a>(reader: &mut Reader<'a>) -> Result<Chunk<'a>, BoundsError> {
    if reader.take(4)? != MAGIC {
        return Err(BoundsError::Malformed("not an automerge chunk"));
    }
    let checksum = reader
        .take(4)?
        .try_into()
        .map_err(|_| BoundsError::Malformed("truncated"))?;
    let kind = match reader.byte()? {
        0 => ChunkKind::Document,
        1 => ChunkKind::Change,
        2 => ChunkKind::Compressed,
        3 => ChunkKind::Bundle,
        _ => return Err(BoundsError::Malformed("unknown chunk type")),
    };
    let len = reader.length()?;
    let data = reader.take(len)?;
    Ok(Chunk {
        checksum,
        kind,
        data,
    })
}

/// An uncompressed change chunk holding `body`, with the checksum its compressed form carried.
fn change_chunk(checksum: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 20);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&checksum);
    out.push(1);
    write_uleb(&mut out, body.len() as u64);
    out.extend_from_slice(body);
    out
}

fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
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

fn bound_size(len: usize, limit: usize) -> Result<(), BoundsError> {
    if len > limit {
        Err(BoundsError::TooLarge { limit })
    } else {
        Ok(())
    }
}

/// Inflates raw DEFLATE data, never holding more than `room` bytes of output; past it, the
/// error names `limit`, the bound that left only that much room.
fn inflate(deflated: &[u8], room: usize, limit: usize) -> Result<Vec<u8>, BoundsError> {
    let mut decoder = flate2::bufread::DeflateDecoder::new(deflated);
    let mut out: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = decoder
            .read(&mut buf)
            .map_err(|_| BoundsError::Malformed("deflated data does not inflate"))?;
        if n == 0 {
            return Ok(out);
        }
        let len = out.len() + n;
        if len > room {
            return Err(BoundsError::TooLarge { limit });
        }
        if len > out.capacity() {
            // Grow geometrically, but never past the bound.
            let target = (out.capacity() * 2).clamp(len, room);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// What a whole document has been counted to hold so far.
#[derive(Debug)]
struct Tally {
    /// Its size with every chunk and column inflated.
    inflated: usize,
    ops: u64,
    changes: u64,
}

impl Tally {
    /// How many bytes `compressed` bytes may inflate to before the document is over its bound.
    fn room(&self, compressed: usize, bounds: &Bounds) -> usize {
        bounds
            .max_document_bytes
            .saturating_sub(self.inflated.saturating_sub(compressed))
    }

    fn inflate(
        &mut self,
        compressed: usize,
        inflated: usize,
        bounds: &Bounds,
    ) -> Result<(), BoundsError> {
        self.inflated = self
            .inflated
            .saturating_sub(compressed)
            .saturating_add(inflated);
        bound_size(self.inflated, bounds.max_document_bytes)
    }

    fn add(&mut self, ops: u64, changes: u64, bounds: &Bounds) -> Result<(), BoundsError> {
        self.ops = self.ops.saturating_add(ops);
        self.changes = self.changes.saturating_add(changes);
        if self.ops > bounds.max_document_ops {
            return Err(BoundsError::TooManyOperations {
                seen: self.ops,
                limit: bounds.max_document_ops,
            });
        }
        if self.changes > bounds.max_document_changes {
            return Err(BoundsError::TooManyChanges {
                seen: self.changes,
                limit: bounds.max_document_changes,
            });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Change and document bodies
// ---------------------------------------------------------------------------------------------

/// The action column of a change (id 4, integer): one entry per operation.
const CHANGE_ACTION_SPEC: u32 = (4 << 4) | 2;
/// The actor column of a document's changes (id 0, actor): one entry per change.
const DOC_CHANGE_ACTOR_SPEC: u32 = 1;
/// The actor column of a document's operation ids (id 2, actor): one entry per operation.
const DOC_OP_ID_ACTOR_SPEC: u32 = (2 << 4) | 1;
/// The bit of a column specification that marks its data as deflated.
const DEFLATE_BIT: u32 = 0x08;
/// Columns a chunk may declare: automerge writes at most 16 per column set.
const MAX_COLUMNS: u64 = 64;

/// Reads a change chunk's body (after the header) far enough to count its operations, and
/// checks every column's entries against the bounds. Returns the operation count.
fn scan_change(body: &[u8], bounds: &Bounds) -> Result<u64, BoundsError> {
    let mut r = Reader::new(body);
    let deps = r.length()?;
    r.take(
        deps.checked_mul(32)
            .ok_or(BoundsError::Malformed("truncated"))?,
    )?;
    let actor = r.length()?;
    r.take(actor)?;
    r.uleb()?; // seq
    if r.uleb()? == 0 {
        return Err(BoundsError::Malformed("a change's first operation is zero"));
    }
    r.sleb()?; // time
    let message = r.length()?;
    r.take(message)?;
    let others = r.uleb()?;
    for _ in 0..others {
        let len = r.length()?;
        r.take(len)?;
    }
    let columns = read_columns(&mut r)?;
    let data = r.take(total_len(&columns)?)?;
    // What follows the columns is automerge's extra bytes (an author footer): kept, not counted.
    if columns.iter().any(|&(spec, _)| spec & DEFLATE_BIT != 0) {
        return Err(BoundsError::Malformed(
            "a change's columns may not be deflated",
        ));
    }
    // The action column first: its entries are the change's operations.
    let mut ops = 0;
    for (spec, column) in column_data(&columns, data) {
        if spec == CHANGE_ACTION_SPEC {
            let cap = bounds.max_change_ops.min(bounds.max_column_entries);
            ops = count_column(spec, column, cap)
                .map_err(|e| as_operations(e, bounds.max_change_ops))?;
        }
    }
    for (spec, column) in column_data(&columns, data) {
        if spec != CHANGE_ACTION_SPEC {
            count_column(spec, column, bounds.max_column_entries)?;
        }
    }
    Ok(ops)
}

/// Each column's specification and data.
fn column_data<'a>(
    columns: &'a [(u32, usize)],
    data: &'a [u8],
) -> impl Iterator<Item = (u32, &'a [u8])> + 'a {
    columns.iter().scan(0usize, move |offset, &(spec, len)| {
        let start = *offset;
        *offset += len;
        Some((spec, &data[start..start + len]))
    })
}

/// A column over its cap, where the column's entries are operations.
fn as_operations(error: BoundsError, limit: u64) -> BoundsError {
    match error {
        BoundsError::TooManyEntries { seen, .. } => BoundsError::TooManyOperations { seen, limit },
        other => other,
    }
}

/// Reads a document chunk's body: actors, heads, the change and operation column metadata and
/// data. Deflated columns are inflated (within what is left of the document's bound) and counted
/// like the rest.
fn scan_document(body: &[u8], bounds: &Bounds, tally: &mut Tally) -> Result<(), BoundsError> {
    let DocumentColumns {
        change_columns,
        change_data,
        op_columns,
        op_data,
    } = DocumentColumns::read(body)?;
    let changes = count_columns(
        &change_columns,
        change_data,
        DOC_CHANGE_ACTOR_SPEC,
        Counted::Changes,
        bounds,
        tally,
    )?;
    let ops = count_columns(
        &op_columns,
        op_data,
        DOC_OP_ID_ACTOR_SPEC,
        Counted::Operations,
        bounds,
        tally,
    )?;
    tally.add(ops, changes, bounds)
}

/// A document chunk's column metadata and data, read past its actors and heads.
struct DocumentColumns<'a> {
    change_columns: Vec<(u32, usize)>,
    change_data: &'a [u8],
    op_columns: Vec<(u32, usize)>,
    op_data: &'a [u8],
}

impl<'a> DocumentColumns<'a> {
    fn read(body: &'a [u8]) -> Result<DocumentColumns<'a>, BoundsError> {
        let mut r = Reader::new(body);
        for _ in 0..r.uleb()? {
            let len = r.length()?;
            r.take(len)?;
        }
        let heads = r.length()?;
        r.take(
            heads
                .checked_mul(32)
                .ok_or(BoundsError::Malformed("truncated"))?,
        )?;
        let change_columns = read_columns(&mut r)?;
        let op_columns = read_columns(&mut r)?;
        let change_data = r.take(total_len(&change_columns)?)?;
        let op_data = r.take(total_len(&op_columns)?)?;
        // The rest is the heads' indexes (or nothing): automerge checks them.
        Ok(DocumentColumns {
            change_columns,
            change_data,
            op_columns,
            op_data,
        })
    }
}

/// What the entries of a document's counted column are.
#[derive(Debug, Clone, Copy)]
enum Counted {
    Changes,
    Operations,
}

/// Counts every column of one column set, inflating deflated ones. The column `counted` (its
/// spec without the deflate bit) is counted first, within the bound on `what` it counts; the
/// others within the column bound. Returns its entries.
fn count_columns(
    columns: &[(u32, usize)],
    data: &[u8],
    counted: u32,
    what: Counted,
    bounds: &Bounds,
    tally: &mut Tally,
) -> Result<u64, BoundsError> {
    let limit = match what {
        Counted::Changes => bounds.max_document_changes,
        Counted::Operations => bounds.max_document_ops,
    };
    let mut found = 0;
    for (spec, column) in column_data(columns, data) {
        if spec & !DEFLATE_BIT == counted {
            let cap = limit.min(bounds.max_column_entries);
            found = column_entries(spec, column, cap, bounds, tally).map_err(|e| match e {
                BoundsError::TooManyEntries { seen, .. } => match what {
                    Counted::Changes => BoundsError::TooManyChanges { seen, limit },
                    Counted::Operations => BoundsError::TooManyOperations { seen, limit },
                },
                other => other,
            })?;
        }
    }
    for (spec, column) in column_data(columns, data) {
        if spec & !DEFLATE_BIT != counted {
            column_entries(spec, column, bounds.max_column_entries, bounds, tally)?;
        }
    }
    Ok(found)
}

/// The entries of one document column, inflated first if it is deflated.
fn column_entries(
    spec: u32,
    column: &[u8],
    cap: u64,
    bounds: &Bounds,
    tally: &mut Tally,
) -> Result<u64, BoundsError> {
    let plain = spec & !DEFLATE_BIT;
    if spec & DEFLATE_BIT == 0 {
        return count_column(plain, column, cap);
    }
    let room = tally.room(column.len(), bounds);
    let inflated = inflate(column, room, bounds.max_document_bytes)?;
    tally.inflate(column.len(), inflated.len(), bounds)?;
    count_column(plain, &inflated, cap)
}

/// A column set's metadata: a count, then (specification, data length) pairs.
fn read_columns(r: &mut Reader<'_>) -> Result<Vec<(u32, usize)>, BoundsError> {
    let count = r.uleb()?;
    if count > MAX_COLUMNS {
        return Err(BoundsError::Malformed("too many columns"));
    }
    let mut columns = Vec::new();
    for _ in 0..count {
        let spec = u32::try_from(r.uleb()?)
            .map_err(|_| BoundsError::Malformed("a column specification is too large"))?;
        let len = r.length()?;
        columns.push((spec, len));
    }
    Ok(columns)
}

fn total_len(columns: &[(u32, usize)]) -> Result<usize, BoundsError> {
    columns
        .iter()
        .try_fold(0usize, |sum, &(_, len)| sum.checked_add(len))
        .ok_or(BoundsError::Malformed("truncated"))
}

// ---------------------------------------------------------------------------------------------
// Column encodings
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Nesting, read from a document's columns
// ---------------------------------------------------------------------------------------------

/// The object column of a document's operations (id 0): its actor and counter.
const DOC_OP_OBJ_ACTOR_SPEC: u32 = 1;
const DOC_OP_OBJ_CTR_SPEC: u32 = 2;
/// The counter of a document operation's id (id 2, delta).
const DOC_OP_ID_CTR_SPEC: u32 = (2 << 4) | 3;
/// The action of a document operation (id 4, integer).
const DOC_OP_ACTION_SPEC: u32 = (4 << 4) | 2;
/// Actions that make an object: a map, a list, a text, a table.
const MAKE_ACTIONS: [u64; 4] = [0, 2, 4, 6];

/// Checks on the columns of the document chunk that `bytes` (already checked with
/// [`check_document`]) are, that no object the history ever made, deleted ones too, nests
/// deeper than [`crate::limits::MAX_NESTING_DEPTH`]. A document chunk lists every operation with
/// the object it is in and its own id, so this reads five columns instead of rebuilding and
/// decoding every change (most of what checking a received snapshot cost). Returns false, and
/// checks nothing, unless `bytes` are exactly one document chunk declaring each of those columns
/// at most once: later chunks are applied as changes on top of the first (their objects may nest
/// inside its objects), and a column declared twice is read by automerge from its last copy.
/// The caller then checks the loaded document change by change.
pub(crate) fn document_nesting(bytes: &[u8], bounds: &Bounds) -> Result<bool, BoundsError> {
    let mut reader = Reader::new(bytes);
    let chunk = read_chunk(&mut reader)?;
    if !reader.is_empty() || chunk.kind != ChunkKind::Document {
        return Ok(false);
    }
    nesting_of_document(chunk.data, bounds)
}

/// [`document_nesting`] of one document chunk's body.
fn nesting_of_document(body: &[u8], bounds: &Bounds) -> Result<bool, BoundsError> {
    let DocumentColumns {
        op_columns,
        op_data,
        ..
    } = DocumentColumns::read(body)?;
    let mut specs: Vec<u32> = op_columns
        .iter()
        .map(|(spec, _)| spec & !DEFLATE_BIT)
        .collect();
    specs.sort_unstable();
    if specs.windows(2).any(|w| w[0] == w[1]) {
        return Ok(false);
    }
    // Each column's data, inflated if it is deflated (within the bound `check_document` held it
    // to); a column left out holds nothing but nulls.
    let column = |wanted: u32| -> Result<Option<std::borrow::Cow<'_, [u8]>>, BoundsError> {
        for (spec, data) in column_data(&op_columns, op_data) {
            if spec & !DEFLATE_BIT == wanted {
                return Ok(Some(if spec & DEFLATE_BIT == 0 {
                    std::borrow::Cow::Borrowed(data)
                } else {
                    std::borrow::Cow::Owned(inflate(
                        data,
                        bounds.max_document_bytes,
                        bounds.max_document_bytes,
                    )?)
                }));
            }
        }
        Ok(None)
    };
    let actions = column(DOC_OP_ACTION_SPEC)?;
    let obj_actors = column(DOC_OP_OBJ_ACTOR_SPEC)?;
    let obj_ctrs = column(DOC_OP_OBJ_CTR_SPEC)?;
    let id_actors = column(DOC_OP_ID_ACTOR_SPEC)?;
    let id_ctrs = column(DOC_OP_ID_CTR_SPEC)?;
    let Some(actions) = actions else {
        return Ok(true);
    };
    let mut obj_actors = Rle::new(obj_actors.as_deref(), false);
    let mut obj_ctrs = Rle::new(obj_ctrs.as_deref(), false);
    let mut id_actors = Rle::new(id_actors.as_deref(), false);
    let mut id_ctrs = Rle::new(id_ctrs.as_deref(), true);
    // Each object made, by its id (actor index, counter): the object it was made in (`None`:
    // the root). The columns are read in step, one operation at a time.
    let mut parent_of = std::collections::HashMap::new();
    let mut actions = Rle::new(Some(&actions), false);
    let mut ops: u64 = 0;
    while let Some(action) = actions.next_entry()? {
        ops += 1;
        over(ops, bounds.max_column_entries)?;
        let obj = (obj_actors.next_value()?, obj_ctrs.next_value()?);
        let id = (id_actors.next_value()?, id_ctrs.next_value()?);
        if action.is_some_and(|a| MAKE_ACTIONS.contains(&a)) {
            let parent = match obj {
                (None, None) => None,
                obj => Some(obj),
            };
            parent_of.insert(id, parent);
        }
    }
    let limit = crate::limits::MAX_NESTING_DEPTH;
    for mut parent in parent_of.values().copied() {
        let mut depth = 1;
        while let Some(obj) = parent {
            depth += 1;
            if depth > limit {
                return Err(BoundsError::TooDeep { limit });
            }
            // An object made in one this chunk does not make counts that one level, as the
            // change-by-change reading counts it.
            parent = parent_of.get(&obj).copied().flatten();
        }
    }
    Ok(true)
}

/// A cursor over an RLE column of unsigned numbers, or (`signed`) a delta column giving the
/// values it encodes; a column left out (`None`) or run out gives nulls.
struct Rle<'a> {
    reader: Reader<'a>,
    signed: bool,
    /// Entries left in the current run, and what they are.
    left: u64,
    run: Run,
    /// A delta column's value so far.
    sum: u64,
}

#[derive(Clone, Copy)]
enum Run {
    /// The same value repeated.
    Repeat(u64),
    /// Literal values, read one by one.
    Literals,
    Nulls,
}

impl<'a> Rle<'a> {
    fn new(data: Option<&'a [u8]>, signed: bool) -> Rle<'a> {
        Rle {
            reader: Reader::new(data.unwrap_or_default()),
            signed,
            left: 0,
            run: Run::Nulls,
            sum: 0,
        }
    }

    fn read(&mut self) -> Result<u64, BoundsError> {
        if self.signed {
            self.reader.sleb().map(|v| v as u64)
        } else {
            self.reader.uleb()
        }
    }

    /// The next entry (`Some(None)`: a null), or `None` at the column's end.
    fn next_entry(&mut self) -> Result<Option<Option<u64>>, BoundsError> {
        while self.left == 0 {
            if self.reader.is_empty() {
                return Ok(None);
            }
            let count = self.reader.sleb()?;
            if count > 0 {
                self.left = count.unsigned_abs();
                self.run = Run::Repeat(self.read()?);
            } else if count < 0 {
                self.left = count.unsigned_abs();
                self.run = Run::Literals;
            } else {
                self.left = self.reader.uleb()?;
                self.run = Run::Nulls;
            }
        }
        self.left -= 1;
        let raw = match self.run {
            Run::Repeat(v) => v,
            Run::Literals => self.read()?,
            Run::Nulls => return Ok(Some(None)),
        };
        Ok(Some(Some(if self.signed {
            // Deltas: each value adds to the last (nulls leave it as it was).
            self.sum = self.sum.wrapping_add(raw);
            self.sum
        } else {
            raw
        })))
    }

    /// The next value, a null past the column's end.
    fn next_value(&mut self) -> Result<Option<u64>, BoundsError> {
        Ok(self.next_entry()?.flatten())
    }
}

/// How an RLE column encodes one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    /// An unsigned LEB128 number (actor indexes, counters, value metadata).
    Unsigned,
    /// A signed LEB128 number (deltas).
    Signed,
    /// A length-prefixed UTF-8 string.
    Text,
}

/// Counts the entries a column claims, stopping as soon as they pass `cap`. A group column's
/// counts must also add up to no more than `cap` (they are the entries of its grouped columns).
fn count_column(spec: u32, data: &[u8], cap: u64) -> Result<u64, BoundsError> {
    match spec & 0x07 {
        0 => count_rle(data, Value::Unsigned, true, cap),
        1 | 2 | 6 => count_rle(data, Value::Unsigned, false, cap),
        3 => count_rle(data, Value::Signed, false, cap),
        4 => count_booleans(data, cap),
        5 => count_rle(data, Value::Text, false, cap),
        // Raw values: bytes, sized by their metadata column.
        _ => Ok(0),
    }
}

/// Run-length encoding: a signed count, then one value repeated `count` times (count > 0),
/// `-count` literal values (count < 0), or an unsigned count of nulls (count = 0).
fn count_rle(data: &[u8], value: Value, group: bool, cap: u64) -> Result<u64, BoundsError> {
    let mut r = Reader::new(data);
    let mut entries: u64 = 0;
    let mut sum: u64 = 0;
    while !r.is_empty() {
        let count = r.sleb()?;
        if count > 0 {
            let n = count.unsigned_abs();
            let v = read_value(&mut r, value)?;
            entries = entries.saturating_add(n);
            if group {
                sum = sum.saturating_add(n.saturating_mul(v));
            }
        } else if count < 0 {
            // Every literal value takes at least one byte: this loop ends with the data.
            for _ in 0..count.unsigned_abs() {
                let v = read_value(&mut r, value)?;
                entries = entries.saturating_add(1);
                if group {
                    sum = sum.saturating_add(v);
                }
                over(entries.max(sum), cap)?;
            }
        } else {
            entries = entries.saturating_add(r.uleb()?);
        }
        over(entries.max(sum), cap)?;
    }
    Ok(entries)
}

/// Boolean runs: alternating counts of falses and trues, starting with false.
fn count_booleans(data: &[u8], cap: u64) -> Result<u64, BoundsError> {
    let mut r = Reader::new(data);
    let mut entries: u64 = 0;
    while !r.is_empty() {
        entries = entries.saturating_add(r.uleb()?);
        over(entries, cap)?;
    }
    Ok(entries)
}

fn over(seen: u64, limit: u64) -> Result<(), BoundsError> {
    if seen > limit {
        Err(BoundsError::TooManyEntries { seen, limit })
    } else {
        Ok(())
    }
}

/// Reads one RLE value; numbers are returned (a group's counts are summed), strings give 0.
fn read_value(r: &mut Reader<'_>, value: Value) -> Result<u64, BoundsError> {
    match value {
        Value::Unsigned => r.uleb(),
        Value::Signed => r.sleb().map(|_| 0),
        Value::Text => {
            let len = r.length()?;
            r.take(len)?;
            Ok(0)
        }
    }
}

/// A cursor over bytes. LEB128 is read as automerge's column decoders read it (the `leb128`
/// crate: at most ten bytes, overlong encodings allowed, overflow refused).
#[derive(Debug, Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BoundsError> {
        if n > self.bytes.len() {
            return Err(BoundsError::Malformed("truncated"));
        }
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, BoundsError> {
        let (&first, rest) = self
            .bytes
            .split_first()
            .ok_or(BoundsError::Malformed("truncated"))?;
        self.bytes = rest;
        Ok(first)
    }

    fn uleb(&mut self) -> Result<u64, BoundsError> {
        let mut result: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            if shift == 63 && byte != 0x00 && byte != 0x01 {
                return Err(BoundsError::Malformed("a number overflows"));
            }
            result |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(result);
            }
            shift += 7;
        }
    }

    fn sleb(&mut self) -> Result<i64, BoundsError> {
        let mut result: i64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            if shift == 63 && byte != 0x00 && byte != 0x7f {
                return Err(BoundsError::Malformed("a number overflows"));
            }
            result |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    result |= !0 << shift;
                }
                return Ok(result);
            }
        }
    }

    /// An unsigned number used as a length or count of bytes.
    fn length(&mut self) -> Result<usize, BoundsError> {
        usize::try_from(self.uleb()?).map_err(|_| BoundsError::Malformed("truncated"))
    }
}

#[cfg(test)]
mod tests;
