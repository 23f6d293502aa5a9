//! The generic walk between a record's JSON tree and its automerge document.

use super::{Conflict, ConflictValue, DocError, is_text_field};
use crate::domain::OfficerId;
use crate::limits::MAX_NESTING_DEPTH;
use automerge::iter::{ListRangeItem, MapRangeItem};
use automerge::{
    ActorId, ChangeHash, ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value as AmValue, ValueRef,
    transaction::Transactable,
};
use serde_json::{Map, Value};

/// Makes the map `obj` hold exactly `new`, writing only what differs.
///
/// With `old` (the map's current visible state, as last hydrated), unchanged fields are skipped
/// without touching the document, so a save costs what changed, not the size of the record.
/// Without it, every field is compared with the document.
pub(super) fn reconcile_map<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    old: Option<&Map<String, Value>>,
    new: &Map<String, Value>,
    path: &str,
    whole: &[&str],
) -> Result<(), DocError> {
    // A cleared field is written as null, not deleted: a delete can never be concurrent with
    // another value, so clearing an outcome while another officer changes it would be settled
    // silently. A null competes like any other write and a conflict is reported.
    match old {
        Some(old) => {
            for key in old.keys() {
                if present(old, key).is_some() && present(new, key).is_none() {
                    tx.put(obj, key.as_str(), ScalarValue::Null)?;
                }
            }
        }
        None => {
            let existing: Vec<String> = tx.keys(obj).collect();
            for key in existing {
                if present(new, &key).is_none()
                    && !matches!(tx.get(obj, key.as_str())?, Some((AmValue::Scalar(s), _)) if s.is_null())
                {
                    tx.put(obj, key.as_str(), ScalarValue::Null)?;
                }
            }
        }
    }
    for (key, value) in new {
        if value.is_null() {
            continue;
        }
        let before = old.and_then(|o| present(o, key));
        if old.is_some() && before == Some(value) {
            continue;
        }
        let child_path = join(path, key);
        let current = tx.get(obj, key.as_str())?;
        match (value, current) {
            (Value::String(s), Some((AmValue::Object(ObjType::Text), id)))
                if is_text_field(key) =>
            {
                splice_text(tx, &id, before.and_then(Value::as_str), s)?;
            }
            // A legal object field (classification, recording decision...) that changes is
            // replaced whole, so a concurrent change or clear collides at its key and is reported.
            (Value::Object(_), Some((AmValue::Object(ObjType::Map), id)))
                if whole.contains(&child_path.as_str()) =>
            {
                let changed = match before {
                    Some(b) => b != value,
                    None => read_object(&*tx, &id, ObjType::Map, None, 0, &mut false) != *value,
                };
                if changed {
                    put_value(tx, obj, key, value, key)?;
                }
            }
            (Value::Object(m), Some((AmValue::Object(ObjType::Map), id)))
                if !code_changed(tx, &id, m) =>
            {
                reconcile_map(
                    tx,
                    &id,
                    before.and_then(Value::as_object),
                    m,
                    &child_path,
                    whole,
                )?;
            }
            (Value::Array(items), Some((AmValue::Object(ObjType::List), id))) => {
                reconcile_list(tx, &id, items, &child_path, whole)?;
            }
            (v, Some((AmValue::Scalar(existing), _))) if is_scalar(v) && !is_text_field(key) => {
                if scalar_to_json(&existing) != *v {
                    tx.put(obj, key.as_str(), json_to_scalar(v))?;
                }
            }
            (v, _) => put_value(tx, obj, key, v, key)?,
        }
    }
    Ok(())
}

/// The value at `key`, unless absent or null (the two mean the same: no value).
fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// Writes `value` at `key` of map `obj` unconditionally (a fresh object for maps, lists, text).
pub(super) fn put_value<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    value: &Value,
    field_name: &str,
) -> Result<(), DocError> {
    match value {
        Value::Object(m) => {
            let id = tx.put_object(obj, key, ObjType::Map)?;
            reconcile_map(tx, &id, None, m, key, &[])?;
        }
        Value::Array(items) => {
            let id = tx.put_object(obj, key, ObjType::List)?;
            reconcile_list(tx, &id, items, key, &[])?;
        }
        Value::String(s) if is_text_field(field_name) => {
            let id = tx.put_object(obj, key, ObjType::Text)?;
            tx.splice_text(&id, 0, 0, s)?;
        }
        Value::Null => tx.put(obj, key, ScalarValue::Null)?,
        scalar => tx.put(obj, key, json_to_scalar(scalar))?,
    }
    Ok(())
}

