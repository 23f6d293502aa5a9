//! A record's audit trail as rows: field by field, who (officer and role), which device, device
//! time, server receipt time, old → new; workflow events (submitted, returned, approved,
//! re-opened) are rows of their own, with their reason. Pure: built from a document's
//! [`FieldChange`] history plus what the caller knows of receipts and devices, and rendered as
//! CSV (RFC 4180) or JSON. The device (`fieldbook history`) and the server build the same rows.
//!
//! The CSV is opened in spreadsheets, and its cells hold what officers typed: a cell that a
//! spreadsheet would read as a formula (one starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return) is written with a leading `'` ([`csv_cell`], OWASP's advice; `docs/adr/0005`).
//! Plain numbers (`-1.5`) are left as they are. The JSON export is never altered.

use crate::doc::FieldChange;
use crate::domain::{OfficerId, RecordId, Role, Timestamp};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// The field path of a record's workflow history.
pub const WORKFLOW_FIELD: &str = "meta.workflow";

/// The CSV columns, in order.
pub const COLUMNS: [&str; 12] = [
    "record",
    "change",
    "officer",
    "role",
    "device",
    "device_time",
    "server_received_at",
    "action",
    "field",
    "old",
    "new",
    "reason",
];

/// One field changed by one change, or one workflow event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// The record.
    pub record: RecordId,
    /// The change's hash (hex).
    pub change: String,
    /// The officer who made the change (from its message).
    pub officer: Option<OfficerId>,
    /// Their role.
    pub role: Option<Role>,
    /// The server's id of the device that made it when known, else the automerge actor (hex).
    pub device: String,
    /// Device time of the change (device clocks can be wrong).
    pub device_time: Option<Timestamp>,
    /// When the server received the change (none until it has).
    pub server_received_at: Option<Timestamp>,
    /// What the change did ("create", "edit"...) or, for a workflow event, the event
    /// ("submitted", "returned", "approved", "reopened").
    pub action: Option<String>,
    /// Field path, e.g. `narrative`, `classification`, `meta.workflow`.
    pub field: String,
    /// Value before (none when the field was created; none for a workflow event).
    pub old: Option<Value>,
    /// Value after (none when the field was removed; the event for a workflow event).
    pub new: Option<Value>,
    /// The reason a workflow event gives (returns, re-opening).
    pub reason: Option<String>,
}

/// Where a record's changes came from: the server's receipt time of each change (by hash, hex)
/// and the device that wrote each actor (by actor, hex). The server and a device know different
/// parts of it; the rows are built the same way from either.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origins {
    received: HashMap<String, i64>,
    devices: HashMap<String, String>,
}

impl Origins {
    /// As the server knows them: each pushed change (hash, pushing device, receipt time in ms).
    /// Each change's actor is bound to the device that pushed it (checked at push), so a
    /// history change's actor is named by the device that pushed that change.
    pub fn of_pushes<'a>(
        history: &[FieldChange],
        pushes: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
    ) -> Origins {
        let mut received = HashMap::new();
        let mut by_change = HashMap::new();
        for (hash, device, at) in pushes {
            received.insert(hash.to_owned(), at);
            by_change.insert(hash, device);
        }
        let devices = history
            .iter()
            .filter_map(|h| {
                by_change
                    .get(h.change.as_str())
                    .map(|d| (h.actor.clone(), (*d).to_owned()))
            })
            .collect();
        Origins { received, devices }
    }

    /// As a device knows them: the receipts of the changes the server acknowledged (hash,
    /// receipt time in ms), and this device's own actor with its server id once enrolled.
    /// Other devices' changes are named by their actor.
    pub fn of_device(
        receipts: impl IntoIterator<Item = (String, i64)>,
        own: Option<(String, String)>,
    ) -> Origins {
        Origins {
            received: receipts.into_iter().collect(),
            devices: own.into_iter().collect(),
        }
    }
}

