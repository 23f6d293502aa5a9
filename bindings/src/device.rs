//! [`FieldbookDevice`]: the core's [`Device`] for the apps. Every method delegates to the core;
//! this file only converts arguments and results.
//!
//! Threads: the object is shared (`Arc`) and every blocking method takes the device lock for
//! the length of one core call (milliseconds). A sync does not hold that lock: it opens its own
//! connection to the same store, so an officer can keep saving while a slow network sync runs;
//! each core call writes on the version it read and the store's compare-and-swap on document
//! heads refuses a write on a stale copy, so neither handle writes over the other. `save` writes
//! on the current version; an editor held open across a sync uses `get_versioned` and
//! `save_versioned`.

use crate::error::FieldbookError;
use crate::platform::{
    self, Clock, Connectivity, ForeignClock, KeyProvider, Progress, SyncObserver,
};
use crate::records::{Record, RecordKind, Role};
use crate::types::{
    AccessLogEntry, ApprovalState, Conflict, Enrolment, FieldChange, Finding, QuarantineItem,
    QueueItem, RecordFilter, RecordSummary, ReferenceLists, ReturnedItem, SyncReport, SyncStatus,
    UserInfo, VersionedRecord,
};
use fieldbook_core::Device;
use fieldbook_core::domain::{self as core, OfficerId, RecordId};
use fieldbook_core::storage::RecordQuery;
use fieldbook_core::sync::http::RetryPolicy;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

type Result<T> = std::result::Result<T, FieldbookError>;

/// A record id from the app; a bad one is refused without repeating it (it may be any text).
fn id(text: &str) -> Result<RecordId> {
    crate::records::record_id(text.to_owned()).map_err(|e| match e {
        fieldbook_core::Error::Invalid { rule, message, .. } => {
            fieldbook_core::Error::invalid("id", rule, message).into()
        }
        other => other.into(),
    })
}

fn record(r: core::Record) -> Record {
    Record::from(r)
}

fn list<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(U::from).collect()
}

/// Cancels a running sync. What the sync applied before the cancel is kept; the next sync
/// carries on from there.
#[derive(Debug, uniffi::Object)]
pub struct SyncCancel(tokio::sync::watch::Sender<bool>);

#[uniffi::export]
impl SyncCancel {
    /// A handle to pass to `sync`.
    #[uniffi::constructor]
    pub fn new() -> Arc<SyncCancel> {
        Arc::new(SyncCancel(tokio::sync::watch::Sender::new(false)))
    }

    /// Stops the sync at its next await point (a request in flight is abandoned). A handle
    /// stays cancelled: make a new one for the next sync.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
}

impl SyncCancel {
    async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// One enrolled user's records on this phone: the encrypted store, the rules, the workflow and
/// sync.
#[derive(uniffi::Object)]
pub struct FieldbookDevice {
    path: PathBuf,
    keys: Arc<dyn KeyProvider>,
    clock: Arc<ForeignClock>,
    connectivity: Option<Arc<dyn Connectivity>>,
    retry: Mutex<RetryPolicy>,
    device: Mutex<Device>,
    sync_gate: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for FieldbookDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldbookDevice").finish_non_exhaustive()
    }
}

impl FieldbookDevice {
    fn device(&self) -> MutexGuard<'_, Device> {
        // A panic in another call cannot leave the store inconsistent (every write is one
        // transaction), so a poisoned lock is still safe to use.
        self.device.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn assemble(
        path: PathBuf,
        keys: Arc<dyn KeyProvider>,
        clock: Arc<ForeignClock>,
        connectivity: Option<Arc<dyn Connectivity>>,
        device: Device,
    ) -> Arc<FieldbookDevice> {
        Arc::new(FieldbookDevice {
            path,
            keys,
            clock,
            connectivity,
            retry: Mutex::new(RetryPolicy::default()),
            device: Mutex::new(device),
            sync_gate: tokio::sync::Mutex::new(()),
        })
    }

