//! Size limits on what a record may hold, checked on every save so a runaway paste or a hostile
//! document cannot bloat the store or the sync traffic. Documented in `docs/data-model.md`.

use serde_json::Value;

/// Longest free-text narrative (`narrative`, `notes`, `actions_taken`), in bytes.
pub const MAX_NARRATIVE_BYTES: usize = 64 * 1024;
/// Longest grounds for a stop-search, in bytes.
pub const MAX_GROUNDS_BYTES: usize = 4 * 1024;
/// Longest other text field, in bytes.
pub const MAX_FIELD_BYTES: usize = 2 * 1024;
/// Most items in any list (victims, property, workflow events...).
pub const MAX_LIST_ITEMS: usize = 500;
/// Largest automerge document accepted by `import-doc`, in bytes; also the largest any record
/// document from elsewhere may inflate to (`doc::bounded`).
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// Fields holding long free text.
pub const NARRATIVE_FIELDS: [&str; 3] = ["narrative", "notes", "actions_taken"];

// Bounds on automerge bytes from elsewhere (`doc::bounded`), derived from the limits above: what
// an honest device can make, so only a hostile one is ever refused.

/// Most lists one record holds outside list items: a crime report's eight (attending officers,
/// victims, suspects, witnesses, property, attachments, assessment exemptions, workflow).
pub const MAX_RECORD_LISTS: usize = 8;
/// Most operations one list item takes to write: a map and its fields, and the items of a list
/// inside it (a workflow event is the largest: seven, plus the heads it pins).
pub const MAX_ITEM_OPS: usize = 16;
/// Most operations a record's other fields take to write: every scalar and nested map outside
/// lists and narratives (a stop-search, the widest kind, has about sixty).
pub const MAX_RECORD_SCALAR_OPS: usize = 128;
/// Most operations one change may hold: an honest device's largest change replaces every
/// free-text field at its limit (one operation per character deleted and one per character
/// inserted) and every list at its limit, item for item, and rewrites every other field.
pub const MAX_CHANGE_OPS: usize = 2
    * (NARRATIVE_FIELDS.len() * MAX_NARRATIVE_BYTES
        + MAX_RECORD_LISTS * MAX_LIST_ITEMS * MAX_ITEM_OPS
        + MAX_RECORD_SCALAR_OPS);
/// Largest change, in bytes once inflated: no change may be larger than a whole document.
pub const MAX_CHANGE_BYTES: usize = MAX_DOCUMENT_BYTES;
/// Most whole rewrites at [`MAX_CHANGE_OPS`] one record's history may hold.
pub const MAX_RECORD_REWRITES: usize = 3;
/// Most operations a whole record document may hold.
pub const MAX_DOCUMENT_OPS: usize = MAX_RECORD_REWRITES * MAX_CHANGE_OPS;
/// Most saves between two workflow steps, on average over a record's life.
pub const MAX_SAVES_PER_STEP: usize = 128;
/// Most changes a whole record document may hold: a record takes at most [`MAX_LIST_ITEMS`]
/// workflow steps, each after at most [`MAX_SAVES_PER_STEP`] saves.
pub const MAX_DOCUMENT_CHANGES: usize = MAX_LIST_ITEMS * MAX_SAVES_PER_STEP;
/// Most entries any one automerge column may claim: one per operation of a whole document.
pub const MAX_COLUMN_ENTRIES: usize = MAX_DOCUMENT_OPS;
/// Deepest nesting of objects (maps, lists, text): a record nests five deep
/// (`meta.workflow[i].heads[j]`); deeper objects are refused when they arrive (`doc::bounded`),
/// and reading stops there, so a hostile document cannot exhaust the stack or the memory.
pub const MAX_NESTING_DEPTH: usize = 32;

/// The first few characters of user input, for error messages (never the whole thing).
pub fn preview(s: &str) -> String {
    preview_chars(s, 40)
}

/// The first `n` characters of `s`, with an ellipsis when cut.
fn preview_chars(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Characters of a value a parser's message may quote: enough to recognise it, not to repeat it.
const QUOTED_CHARS: usize = 12;

/// A parser's message with every quoted input cut to a few characters: serde quotes the whole
/// offending value (`invalid type: string "…", expected f64`), which may be a name or an address.
pub fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(200));
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else {
            break;
        };
        out.push_str(&rest[..=start]);
        out.push_str(&preview_chars(&after[..len], QUOTED_CHARS));
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    out
}

/// Checks every string and list in a record's JSON against the limits; names the first field over.
pub fn check(record: &Value) -> Result<(), crate::invalid::Invalid> {
    walk(record, "")
}

fn walk(value: &Value, path: &str) -> Result<(), crate::invalid::Invalid> {
    match value {
        Value::String(s) => {
            let leaf = path.rsplit('.').next().unwrap_or(path);
            let max = if NARRATIVE_FIELDS.contains(&leaf) {
                MAX_NARRATIVE_BYTES
            } else if leaf == "grounds" {
                MAX_GROUNDS_BYTES
            } else {
                MAX_FIELD_BYTES
            };
            if s.len() > max {
                return Err(crate::invalid::Invalid::new(
                    path,
                    "max-length",
                    format!("is {} bytes; at most {max} are allowed", s.len()),
                ));
            }
            Ok(())
        }
        Value::Array(items) => {
            if items.len() > MAX_LIST_ITEMS {
                return Err(crate::invalid::Invalid::new(
                    path,
                    "max-items",
                    format!(
                        "has {} items; at most {MAX_LIST_ITEMS} are allowed",
                        items.len()
                    ),
                ));
            }
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| walk(v, &format!("{path}[{i}]")))
        }
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            walk(v, &p)
        }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => Ok(()),
            _ => Err(crate::invalid::Invalid::new(
                path,
                "finite-number",
                "must be a finite number",
            )),
        },
        Value::Null | Value::Bool(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_input_in_parser_messages_is_cut_to_a_preview() {
        let long = "Samuel Jones of 12 Acacia Avenue, Leeds LS1 4AB, phone 07700 900123";
        let message = format!("invalid type: string \"{long}\", expected f64");
        let redacted = redact_quoted(&message);
        assert!(!redacted.contains("07700"), "{redacted}");
        assert!(
            redacted.starts_with("invalid type: string \"Samuel Jones"),
            "{redacted}"
        );
        assert!(!redacted.contains("Acacia"), "{redacted}");
        assert!(redacted.ends_with("…\", expected f64"), "{redacted}");
        let variant = format!("unknown variant `{long}`, expected one of `crimed`, `not-crimed`");
        assert!(!redact_quoted(&variant).contains("Acacia"));
        assert_eq!(redact_quoted("no quotes here"), "no quotes here");
        assert_eq!(redact_quoted("unbalanced \"quote"), "unbalanced \"quote");
    }
}
