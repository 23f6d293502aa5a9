//! `field.path=value` assignments, as the CLI and scripts write them, applied to a record's JSON.
//!
//! Paths use the record's JSON names (`grounds`, `location.lat`, `victims[0]`, `age.years`).
//! `path=value` sets, `path+=value` appends (text to a narrative, an item to a list), and
//! `path=` clears. Values are read as JSON where they parse (numbers, `true`, objects), else as
//! text; the typed record decides which fits.

use crate::invalid::Invalid;
use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A parsed `path=value` or `path+=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The path as written.
    pub field: String,
    /// The path's steps.
    pub path: Vec<Segment>,
    /// True for `+=`.
    pub append: bool,
    /// The value as written.
    pub raw: String,
}

impl Assignment {
    /// Parses `path=value` / `path+=value`.
    pub fn parse(text: &str) -> Result<Assignment, Invalid> {
        let Some((lhs, raw)) = text.split_once('=') else {
            return Err(Invalid::new(
                crate::limits::preview(text),
                "assignment",
                "write field.path=value (or field+=value to append)",
            ));
        };
        let (field, append) = match lhs.strip_suffix('+') {
            Some(f) => (f.trim(), true),
            None => (lhs.trim(), false),
        };
        Ok(Assignment {
            field: field.to_owned(),
            path: parse_path(field)?,
            append,
            raw: raw.to_owned(),
        })
    }

    /// The values to try, best guess first: JSON if it parses, then the raw text.
    pub fn candidates(&self) -> Vec<Value> {
        if self.raw.is_empty() && !self.append {
            return vec![Value::Null];
        }
        let text = Value::String(self.raw.clone());
        match serde_json::from_str::<Value>(&self.raw) {
            Ok(v) if v != text => vec![v, text],
            _ => vec![text],
        }
    }

    /// The first field name (e.g. `meta` for `meta.author`).
    pub fn root(&self) -> &str {
        match self.path.first() {
            Some(Segment::Key(k)) => k,
            _ => "",
        }
    }
}

fn parse_path(field: &str) -> Result<Vec<Segment>, Invalid> {
    let bad = || {
        Invalid::new(
            field,
            "field-path",
            "use dotted names with optional [index], e.g. location.lat or victims[0]",
        )
    };
    let mut out = Vec::new();
    for part in field.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad());
        }
        out.push(Segment::Key(name.to_owned()));
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            let index = rest[1..close].parse().map_err(|_| bad())?;
            out.push(Segment::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad());
            }
        }
    }
    Ok(out)
}

/// Applies `value` at the assignment's path, creating missing objects on the way.
pub fn apply(json: &mut Value, a: &Assignment, value: Value) -> Result<(), Invalid> {
    let mut node = json;
    for (i, seg) in a.path.iter().enumerate() {
        let last = i + 1 == a.path.len();
        match seg {
            Segment::Key(k) => {
                if node.is_null() {
                    *node = Value::Object(Map::new());
                }
                let Value::Object(map) = node else {
                    return Err(Invalid::new(
                        &a.field,
                        "field-path",
                        format!("'{k}' is not inside an object"),
                    ));
                };
                if last {
                    let slot = map.entry(k.clone()).or_insert(Value::Null);
                    return set(slot, a, value);
                }
                node = map.entry(k.clone()).or_insert(Value::Null);
            }
            Segment::Index(idx) => {
                let Value::Array(items) = node else {
                    return Err(Invalid::new(
                        &a.field,
                        "field-path",
                        "an [index] needs a list",
                    ));
                };
                let len = items.len();
                let slot = items.get_mut(*idx).ok_or_else(|| {
                    Invalid::new(
                        &a.field,
                        "list-index",
                        format!("index {idx} is past the end (the list has {len} items)"),
                    )
                })?;
                if last {
                    return set(slot, a, value);
                }
                node = slot;
            }
        }
    }
    Err(Invalid::new(&a.field, "field-path", "empty field path"))
}

fn set(slot: &mut Value, a: &Assignment, value: Value) -> Result<(), Invalid> {
    if !a.append {
        *slot = value;
        return Ok(());
    }
    match (slot, value) {
        (Value::String(s), Value::String(add)) => {
            s.push_str(&add);
            Ok(())
        }
        (slot @ Value::Null, Value::String(add)) => {
            *slot = Value::String(add);
            Ok(())
        }
        (Value::Array(items), v) => {
            items.push(v);
            Ok(())
        }
        _ => Err(Invalid::new(
            &a.field,
            "append",
            "+= appends to text or to a list",
        )),
    }
}

/// Deep-merges `patch` over `base` (objects merge key by key; anything else replaces).
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(start: Value, text: &str) -> Result<Value, Invalid> {
        let a = Assignment::parse(text)?;
        let mut v = start;
        apply(&mut v, &a, a.candidates().remove(0))?;
        Ok(v)
    }

    #[test]
    fn assignments_set_append_clear_and_create_missing_objects() {
        let cases = [
            (
                json!({}),
                "location.lat=51.5",
                json!({"location": {"lat": 51.5}}),
            ),
            (
                json!({"narrative": "A."}),
                "narrative+= B.",
                json!({"narrative": "A. B."}),
            ),
            (
                json!({"victims": []}),
                "victims+=abc",
                json!({"victims": ["abc"]}),
            ),
            (
                json!({"grounds": "x"}),
                "grounds=",
                json!({"grounds": null}),
            ),
            (
                json!({"names": [{"given": "a"}]}),
                "names[0].family=Smith",
                json!({"names": [{"given": "a", "family": "Smith"}]}),
            ),
            (json!({}), "bwv_used=true", json!({"bwv_used": true})),
        ];
        for (start, text, want) in cases {
            assert_eq!(run(start, text).expect(text), want, "{text}");
        }
    }

    #[test]
    fn malformed_assignments_name_the_field_and_the_rule() {
        let cases = [
            ("no equals sign", "assignment"),
            ("a..b=1", "field-path"),
            ("victims[x]=1", "field-path"),
            ("names[3].given=a", "list-index"),
        ];
        for (text, rule) in cases {
            match run(json!({"names": []}), text) {
                Err(Invalid { rule: r, .. }) => assert_eq!(r, rule, "{text}"),
                other => panic!("{text}: expected Invalid, got {other:?}"),
            }
        }
    }
}
