//! The SQL of the store, one function per statement group. Everything here returns
//! `rusqlite::Result`; [`super::Store`] converts errors once, at its methods.
//!
//! Ids are stored as hyphenated UUID text, kinds and statuses as their `as_str` names, times as
//! milliseconds since the epoch, booleans as 0/1. Every statement goes through `prepare_cached`.

use super::{
    AccessLogEntry, Attention, AttentionRecord, ChangeReceipt, DocumentSave, HeldBackRow,
    NewHeldBack, NewQuarantine, Projection, QuarantineRow, RecordQuery, StoredDocument, SyncHeads,
    UnsyncedRecord,
};
use crate::domain::{OfficerId, RecordId, RecordKind, Status};
use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::str::FromStr;

/// Rows `list` returns when the query sets no limit.
pub(super) const DEFAULT_LIST_LIMIT: u32 = 1_000;

/// The projection columns, in the order [`projection_from_row`] reads them.
const PROJECTION_COLUMNS: &str = "id, kind, status, author, created_at, updated_at, event_at, \
     decision_due_at, receipt_needed, classification, lat, lon, flags, conflicts";

/// The list order: the record's main time, newest first; id breaks ties.
pub(super) const NEWEST_FIRST: &str = "coalesce(event_at, created_at) DESC, id DESC";

// The filters and orders of the queue queries, shared with the test that checks each one is
// served by its index (`EXPLAIN QUERY PLAN` shows no table scan and no sort).

/// "My drafts": `?1` is the author.
pub(super) const DRAFTS: &str =
    "WHERE author = ?1 AND status = 'draft' ORDER BY updated_at DESC, id DESC";
/// Recording decisions due before `?1`.
pub(super) const OVERDUE_DECISIONS: &str =
    "WHERE decision_due_at IS NOT NULL AND decision_due_at < ?1 ORDER BY decision_due_at, id";
/// Stop-searches still needing a receipt.
pub(super) const RECEIPTS_NEEDED: &str =
    "WHERE receipt_needed = 1 ORDER BY coalesce(event_at, created_at) DESC, id DESC";
/// Records holding changes the server has not acknowledged (served by `records_unsynced`).
pub(super) const UNSYNCED: &str = "WHERE server_heads IS NOT heads ORDER BY id";
/// Records the server refused (served by `records_attention`).
pub(super) const ATTENTION: &str = "WHERE attention_rule IS NOT NULL ORDER BY id";
/// Links to `?1` in role `?2`.
pub(super) const LINKING_TO: &str =
    "SELECT from_id FROM links WHERE to_id = ?1 AND role = ?2 ORDER BY from_id";

// -------------------------------------------------------------------------------------------
// Writes
// -------------------------------------------------------------------------------------------

/// Writes one save inside the caller's transaction.
/// A save built on heads the store no longer holds (see [`DocumentSave::expected_heads`]);
/// carried through rusqlite's error type and turned into `StoreError::Stale` by `classify`.
#[derive(Debug)]
pub(super) struct StaleHeads;

impl std::fmt::Display for StaleHeads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stored heads differ from the heads the save was built on")
    }
}

impl std::error::Error for StaleHeads {}

