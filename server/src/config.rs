//! Typed configuration. The binary reads it from flags, then the environment
//! (`FIELDBOOK_SERVER_LISTEN`, `FIELDBOOK_SERVER_DATABASE`, `FIELDBOOK_SERVER_KEY_FILE`,
//! `FIELDBOOK_SERVER_KEY`), then an optional TOML file; an embedding program builds a
//! [`ServerConfig`] directly. The database key never comes from a command-line value (it would
//! show in `ps` and shell history): from a key file, or the environment ([`database_key`]).

use crate::error::ServerError;
use fieldbook_core::clock::{Clock, SystemClock};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::sync::wire;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Everything [`crate::start`] needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port (see [`crate::RunningServer::addr`]).
    pub listen: SocketAddr,
    /// The SQLite database file (created if missing, mode 0600).
    pub database: PathBuf,
    /// The key the database is encrypted under (SQLCipher).
    pub key: DatabaseKey,
    /// How long a device token stays valid after enrolment.
    pub token_ttl: Duration,
    /// Largest request body (413 `too-large` above it).
    pub max_body_bytes: usize,
    /// Most changes in one push (400 `too-many-changes` above it).
    pub max_push_changes: usize,
    /// Most records in one push.
    pub max_push_records: usize,
    /// Largest feed page served, whatever the device asks for.
    pub max_page_changes: u32,
    /// Most loaded documents kept in memory (least recently used are dropped).
    pub document_cache: usize,
    /// Most memory the loaded documents kept may take, as estimated per document from its
    /// operations and changes (least recently used are dropped).
    pub document_cache_bytes: usize,
    /// A record's stored snapshot is rewritten after this many changes.
    pub compact_every: u32,
    /// The server's clock (receipt times, token and code expiry).
    pub clock: Arc<dyn Clock>,
    /// Check every pushed change against the write policy as of its dependencies. Always on in
    /// service; off only to measure what the checks cost.
    pub check_policy: bool,
    /// A connection that started sending a request head must finish it within this (else it is
    /// closed): slow-loris headers.
    pub header_read_timeout: Duration,
    /// A request body must arrive in full within this, from the end of its head (else 408
    /// `request-timeout`, and the connection is closed).
    pub body_timeout: Duration,
    /// A connection waiting for its next request (keep-alive, or a new one sending nothing) is
    /// closed after this; so is one whose client takes no byte of its answer for this long.
    /// Keep it above the proxy's upstream keep-alive timeout.
    pub idle_timeout: Duration,
    /// Most connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl ServerConfig {
    /// The protocol's limits, a 90-day token, the system clock.
    pub fn new(listen: SocketAddr, database: impl Into<PathBuf>, key: DatabaseKey) -> ServerConfig {
        ServerConfig {
            listen,
            database: database.into(),
            key,
            token_ttl: Duration::from_secs(90 * 24 * 60 * 60),
            max_body_bytes: wire::MAX_BODY_BYTES,
            max_push_changes: wire::MAX_PUSH_CHANGES,
            max_push_records: wire::MAX_PUSH_RECORDS,
            max_page_changes: wire::MAX_PAGE_CHANGES,
            document_cache: 4096,
            document_cache_bytes: 256 * 1024 * 1024,
            compact_every: 64,
            clock: Arc::new(SystemClock),
            check_policy: true,
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// The optional TOML file: every key optional; flags and environment win over it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `listen = "127.0.0.1:8080"`.
    pub listen: Option<SocketAddr>,
    /// `database = "sqlite:///var/lib/fieldbook/server.db"`.
    pub database: Option<String>,
    /// `token_ttl_days = 90`.
    pub token_ttl_days: Option<u64>,
    /// `max_body_bytes = 16777216`.
    pub max_body_bytes: Option<usize>,
    /// `document_cache = 4096`.
    pub document_cache: Option<usize>,
    /// `document_cache_mib = 256`.
    pub document_cache_mib: Option<usize>,
    /// `compact_every = 64`.
    pub compact_every: Option<u32>,
    /// `key_file = "/etc/fieldbook/server.key"`: the database key (64 hex characters, or a
    /// passphrase), in a file only the server's user may read.
    pub key_file: Option<PathBuf>,
    /// `header_read_timeout_secs = 10`.
    pub header_read_timeout_secs: Option<u64>,
    /// `body_timeout_secs = 60`.
    pub body_timeout_secs: Option<u64>,
    /// `idle_timeout_secs = 60`.
    pub idle_timeout_secs: Option<u64>,
    /// `max_connections = 1024`.
    pub max_connections: Option<usize>,
}

impl FileConfig {
    /// Reads and checks a TOML file.
    pub fn read(path: &Path) -> Result<FileConfig, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("cannot read the config file: {e}")))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("config file: {e}")))
    }

    /// Applies the file's settings under `config`'s defaults.
    pub fn apply(&self, config: &mut ServerConfig) {
        if let Some(days) = self.token_ttl_days {
            config.token_ttl = Duration::from_secs(days * 24 * 60 * 60);
        }
        if let Some(n) = self.max_body_bytes {
            config.max_body_bytes = n;
        }
        if let Some(n) = self.document_cache {
            config.document_cache = n.max(1);
        }
        if let Some(n) = self.document_cache_mib {
            config.document_cache_bytes = n.max(1).saturating_mul(1024 * 1024);
        }
        if let Some(n) = self.compact_every {
            config.compact_every = n.max(1);
        }
        if let Some(s) = self.header_read_timeout_secs {
            config.header_read_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = self.body_timeout_secs {
            config.body_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = self.idle_timeout_secs {
            config.idle_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(n) = self.max_connections {
            config.max_connections = n.max(1);
        }
    }
}

/// Reads `sqlite://PATH` (the only database scheme so far) into a path.
pub fn database_path(url: &str) -> Result<PathBuf, ServerError> {
    match url.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(ServerError::Config(
            "the database must be given as sqlite://PATH".into(),
        )),
    }
}

/// The environment variable holding the database key itself (for secret stores that inject
/// environment variables; a key file is preferred).
pub const KEY_ENV: &str = "FIELDBOOK_SERVER_KEY";

/// The database key: from `key_file` if given (`--key-file`, `FIELDBOOK_SERVER_KEY_FILE`),
/// else from `FIELDBOOK_SERVER_KEY`, else from `config_key_file` (`key_file` in the TOML file).
/// The text is read as [`DatabaseKey::from_text`] reads it: 64 hex characters are a raw key
/// (recommended: every connection opens without key derivation), anything else a passphrase.
pub fn database_key(
    key_file: Option<&Path>,
    config_key_file: Option<&Path>,
) -> Result<DatabaseKey, ServerError> {
    if let Some(path) = key_file {
        return read_key_file(path);
    }
    if let Some(text) = std::env::var_os(KEY_ENV) {
        let text = text.to_string_lossy();
        return DatabaseKey::from_text(&text).map_err(|source| ServerError::Key {
            origin: KEY_ENV.into(),
            source,
        });
    }
    match config_key_file {
        Some(path) => read_key_file(path),
        None => Err(ServerError::KeyMissing),
    }
}

fn read_key_file(path: &Path) -> Result<DatabaseKey, ServerError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServerError::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(
                "the key file may be read by other users: make it readable by the server's user only (chmod 600)"
            );
        }
    }
    DatabaseKey::from_text(&text).map_err(|source| ServerError::Key {
        origin: format!("key file {}", path.display()),
        source,
    })
}
