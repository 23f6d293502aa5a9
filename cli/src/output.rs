//! How the CLI prints: plain aligned text for people, `--json` for scripts.

use fieldbook_core::Error;
use fieldbook_core::audit::{self, AuditRow};
use fieldbook_core::device::{ApprovalState, QuarantineItem, QueueItem, ReturnedItem};
use fieldbook_core::doc::Conflict;
use fieldbook_core::domain::{Record, Timestamp};
use fieldbook_core::rules::{Finding, Severity};
use fieldbook_core::storage::Projection;
use fieldbook_core::sync::held_back::{HeldBackItem, HoldReason};
use serde_json::Value;

/// Writes to stdout; a reader that has gone away (a closed pipe) ends the program quietly.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write output: {e}");
        std::process::exit(2);
    }
}

/// Every error ends with its code in brackets: the rule for bad input, a stable code otherwise.
pub fn print_error(e: &Error) {
    match e {
        Error::Refused { findings } => {
            eprintln!("refused: {} finding(s)", findings.len());
            for f in findings {
                eprintln!("  {:<40} {} [{}]", f.field, f.message, f.rule);
            }
        }
        Error::Invalid { .. } => eprintln!("error: {e}"),
        other => eprintln!("error: {other} [{}]", other.code()),
    }
    if let Some(hint) = hint(e) {
        eprintln!("  {hint}");
    }
}

/// The command that answers an error, for the errors the core words for any app: the core's
/// texts name no command or flag, so the CLI says which of its own to run.
fn hint(e: &Error) -> Option<&'static str> {
    use fieldbook_core::storage::StoreError;
    match e {
        Error::Store(StoreError::Missing) => Some("run `fieldbook init` first"),
        Error::Store(StoreError::Empty) => {
            Some("to start again: remove it and run `fieldbook init`")
        }
        Error::Store(StoreError::WalMissing) => Some(
            "if the -wal file is gone for good, `fieldbook accept-lost-saves` opens the store without those saves",
        ),
        Error::NotInitialised => Some("run `fieldbook init --officer ID --role ROLE` first"),
        Error::NotEnrolled => Some("run `fieldbook enrol --server URL --code CODE`"),
        Error::Invalid { rule, .. } => match rule.as_str() {
            "server-url" => Some("give it with --server"),
            "enrolled-user" => Some("give a code issued to this store's officer with --code"),
            "unknown-quarantine" => Some("list them with `fieldbook quarantine`"),
            _ => None,
        },
        _ => None,
    }
}

pub fn print_json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => outln!("{s}"),
        Err(e) => eprintln!("error: {e}"),
    }
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(Timestamp::from_millis)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| "-".into())
}

pub fn print_record(record: &Record, p: &Projection, conflicts: &[Conflict]) {
    let meta = record.meta();
    outln!("{} {}", meta.kind.label(), meta.id);
    outln!("  status:      {}", p.status);
    outln!("  author:      {}", meta.author);
    outln!("  created:     {}", meta.created_at);
    for e in &meta.workflow {
        let reason = e
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        outln!(
            "  {:<12} {} by {}{reason}",
            format!("{:?}:", e.action).to_lowercase(),
            e.at,
            e.by
        );
    }
    let mut lines = Vec::new();
    if let Value::Object(map) = record.to_json() {
        for (k, v) in map {
            if k != "meta" {
                flatten(&k, &v, &mut lines);
            }
        }
    }
    for (k, v) in lines {
        outln!("  {k:<40} {v}");
    }
    for c in conflicts {
        let values: Vec<String> = c
            .values
            .iter()
            .map(|v| {
                format!(
                    "{} (by {})",
                    v.value,
                    v.by.as_ref().map_or("?".into(), |o| o.to_string())
                )
            })
            .collect();
        outln!("  CONFLICT {}: {}", c.field, values.join(" vs "));
    }
}

fn flatten(path: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(&format!("{path}.{k}"), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), v, out);
            }
        }
        Value::String(s) => out.push((path.to_owned(), s.clone())),
        Value::Object(_) | Value::Array(_) => {}
        other => out.push((path.to_owned(), other.to_string())),
    }
}

pub fn print_list(rows: &[Projection], json: bool) {
    if json {
        let items: Vec<Value> = rows
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.id.to_string(),
                    "kind": p.kind.as_str(),
                    "status": p.status.as_str(),
                    "author": p.author.as_str(),
                    "created_at": time(Some(p.created_at)),
                    "event_at": p.event_at.map(|t| time(Some(t))),
                    "decision_due_at": p.decision_due_at.map(|t| time(Some(t))),
                    "receipt_needed": p.receipt_needed,
                    "classification": p.classification,
                    "flags": p.flags,
                    "conflicts": p.conflicts,
                })
            })
            .collect();
        print_json(&items);
        return;
    }
    for p in rows {
        outln!(
            "{}  {:<11} {:<9} {:<8} {:<25} {}{}",
            p.id,
            p.kind.as_str(),
            p.status.as_str(),
            p.author,
            time(p.event_at.or(Some(p.created_at))),
            p.classification.as_deref().unwrap_or(""),
            if p.conflicts > 0 {
                format!("  ({} conflict(s))", p.conflicts)
            } else {
                String::new()
            }
        );
    }
    outln!("{} record(s)", rows.len());
}

