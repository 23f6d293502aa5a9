//! `fieldbook-server`: serve, enrol, officer (set, show, list), revoke, devices,
//! check-database, encrypt-database.

use clap::{Parser, Subcommand};
use fieldbook_core::domain::{OfficerId, Role, Timestamp};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_server::{
    Admin, DatabaseUrl, FileConfig, Officer, OfficerChange, OfficerDetails, ServerConfig,
    ServerError, SqliteStore, TeamGiven, database_key, escaped,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "fieldbook-server",
    version,
    about = "Fieldbook's sync and review service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the database key comes from: a file, or `FIELDBOOK_SERVER_KEY` (never a flag's value,
/// which `ps` and shell history would show).
#[derive(Debug, clap::Args)]
struct KeyArgs {
    /// File holding the database key: 64 hex characters (a raw key), or a passphrase. Without
    /// it, FIELDBOOK_SERVER_KEY holds the key (or `key_file` in the config file names the file).
    #[arg(long, env = "FIELDBOOK_SERVER_KEY_FILE")]
    key_file: Option<PathBuf>,
}

/// The database an admin command works on, and its key.
#[derive(Debug, clap::Args)]
struct DbArgs {
    /// sqlite://PATH
    #[arg(long, env = "FIELDBOOK_SERVER_DATABASE")]
    database: String,
    #[command(flatten)]
    key: KeyArgs,
}

impl DbArgs {
    /// The database's address and key.
    fn open(&self) -> Result<(DatabaseUrl, DatabaseKey), ServerError> {
        let key = database_key(self.key.key_file.as_deref(), None)?;
        Ok((DatabaseUrl::parse(&self.database)?, key))
    }

    /// The database opened for administration.
    fn admin(&self) -> Result<Admin, ServerError> {
        let (database, key) = self.open()?;
        Admin::open(database, &key)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync API until SIGINT or SIGTERM (requests in flight finish).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "FIELDBOOK_SERVER_LISTEN")]
        listen: Option<SocketAddr>,
        /// sqlite://PATH
        #[arg(long, env = "FIELDBOOK_SERVER_DATABASE")]
        database: Option<String>,
        /// Optional TOML file (flags and environment win over it).
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Print a one-time enrolment code (valid 24 hours) for an officer. A new officer is
    /// registered with --name, --role and --team; for one already registered the details may be
    /// left out, and any given must be theirs (a code never changes an officer: see `officer
    /// set`).
    Enrol {
        #[command(flatten)]
        db: DbArgs,
        /// Collar number, e.g. PC1234.
        #[arg(long)]
        officer: String,
        /// Name shown to supervisors (needed for a new officer).
        #[arg(long)]
        name: Option<String>,
        /// officer, pcso or supervisor (needed for a new officer).
        #[arg(long)]
        role: Option<String>,
        /// Team (PCSO neighbourhood, supervisor's review queue).
        #[arg(long, conflicts_with = "no_team")]
        team: Option<String>,
        /// The officer has no team.
        #[arg(long)]
        no_team: bool,
    },
    /// Registered officers: change one (every change is audited), show one with its audit, list.
    Officer {
        #[command(subcommand)]
        command: OfficerCommand,
    },
    /// Revoke a device: its requests are refused from now on.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// Device id (see `devices`).
        #[arg(long)]
        device: String,
    },
    /// List devices: id, officer, label, revoked.
    Devices {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Read the whole database and check it (a running server does this in the background
    /// when it starts); exits non-zero, naming what is damaged, when it is not sound. For a
    /// restored backup before it is served.
    CheckDatabase {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Encrypt, under the key, a plaintext database written before the server encrypted its
    /// database. Stop the server first; back the file up first.
    EncryptDatabase {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
enum OfficerCommand {
    /// Change an officer's role, team or name; their enrolled devices follow at their next
    /// request. Each changed field is written to the officer audit.
    Set {
        #[command(flatten)]
        db: DbArgs,
        /// Collar number.
        #[arg(long)]
        officer: String,
        /// officer, pcso or supervisor.
        #[arg(long)]
        role: Option<String>,
        /// New team.
        #[arg(long, conflicts_with = "no_team")]
        team: Option<String>,
        /// Remove the officer from their team.
        #[arg(long)]
        no_team: bool,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Show an officer and the audit of their creation and changes.
    Show {
        #[command(flatten)]
        db: DbArgs,
        /// Collar number.
        #[arg(long)]
        officer: String,
    },
    /// List registered officers: id, name, role, team.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), ServerError> {
    match cli.command {
        Command::Serve {
            listen,
            database,
            config,
            key,
        } => {
            let file = match &config {
                Some(path) => FileConfig::read(path)?,
                None => FileConfig::default(),
            };
            let database = database.or(file.database.clone()).ok_or_else(|| {
                ServerError::Config(
                    "give --database sqlite://PATH (or FIELDBOOK_SERVER_DATABASE)".into(),
                )
            })?;
            let listen = listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
            let key = database_key(key.key_file.as_deref(), file.key_file.as_deref())?;
            let mut config = ServerConfig::new(listen, DatabaseUrl::parse(&database)?, key);
            file.apply(&mut config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let served = runtime.block_on(async {
                let mut server = fieldbook_server::start(config).await?;
                let integrity = server.integrity().outcome();
                // A database found damaged stops the server (it refuses every request anyway):
                // the exit status and the message tell the operator to restore it.
                let damaged = tokio::select! {
                    () = shutdown_signal() => None,
                    Err(e) = integrity => Some(e),
                };
                tracing::info!("shutting down: finishing requests in flight");
                server.shutdown().await;
                damaged.map_or(Ok(()), |e| Err(e.into()))
            });
            // A shutdown while the integrity check still reads the file does not wait for it.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            served
        }
        Command::Enrol {
            db,
            officer,
            name,
            role,
            team,
            no_team,
        } => {
            let officer = officer_id(officer)?;
            let details = details(name, role, team, no_team)?;
            let admin = db.admin()?;
            let code = admin.code_for(&officer, &details)?;
            println!("{code}");
            Ok(())
        }
        Command::Officer { command } => officer_command(command),
        Command::Revoke { db, device } => {
            db.admin()?.revoke(&device)?;
            println!("revoked {device}");
            Ok(())
        }
        Command::Devices { db } => {
            let devices = db.admin()?.devices()?;
            println!("id\tofficer\tlabel\tstatus");
            for d in devices {
                let status = match (&d.replaced_by, d.revoked) {
                    (Some(by), _) => format!("replaced by {}", escaped(by)),
                    (None, true) => "revoked".to_owned(),
                    (None, false) => "active".to_owned(),
                };
                // Labels come from devices: shown escaped, so none can forge a row.
                println!(
                    "{}\t{}\t{}\t{status}",
                    escaped(&d.id),
                    escaped(&d.officer),
                    escaped(&d.label),
                );
            }
            Ok(())
        }
        Command::CheckDatabase { db } => {
            let (database, key) = db.open()?;
            database.open(&key)?.check_integrity()?;
            println!("{database}: passed its integrity check");
            Ok(())
        }
        Command::EncryptDatabase { db } => {
            let (database, key) = db.open()?;
            let path = database.sqlite_path().ok_or_else(|| {
                ServerError::Config(
                    "encrypt-database applies only to an SQLite file (sqlite://PATH)".into(),
                )
            })?;
            SqliteStore::encrypt_plaintext(path, &key)?;
            println!("encrypted {}", path.display());
            Ok(())
        }
    }
}

fn officer_id(officer: String) -> Result<OfficerId, ServerError> {
    OfficerId::new(officer).map_err(|e| ServerError::Config(e.to_string()))
}

fn role(role: &str) -> Result<Role, ServerError> {
    role.parse()
        .map_err(|e: fieldbook_core::Invalid| ServerError::Config(e.to_string()))
}

fn details(
    name: Option<String>,
    role_flag: Option<String>,
    team: Option<String>,
    no_team: bool,
) -> Result<OfficerDetails, ServerError> {
    Ok(OfficerDetails {
        name,
        role: role_flag.as_deref().map(role).transpose()?,
        team: match (team, no_team) {
            (Some(team), _) => TeamGiven::Team(team),
            (None, true) => TeamGiven::NoTeam,
            (None, false) => TeamGiven::Unstated,
        },
    })
}

fn officer_command(command: OfficerCommand) -> Result<(), ServerError> {
    match command {
        OfficerCommand::Set {
            db,
            officer,
            role,
            team,
            no_team,
            name,
        } => {
            let officer = officer_id(officer)?;
            let details = details(name, role, team, no_team)?;
            let admin = db.admin()?;
            let changes = admin.set_officer(&officer, &details)?;
            if changes.is_empty() {
                println!("{officer}: nothing changed");
            }
            for c in &changes {
                println!(
                    "{officer}: {} {} -> {}",
                    c.field,
                    shown(c.old.as_deref()),
                    shown(c.new.as_deref())
                );
            }
            Ok(())
        }
        OfficerCommand::Show { db, officer } => {
            let officer = officer_id(officer)?;
            let admin = db.admin()?;
            let o = admin.officer(&officer)?;
            print_officers(std::slice::from_ref(&o));
            println!();
            println!("at\tby\taction\tfield\told\tnew");
            for c in admin.officer_history(&officer)? {
                print_change(&c);
            }
            Ok(())
        }
        OfficerCommand::List { db } => {
            let admin = db.admin()?;
            print_officers(&admin.officers()?);
            Ok(())
        }
    }
}

/// A stored value as shown: escaped, `-` for none.
fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_owned(), escaped)
}

fn print_officers(officers: &[Officer]) {
    println!("id\tname\trole\tteam");
    for o in officers {
        println!(
            "{}\t{}\t{}\t{}",
            o.id,
            escaped(&o.name),
            o.role.as_str(),
            shown(o.team.as_deref())
        );
    }
}

fn print_change(c: &OfficerChange) {
    let at = Timestamp::from_millis(c.at).map_or_else(|| c.at.to_string(), |t| t.to_string());
    println!(
        "{at}\t{}\t{}\t{}\t{}\t{}",
        escaped(&c.by),
        c.action,
        c.field,
        shown(c.old.as_deref()),
        shown(c.new.as_deref())
    );
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
