//! Platform services the apps supply as foreign traits (Kotlin interfaces, Swift protocols,
//! Python classes): the database key, the clock, connectivity and sync progress. Adapters turn
//! them into the core's traits.

use crate::error::FieldbookError;
use crate::types::SyncPhase;
use fieldbook_core::clock::{Clock as CoreClock, SystemClock};
use fieldbook_core::domain::Timestamp;
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::sync::{SyncPhase as CorePhase, SyncProgress};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Supplies the key the store is encrypted under: 32 random bytes generated once per install
/// and kept by the platform keystore (Android Keystore wraps it; iOS Keychain holds it with
/// `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`). Asked when the store is opened and at
/// each sync; never stored by Fieldbook.
#[uniffi::export(with_foreign)]
pub trait KeyProvider: Send + Sync {
    /// The 32-byte database key.
    fn database_key(&self) -> Result<Vec<u8>, FieldbookError>;
}

/// The time, from the platform (tests pin it).
#[uniffi::export(with_foreign)]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// Whether the platform has a usable connection. A sync started without one fails at once
/// with `Offline` instead of spending battery on retries.
#[uniffi::export(with_foreign)]
pub trait Connectivity: Send + Sync {
    /// True when a network is available.
    fn is_connected(&self) -> bool;
}

/// Receives a sync's progress. Called on the thread that drives the sync (Kotlin: the
/// coroutine's dispatcher; Swift: the task's executor): hop to the UI thread before touching
/// views.
#[uniffi::export(with_foreign)]
pub trait SyncObserver: Send + Sync {
    /// The phase changed.
    fn on_phase(&self, phase: SyncPhase);
    /// The outbox to push: `records` in `requests` requests.
    fn on_outbox(&self, records: u64, requests: u64);
    /// A request was answered: `records` pushed in it, `bytes` sent.
    fn on_pushed(&self, records: u64, bytes: u64);
    /// A feed page was applied: `records` entries, `bytes` received, `pages` so far.
    fn on_pulled(&self, records: u64, bytes: u64, pages: u64);
}

impl From<uniffi::UnexpectedUniFFICallbackError> for FieldbookError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        FieldbookError::Other {
            code: "platform".into(),
            detail: format!("a platform service failed: {}", e.reason),
        }
    }
}

/// Reads the key from the provider and checks its length.
pub(crate) fn database_key(keys: &dyn KeyProvider) -> Result<DatabaseKey, FieldbookError> {
    let bytes = keys.database_key()?;
    let raw: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| FieldbookError::Storage {
            code: "bad-key".into(),
            detail: format!(
                "the key provider gave {} bytes; the database key is 32 bytes",
                b.len()
            ),
        })?;
    Ok(DatabaseKey::Raw(raw))
}

/// The platform clock as the core's clock; the system clock when none is given.
pub(crate) struct ForeignClock(pub(crate) Option<Arc<dyn Clock>>);

impl std::fmt::Debug for ForeignClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignClock")
    }
}

impl CoreClock for ForeignClock {
    fn now(&self) -> Timestamp {
        let Some(clock) = &self.0 else {
            return SystemClock.now();
        };
        let ms = match clock.now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        Timestamp::from_millis(ms).unwrap_or_else(|| SystemClock.now())
    }
}

/// The observer as the core's progress sink.
pub(crate) struct Progress(pub(crate) Option<Arc<dyn SyncObserver>>);

impl SyncProgress for Progress {
    fn phase(&self, phase: CorePhase) {
        if let Some(o) = &self.0 {
            o.on_phase(phase.into());
        }
    }
    fn outbox(&self, records: u64, requests: u64) {
        if let Some(o) = &self.0 {
            o.on_outbox(records, requests);
        }
    }
    fn pushed(&self, records: u64, bytes: u64) {
        if let Some(o) = &self.0 {
            o.on_pushed(records, bytes);
        }
    }
    fn pulled(&self, records: u64, bytes: u64, pages: u64) {
        if let Some(o) = &self.0 {
            o.on_pulled(records, bytes, pages);
        }
    }
}