pub(super) fn save(
    conn: &Connection,
    s: &DocumentSave,
    server_heads: Option<&[u8]>,
) -> rusqlite::Result<()> {
    let id = s.id.to_string();
    if let Some(expected) = &s.expected_heads {
        // Compare-and-swap on the heads, inside the write transaction: a record changed or
        // deleted by another process since it was read is never written over.
        let current: Option<Vec<u8>> = conn
            .prepare_cached("SELECT heads FROM records WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))
            .optional()?;
        if current.as_deref() != Some(expected.as_slice()) {
            return Err(rusqlite::Error::ToSqlConversionFailure(Box::new(
                StaleHeads,
            )));
        }
    }
    let p = &s.projection;
    // One statement for the record's row: its projection, heads, chunk count and size, and
    // (from a sync) what the server holds.
    let chunks = if s.replace {
        "chunk_count = 1, doc_bytes = excluded.doc_bytes"
    } else {
        "chunk_count = chunk_count + excluded.chunk_count,
         doc_bytes = doc_bytes + excluded.doc_bytes"
    };
    let sql = format!(
        "INSERT INTO records (id, kind, status, author, created_at, updated_at, event_at,
                              decision_due_at, receipt_needed, classification, lat, lon, flags,
                              conflicts, heads, chunk_count, doc_bytes, server_heads)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT (id) DO UPDATE SET
             kind = excluded.kind, status = excluded.status, author = excluded.author,
             created_at = excluded.created_at, updated_at = excluded.updated_at,
             event_at = excluded.event_at, decision_due_at = excluded.decision_due_at,
             receipt_needed = excluded.receipt_needed, classification = excluded.classification,
             lat = excluded.lat, lon = excluded.lon, flags = excluded.flags,
             conflicts = excluded.conflicts, heads = excluded.heads, {chunks},
             server_heads = coalesce(excluded.server_heads, server_heads)"
    );
    let appended = !s.bytes.is_empty();
    let len = if appended {
        i64::try_from(s.bytes.len()).unwrap_or(i64::MAX)
    } else {
        0
    };
    conn.prepare_cached(&sql)?.execute(params![
        id,
        p.kind.as_str(),
        p.status.as_str(),
        p.author.as_str(),
        p.created_at,
        p.updated_at,
        p.event_at,
        p.decision_due_at,
        p.receipt_needed,
        p.classification,
        p.lat,
        p.lon,
        p.flags,
        p.conflicts,
        s.heads,
        i64::from(s.replace || appended),
        len,
        server_heads,
    ])?;

    if s.replace {
        conn.prepare_cached("DELETE FROM chunks WHERE record_id = ?1")?
            .execute([&id])?;
        conn.prepare_cached("INSERT INTO chunks (record_id, seq, bytes) VALUES (?1, 0, ?2)")?
            .execute(params![id, s.bytes])?;
    } else if appended {
        // An incremental save with no new changes is empty: nothing to append.
        conn.prepare_cached(
            "INSERT INTO chunks (record_id, seq, bytes)
             SELECT ?1, coalesce(max(seq) + 1, 0), ?2 FROM chunks WHERE record_id = ?1",
        )?
        .execute(params![id, s.bytes])?;
    }

    if let Some(attention) = &s.attention {
        set_attention(conn, s.id, Some(attention))?;
    }

    conn.prepare_cached("DELETE FROM links WHERE from_id = ?1")?
        .execute([&id])?;
    let mut insert_link = conn
        .prepare_cached("INSERT OR IGNORE INTO links (from_id, role, to_id) VALUES (?1, ?2, ?3)")?;
    for (role, to) in &p.links {
        insert_link.execute(params![id, role, to.to_string()])?;
    }
    Ok(())
}

pub(super) fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

pub(super) fn log_access(conn: &Connection, e: &AccessLogEntry) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO access_log (at, officer, record_id, action, purpose)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        e.at_ms,
        e.officer.as_str(),
        e.record_id.to_string(),
        e.action,
        e.purpose
    ])?;
    Ok(())
}

/// Records what the server holds of a record (`None`: nothing, as before the first push).
pub(super) fn set_server_heads(
    conn: &Connection,
    id: RecordId,
    heads: Option<&[u8]>,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE records SET server_heads = ?2 WHERE id = ?1")?
        .execute(params![id.to_string(), heads])?;
    Ok(())
}

/// Marks a record as needing attention, or clears the mark (`None`).
pub(super) fn set_attention(
    conn: &Connection,
    id: RecordId,
    attention: Option<&Attention>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE records SET attention_rule = ?2, attention_message = ?3, attention_field = ?4
         WHERE id = ?1",
    )?
    .execute(params![
        id.to_string(),
        attention.map(|a| a.rule.as_str()),
        attention.map(|a| a.message.as_str()),
        attention.and_then(|a| a.field.as_deref()),
    ])?;
    Ok(())
}