    /// A second handle on the same store for a network operation, so the device lock is not
    /// held across the network.
    fn network_device(&self) -> Result<Device> {
        if let Some(c) = &self.connectivity
            && !c.is_connected()
        {
            return Err(FieldbookError::Offline {
                detail:
                    "no network connection; your work is kept on this device: sync when connected"
                        .into(),
            });
        }
        let key = platform::database_key(self.keys.as_ref())?;
        let mut device = Device::open(&self.path, &key, self.clock.clone())?;
        device.set_retry_policy(*self.retry.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(device)
    }
}

#[uniffi::export]
impl FieldbookDevice {
    /// Creates a new encrypted store at `path` for `officer` in `role` (first run after
    /// sign-in). Fails if a store already exists there. `clock` defaults to the system clock;
    /// without `connectivity` a sync always tries the network.
    #[uniffi::constructor(default(clock = None, connectivity = None))]
    pub fn setup(
        path: String,
        officer: String,
        role: Role,
        keys: Arc<dyn KeyProvider>,
        clock: Option<Arc<dyn Clock>>,
        connectivity: Option<Arc<dyn Connectivity>>,
    ) -> Result<Arc<FieldbookDevice>> {
        let clock = Arc::new(ForeignClock(clock));
        let key = platform::database_key(keys.as_ref())?;
        let officer = OfficerId::new(officer)?;
        let device = Device::init(path.as_ref(), &key, officer, role.into(), clock.clone())?;
        Ok(Self::assemble(
            path.into(),
            keys,
            clock,
            connectivity,
            device,
        ))
    }

    /// Opens the store at `path` (every later start). Loads no records.
    #[uniffi::constructor(default(clock = None, connectivity = None))]
    pub fn open(
        path: String,
        keys: Arc<dyn KeyProvider>,
        clock: Option<Arc<dyn Clock>>,
        connectivity: Option<Arc<dyn Connectivity>>,
    ) -> Result<Arc<FieldbookDevice>> {
        let clock = Arc::new(ForeignClock(clock));
        let key = platform::database_key(keys.as_ref())?;
        let device = Device::open(path.as_ref(), &key, clock.clone())?;
        Ok(Self::assemble(
            path.into(),
            keys,
            clock,
            connectivity,
            device,
        ))
    }

    /// The enrolled user.
    pub fn user(&self) -> UserInfo {
        let device = self.device();
        UserInfo {
            officer: device.user().officer.to_string(),
            role: device.user().role.into(),
        }
    }

    /// Sets how sync requests are retried: `max_attempts` per request (the first included),
    /// backoff from `base_delay` up to `max_delay`.
    pub fn set_sync_retry(&self, max_attempts: u32, base_delay: Duration, max_delay: Duration) {
        *self.retry.lock().unwrap_or_else(|e| e.into_inner()) = RetryPolicy {
            base: base_delay,
            cap: max_delay,
            max_attempts: max_attempts.max(1),
        };
    }

    // --- Writing --------------------------------------------------------------------------

    /// Creates an empty draft of `kind`, stored at once. Fill it in and `save` it.
    pub fn create_record(&self, kind: RecordKind) -> Result<Record> {
        Ok(record(self.device().create(kind.into(), None)?))
    }

    /// Saves an edited record as one change. The workflow fields (`meta`) must be unchanged.
    pub fn save(&self, record: Record) -> Result<()> {
        Ok(self.device().save(record.try_into()?)?)
    }

    /// A record with the version read, for editing while a sync may merge into it.
    pub fn get_versioned(&self, id: String) -> Result<VersionedRecord> {
        let (r, version) = self.device().get_versioned(self::id(&id)?)?;
        Ok(VersionedRecord {
            record: record(r),
            version: version.to_string(),
        })
    }

    /// Saves the fields changed since `version` was read; changes merged in between are kept.
    pub fn save_versioned(&self, record: Record, version: String) -> Result<()> {
        Ok(self
            .device()
            .save_versioned(record.try_into()?, &version.parse()?)?)
    }

