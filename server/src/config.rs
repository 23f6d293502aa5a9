//! Typed configuration. The binary reads it from flags, then the environment
//! (`FIELDBOOK_SERVER_LISTEN`, `FIELDBOOK_SERVER_DATABASE`, `FIELDBOOK_SERVER_KEY_FILE`,
//! `FIELDBOOK_SERVER_KEY`), then an optional TOML file; an embedding program builds a
//! [`ServerConfig`] directly. The database key never comes from a command-line value (it would
//! show in `ps` and shell history): from a key file, or the environment ([`database_key`]).

use crate::error::ServerError;
use crate::store::DatabaseUrl;
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
    /// Where the database is (`sqlite://PATH`: created if missing, mode 0600).
    pub database: DatabaseUrl,
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
    /// How often `POST /v1/enrol` may be tried (429 `rate-limited` beyond).
    pub enrol_limit: EnrolLimit,
}

/// How often enrolment may be tried: a token bucket per client address and one for all clients
/// together. Every attempt takes the writer, and a code is guessed only by trying it; an
/// honest enrolment is one request per phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrolLimit {
    /// Attempts a minute one client address may make, sustained.
    pub per_client_per_minute: u32,
    /// Attempts one client address may make at once (the bucket's size).
    pub per_client_burst: u32,
    /// Attempts a minute all clients together may make, sustained.
    pub global_per_minute: u32,
    /// Attempts all clients together may make at once.
    pub global_burst: u32,
}

impl Default for EnrolLimit {
    /// 10 a minute per client (20 at once), 60 a minute in all (120 at once): a room of
    /// officers enrolling their phones together behind one address still gets through.
    fn default() -> EnrolLimit {
        EnrolLimit {
            per_client_per_minute: 10,
            per_client_burst: 20,
            global_per_minute: 60,
            global_burst: 120,
        }
    }
}

impl ServerConfig {
    /// The protocol's limits, a 90-day token, the system clock.
    pub fn new(
        listen: SocketAddr,
        database: impl Into<DatabaseUrl>,
        key: DatabaseKey,
    ) -> ServerConfig {
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
            enrol_limit: EnrolLimit::default(),
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
    /// `enrol_per_minute = 10` (per client address).
    pub enrol_per_minute: Option<u32>,
    /// `enrol_burst = 20` (per client address).
    pub enrol_burst: Option<u32>,
    /// `enrol_global_per_minute = 60`.
    pub enrol_global_per_minute: Option<u32>,
    /// `enrol_global_burst = 120`.
    pub enrol_global_burst: Option<u32>,
}

/// The values each key of the file may take. A value outside is refused, never clamped: a
/// typo must not start a server that behaves differently from what its file says.
pub mod bounds {
    use std::ops::RangeInclusive;

    /// `token_ttl_days`: a day to ten years.
    pub const TOKEN_TTL_DAYS: RangeInclusive<u64> = 1..=3650;
    /// `max_body_bytes`: 64 KiB (an enrolment and a small push) to 256 MiB.
    pub const MAX_BODY_BYTES: RangeInclusive<u64> = 64 * 1024..=256 * 1024 * 1024;
    /// `document_cache` (documents).
    pub const DOCUMENT_CACHE: RangeInclusive<u64> = 1..=10_000_000;
    /// `document_cache_mib`.
    pub const DOCUMENT_CACHE_MIB: RangeInclusive<u64> = 1..=65_536;
    /// `compact_every` (changes).
    pub const COMPACT_EVERY: RangeInclusive<u64> = 1..=100_000;
    /// `enrol_per_minute`, `enrol_burst`, `enrol_global_per_minute`, `enrol_global_burst`.
    pub const ENROL_RATE: RangeInclusive<u64> = 1..=100_000;
    /// `header_read_timeout_secs`: a second to ten minutes.
    pub const HEADER_READ_TIMEOUT_SECS: RangeInclusive<u64> = 1..=600;
    /// `body_timeout_secs`: a second to an hour.
    pub const BODY_TIMEOUT_SECS: RangeInclusive<u64> = 1..=3600;
    /// `idle_timeout_secs`: a second to an hour.
    pub const IDLE_TIMEOUT_SECS: RangeInclusive<u64> = 1..=3600;
    /// `max_connections`.
    pub const MAX_CONNECTIONS: RangeInclusive<u64> = 1..=1_000_000;
}

/// `value` of `key`, or a [`ServerError::ConfigOutOfRange`] naming both and the allowed range.
fn in_range(
    key: &'static str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ServerError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ServerError::ConfigOutOfRange {
            key,
            value,
            min: *range.start(),
            max: *range.end(),
        })
    }
}