/// A coded value (an object with a `code`) whose code changes is replaced whole.
fn code_changed<T: ReadDoc>(tx: &T, id: &ObjId, new: &Map<String, Value>) -> bool {
    let Some(new_code) = new.get("code") else {
        return false;
    };
    match tx.get(id, "code") {
        Ok(Some((AmValue::Scalar(old), _))) => scalar_to_json(&old) != *new_code,
        _ => false,
    }
}

fn reconcile_list<T: Transactable + ReadDoc>(
    tx: &mut T,
    list: &ObjId,
    items: &[Value],
    path: &str,
    whole: &[&str],
) -> Result<(), DocError> {
    let len = tx.length(list);
    let mut old_values = Vec::with_capacity(len);
    let mut old_ids = Vec::with_capacity(len);
    for i in 0..len {
        match tx.get(list, i)? {
            Some((v, id)) => {
                old_values.push(read_value(&*tx, v, &id, None, 0));
                old_ids.push(Some(id));
            }
            None => {
                old_values.push(Value::Null);
                old_ids.push(None);
            }
        }
    }
    let old_keys: Vec<String> = old_values.iter().map(Value::to_string).collect();
    let new_keys: Vec<String> = items.iter().map(Value::to_string).collect();
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &old_keys, &new_keys);
    let mut index = 0usize;
    for op in ops {
        match op {
            similar::DiffOp::Equal { len, .. } => index += len,
            similar::DiffOp::Delete { old_len, .. } => {
                for _ in 0..old_len {
                    tx.delete(list, index)?;
                }
            }
            similar::DiffOp::Insert {
                new_index, new_len, ..
            } => {
                for item in &items[new_index..new_index + new_len] {
                    insert_value(tx, list, index, item, path)?;
                    index += 1;
                }
            }
            similar::DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                // Edit objects in place where both sides are objects, so concurrent edits to
                // different fields of one item both survive; delete or insert the rest.
                let paired = old_len.min(new_len);
                for k in 0..paired {
                    let new_item = &items[new_index + k];
                    match (new_item, &old_ids[old_index + k]) {
                        (Value::Object(m), Some(id))
                            if matches!(old_values[old_index + k], Value::Object(_))
                                && !code_changed(tx, id, m) =>
                        {
                            reconcile_map(tx, id, None, m, path, whole)?;
                        }
                        _ => {
                            tx.delete(list, index)?;
                            insert_value(tx, list, index, new_item, path)?;
                        }
                    }
                    index += 1;
                }
                for _ in paired..old_len {
                    tx.delete(list, index)?;
                }
                for item in &items[new_index + paired..new_index + new_len] {
                    insert_value(tx, list, index, item, path)?;
                    index += 1;
                }
            }
        }
    }
    Ok(())
}

fn insert_value<T: Transactable + ReadDoc>(
    tx: &mut T,
    list: &ObjId,
    index: usize,
    value: &Value,
    path: &str,
) -> Result<(), DocError> {
    match value {
        Value::Object(m) => {
            let id = tx.insert_object(list, index, ObjType::Map)?;
            reconcile_map(tx, &id, None, m, path, &[])?;
        }
        Value::Array(items) => {
            let id = tx.insert_object(list, index, ObjType::List)?;
            reconcile_list(tx, &id, items, path, &[])?;
        }
        scalar => tx.insert(list, index, json_to_scalar(scalar))?,
    }
    Ok(())
}

/// Turns the text object into `new` with the fewest splices, computed on words and the runs of
/// white space between them, so concurrent additions elsewhere in the text survive and no word an
/// officer typed is ever split by another officer's concurrent insertion.
///
/// A character diff is not enough: where the text repeats itself (reference numbers, names,
/// "r1 r2 r3") it may build a new word from characters already there plus a few new ones, and a
/// concurrent insertion landing between them then splits or glues the word. On words, every
/// inserted word is new characters typed in one run, which automerge keeps together. An insertion
/// that could sit in several places (before or after a space) is placed as far left as it goes, so
/// two devices inserting at the same spot anchor their runs on the same character and neither
/// glues onto the other.
fn splice_text<T: Transactable + ReadDoc>(
    tx: &mut T,
    text: &ObjId,
    known: Option<&str>,
    new: &str,
) -> Result<(), DocError> {
    let old = match known {
        Some(k) => k.to_owned(),
        None => tx.text(text)?,
    };
    if old == new {
        return Ok(());
    }
    // Only what lies between the runs both texts begin and end with is cut into words: an
    // officer's edit touches one place of a long account, and the rest is compared as bytes.
    let front = shared_front(&old, new);
    let back = shared_back(&old[front..], &new[front..]);
    let old_words = words_and_spaces(&old[front..old.len() - back]);
    let new_words = words_and_spaces(&new[front..new.len() - back]);
    // Character offset of each word of the new text: where a splice lands once everything before
    // it has already become the new text.
    let mut offsets = Vec::with_capacity(new_words.len() + 1);
    let mut at = old[..front].chars().count();
    offsets.push(at);
    for w in &new_words {
        at += w.chars().count();
        offsets.push(at);
    }
    for (old_range, new_range) in word_hunks(&old_words, &new_words) {
        let deleted: usize = old_words[old_range].iter().map(|w| w.chars().count()).sum();
        let inserted: String = new_words[new_range.clone()].concat();
        let deleted = isize::try_from(deleted).unwrap_or(isize::MAX);
        tx.splice_text(text, offsets[new_range.start], deleted, &inserted)?;
    }
    Ok(())
}