    /// Applies `field.path=value` assignments as one change (the CLI's `set`).
    pub fn set_fields(&self, id: String, assignments: Vec<String>) -> Result<Record> {
        Ok(record(
            self.device().set_fields(self::id(&id)?, &assignments)?,
        ))
    }

    /// Submits a draft or returned record for review; every failed rule comes back at once as
    /// `Validation`.
    pub fn submit(&self, id: String) -> Result<Record> {
        Ok(record(self.device().submit(self::id(&id)?)?))
    }

    /// Approves a submitted record of the team (supervisors; never their own).
    pub fn approve(&self, id: String) -> Result<Record> {
        Ok(record(self.device().approve(self::id(&id)?)?))
    }

    /// Returns a submitted record to its author with a reason (supervisors).
    pub fn return_to_author(&self, id: String, reason: String) -> Result<Record> {
        Ok(record(
            self.device().return_to_author(self::id(&id)?, &reason)?,
        ))
    }

    /// Re-opens an approved record for an edit, with a reason; it goes back to review.
    pub fn reopen(&self, id: String, reason: String) -> Result<Record> {
        Ok(record(self.device().reopen(self::id(&id)?, &reason)?))
    }

    /// Chooses a value (JSON) for a conflicted legal field.
    pub fn resolve_conflict(&self, id: String, field: String, value_json: String) -> Result<()> {
        let value = serde_json::from_str(&value_json).map_err(|_| {
            fieldbook_core::Error::invalid("value_json", "json", "the value is not JSON")
        })?;
        Ok(self
            .device()
            .resolve_conflict(self::id(&id)?, &field, &value)?)
    }

    /// Imports a record document (bytes from `export_document`); merges a known record.
    pub fn import_document(&self, bytes: Vec<u8>) -> Result<String> {
        Ok(self.device().import_document(&bytes)?.to_string())
    }

    // --- Reading --------------------------------------------------------------------------

    /// A record. Reading a person is written to the access log.
    pub fn get(&self, id: String) -> Result<Record> {
        Ok(record(self.device().get(self::id(&id)?)?))
    }

    /// Every rule finding for a record now (errors block submission).
    pub fn check(&self, id: String) -> Result<Vec<Finding>> {
        Ok(list(self.device().check(self::id(&id)?)?))
    }

    /// Records matching `filter`, newest first.
    pub fn list(&self, filter: RecordFilter) -> Result<Vec<RecordSummary>> {
        let query = RecordQuery {
            kind: filter.kind.map(Into::into),
            status: filter.status.map(Into::into),
            author: filter.author.map(OfficerId::new).transpose()?,
            limit: filter.limit,
            ..RecordQuery::default()
        };
        Ok(list(self.device().list(&query)?))
    }

    /// This user's drafts and returned records.
    pub fn my_drafts(&self) -> Result<Vec<RecordSummary>> {
        Ok(list(self.device().my_drafts()?))
    }

    /// Crime reports whose recording decision is due within 24 hours of report, or overdue.
    pub fn overdue_decisions(&self) -> Result<Vec<RecordSummary>> {
        Ok(list(self.device().overdue_decisions()?))
    }

    /// Stop-searches still needing a receipt.
    pub fn receipts_needed(&self) -> Result<Vec<RecordSummary>> {
        Ok(list(self.device().receipts_needed()?))
    }

    /// How many records this device holds.
    pub fn count(&self) -> Result<u64> {
        Ok(self.device().count()?)
    }

    /// The stop-search receipt text to give the person searched.
    pub fn receipt(&self, id: String) -> Result<String> {
        Ok(self.device().receipt(self::id(&id)?)?)
    }

    /// Field-by-field history: who changed what, when.
    pub fn history(&self, id: String) -> Result<Vec<FieldChange>> {
        Ok(list(self.device().history(self::id(&id)?)?))
    }

    /// Legal fields set differently on two devices at once, awaiting a choice.
    pub fn conflicts(&self, id: String) -> Result<Vec<Conflict>> {
        Ok(list(self.device().conflicts(self::id(&id)?)?))
    }