/// Stores a receipt time; a change already receipted keeps its first time.
pub(super) fn record_receipt(conn: &Connection, r: &ChangeReceipt) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO receipts (hash, record_id, received_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![r.hash, r.record.to_string(), r.received_at])?;
    Ok(())
}

/// Deletes a record (its chunks, links and receipts go with it). With `only_if_synced`, only
/// when the server holds everything the device has (`server_heads` = `heads`). True if deleted.
pub(super) fn delete(
    conn: &Connection,
    id: RecordId,
    only_if_synced: bool,
) -> rusqlite::Result<bool> {
    let sql = if only_if_synced {
        "DELETE FROM records WHERE id = ?1 AND server_heads IS heads"
    } else {
        "DELETE FROM records WHERE id = ?1"
    };
    Ok(conn.prepare_cached(sql)?.execute([id.to_string()])? == 1)
}

/// Deletes a record whose whole refused state goes to the quarantine, only if its stored heads
/// are still `heads` (compare-and-swap, as [`save`]); otherwise the stale-heads error.
pub(super) fn remove(conn: &Connection, id: RecordId, heads: &[u8]) -> rusqlite::Result<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM records WHERE id = ?1 AND heads = ?2")?
        .execute(params![id.to_string(), heads])?;
    if deleted == 1 {
        Ok(())
    } else {
        Err(rusqlite::Error::ToSqlConversionFailure(Box::new(
            StaleHeads,
        )))
    }
}

/// Keeps a refused state.
pub(super) fn quarantine(conn: &Connection, q: &NewQuarantine) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO quarantine (record_id, kind, rule, message, field, change, at, removed,
                                 document, refused)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        q.record.to_string(),
        q.kind.as_str(),
        q.rule,
        q.message,
        q.field,
        q.change,
        q.at,
        q.removed,
        q.document,
        q.refused,
    ])?;
    Ok(())
}

/// Keeps a feed entry aside.
pub(super) fn hold_back(conn: &Connection, h: &NewHeldBack) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO held_back (record_id, kind, entry, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        h.record.to_string(),
        h.kind.as_str(),
        h.entry,
        h.reason,
        h.at
    ])?;
    Ok(())
}

pub(super) fn dismiss_quarantined(conn: &Connection, id: u64) -> rusqlite::Result<bool> {
    let id = i64::try_from(id).unwrap_or(i64::MAX);
    Ok(conn
        .prepare_cached("DELETE FROM quarantine WHERE id = ?1")?
        .execute([id])?
        == 1)
}

// -------------------------------------------------------------------------------------------
// Reads
// -------------------------------------------------------------------------------------------

/// The quarantine columns but the document, in the order [`quarantine_from_row`] reads them.
const QUARANTINE_COLUMNS: &str =
    "id, record_id, kind, rule, message, field, change, at, removed, refused";

pub(super) fn quarantined(conn: &Connection) -> rusqlite::Result<Vec<QuarantineRow>> {
    let sql = format!("SELECT {QUARANTINE_COLUMNS} FROM quarantine ORDER BY id");
    conn.prepare_cached(&sql)?
        .query_map([], quarantine_from_row)?
        .collect()
}

pub(super) fn count_quarantined(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM quarantine")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(super) fn quarantined_document(
    conn: &Connection,
    id: u64,
) -> rusqlite::Result<Option<(QuarantineRow, Vec<u8>)>> {
    let sql = format!("SELECT {QUARANTINE_COLUMNS}, document FROM quarantine WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([i64::try_from(id).unwrap_or(i64::MAX)], |row| {
            Ok((quarantine_from_row(row)?, row.get(10)?))
        })
        .optional()
}

