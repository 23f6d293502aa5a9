//! Administration without the HTTP server: enrolment codes, officers (their role, team and name,
//! and the audit of every change), revocation, listing devices, and a canonical dump of all
//! state (tests compare it before and after bad input).
//!
//! **Issuing a code never changes an officer.** A code is for the officer as registered; the
//! details given with it are checked against the registered ones (a typo is refused, not
//! applied to a live officer's devices). Changing an officer is [`Admin::set_officer`]
//! (`fieldbook-server officer set`), and every creation and change is written to the
//! append-only officer audit.

use crate::error::ServerError;
use crate::service::{normalise_code, sha256};
use crate::store::{
    DatabaseUrl, DeviceRow, Officer, OfficerChange, OfficerDetails, ServerStore, TeamGiven,
};
use crate::text::check_plain;
use fieldbook_core::clock::{Clock, SystemClock};
use fieldbook_core::domain::{OfficerId, Role};
use fieldbook_core::storage::DatabaseKey;
use std::sync::Arc;

/// How long an enrolment code stays valid.
pub const CODE_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Administration of a server database (synchronous; safe while a server runs on the file).
#[derive(Debug)]
pub struct Admin {
    store: Arc<dyn ServerStore>,
    clock: Arc<dyn Clock>,
}

impl Admin {
    /// Opens (creating if needed) the database at `database` (a path is an SQLite file),
    /// encrypted under `key`.
    pub fn open(database: impl Into<DatabaseUrl>, key: &DatabaseKey) -> Result<Admin, ServerError> {
        Ok(Admin {
            store: database.into().open(key)?,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same, reading time from `clock` (code expiry).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Admin {
        Admin { clock, ..self }
    }

    /// Returns a one-time enrolment code (valid 24 hours) for `officer`, registering them with
    /// these details if they are new. For an officer already registered the details must be
    /// theirs (`team: None` meaning no team): a difference is refused
    /// ([`ServerError::OfficerDiffers`]) and changes nothing. Only the code's hash is stored.
    pub fn enrol(
        &self,
        officer: &OfficerId,
        name: &str,
        role: Role,
        team: Option<&str>,
    ) -> Result<String, ServerError> {
        self.code_for(
            officer,
            &OfficerDetails {
                name: Some(name.to_owned()),
                role: Some(role),
                team: TeamGiven::from_option(team),
            },
        )
    }

    /// As [`Admin::enrol`], with only the details stated checked: an officer already
    /// registered needs none; a new one needs a name and a role (and has no team unless one is
    /// given).
    pub fn code_for(
        &self,
        officer: &OfficerId,
        details: &OfficerDetails,
    ) -> Result<String, ServerError> {
        check_details(details)?;
        match self.store.officer(officer)? {
            Some(registered) => check_matches(&registered, details)?,
            None => {
                let new = Officer {
                    id: officer.clone(),
                    name: details
                        .name
                        .clone()
                        .ok_or_else(|| ServerError::NewOfficerNeeds {
                            officer: officer.to_string(),
                            flag: "--name",
                        })?,
                    role: details.role.ok_or_else(|| ServerError::NewOfficerNeeds {
                        officer: officer.to_string(),
                        flag: "--role",
                    })?,
                    team: details.applied_to(&placeholder(officer)).team,
                };
                if self
                    .store
                    .create_officer(&new, &admin_name(), self.clock.now().millis())?
                {
                    tracing::info!(officer = %officer, "officer registered");
                } else {
                    // Registered meanwhile by another admin command: theirs stands.
                    let registered = self
                        .store
                        .officer(officer)?
                        .ok_or_else(|| ServerError::UnknownOfficer(officer.to_string()))?;
                    check_matches(&registered, details)?;
                }
            }
        }
        let code = new_code();
        let expires = self.clock.now().millis() + CODE_TTL_MS;
        if !self
            .store
            .create_code(officer, sha256(normalise_code(&code).as_bytes()), expires)?
        {
            return Err(ServerError::UnknownOfficer(officer.to_string()));
        }
        tracing::info!(officer = %officer, "enrolment code issued");
        Ok(code)
    }

    /// Changes the stated details of a registered officer (`fieldbook-server officer set`),
    /// writing an audit row for each field that changes; returns those rows (none when every
    /// stated value was already the officer's). The officer's devices see the change at their
    /// next request: the officer row is read at every request.
    pub fn set_officer(
        &self,
        officer: &OfficerId,
        details: &OfficerDetails,
    ) -> Result<Vec<OfficerChange>, ServerError> {
        check_details(details)?;
        if details.is_empty() {
            return Err(ServerError::NothingToChange);
        }
        let changes = self
            .store
            .update_officer(officer, details, &admin_name(), self.clock.now().millis())?
            .ok_or_else(|| ServerError::UnknownOfficer(officer.to_string()))?;
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        tracing::info!(officer = %officer, fields = ?fields, "officer changed");
        Ok(changes)
    }

    /// A registered officer.
    pub fn officer(&self, officer: &OfficerId) -> Result<Officer, ServerError> {
        self.store
            .officer(officer)?
            .ok_or_else(|| ServerError::UnknownOfficer(officer.to_string()))
    }

    /// Every registered officer, by id.
    pub fn officers(&self) -> Result<Vec<Officer>, ServerError> {
        Ok(self.store.officers()?)
    }

    /// The audit of an officer's creation and changes, oldest first.
    pub fn officer_history(&self, officer: &OfficerId) -> Result<Vec<OfficerChange>, ServerError> {
        self.officer(officer)?;
        Ok(self.store.officer_history(officer)?)
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

/// A one-time code: 16 characters of an alphabet without look-alikes, in groups of four.
fn new_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let random: [u8; 16] = rand::random();
    let raw: String = random
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    format!(
        "{}-{}-{}-{}",
        &raw[0..4],
        &raw[4..8],
        &raw[8..12],
        &raw[12..16]
    )
}

/// Refuses a name or team holding control characters.
fn check_details(details: &OfficerDetails) -> Result<(), ServerError> {
    if let Some(name) = &details.name {
        check_plain("officer name", name)?;
        if name.trim().is_empty() {
            return Err(ServerError::EmptyDetail("--name"));
        }
    }
    if let TeamGiven::Team(team) = &details.team {
        check_plain("team", team)?;
        if team.trim().is_empty() {
            return Err(ServerError::EmptyDetail("--team"));
        }
    }
    Ok(())
}

/// Refuses details that differ from the registered officer's.
fn check_matches(registered: &Officer, details: &OfficerDetails) -> Result<(), ServerError> {
    match details.first_difference(registered) {
        None => Ok(()),
        Some((field, stored, given)) => Err(ServerError::OfficerDiffers {
            officer: registered.id.to_string(),
            field,
            // Names are personal data: shown by `officer show`, never in an error.
            values: (field != "name").then(|| (crate::text::escaped(&stored), given)),
        }),
    }
}

/// An officer with nothing set, to apply details to.
fn placeholder(id: &OfficerId) -> Officer {
    Officer {
        id: id.clone(),
        name: String::new(),
        role: Role::Officer,
        team: None,
    }
}

/// Who runs the admin command, for the officer audit: the OS user name (`USER`, `LOGNAME` or
/// `USERNAME`), else `admin`.
fn admin_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty() && v.chars().count() <= 64 && check_plain("user", v).is_ok())
        .unwrap_or_else(|| "admin".to_owned())
}
