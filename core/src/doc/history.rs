//! Field-level history from automerge's hash-linked change log: who changed which field, when,
//! from what to what. The change log is the record's audit trail.

use super::{ChangeMessage, mapping};
use crate::domain::{OfficerId, Role, Timestamp};
use automerge::{ActorId, Automerge, ChangeHash, PatchAction, Prop};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// One field changed by one change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The change's hash (hex).
    pub change: String,
    /// The automerge actor (device install) that made it (hex).
    pub actor: String,
    /// The officer, from the change message.
    pub by: Option<OfficerId>,
    /// Their role.
    pub role: Option<Role>,
    /// What the change did ("create", "edit", "submit"...).
    pub action: Option<String>,
    /// Device time of the change (device clocks lie; the server adds receipt time).
    pub at: Option<Timestamp>,
    /// Field path, e.g. `grounds`, `classification`, `meta.workflow`.
    pub field: String,
    /// Value before (none when the field was created).
    pub old: Option<Value>,
    /// Value after (none when the field was removed).
    pub new: Option<Value>,
}

/// Which officer each actor of the document writes for, from the change messages.
pub(super) fn actor_officers(doc: &Automerge) -> HashMap<ActorId, OfficerId> {
    doc.get_changes(&[])
        .iter()
        .filter_map(|c| ChangeMessage::parse(c.message()).map(|m| (c.actor_id().clone(), m.by)))
        .collect()
}

/// Every field change, in causal order.
pub(super) fn field_changes(doc: &Automerge) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for change in doc.get_changes(&[]) {
        let before: Vec<ChangeHash> = change.deps().to_vec();
        let after = [change.hash()];
        let message = ChangeMessage::parse(change.message());
        let mut fields = BTreeSet::new();
        for patch in doc.diff(&before, &after) {
            // No record nests this deep; a document that does would cost time in the square of
            // its depth here (each patch's path, then every path against every other).
            if patch.path.len() > crate::limits::MAX_NESTING_DEPTH {
                continue;
            }
            let mut path = String::new();
            let mut in_list = false;
            for (_, prop) in &patch.path {
                match prop {
                    Prop::Map(k) if !in_list => push_key(&mut path, k),
                    _ => in_list = true,
                }
            }
            if !in_list {
                match &patch.action {
                    PatchAction::PutMap { key, .. }
                    | PatchAction::DeleteMap { key }
                    | PatchAction::Increment {
                        prop: Prop::Map(key),
                        ..
                    }
                    | PatchAction::Conflict {
                        prop: Prop::Map(key),
                    } => push_key(&mut path, key),
                    _ => {}
                }
            }
            if !path.is_empty() {
                fields.insert(path);
            }
        }
        // A field created whole (an object) lists its parent only.
        let fields: Vec<String> = fields
            .iter()
            .filter(|f| {
                !fields
                    .iter()
                    .any(|p| p != *f && f.starts_with(p.as_str()) && f[p.len()..].starts_with('.'))
            })
            .cloned()
            .collect();
        for field in fields {
            let keys: Vec<&str> = field.split('.').collect();
            let old = if before.is_empty() {
                None
            } else {
                mapping::read_path(doc, &keys, Some(&before))
            };
            let new = mapping::read_path(doc, &keys, Some(&after));
            if old == new {
                continue;
            }
            // A creation lists what was given a value, not every empty field.
            if before.is_empty() && (field == "meta" || new.as_ref().is_none_or(is_blank)) {
                continue;
            }
            out.push(FieldChange {
                change: change.hash().to_string(),
                actor: change.actor_id().to_hex_string(),
                by: message.as_ref().map(|m| m.by.clone()),
                role: message.as_ref().map(|m| m.role),
                action: message.as_ref().map(|m| m.action.clone()),
                at: change
                    .timestamp()
                    .ne(&0)
                    .then(|| Timestamp::from_millis(change.timestamp()))
                    .flatten(),
                field,
                old,
                new,
            });
        }
    }
    out
}

/// Null, empty text, empty lists, `false`, and objects holding only those.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(is_blank),
        Value::Bool(true) | Value::Number(_) => false,
    }
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}