/// The bytes both texts begin with, cut back to the start of the last run of white space or of
/// other characters in them, so that the rest of each text cuts into the same words as it would
/// whole.
fn shared_front(a: &str, b: &str) -> usize {
    let mut common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    // A character boundary of one text is one of the other here: equal lead bytes, equal length.
    while !a.is_char_boundary(common) {
        common -= 1;
    }
    let mut chars = a[..common].char_indices().rev();
    let Some((mut start, last)) = chars.next() else {
        return 0;
    };
    for (i, c) in chars {
        if c.is_whitespace() != last.is_whitespace() {
            break;
        }
        start = i;
    }
    start
}

/// As [`shared_front`] for the bytes both texts end with: cut forward past the first run in them.
fn shared_back(a: &str, b: &str) -> usize {
    let mut common = a
        .bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count();
    while !a.is_char_boundary(a.len() - common) {
        common -= 1;
    }
    let shared = &a[a.len() - common..];
    let mut chars = shared.char_indices();
    let Some((_, first)) = chars.next() else {
        return 0;
    };
    for (i, c) in chars {
        if c.is_whitespace() != first.is_whitespace() {
            return common - i;
        }
    }
    0
}

/// The text cut into maximal runs of white space and of everything else; concatenated they are
/// the text again.
fn words_and_spaces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|s| s != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The changed runs between two word lists, in order: (old words replaced, new words put there).
/// A pure insertion is slid left while the word before it equals its last word, which leaves the
/// same text but one place for it wherever the diff happened to put it.
fn word_hunks(old: &[&str], new: &[&str]) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, old, new);
    let mut hunks: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    for op in ops {
        if let similar::DiffOp::Equal { .. } = op {
            continue;
        }
        let (_, mut old_range, mut new_range) = op.as_tag_tuple();
        let floor = hunks.last().map_or(0, |(o, _)| o.end);
        if old_range.is_empty() {
            while old_range.start > floor && old[old_range.start - 1] == new[new_range.end - 1] {
                old_range = old_range.start - 1..old_range.end - 1;
                new_range = new_range.start - 1..new_range.end - 1;
            }
        }
        hunks.push((old_range, new_range));
    }
    hunks
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::Bool(_) | Value::Number(_) | Value::String(_))
}

fn json_to_scalar(v: &Value) -> ScalarValue {
    match v {
        Value::Bool(b) => ScalarValue::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                ScalarValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                ScalarValue::Uint(u)
            } else {
                ScalarValue::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => ScalarValue::Str(s.as_str().into()),
        Value::Null | Value::Array(_) | Value::Object(_) => ScalarValue::Null,
    }
}