/// Builds the audit rows of `record` from its history (causal order, as
/// [`crate::doc::RecordDoc::history`] gives it) and where its changes came from.
pub fn rows(record: RecordId, history: &[FieldChange], origins: &Origins) -> Vec<AuditRow> {
    let Origins { received, devices } = origins;
    let mut out = Vec::with_capacity(history.len());
    for h in history {
        let base = AuditRow {
            record,
            change: h.change.clone(),
            officer: h.by.clone(),
            role: h.role,
            device: devices
                .get(&h.actor)
                .cloned()
                .unwrap_or_else(|| h.actor.clone()),
            device_time: h.at,
            server_received_at: received
                .get(&h.change)
                .and_then(|ms| Timestamp::from_millis(*ms)),
            action: h.action.clone(),
            field: h.field.clone(),
            old: h.old.clone(),
            new: h.new.clone(),
            reason: None,
        };
        let events = if h.field == WORKFLOW_FIELD {
            appended_events(h.old.as_ref(), h.new.as_ref())
        } else {
            Vec::new()
        };
        if events.is_empty() {
            out.push(base);
            continue;
        }
        for event in events {
            out.push(AuditRow {
                action: event
                    .get("action")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| base.action.clone()),
                reason: event
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                old: None,
                new: Some(event),
                ..base.clone()
            });
        }
    }
    out
}

/// The workflow events in `new` that `old` does not hold (the list is append-only; a merge may
/// interleave events, so this is a multiset difference, in `new`'s order).
fn appended_events(old: Option<&Value>, new: Option<&Value>) -> Vec<Value> {
    let mut before: Vec<&Value> = old
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for event in new.and_then(Value::as_array).into_iter().flatten() {
        match before.iter().position(|b| *b == event) {
            Some(i) => {
                before.remove(i);
            }
            None => out.push(event.clone()),
        }
    }
    out
}