/// Reads [`QUARANTINE_COLUMNS`]; the document is left empty.
fn quarantine_from_row(row: &Row<'_>) -> rusqlite::Result<QuarantineRow> {
    let id: i64 = row.get(0)?;
    Ok(QuarantineRow {
        id: u64::try_from(id).unwrap_or(0),
        entry: NewQuarantine {
            record: record_id(row, 1)?,
            kind: parsed(row, 2, |s| RecordKind::from_str(s).ok())?,
            rule: row.get(3)?,
            message: row.get(4)?,
            field: row.get(5)?,
            change: row.get(6)?,
            at: row.get(7)?,
            removed: row.get(8)?,
            document: Vec::new(),
            refused: row.get(9)?,
        },
    })
}

pub(super) fn held_back(conn: &Connection) -> rusqlite::Result<Vec<HeldBackRow>> {
    conn.prepare_cached("SELECT id, record_id, kind, reason, at FROM held_back ORDER BY id")?
        .query_map([], |row| {
            let id: i64 = row.get(0)?;
            Ok(HeldBackRow {
                id: u64::try_from(id).unwrap_or(0),
                entry: NewHeldBack {
                    record: record_id(row, 1)?,
                    kind: parsed(row, 2, |s| RecordKind::from_str(s).ok())?,
                    entry: Vec::new(),
                    reason: row.get(3)?,
                    at: row.get(4)?,
                },
            })
        })?
        .collect()
}

pub(super) fn count_held_back(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM held_back")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(super) fn held_back_records(conn: &Connection) -> rusqlite::Result<Vec<RecordId>> {
    conn.prepare_cached("SELECT DISTINCT record_id FROM held_back ORDER BY record_id")?
        .query_map([], |row| record_id(row, 0))?
        .collect()
}

pub(super) fn unsynced(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<UnsyncedRecord>> {
    let sql = format!("SELECT id, kind, heads, server_heads FROM records {UNSYNCED} LIMIT ?1");
    conn.prepare_cached(&sql)?
        .query_map([i64::from(limit)], |row| {
            Ok(UnsyncedRecord {
                id: record_id(row, 0)?,
                kind: parsed(row, 1, |s| RecordKind::from_str(s).ok())?,
                heads: row.get(2)?,
                server_heads: row.get(3)?,
            })
        })?
        .collect()
}

pub(super) fn count_unsynced(conn: &Connection) -> rusqlite::Result<u64> {
    let sql = format!("SELECT count(*) FROM records {UNSYNCED}");
    let n: i64 = conn.prepare_cached(&sql)?.query_row([], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The record's heads and what the server holds of it, if the record is here.
pub(super) fn sync_heads(conn: &Connection, id: RecordId) -> rusqlite::Result<Option<SyncHeads>> {
    conn.prepare_cached("SELECT heads, server_heads FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |row| {
            Ok(SyncHeads {
                heads: row.get(0)?,
                server_heads: row.get(1)?,
            })
        })
        .optional()
}

pub(super) fn attention(conn: &Connection) -> rusqlite::Result<Vec<AttentionRecord>> {
    let sql = format!(
        "SELECT id, kind, attention_rule, attention_message, attention_field FROM records {ATTENTION}"
    );
    conn.prepare_cached(&sql)?
        .query_map([], |row| {
            Ok(AttentionRecord {
                id: record_id(row, 0)?,
                kind: parsed(row, 1, |s| RecordKind::from_str(s).ok())?,
                attention: Attention {
                    rule: row.get(2)?,
                    message: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    field: row.get(4)?,
                },
            })
        })?
        .collect()
}

pub(super) fn receipts(conn: &Connection, id: RecordId) -> rusqlite::Result<Vec<ChangeReceipt>> {
    conn.prepare_cached(
        "SELECT hash, received_at FROM receipts WHERE record_id = ?1 ORDER BY received_at, hash",
    )?
    .query_map([id.to_string()], |row| {
        Ok(ChangeReceipt {
            record: id,
            hash: row.get(0)?,
            received_at: row.get(1)?,
        })
    })?
    .collect()
}

/// The record's chunks concatenated in `seq` order, in one statement (one consistent snapshot).
pub(super) fn load(conn: &Connection, id: RecordId) -> rusqlite::Result<Option<StoredDocument>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.heads, r.doc_bytes, r.server_heads, c.bytes
         FROM records r LEFT JOIN chunks c ON c.record_id = r.id
         WHERE r.id = ?1
         ORDER BY c.seq",
    )?;
    let mut rows = stmt.query([id.to_string()])?;
    let mut doc: Option<StoredDocument> = None;
    while let Some(row) = rows.next()? {
        let doc = match &mut doc {
            Some(doc) => doc,
            None => {
                let size: i64 = row.get(1)?;
                doc.insert(StoredDocument {
                    bytes: Vec::with_capacity(usize::try_from(size).unwrap_or(0)),
                    heads: row.get(0)?,
                    server_heads: row.get(2)?,
                    chunks: 0,
                })
            }
        };
        if let Some(chunk) = row.get_ref(3)?.as_blob_or_null()? {
            doc.bytes.extend_from_slice(chunk);
            doc.chunks += 1;
        }
    }
    Ok(doc)
}