fn scalar_to_json(s: &ScalarValue) -> Value {
    match s {
        ScalarValue::Str(s) => Value::String(s.to_string()),
        ScalarValue::Int(i) => Value::from(*i),
        ScalarValue::Uint(u) => Value::from(*u),
        ScalarValue::F64(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        ScalarValue::Boolean(b) => Value::Bool(*b),
        ScalarValue::Timestamp(t) => Value::from(*t),
        ScalarValue::Counter(c) => Value::from(i64::from(c)),
        ScalarValue::Bytes(b) => Value::String(hex::encode(b)),
        ScalarValue::Null | ScalarValue::Unknown { .. } => Value::Null,
    }
}

/// The whole document as JSON, at `heads` or now. Objects nested deeper than
/// [`MAX_NESTING_DEPTH`] read as null: no record nests that deep, so such a document never
/// hydrates, and reading it cannot exhaust the stack.
pub(super) fn read_doc<D: ReadDoc>(doc: &D, heads: Option<&[ChangeHash]>) -> Value {
    read_object(doc, &automerge::ROOT, ObjType::Map, heads, 0, &mut false)
}

/// [`read_doc`] now, and whether any map key or list index it read holds concurrent values
/// (automerge says so as it reads): when none does, the document has no conflict to find.
pub(super) fn read_doc_noting_conflicts<D: ReadDoc>(doc: &D) -> (Value, bool) {
    let mut conflicted = false;
    let json = read_object(
        doc,
        &automerge::ROOT,
        ObjType::Map,
        None,
        0,
        &mut conflicted,
    );
    (json, conflicted)
}

/// The value at a path of map keys, at `heads` or now.
pub(super) fn read_path<D: ReadDoc>(
    doc: &D,
    path: &[&str],
    heads: Option<&[ChangeHash]>,
) -> Option<Value> {
    let mut obj = automerge::ROOT;
    let (last, parents) = path.split_last()?;
    for key in parents {
        match get(doc, &obj, Prop::Map((*key).to_owned()), heads)? {
            (AmValue::Object(ObjType::Map), id) => obj = id,
            _ => return None,
        }
    }
    let (value, id) = get(doc, &obj, Prop::Map((*last).to_owned()), heads)?;
    Some(read_value(doc, value, &id, heads, path.len()))
}

/// The map and key a dotted field path names (map keys only).
pub(super) fn locate<D: ReadDoc>(doc: &D, field: &str) -> Option<(ObjId, String)> {
    let parts: Vec<&str> = field.split('.').collect();
    let (last, parents) = parts.split_last()?;
    let mut obj = automerge::ROOT;
    for key in parents {
        match doc.get(&obj, *key).ok()?? {
            (AmValue::Object(ObjType::Map), id) => obj = id,
            _ => return None,
        }
    }
    Some((obj, (*last).to_owned()))
}

fn get<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    prop: Prop,
    heads: Option<&[ChangeHash]>,
) -> Option<(AmValue<'static>, ObjId)> {
    let got = match heads {
        Some(h) => doc.get_at(obj, prop, h),
        None => doc.get(obj, prop),
    };
    got.ok().flatten().map(|(v, id)| (v.into_owned(), id))
}

/// A value `depth` objects below where reading started (the root, or an object read whole).
fn read_value<D: ReadDoc>(
    doc: &D,
    value: AmValue<'_>,
    id: &ObjId,
    heads: Option<&[ChangeHash]>,
    depth: usize,
) -> Value {
    match value {
        AmValue::Scalar(s) => scalar_to_json(&s),
        AmValue::Object(t) => read_object(doc, id, t, heads, depth, &mut false),
    }
}

/// An object read whole; `conflicted` is set if any entry read holds concurrent values.
fn read_object<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    kind: ObjType,
    heads: Option<&[ChangeHash]>,
    depth: usize,
    conflicted: &mut bool,
) -> Value {
    if depth > MAX_NESTING_DEPTH {
        return Value::Null;
    }
    match kind {
        // One pass over the object's visible values (each key's or index's winning value, as
        // `get` gives it), not one look-up per key: reading a record is most of hydrating it.
        // An entry's id is made only for an object, the one place it is needed.
        ObjType::Map | ObjType::Table => {
            let entries: Vec<(String, AmValue<'static>, Option<ObjId>)> = match heads {
                Some(h) => doc.map_range_at(obj, .., h),
                None => doc.map_range(obj, ..),
            }
            .map(|item| {
                *conflicted |= item.conflict;
                map_entry(item)
            })
            .collect();
            let mut map = Map::new();
            for (key, v, id) in entries {
                let value = read_entry(doc, v, id.as_ref(), heads, depth + 1, conflicted);
                map.insert(key, value);
            }
            Value::Object(map)
        }
        ObjType::List => {
            let entries: Vec<(AmValue<'static>, Option<ObjId>)> = match heads {
                Some(h) => doc.list_range_at(obj, .., h),
                None => doc.list_range(obj, ..),
            }
            .map(|item| {
                *conflicted |= item.conflict;
                list_entry(item)
            })
            .collect();
            let items = entries
                .into_iter()
                .map(|(v, id)| read_entry(doc, v, id.as_ref(), heads, depth + 1, conflicted))
                .collect();
            Value::Array(items)
        }
        ObjType::Text => {
            let text = match heads {
                Some(h) => doc.text_at(obj, h),
                None => doc.text(obj),
            };
            Value::String(text.unwrap_or_default())
        }
    }
}