/// A cell: text as is, anything else as compact JSON, absent as empty.
fn cell(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl AuditRow {
    /// The row's cells, in [`COLUMNS`] order.
    pub fn cells(&self) -> [String; 12] {
        let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
        [
            self.record.to_string(),
            self.change.clone(),
            text(self.officer.as_ref().map(|o| o.as_str())),
            text(self.role.map(Role::as_str)),
            self.device.clone(),
            self.device_time
                .map(Timestamp::to_rfc3339)
                .unwrap_or_default(),
            self.server_received_at
                .map(Timestamp::to_rfc3339)
                .unwrap_or_default(),
            text(self.action.as_deref()),
            self.field.clone(),
            cell(self.old.as_ref()),
            cell(self.new.as_ref()),
            text(self.reason.as_deref()),
        ]
    }
}

/// Characters that make a spreadsheet read a cell as a formula when they start it.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as the CSV writes it: one a spreadsheet would read as a formula (it starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so it is shown as text and never
/// evaluated (CSV injection, OWASP). A plain number (`-1.5`, `-2e3`) is a value, not a formula,
/// and is left as it is so coordinates keep their sign.
pub fn csv_cell(value: &str) -> std::borrow::Cow<'_, str> {
    let starts_formula = value.starts_with(FORMULA_TRIGGERS);
    if starts_formula && !is_plain_number(value) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// A JSON number written out in full, e.g. `-1.5`, `+3`, `-2e-3`; nothing else.
fn is_plain_number(value: &str) -> bool {
    let body = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

/// CSV (RFC 4180: CRLF line ends; fields holding commas, quotes or line breaks are quoted, with
/// quotes doubled), with a header row. Cells a spreadsheet would evaluate are neutralised with
/// [`csv_cell`].
pub fn to_csv(rows: &[AuditRow]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(COLUMNS);
    for row in rows {
        let cells = row.cells();
        let _ = writer.write_record(cells.iter().map(|c| csv_cell(c).into_owned()));
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// JSON: an array of row objects (every column present, `null` when absent).
pub fn to_json(rows: &[AuditRow]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(field: &str, old: Option<Value>, new: Option<Value>) -> FieldChange {
        FieldChange {
            change: "c1".into(),
            actor: "aa".into(),
            by: OfficerId::new("PC1").ok(),
            role: Some(Role::Officer),
            action: Some("edit".into()),
            at: Timestamp::from_millis(1_000),
            field: field.into(),
            old,
            new,
        }
    }

    #[test]
    fn each_appended_workflow_event_is_a_row_with_its_reason() {
        let submitted = json!({"action": "submitted", "by": "PC1", "role": "officer", "at": "x"});
        let returned = json!({"action": "returned", "by": "S1", "role": "supervisor",
            "at": "y", "reason": "say where, \"exactly\""});
        let history = [change(
            WORKFLOW_FIELD,
            Some(json!([submitted.clone()])),
            Some(json!([submitted, returned.clone()])),
        )];
        let origins = Origins::of_pushes(&history, [("c1", "dev-1", 5_000)]);
        let rows = rows(RecordId::generate(), &history, &origins);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].action.as_deref(), Some("returned"));
        assert_eq!(rows[0].reason.as_deref(), Some("say where, \"exactly\""));
        assert_eq!(rows[0].new, Some(returned));
        assert_eq!(rows[0].device, "dev-1");
        assert_eq!(rows[0].server_received_at, Timestamp::from_millis(5_000));
    }

    #[test]
    fn a_device_names_its_own_changes_by_its_server_id_and_others_by_their_actor() {
        let mut theirs = change("narrative", None, Some(json!("b")));
        theirs.change = "c2".into();
        theirs.actor = "bb".into();
        let history = [change("narrative", None, Some(json!("a"))), theirs];
        let origins = Origins::of_device(
            [("c1".to_owned(), 7_000)],
            Some(("aa".to_owned(), "dev-9".to_owned())),
        );
        let rows = rows(RecordId::generate(), &history, &origins);
        assert_eq!(rows[0].device, "dev-9");
        assert_eq!(rows[0].server_received_at, Timestamp::from_millis(7_000));
        assert_eq!(rows[1].device, "bb");
        assert_eq!(rows[1].server_received_at, None, "not acknowledged yet");
        // Not enrolled yet: the device's own changes are named by its actor too.
        let unenrolled = rows_of_unenrolled(&history);
        assert_eq!(unenrolled[0].device, "aa");
    }

    fn rows_of_unenrolled(history: &[FieldChange]) -> Vec<AuditRow> {
        rows(RecordId::generate(), history, &Origins::of_device([], None))
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks_and_parses_back() {
        let history = [
            change("narrative", None, Some(json!("a, \"b\"\nc\r\nd"))),
            change("victims", Some(json!([])), Some(json!([{"n": 1}]))),
        ];
        let rows = rows(RecordId::generate(), &history, &Origins::default());
        let text = to_csv(&rows);
        assert!(text.starts_with("record,change,officer,role,device,device_time,"));
        assert!(text.contains("\"a, \"\"b\"\"\nc\r\nd\""), "{text}");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let back: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(back.len(), 2);
        assert_eq!(&back[0][10], "a, \"b\"\nc\r\nd");
        assert_eq!(&back[1][9], "[]");
        assert_eq!(&back[1][10], r#"[{"n":1}]"#);
        assert_eq!(&back[0][4], "aa", "an unknown device is named by its actor");
        assert_eq!(&back[0][2], "PC1");
        assert_eq!(&back[0][6], "", "not yet received");
    }

    #[test]
    fn csv_cells_a_spreadsheet_would_evaluate_start_with_a_quote_and_json_is_untouched() {
        let typed = [
            "=HYPERLINK(\"http://x.invalid\",\"click\")",
            "+1+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A2)",
            "\tleading tab",
            "\rleading return",
        ];
        let history: Vec<FieldChange> = typed
            .iter()
            .map(|t| change("narrative", None, Some(json!(t))))
            .chain([
                change("location.lon", None, Some(json!(-1.5))),
                change("narrative", None, Some(json!("a = b, -c"))),
            ])
            .collect();
        let rows = rows(RecordId::generate(), &history, &Origins::default());
        let text = to_csv(&rows);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let back: Vec<String> = reader
            .records()
            .map(|r| r.expect("row")[10].to_owned())
            .collect();
        let mut want: Vec<String> = typed.iter().map(|t| format!("'{t}")).collect();
        want.push("-1.5".into());
        want.push("a = b, -c".into());
        assert_eq!(back, want);
        // The JSON export keeps exactly what was typed.
        let json: Value = serde_json::from_str(&to_json(&rows)).expect("json");
        assert_eq!(json[0]["new"], json!(typed[0]));
    }

    #[test]
    fn only_whole_numbers_escape_the_quote() {
        for n in ["-1", "-1.5", "+3", "-2e-3", "-0.25E+2"] {
            assert_eq!(csv_cell(n), n, "{n}");
        }
        for f in ["-", "-1-1", "-1.", "-.5", "-1e", "--1", "-1,5", "-1 "] {
            assert_eq!(csv_cell(f), format!("'{f}"), "{f}");
        }
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("PC1"), "PC1");
    }

    #[test]
    fn json_keeps_every_column() {
        let rows = rows(
            RecordId::generate(),
            &[change("narrative", None, Some(json!("x")))],
            &Origins::default(),
        );
        let back: Value = serde_json::from_str(&to_json(&rows)).expect("json");
        let object = back[0].as_object().expect("object");
        assert_eq!(object.len(), COLUMNS.len());
        for c in COLUMNS {
            assert!(object.contains_key(c), "{c}");
        }
    }
}