pub fn print_findings(findings: &[Finding], json: bool) {
    if json {
        print_json(&findings);
        return;
    }
    if findings.is_empty() {
        outln!("ok: every rule passes");
    }
    for f in findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        outln!("{level:<8} {:<40} {} [{}]", f.field, f.message, f.rule);
    }
}

/// How `history` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
}

pub fn print_history(rows: &[AuditRow], format: Format) {
    match format {
        Format::Json => {
            print_json(&rows);
            return;
        }
        Format::Csv => {
            write_stdout(format_args!("{}", audit::to_csv(rows)));
            return;
        }
        Format::Text => {}
    }
    let show = |v: &Option<Value>| match v {
        None => "∅".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    for r in rows {
        let received = r.server_received_at.map_or_else(
            || "not yet received".to_owned(),
            |t| format!("received {t}"),
        );
        let change = match &r.reason {
            Some(reason) => format!("reason: {reason}"),
            None => format!("{} → {}", show(&r.old), show(&r.new)),
        };
        outln!(
            "{}  {:<8} {:<10} {:<32} {}  ({}, device {})",
            r.device_time.map_or_else(|| "-".into(), |t| t.to_rfc3339()),
            r.officer.as_ref().map_or("?".into(), |o| o.to_string()),
            r.action.as_deref().unwrap_or("?"),
            r.field,
            change,
            received,
            r.device
        );
    }
}

pub fn print_conflicts(conflicts: &[Conflict], json: bool) {
    if json {
        print_json(&conflicts);
        return;
    }
    if conflicts.is_empty() {
        outln!("no conflicts");
    }
    for c in conflicts {
        outln!("{} (showing {}):", c.field, c.current);
        for v in &c.values {
            outln!(
                "    {}  by {}",
                v.value,
                v.by.as_ref().map_or("?".into(), |o| o.to_string())
            );
        }
    }
}

/// One summary line of a sync (or the report as JSON).
pub fn print_sync_report(r: &fieldbook_core::sync::SyncReport, json: bool) {
    if json {
        print_json(&serde_json::json!({
            "pushed_records": r.pushed_records,
            "pushed_changes": r.pushed_changes,
            "pushed_bytes": r.pushed_bytes,
            "accepted": r.accepted,
            "rejected": r.rejected.iter().map(|(id, rule)| serde_json::json!({"id": id.to_string(), "rule": rule})).collect::<Vec<_>>(),
            "pulled_changes": r.pulled_changes,
            "pulled_snapshots": r.pulled_snapshots,
            "evicted": r.evicted,
            "evictions_kept": r.evictions_kept,
            "pulled_bytes": r.pulled_bytes,
            "pages": r.pages,
            "round_trips": r.round_trips,
            "repairs": r.repairs,
            "repairs_failed": r.repairs_failed,
            "quarantined": r.quarantined,
            "held_back": r.held_back,
            "cursor": r.cursor,
            "duration_ms": r.duration.as_millis(),
        }));
        return;
    }
    outln!(
        "synced: pushed {} records ({} changes, {} bytes), {} accepted, {} rejected; pulled {} changes and {} new records ({} bytes) in {} pages; {} evicted{}; {} repairs; cursor {}; {} round trips in {:.1} s",
        r.pushed_records,
        r.pushed_changes,
        r.pushed_bytes,
        r.accepted,
        r.rejected.len(),
        r.pulled_changes,
        r.pulled_snapshots,
        r.pulled_bytes,
        r.pages,
        r.evicted,
        if r.evictions_kept > 0 {
            format!(" ({} kept: unsynced work)", r.evictions_kept)
        } else {
            String::new()
        },
        r.repairs,
        r.cursor,
        r.round_trips,
        r.duration.as_secs_f64()
    );
    for (id, rule) in &r.rejected {
        outln!("  refused: {id} [{rule}]");
    }
    if r.quarantined > 0 {
        outln!(
            "  {} refused record(s) rebuilt from the server's version; what was refused is kept: fieldbook quarantine",
            r.quarantined
        );
    }
    if r.held_back > 0 {
        outln!(
            "  {} update(s) from the server could not be applied and are held back; those records stay as they were, the rest synced: fieldbook status",
            r.held_back
        );
    }
}

/// Where the device stands with the server, with the feed entries held back.
pub fn print_sync_status(
    s: &fieldbook_core::sync::SyncStatus,
    held_back: &[HeldBackItem],
    json: bool,
) {
    if json {
        print_json(&serde_json::json!({
            "server": s.server,
            "device_id": s.device_id,
            "team": s.team,
            "unsynced": s.unsynced,
            "last_sync_at": s.last_sync_at.and_then(Timestamp::from_millis).map(|t| t.to_rfc3339()),
            "cursor": s.cursor,
            "last_error": s.last_error,
            "attention": s.attention.iter().map(|a| serde_json::json!({
                "id": a.id.to_string(),
                "kind": a.kind.as_str(),
                "rule": a.rule,
                "message": a.message,
                "field": a.field,
            })).collect::<Vec<_>>(),
            "quarantined": s.quarantined,
            "held_back": held_back,
        }));
        return;
    }
    match &s.server {
        Some(server) => outln!(
            "server:          {server} (device {}{})",
            s.device_id.as_deref().unwrap_or("?"),
            s.team
                .as_deref()
                .map(|t| format!(", team {t}"))
                .unwrap_or_default()
        ),
        None => outln!("server:          not enrolled"),
    }
    outln!("unsynced:        {} records", s.unsynced);
    outln!("last sync:       {}", time(s.last_sync_at));
    outln!("cursor:          {}", s.cursor);
    if let Some(code) = &s.last_error {
        outln!("last sync error: {code}");
    }
    outln!("needs attention: {}", s.attention.len());
    for a in &s.attention {
        let field = a
            .field
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        outln!(
            "  {} {:<12} {}{field} [{}]",
            a.id,
            a.kind.as_str(),
            a.message,
            a.rule
        );
    }
    outln!("quarantined:     {}", s.quarantined);
    if s.quarantined > 0 {
        outln!("  the server refused them; read them with `fieldbook quarantine`");
    }
    outln!("held back:       {}", s.held_back);
    for h in held_back {
        let why = HoldReason::from_code(&h.reason)
            .map(HoldReason::explanation)
            .unwrap_or("not applied");
        outln!(
            "  {} {:<12} {} {why} [{}]",
            h.record,
            h.kind.as_str(),
            h.when.to_rfc3339(),
            h.reason
        );
    }
    if s.held_back > 0 {
        outln!(
            "  the server sent updates this device cannot apply; those records stay as they were and everything else syncs: report the record ids to your IT team"
        );
    }
}

/// The quarantined items, oldest first.
pub fn print_quarantine(items: &[QuarantineItem], json: bool) {
    if json {
        print_json(&items);
        return;
    }
    for q in items {
        print_quarantine_header(q);
    }
    outln!(
        "{} refused item(s) kept: `fieldbook quarantine show N` to read one, `fieldbook quarantine dismiss N` once copied",
        items.len()
    );
}

/// One quarantined item and its whole refused record.
pub fn print_quarantined(item: &QuarantineItem, record: &Record, json: bool) {
    if json {
        print_json(&serde_json::json!({ "item": item, "record": record.to_json() }));
        return;
    }
    print_quarantine_header(item);
    outln!("refused record, as it was typed:");
    print_json(&record.to_json());
}

fn print_quarantine_header(q: &QuarantineItem) {
    let field = q
        .field
        .as_deref()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    outln!(
        "#{:<4} {} {:<11} {}  refused{field}: {} [{}]",
        q.id,
        q.when,
        q.kind.as_str(),
        q.record,
        q.message,
        q.rule
    );
    if q.removed {
        outln!("      the server never held this record: it is only here");
    } else if q.refused.is_empty() {
        outln!("      every edit was re-applied to the server's version");
    }
    for d in &q.refused {
        outln!(
            "      {:<28} typed {}  (now {})",
            d.field,
            one_line(&d.new),
            one_line(&d.old)
        );
    }
}

/// A value in one line: text as it is, anything else as JSON, absent as ∅.
fn one_line(v: &Value) -> String {
    match v {
        Value::Null => "∅".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// "3 h 20 min", "2 d 4 h", "12 min".
fn duration(ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    let (days, hours, mins) = (mins / 1440, (mins / 60) % 24, mins % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else {
        format!("{mins} min")
    }
}

pub fn print_queue(items: &[QueueItem], json: bool) {
    if json {
        print_json(&items);
        return;
    }
    for q in items {
        let approval = match &q.approval {
            ApprovalState::ChangedSinceApproval { by, at, .. } => {
                format!("  CHANGED SINCE APPROVAL by {by} at {at}")
            }
            _ => String::new(),
        };
        outln!(
            "{}  {:<11} {:<9} by {:<8} reported {} ago{approval}",
            q.id,
            q.kind.as_str(),
            q.status,
            q.author,
            duration(q.waiting_ms)
        );
        for d in q.approval.changed_fields() {
            outln!(
                "    changed {:<28} {} → {}",
                d.field,
                one_line(&d.old),
                one_line(&d.new)
            );
        }
        for f in &q.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            outln!("    {level:<8} {:<28} {} [{}]", f.field, f.message, f.rule);
        }
        match &q.blocked_because {
            None => outln!("    can be approved: fieldbook approve {}", q.id),
            Some(why) => outln!("    cannot be approved: {why}"),
        }
    }
    outln!("{} record(s) waiting for review", items.len());
}

pub fn print_returned(items: &[ReturnedItem], json: bool) {
    if json {
        print_json(&items);
        return;
    }
    for r in items {
        outln!(
            "{}  {:<11} returned by {} at {}: {}",
            r.id,
            r.kind.as_str(),
            r.by,
            r.at,
            r.reason
        );
    }
    outln!("{} record(s) returned to you", items.len());
}