fn map_entry(item: MapRangeItem<'_>) -> (String, AmValue<'static>, Option<ObjId>) {
    let id = matches!(item.value, ValueRef::Object(_)).then(|| item.id());
    (item.key.to_string(), item.value.into_value(), id)
}

fn list_entry(item: ListRangeItem<'_>) -> (AmValue<'static>, Option<ObjId>) {
    let id = matches!(item.value, ValueRef::Object(_)).then(|| item.id());
    (item.value.into_value(), id)
}

/// [`read_value`] of a ranged entry, whose id is there when it is an object.
fn read_entry<D: ReadDoc>(
    doc: &D,
    value: AmValue<'_>,
    id: Option<&ObjId>,
    heads: Option<&[ChangeHash]>,
    depth: usize,
    conflicted: &mut bool,
) -> Value {
    match (value, id) {
        (AmValue::Scalar(s), _) => scalar_to_json(&s),
        (AmValue::Object(t), Some(id)) => read_object(doc, id, t, heads, depth, conflicted),
        (AmValue::Object(_), None) => Value::Null,
    }
}

/// Every legal field holding two or more different concurrent values. `authors` names the
/// officer behind an actor; it is called only when a conflict exists.
pub(super) fn conflicts<D: ReadDoc>(
    doc: &D,
    legal: &[&str],
    authors: &mut dyn FnMut(&ActorId) -> Option<OfficerId>,
) -> Vec<Conflict> {
    let mut found = Vec::new();
    let root = Walked {
        obj: automerge::ROOT,
        kind: ObjType::Map,
        depth: 0,
    };
    walk_conflicts(doc, &root, "", legal, authors, &mut found);
    found
}

/// An object met on a walk, `depth` objects below the root.
struct Walked {
    obj: ObjId,
    kind: ObjType,
    depth: usize,
}

fn walk_conflicts<D: ReadDoc>(
    doc: &D,
    at: &Walked,
    path: &str,
    legal: &[&str],
    authors: &mut dyn FnMut(&ActorId) -> Option<OfficerId>,
    found: &mut Vec<Conflict>,
) {
    let Walked { obj, kind, depth } = at;
    let (kind, depth) = (*kind, *depth);
    if depth > MAX_NESTING_DEPTH {
        return;
    }
    // Only legal fields (and the maps leading to them) are walked: a save's cost stays
    // independent of how much else the record holds.
    let props: Vec<(Prop, String)> = match kind {
        ObjType::Map | ObjType::Table => doc
            .keys(obj)
            .map(|k| {
                let p = join(path, &k);
                (Prop::Map(k), p)
            })
            .filter(|(_, p)| is_legal(p, legal) || leads_to_legal(p, legal))
            .collect(),
        ObjType::List => (0..doc.length(obj))
            .map(|i| (Prop::Seq(i), format!("{path}[{i}]")))
            .collect(),
        ObjType::Text => return,
    };
    for (prop, field) in props {
        let all = doc.get_all(obj, prop.clone()).unwrap_or_default();
        if all.len() > 1 && is_legal(&field, legal) {
            let values: Vec<ConflictValue> = all
                .iter()
                .map(|(v, id)| ConflictValue {
                    value: read_value(doc, v.clone(), id, None, depth + 1),
                    by: op_actor(id).and_then(|a| authors(&a)),
                })
                .collect();
            let mut distinct: Vec<&Value> = values.iter().map(|v| &v.value).collect();
            distinct.dedup();
            distinct.sort_by_key(|v| v.to_string());
            distinct.dedup();
            if distinct.len() > 1 {
                let current = get(doc, obj, prop.clone(), None)
                    .map(|(v, id)| read_value(doc, v, &id, None, depth + 1))
                    .unwrap_or(Value::Null);
                found.push(Conflict {
                    field: field.clone(),
                    current,
                    values,
                });
            }
        }
        if let Some((AmValue::Object(child_kind), id)) = get(doc, obj, prop, None) {
            let child = Walked {
                obj: id,
                kind: child_kind,
                depth: depth + 1,
            };
            walk_conflicts(doc, &child, &field, legal, authors, found);
        }
    }
}

fn op_actor(id: &ObjId) -> Option<ActorId> {
    match id {
        ObjId::Id(_, actor, _) => Some(actor.clone()),
        ObjId::Root => None,
    }
}

/// True when `path` is a map on the way to a legal field (e.g. `referral` for `referral.decision`).
fn leads_to_legal(path: &str, legal: &[&str]) -> bool {
    legal.iter().any(|l| {
        l.strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

fn is_legal(field: &str, legal: &[&str]) -> bool {
    legal.iter().any(|l| {
        field == *l
            || field
                .strip_prefix(l)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
