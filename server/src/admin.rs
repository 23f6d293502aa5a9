//! Administration without the HTTP server: enrolment codes, revocation, listing devices, and a
//! canonical dump of all state (tests compare it before and after bad input).

use crate::error::ServerError;
use crate::service::{normalise_code, sha256};
use crate::store::{DeviceRow, Officer, ServerStore, SqliteStore};
use fieldbook_core::clock::{Clock, SystemClock};
use fieldbook_core::domain::{OfficerId, Role};
use fieldbook_core::storage::DatabaseKey;
use std::path::Path;
use std::sync::Arc;

/// How long an enrolment code stays valid.
pub const CODE_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Administration of a server database (synchronous; safe while a server runs on the file).
#[derive(Debug)]
pub struct Admin {
    store: SqliteStore,
    clock: Arc<dyn Clock>,
}

impl Admin {
    /// Opens (creating if needed) the database at `path`, encrypted under `key`.
    pub fn open(path: &Path, key: &DatabaseKey) -> Result<Admin, ServerError> {
        Ok(Admin {
            store: SqliteStore::open(path, key)?,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same, reading time from `clock` (code expiry).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Admin {
        Admin { clock, ..self }
    }

    /// Registers (or updates) an officer and returns a one-time enrolment code for them, valid
    /// 24 hours. Only the code's hash is stored.
    pub fn enrol(
        &self,
        officer: &OfficerId,
        name: &str,
        role: Role,
        team: Option<&str>,
    ) -> Result<String, ServerError> {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let random: [u8; 16] = rand::random();
        let raw: String = random
            .iter()
            .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
            .collect();
        let code = format!(
            "{}-{}-{}-{}",
            &raw[0..4],
            &raw[4..8],
            &raw[8..12],
            &raw[12..16]
        );
        let officer = Officer {
            id: officer.clone(),
            name: name.to_owned(),
            role,
            team: team.map(str::to_owned),
        };
        let expires = self.clock.now().millis() + CODE_TTL_MS;
        self.store
            .create_code(&officer, sha256(normalise_code(&code).as_bytes()), expires)?;
        tracing::info!(officer = %officer.id, "enrolment code issued");
        Ok(code)
    }

    /// Revokes a device: its requests get 401 `device-revoked` from now on.
    pub fn revoke(&self, device_id: &str) -> Result<(), ServerError> {
        if self.store.revoke(device_id)? {
            tracing::info!(device = device_id, "device revoked");
            Ok(())
        } else {
            Err(ServerError::UnknownDevice(device_id.to_owned()))
        }
    }

    /// Every device.
    pub fn devices(&self) -> Result<Vec<DeviceRow>, ServerError> {
        Ok(self.store.devices()?)
    }

    /// All server state as pretty JSON, every table in a fixed order (blobs as hex).
    pub fn dump(&self) -> Result<String, ServerError> {
        let value = self.store.dump()?;
        Ok(serde_json::to_string_pretty(&value).unwrap_or_default())
    }
}
