//! `fieldbook-server`: serve, enrol, revoke, devices, encrypt-database.

use clap::{Parser, Subcommand};
use fieldbook_core::domain::{OfficerId, Role};
use fieldbook_server::{
    Admin, FileConfig, ServerConfig, ServerError, SqliteStore, database_key, database_path,
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
    /// Print a one-time enrolment code (valid 24 hours) for an officer.
    Enrol {
        /// sqlite://PATH
        #[arg(long, env = "FIELDBOOK_SERVER_DATABASE")]
        database: String,
        /// Collar number, e.g. PC1234.
        #[arg(long)]
        officer: String,
        /// Name shown to supervisors.
        #[arg(long)]
        name: String,
        /// officer, pcso or supervisor.
        #[arg(long)]
        role: String,
        /// Team (PCSO neighbourhood, supervisor's review queue).
        #[arg(long)]
        team: Option<String>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Revoke a device: its requests are refused from now on.
    Revoke {
        /// sqlite://PATH
        #[arg(long, env = "FIELDBOOK_SERVER_DATABASE")]
        database: String,
        /// Device id (see `devices`).
        #[arg(long)]
        device: String,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// List devices: id, officer, label, revoked.
    Devices {
        /// sqlite://PATH
        #[arg(long, env = "FIELDBOOK_SERVER_DATABASE")]
        database: String,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Encrypt, under the key, a plaintext database written before the server encrypted its
    /// database. Stop the server first; back the file up first.
    EncryptDatabase {
        /// sqlite://PATH
        #[arg(long, env = "FIELDBOOK_SERVER_DATABASE")]
        database: String,
        #[command(flatten)]
        key: KeyArgs,
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
            let mut config = ServerConfig::new(listen, database_path(&database)?, key);
            file.apply(&mut config);
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let server = fieldbook_server::start(config).await?;
                shutdown_signal().await;
                tracing::info!("shutting down: finishing requests in flight");
                server.shutdown().await;
                Ok(())
            })
        }
        Command::Enrol {
            database,
            officer,
            name,
            role,
            team,
            key,
        } => {
            let officer =
                OfficerId::new(officer).map_err(|e| ServerError::Config(e.to_string()))?;
            let role: Role = role
                .parse()
                .map_err(|e: fieldbook_core::Error| ServerError::Config(e.to_string()))?;
            let admin = Admin::open(
                &database_path(&database)?,
                &database_key(key.key_file.as_deref(), None)?,
            )?;
            let code = admin.enrol(&officer, &name, role, team.as_deref())?;
            println!("{code}");
            Ok(())
        }
        Command::Revoke {
            database,
            device,
            key,
        } => {
            let key = database_key(key.key_file.as_deref(), None)?;
            Admin::open(&database_path(&database)?, &key)?.revoke(&device)?;
            println!("revoked {device}");
            Ok(())
        }
        Command::Devices { database, key } => {
            let key = database_key(key.key_file.as_deref(), None)?;
            let devices = Admin::open(&database_path(&database)?, &key)?.devices()?;
            println!("id\tofficer\tlabel\tstatus");
            for d in devices {
                println!(
                    "{}\t{}\t{}\t{}",
                    d.id,
                    d.officer,
                    d.label,
                    if d.revoked { "revoked" } else { "active" }
                );
            }
            Ok(())
        }
        Command::EncryptDatabase { database, key } => {
            let key = database_key(key.key_file.as_deref(), None)?;
            let path = database_path(&database)?;
            SqliteStore::encrypt_plaintext(&path, &key)?;
            println!("encrypted {}", path.display());
            Ok(())
        }
    }
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