    /// Who read or changed a record holding personal data.
    pub fn access_log(&self, id: String) -> Result<Vec<AccessLogEntry>> {
        Ok(list(self.device().access_log(self::id(&id)?)?))
    }

    /// The record's whole document, for `import_document` elsewhere.
    pub fn export_document(&self, id: String) -> Result<Vec<u8>> {
        Ok(self.device().export_document(self::id(&id)?)?)
    }

    /// The reference lists the record screens pick from.
    pub fn reference_lists(&self) -> ReferenceLists {
        ReferenceLists::from(fieldbook_core::refdata::current())
    }

    // --- Supervision ----------------------------------------------------------------------

    /// The team's records waiting for review, oldest first (supervisors).
    pub fn review_queue(&self) -> Result<Vec<QueueItem>> {
        Ok(list(self.device().review_queue()?))
    }

    /// Records a supervisor returned to this user, with the reason.
    pub fn returned_to_me(&self) -> Result<Vec<ReturnedItem>> {
        Ok(list(self.device().returned_to_me()?))
    }

    /// Where a record stands against its last approval, with the diff since.
    pub fn approval_state(&self, id: String) -> Result<ApprovalState> {
        Ok(self.device().approval_state(self::id(&id)?)?.into())
    }

    // --- Quarantine -------------------------------------------------------------------------

    /// What the server refused and the device kept, oldest first: show it until dismissed.
    pub fn quarantine(&self) -> Result<Vec<QuarantineItem>> {
        Ok(list(self.device().quarantine()?))
    }

    /// The whole refused state of `record_id` kept as item `quarantine_id`, to read or copy from.
    pub fn quarantined_record(&self, record_id: String, quarantine_id: u64) -> Result<Record> {
        Ok(record(self.device().quarantined_record(
            self::id(&record_id)?,
            quarantine_id,
        )?))
    }

    /// Deletes a quarantined state once the officer has read or copied what they need.
    pub fn dismiss_quarantine(&self, quarantine_id: u64) -> Result<()> {
        Ok(self.device().dismiss_quarantine(quarantine_id)?)
    }

    // --- Sync -----------------------------------------------------------------------------

    /// Where this device stands with the server (no network).
    pub fn sync_status(&self) -> Result<SyncStatus> {
        Ok(self.device().sync_status()?.into())
    }
}

impl FieldbookDevice {
    async fn run_sync(
        &self,
        observer: Option<Arc<dyn SyncObserver>>,
    ) -> Result<fieldbook_core::sync::SyncReport> {
        let mut device = self.network_device()?;
        Ok(device.sync(&Progress(observer)).await?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldbookDevice {
    /// Enrols this device with `server` using a one-time code issued to this officer.
    pub async fn enrol(&self, server: String, code: String, label: String) -> Result<Enrolment> {
        let mut device = self.network_device()?;
        Ok(device.enrol(&server, &code, &label).await?.into())
    }

    /// Pushes local work, pulls the team's changes and repairs what needs it. One sync runs at
    /// a time (a second waits); saving stays possible meanwhile. Cancel through `cancel`
    /// (or by cancelling the coroutine / task): what was applied is kept.
    #[uniffi::method(default(observer = None, cancel = None))]
    pub async fn sync(
        &self,
        observer: Option<Arc<dyn SyncObserver>>,
        cancel: Option<Arc<SyncCancel>>,
    ) -> Result<SyncReport> {
        let cancelled = async {
            match &cancel {
                Some(cancel) => cancel.cancelled().await,
                None => std::future::pending().await,
            }
        };
        // Cancelling works while waiting for another sync to finish, and a handle cancelled
        // before the start never begins (`biased`: the cancel branch is polled first).
        tokio::select! {
            biased;
            () = cancelled => Err(FieldbookError::Cancelled),
            report = async {
                let _one_at_a_time = self.sync_gate.lock().await;
                self.run_sync(observer).await
            } => Ok(report?.into()),
        }
    }
}