impl FileConfig {
    /// Reads and checks a TOML file.
    pub fn read(path: &Path) -> Result<FileConfig, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("cannot read the config file: {e}")))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("config file: {e}")))
    }

    /// Applies the file's settings over `config`'s defaults, after checking every value is in
    /// its range ([`bounds`]); on a refusal `config` is left as it was.
    pub fn apply(&self, config: &mut ServerConfig) -> Result<(), ServerError> {
        use bounds::*;
        let check =
            |key, value: Option<u64>, range| value.map(|v| in_range(key, v, range)).transpose();
        let wide = |v: Option<usize>| v.map(|n| n as u64);
        let token_ttl_days = check("token_ttl_days", self.token_ttl_days, TOKEN_TTL_DAYS)?;
        let max_body_bytes = check("max_body_bytes", wide(self.max_body_bytes), MAX_BODY_BYTES)?;
        let document_cache = check("document_cache", wide(self.document_cache), DOCUMENT_CACHE)?;
        let document_cache_mib = check(
            "document_cache_mib",
            wide(self.document_cache_mib),
            DOCUMENT_CACHE_MIB,
        )?;
        let compact_every = check(
            "compact_every",
            self.compact_every.map(u64::from),
            COMPACT_EVERY,
        )?;
        let rate = |key, v: Option<u32>| check(key, v.map(u64::from), ENROL_RATE);
        let enrol_per_minute = rate("enrol_per_minute", self.enrol_per_minute)?;
        let enrol_burst = rate("enrol_burst", self.enrol_burst)?;
        let enrol_global_per_minute =
            rate("enrol_global_per_minute", self.enrol_global_per_minute)?;
        let enrol_global_burst = rate("enrol_global_burst", self.enrol_global_burst)?;
        let secs = |key, v: Option<u64>, range| check(key, v, range);
        let header_read_timeout_secs = secs(
            "header_read_timeout_secs",
            self.header_read_timeout_secs,
            HEADER_READ_TIMEOUT_SECS,
        )?;
        let body_timeout_secs = secs(
            "body_timeout_secs",
            self.body_timeout_secs,
            BODY_TIMEOUT_SECS,
        )?;
        let idle_timeout_secs = secs(
            "idle_timeout_secs",
            self.idle_timeout_secs,
            IDLE_TIMEOUT_SECS,
        )?;
        let max_connections = check(
            "max_connections",
            wide(self.max_connections),
            MAX_CONNECTIONS,
        )?;
        // Every value is in range, so the conversions below are exact.
        if let Some(days) = token_ttl_days {
            config.token_ttl = Duration::from_secs(days * 24 * 60 * 60);
        }
        if let Some(n) = max_body_bytes {
            config.max_body_bytes = n as usize;
        }
        if let Some(n) = document_cache {
            config.document_cache = n as usize;
        }
        if let Some(n) = document_cache_mib {
            config.document_cache_bytes = n as usize * 1024 * 1024;
        }
        if let Some(n) = compact_every {
            config.compact_every = n as u32;
        }
        let limit = &mut config.enrol_limit;
        for (value, field) in [
            (enrol_per_minute, &mut limit.per_client_per_minute),
            (enrol_burst, &mut limit.per_client_burst),
            (enrol_global_per_minute, &mut limit.global_per_minute),
            (enrol_global_burst, &mut limit.global_burst),
        ] {
            if let Some(n) = value {
                *field = n as u32;
            }
        }
        if let Some(s) = header_read_timeout_secs {
            config.header_read_timeout = Duration::from_secs(s);
        }
        if let Some(s) = body_timeout_secs {
            config.body_timeout = Duration::from_secs(s);
        }
        if let Some(s) = idle_timeout_secs {
            config.idle_timeout = Duration::from_secs(s);
        }
        if let Some(n) = max_connections {
            config.max_connections = n as usize;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).expect("a config file")
    }

    fn defaults() -> ServerConfig {
        ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            std::path::Path::new("server.db"),
            DatabaseKey::Raw([1; 32]),
        )
    }

    fn refusal(text: &str) -> String {
        let mut config = defaults();
        let err = file(text).apply(&mut config).expect_err("refused");
        assert!(
            matches!(err, ServerError::ConfigOutOfRange { .. }),
            "{err:?}"
        );
        err.to_string()
    }

    #[test]
    fn a_value_outside_its_range_is_refused_naming_the_key_and_the_range() {
        assert_eq!(
            refusal("token_ttl_days = 0"),
            "bad configuration: token_ttl_days = 0 is outside 1..=3650"
        );
        assert_eq!(
            refusal("token_ttl_days = 3651"),
            "bad configuration: token_ttl_days = 3651 is outside 1..=3650"
        );
        assert!(
            refusal("max_body_bytes = 1024")
                .starts_with("bad configuration: max_body_bytes = 1024 is outside 65536..=")
        );
        assert!(refusal("max_body_bytes = 268435457").contains("max_body_bytes"));
        assert!(refusal("document_cache = 0").contains("document_cache = 0 is outside 1..="));
        assert!(
            refusal("document_cache_mib = 0")
                .contains("document_cache_mib = 0 is outside 1..=65536")
        );
        assert!(refusal("document_cache_mib = 65537").contains("document_cache_mib"));
        assert!(refusal("compact_every = 0").contains("compact_every = 0 is outside 1..=100000"));
        assert!(refusal("compact_every = 100001").contains("compact_every"));
        assert!(refusal("enrol_per_minute = 0").contains("enrol_per_minute"));
        assert!(refusal("enrol_burst = 0").contains("enrol_burst"));
        assert!(refusal("enrol_global_per_minute = 0").contains("enrol_global_per_minute"));
        assert!(refusal("enrol_global_burst = 200000").contains("enrol_global_burst"));
        assert!(refusal("header_read_timeout_secs = 0").contains("header_read_timeout_secs"));
        assert!(refusal("body_timeout_secs = 3601").contains("body_timeout_secs"));
        assert!(refusal("idle_timeout_secs = 0").contains("idle_timeout_secs"));
        assert!(refusal("max_connections = 0").contains("max_connections"));
    }

    #[test]
    fn a_refused_file_changes_nothing_of_the_configuration() {
        let mut config = defaults();
        let before = format!("{config:?}");
        file("token_ttl_days = 30\ncompact_every = 0")
            .apply(&mut config)
            .expect_err("refused");
        assert_eq!(format!("{config:?}"), before);
    }

    #[test]
    fn values_at_the_ends_of_their_ranges_are_taken_as_written() {
        let mut config = defaults();
        file(
            "token_ttl_days = 1\nmax_body_bytes = 268435456\ndocument_cache = 1\n\
             document_cache_mib = 65536\ncompact_every = 100000\nenrol_per_minute = 1\n\
             enrol_burst = 100000\nenrol_global_per_minute = 5\nenrol_global_burst = 7",
        )
        .apply(&mut config)
        .expect("in range");
        assert_eq!(config.token_ttl, Duration::from_secs(24 * 60 * 60));
        assert_eq!(config.max_body_bytes, 256 * 1024 * 1024);
        assert_eq!(config.document_cache, 1);
        assert_eq!(config.document_cache_bytes, 65_536 * 1024 * 1024);
        assert_eq!(config.compact_every, 100_000);
        assert_eq!(
            config.enrol_limit,
            EnrolLimit {
                per_client_per_minute: 1,
                per_client_burst: 100_000,
                global_per_minute: 5,
                global_burst: 7,
            }
        );
    }

    #[test]
    fn an_empty_file_keeps_every_default() {
        let mut config = defaults();
        let before = format!("{config:?}");
        file("").apply(&mut config).expect("empty file");
        assert_eq!(format!("{config:?}"), before);
    }
}