pub(super) fn projection(conn: &Connection, id: RecordId) -> rusqlite::Result<Option<Projection>> {
    let sql = format!("SELECT {PROJECTION_COLUMNS} FROM records WHERE id = ?1");
    let found = conn
        .prepare_cached(&sql)?
        .query_row([id.to_string()], projection_from_row)
        .optional()?;
    match found {
        Some(mut p) => {
            p.links = links_of(conn, p.id)?;
            Ok(Some(p))
        }
        None => Ok(None),
    }
}

pub(super) fn list(conn: &Connection, q: &RecordQuery) -> rusqlite::Result<Vec<Projection>> {
    // Only the filters that are set become conditions, so each shape of query can use its
    // index (an `(?1 IS NULL OR kind = ?1)` form would defeat them).
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(kind) = q.kind {
        conditions.push("kind = ?");
        values.push(kind.as_str().to_owned().into());
    }
    if let Some(status) = q.status {
        conditions.push("status = ?");
        values.push(status.as_str().to_owned().into());
    }
    if let Some(author) = &q.author {
        conditions.push("author = ?");
        values.push(author.as_str().to_owned().into());
    }
    if let Some(from) = q.from {
        conditions.push("coalesce(event_at, created_at) >= ?");
        values.push(from.into());
    }
    if let Some(to) = q.to {
        conditions.push("coalesce(event_at, created_at) < ?");
        values.push(to.into());
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    values.push(i64::from(q.limit.unwrap_or(DEFAULT_LIST_LIMIT)).into());
    let sql = format!(
        "SELECT {PROJECTION_COLUMNS} FROM records {filter} ORDER BY {NEWEST_FIRST} LIMIT ?"
    );
    projections(conn, &sql, rusqlite::params_from_iter(values))
}

pub(super) fn drafts(conn: &Connection, author: &OfficerId) -> rusqlite::Result<Vec<Projection>> {
    let sql = format!("SELECT {PROJECTION_COLUMNS} FROM records {DRAFTS}");
    projections(conn, &sql, [author.as_str()])
}

pub(super) fn overdue_decisions(
    conn: &Connection,
    now_ms: i64,
) -> rusqlite::Result<Vec<Projection>> {
    let sql = format!("SELECT {PROJECTION_COLUMNS} FROM records {OVERDUE_DECISIONS}");
    projections(conn, &sql, [now_ms])
}

pub(super) fn receipts_needed(conn: &Connection) -> rusqlite::Result<Vec<Projection>> {
    let sql = format!("SELECT {PROJECTION_COLUMNS} FROM records {RECEIPTS_NEEDED}");
    projections(conn, &sql, [])
}

pub(super) fn linking_to(
    conn: &Connection,
    to: RecordId,
    role: &str,
) -> rusqlite::Result<Vec<RecordId>> {
    conn.prepare_cached(LINKING_TO)?
        .query_map(params![to.to_string(), role], |row| record_id(row, 0))?
        .collect()
}

pub(super) fn count(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM records")?
        .query_row([], |row| row.get(0))?;
    // count(*) is never negative.
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(super) fn ids(conn: &Connection) -> rusqlite::Result<Vec<RecordId>> {
    conn.prepare_cached("SELECT id FROM records ORDER BY id")?
        .query_map([], |row| record_id(row, 0))?
        .collect()
}

pub(super) fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()
}

pub(super) fn access_log(
    conn: &Connection,
    record: RecordId,
) -> rusqlite::Result<Vec<AccessLogEntry>> {
    conn.prepare_cached(
        "SELECT at, officer, record_id, action, purpose FROM access_log
         WHERE record_id = ?1 ORDER BY at, id",
    )?
    .query_map([record.to_string()], |row| {
        Ok(AccessLogEntry {
            at_ms: row.get(0)?,
            officer: parsed(row, 1, |s| OfficerId::new(s).ok())?,
            record_id: record_id(row, 2)?,
            action: row.get(3)?,
            purpose: row.get(4)?,
        })
    })?
    .collect()
}

/// The text rows a checking pragma returns (`quick_check`, `cipher_integrity_check`).
pub(super) fn pragma_rows(conn: &Connection, pragma: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare(pragma)?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect()
}

// -------------------------------------------------------------------------------------------
// Row mapping
// -------------------------------------------------------------------------------------------

/// Runs a projection query, then fills in each row's links (same read transaction: the caller's).
fn projections(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Projection>> {
    let mut found: Vec<Projection> = conn
        .prepare_cached(sql)?
        .query_map(params, projection_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    for p in &mut found {
        p.links = links_of(conn, p.id)?;
    }
    Ok(found)
}

fn links_of(conn: &Connection, id: RecordId) -> rusqlite::Result<Vec<(String, RecordId)>> {
    conn.prepare_cached("SELECT role, to_id FROM links WHERE from_id = ?1 ORDER BY role, to_id")?
        .query_map([id.to_string()], |row| {
            Ok((row.get(0)?, record_id(row, 1)?))
        })?
        .collect()
}

/// Reads [`PROJECTION_COLUMNS`]; links are left empty for the caller to fill.
fn projection_from_row(row: &Row<'_>) -> rusqlite::Result<Projection> {
    Ok(Projection {
        id: record_id(row, 0)?,
        kind: parsed(row, 1, |s| RecordKind::from_str(s).ok())?,
        status: parsed(row, 2, |s| Status::from_str(s).ok())?,
        author: parsed(row, 3, |s| OfficerId::new(s).ok())?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        event_at: row.get(6)?,
        decision_due_at: row.get(7)?,
        receipt_needed: row.get(8)?,
        classification: row.get(9)?,
        lat: row.get(10)?,
        lon: row.get(11)?,
        flags: row.get(12)?,
        links: Vec::new(),
        conflicts: row.get(13)?,
    })
}

fn record_id(row: &Row<'_>, column: usize) -> rusqlite::Result<RecordId> {
    parsed(row, column, |s| uuid::Uuid::parse_str(s).ok().map(RecordId))
}

/// A text column parsed into a domain type; a value that does not parse is a conversion
/// failure (reported as a damaged store, without the value, which could be anything).
fn parsed<T>(
    row: &Row<'_>,
    column: usize,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text = row.get_ref(column)?.as_str()?;
    parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(UnreadableValue))
    })
}

/// A stored value this build cannot read back.
#[derive(Debug)]
struct UnreadableValue;

impl std::fmt::Display for UnreadableValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stored value is not one this build knows")
    }
}

impl std::error::Error for UnreadableValue {}
