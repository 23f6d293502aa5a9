//! `fieldbook`: the headless Fieldbook device. The force's IT scripts and tests with it; the
//! README's main command runs its demo. Every command opens the store, does one thing, and exits:
//! 0 done, 1 refused by the rules (findings printed), 2 bad input or a failure (message printed).

/// `println!` that exits quietly when the reader has gone (`fieldbook list | head -1`).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with the same closed-pipe handling as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}

#[cfg(feature = "demo-server")]
mod demo;
mod output;
mod progress;

use clap::{Parser, Subcommand};
use fieldbook_core::clock::{Clock, SystemClock};
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role, Status, Timestamp};
use fieldbook_core::storage::{DatabaseKey, RecordQuery};
use fieldbook_core::{Device, Error};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "fieldbook",
    version,
    about = "The headless Fieldbook device: record, check and submit police field records offline"
)]
struct Cli {
    /// The device's store (an encrypted SQLite file).
    #[arg(long, global = true, env = "FIELDBOOK_STORE")]
    store: Option<PathBuf>,
    /// A file holding the store key: 64 hex characters (a raw 256-bit key) or a passphrase.
    /// Without it, the key is read from FIELDBOOK_KEY.
    #[arg(long, global = true)]
    key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open a store whose write-ahead log (its -wal file) was lost after a session that did not
    /// close cleanly, as its file holds it: the saves that were only in the log are gone. Only
    /// when the -wal file cannot be put back.
    AcceptLostSaves,
    /// Create a new store for one enrolled user.
    Init {
        /// Collar or warrant number.
        #[arg(long)]
        officer: String,
        /// officer, pcso or supervisor.
        #[arg(long)]
        role: String,
    },
    /// Create a record: crime, vna, stop-search, issue or person. Prints its id.
    New {
        /// crime, vna, stop-search, issue or person.
        kind: String,
        /// A JSON file of fields to start from (as `show --json` prints them, without `meta`).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Set fields: `field.path=value`, `field+=value` (append), `field=` (clear).
    Set {
        /// Record id.
        id: String,
        /// Assignments.
        #[arg(required = true)]
        assignments: Vec<String>,
    },
    /// Show a record.
    Show {
        /// Record id.
        id: String,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List records (newest first).
    List {
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Only this status: draft, submitted, returned, approved.
        #[arg(long)]
        status: Option<String>,
        /// Only this author.
        #[arg(long)]
        author: Option<String>,
        /// From this time (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Before this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// My drafts only.
        #[arg(long)]
        drafts: bool,
        /// Crime reports whose recording decision is overdue (over 24 h after the report).
        #[arg(long)]
        overdue: bool,
        /// Stop-searches still needing a receipt.
        #[arg(long)]
        receipts_needed: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run every rule for a record; exit 1 and print the findings if any fails.
    Check {
        /// Record id.
        id: String,
        /// Print findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Submit a record for review; exit 1 with every finding if refused.
    Submit {
        /// Record id.
        id: String,
    },
    /// Supervisor: the team's records waiting for review, oldest report first, with findings
    /// and what changed since the last approval.
    Queue {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Supervisor: approve a submitted record at its current version.
    Approve {
        /// Record id.
        id: String,
    },
    /// Supervisor: return a submitted record to its author, saying what to change.
    Return {
        /// Record id.
        id: String,
        /// What the author must change (at least 10 characters).
        #[arg(long)]
        reason: String,
    },
    /// Records a supervisor returned to you, with the reason.
    Returned {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-open an approved record to edit it; it goes back to review when submitted.
    Reopen {
        /// Record id.
        id: String,
        /// Why it is re-opened.
        #[arg(long)]
        reason: String,
    },
    /// The audit trail, field by field: who, which device, device and server receipt time,
    /// old → new, and workflow events with their reasons.
    History {
        /// Record id.
        id: String,
        /// Print JSON.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV (RFC 4180, with a header row).
        #[arg(long)]
        csv: bool,
    },
    /// Legal fields holding concurrent values after a merge.
    Conflicts {
        /// Record id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Choose the value of a conflicted legal field.
    Resolve {
        /// Record id.
        id: String,
        /// Field path, as `conflicts` lists it.
        field: String,
        /// The chosen value (JSON, or text).
        value: String,
    },
    /// Print the stop-search receipt.
    Receipt {
        /// Record id.
        id: String,
    },
    /// Write a record's raw automerge document to a file.
    ExportDoc {
        /// Record id.
        id: String,
        /// Output file.
        file: PathBuf,
    },
    /// Import a raw automerge document (a new record, or merged into a known one).
    ImportDoc {
        /// Input file.
        file: PathBuf,
    },
    /// Who viewed or changed a person's data, and why.
    AccessLog {
        /// Person record id.
        id: String,
    },
    /// Enrol this device with the force's server using a one-time code.
    Enrol {
        /// The server, e.g. https://sync.example.police.uk
        #[arg(long)]
        server: String,
        /// The one-time code from `fieldbook-server enrol`.
        #[arg(long)]
        code: String,
        /// A label for this device (default: "<officer> cli").
        #[arg(long)]
        label: Option<String>,
    },
    /// Push unsynced work and pull what the server holds for this device.
    Sync {
        /// Use this address of the server from now on.
        #[arg(long)]
        server: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unsynced records, last sync, cursor, records needing attention, quarantined refusals and
    /// feed entries held back (no network).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What the server refused, kept on this device: the record was rebuilt from the server's
    /// version (or removed, if the server never held it). Lists the items; `show` and `dismiss`
    /// act on one.
    Quarantine {
        #[command(subcommand)]
        action: Option<QuarantineAction>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a scripted scenario on a temporary store and print a transcript.
    Demo,
}

#[derive(Debug, Subcommand)]
enum QuarantineAction {
    /// The refused values and the whole refused record of one item.
    Show {
        /// The item's number, as `fieldbook quarantine` lists it.
        qid: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete an item once its words are copied or passed on.
    Dismiss {
        /// The item's number, as `fieldbook quarantine` lists it.
        qid: u64,
    },
}

fn main() -> ExitCode {
    // Diagnostics go to stderr, off unless FIELDBOOK_LOG is set (e.g. FIELDBOOK_LOG=debug):
    // errors reach the user once, as typed messages, not again as log lines.
    let filter = tracing_subscriber::EnvFilter::try_from_env("FIELDBOOK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    quiet_guarded_panics();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e);
            match e {
                Error::Refused { .. } => ExitCode::from(1),
                _ => ExitCode::from(2),
            }
        }
    }
}

/// Automerge panics on a document whose changes do not fit together; the core catches that and
/// returns an error saying so, which is what the user sees. Any other panic is reported as usual.
fn quiet_guarded_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if fieldbook_core::doc::in_guarded_call() {
            tracing::debug!(%info, "automerge panicked on an inconsistent document");
        } else {
            report(info);
        }
    }));
}

#[cfg(feature = "demo-server")]
fn run_demo() -> Result<ExitCode, Error> {
    demo::run().map(|()| ExitCode::SUCCESS)
}

/// A device-only build links no server, so it has nothing to run the demo against.
#[cfg(not(feature = "demo-server"))]
fn run_demo() -> Result<ExitCode, Error> {
    Err(Error::invalid(
        "demo",
        "demo-server",
        "this fieldbook was built without its embedded demo server (cargo feature `demo-server`)",
    ))
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    if let Command::Demo = cli.command {
        return run_demo();
    }
    let store = cli.store.clone().ok_or_else(|| {
        Error::invalid(
            "--store",
            "required",
            "name the store file with --store PATH (or FIELDBOOK_STORE)",
        )
    })?;
    let key = read_key(cli.key_file.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if let Command::AcceptLostSaves = cli.command {
        Device::accept_lost_saves(&store, &key)?;
        outln!(
            "the store opens again as its file holds it; saves that were only in the lost -wal file are not in it"
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Init { officer, role } = &cli.command {
        let role: Role = role.parse()?;
        let device = Device::init(&store, &key, OfficerId::new(officer.as_str())?, role, clock)?;
        outln!(
            "initialised store for {} ({}), device actor {}",
            device.user().officer,
            device.user().role.as_str(),
            device.actor_hex()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut device = Device::open(&store, &key, clock)?;
    let id = |s: &str| s.parse::<RecordId>();
    match cli.command {
        Command::Init { .. } | Command::Demo | Command::AcceptLostSaves => {
            unreachable!("handled above")
        }
        Command::New { kind, json } => {
            let kind: RecordKind = kind.parse()?;
            let fields = json.map(|f| read_json(&f)).transpose()?;
            let record = device.create(kind, fields)?;
            outln!("{}", record.id());
        }
        Command::Set { id: i, assignments } => {
            device.set_fields(id(&i)?, &assignments)?;
        }
        Command::Show { id: i, json } => {
            let rid = id(&i)?;
            let record = device.get(rid)?;
            let projection = device.projection(rid)?;
            let conflicts = device.conflicts(rid)?;
            if json {
                output::print_json(&record.to_json());
            } else {
                output::print_record(&record, &projection, &conflicts);
            }
        }
        Command::List {
            kind,
            status,
            author,
            from,
            to,
            drafts,
            overdue,
            receipts_needed,
            json,
        } => {
            let rows = if drafts {
                device.my_drafts()?
            } else if overdue {
                device.overdue_decisions()?
            } else if receipts_needed {
                device.receipts_needed()?
            } else {
                let query = RecordQuery {
                    kind: kind.map(|k| k.parse()).transpose()?,
                    status: status.map(|s| s.parse::<Status>()).transpose()?,
                    author: author.map(OfficerId::new).transpose()?,
                    from: from
                        .map(|t| Timestamp::parse(&t).map(|t| t.millis()))
                        .transpose()?,
                    to: to
                        .map(|t| Timestamp::parse(&t).map(|t| t.millis()))
                        .transpose()?,
                    limit: None,
                };
                device.list(&query)?
            };
            output::print_list(&rows, json);
        }
        Command::Check { id: i, json } => {
            let findings = device.check(id(&i)?)?;
            output::print_findings(&findings, json);
            if !fieldbook_core::rules::passes(&findings) {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Submit { id: i } => {
            let record = device.submit(id(&i)?)?;
            outln!("submitted {} for review", record.id());
        }
        Command::Queue { json } => output::print_queue(&device.review_queue()?, json),
        Command::Approve { id: i } => {
            let record = device.approve(id(&i)?)?;
            outln!("approved {}", record.id());
        }
        Command::Return { id: i, reason } => {
            let record = device.return_to_author(id(&i)?, &reason)?;
            outln!("returned {} to {}", record.id(), record.meta().author);
        }
        Command::Returned { json } => output::print_returned(&device.returned_to_me()?, json),
        Command::Reopen { id: i, reason } => {
            let record = device.reopen(id(&i)?, &reason)?;
            outln!("re-opened {}: submit it again for review", record.id());
        }
        Command::History { id: i, json, csv } => {
            let rows = device.audit_rows(id(&i)?)?;
            let format = match (json, csv) {
                (true, _) => output::Format::Json,
                (_, true) => output::Format::Csv,
                _ => output::Format::Text,
            };
            output::print_history(&rows, format);
        }
        Command::Conflicts { id: i, json } => {
            let conflicts = device.conflicts(id(&i)?)?;
            output::print_conflicts(&conflicts, json);
        }
        Command::Resolve {
            id: i,
            field,
            value,
        } => {
            let value = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            device.resolve_conflict(id(&i)?, &field, &value)?;
            outln!("resolved {field}");
        }
        Command::Receipt { id: i } => out!("{}", device.receipt(id(&i)?)?),
        Command::ExportDoc { id: i, file } => {
            let bytes = device.export_document(id(&i)?)?;
            std::fs::write(&file, &bytes).map_err(|e| io_error(&file, &e))?;
            outln!("wrote {} bytes", bytes.len());
        }
        Command::ImportDoc { file } => {
            let bytes = std::fs::read(&file).map_err(|e| io_error(&file, &e))?;
            let rid = device.import_document(&bytes)?;
            outln!("{rid}");
        }
        Command::Enrol {
            server,
            code,
            label,
        } => {
            let label = label.unwrap_or_else(|| format!("{} cli", device.user().officer));
            let enrolment = runtime()?.block_on(device.enrol(&server, &code, &label))?;
            outln!(
                "enrolled {} ({}) with {} as device {}{}",
                enrolment.officer,
                enrolment.role.as_str(),
                enrolment.server,
                enrolment.device_id,
                enrolment
                    .team
                    .map(|t| format!(", team {t}"))
                    .unwrap_or_default()
            );
        }
        Command::Sync { server, json } => {
            if let Some(server) = server {
                device.set_sync_server(&server)?;
            }
            let bar = progress::SyncBar::new();
            let report = runtime()?.block_on(device.sync(&bar));
            bar.finish();
            output::print_sync_report(&report?, json);
        }
        Command::Status { json } => {
            output::print_sync_status(&device.sync_status()?, &device.held_back()?, json);
        }
        Command::Quarantine { action, json } => match action {
            None => output::print_quarantine(&device.quarantine()?, json),
            Some(QuarantineAction::Show { qid, json }) => {
                let item = device.quarantine_item(qid)?;
                let record = device.quarantined_record(item.record, qid)?;
                output::print_quarantined(&item, &record, json);
            }
            Some(QuarantineAction::Dismiss { qid }) => {
                device.dismiss_quarantine(qid)?;
                outln!("dismissed quarantined item {qid}");
            }
        },
        Command::AccessLog { id: i } => {
            for e in device.access_log(id(&i)?)? {
                let at = Timestamp::from_millis(e.at_ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                outln!("{at}  {:<10} {:<8} {}", e.officer, e.action, e.purpose);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A runtime for the commands that use the network; the others need none.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Offline {
            detail: format!("cannot start the network runtime: {e}"),
        })
}

/// The store key from `--key-file` or `FIELDBOOK_KEY`: 64 hex characters are a raw key,
/// anything else a passphrase.
fn read_key(key_file: Option<&Path>) -> Result<DatabaseKey, Error> {
    let text = match key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| io_error(path, &e))?,
        None => std::env::var("FIELDBOOK_KEY").map_err(|_| {
            Error::invalid(
                "--key-file",
                "required",
                "supply the store key with --key-file FILE or FIELDBOOK_KEY",
            )
        })?,
    };
    parse_key(text.trim())
}

fn parse_key(text: &str) -> Result<DatabaseKey, Error> {
    DatabaseKey::from_text(text).map_err(|e| Error::invalid("key", "non-empty", e.to_string()))
}

fn read_json(path: &Path) -> Result<serde_json::Value, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, &e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::invalid(
            "--json",
            "json",
            format!(
                "the file is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::invalid("file", "readable", format!("{}: {e}", path.display()))
}
