//! The device's side of sync: enrolment, the sync run and its status. The protocol rules live in
//! [`crate::sync::client`] and [`crate::sync::repair`] (sans-I/O); this file hands them the
//! store's data, commits what they return, and does the network calls through
//! [`crate::sync::http`]. Nothing is held across an await but plain data and the store.

use super::{Device, Reading};
use crate::doc::Heads;
use crate::domain::{RecordId, RecordKind, Timestamp};
use crate::error::Error;
use crate::storage::{StoreError, SyncWrite};
use crate::sync::client::{LocalRecord, PendingRecord, ResponseTally, SyncSession};
use crate::sync::held_back::{HeldBackItem, HoldReason};
use crate::sync::http::{HttpTransport, RetryPolicy};
use crate::sync::repair::{self, RepairRun};
use crate::sync::wire::{self, SyncResponse};
use crate::sync::{
    AttentionItem, Enrolment, Receipt, SyncPhase, SyncProgress, SyncReport, SyncStatus, keys,
};
use crate::workflow::policy::Writer;
use automerge::Automerge;
use std::collections::HashMap;

/// Records read into one outbox at most (the rest go at the next sync).
const OUTBOX_RECORDS: u32 = 100_000;

/// The server address and credentials stored at enrolment.
#[derive(Debug)]
struct Credentials {
    server: String,
    token: String,
}

impl Device {
    /// Enrols this device with `server` using a one-time `code`: stores the server address,
    /// device id, token and team in the encrypted store. The code must have been issued to this
    /// store's officer and role.
    pub async fn enrol(
        &mut self,
        server: &str,
        code: &str,
        label: &str,
    ) -> Result<Enrolment, Error> {
        let server = crate::sync::http::check_server_url(server)?;
        let transport = HttpTransport::new(&server, None, self.retry)?;
        let request = wire::EnrolRequest {
            protocol: wire::PROTOCOL_VERSION,
            code: code.trim().to_owned(),
            actors: vec![self.actor_hex()],
            label: label.to_owned(),
        };
        let answer = transport.enrol(&request).await?.value;
        if answer.officer != self.user.officer || answer.role != self.user.role {
            return Err(Error::invalid(
                "code",
                "enrolled-user",
                format!(
                    "the code was issued to {} ({}) but this store belongs to {} ({}): use a code issued to this store's officer",
                    answer.officer,
                    answer.role.as_str(),
                    self.user.officer,
                    self.user.role.as_str()
                ),
            ));
        }
        let write = SyncWrite {
            meta: vec![
                (keys::SERVER.into(), server.clone()),
                (keys::DEVICE_ID.into(), answer.device_id.clone()),
                (keys::TOKEN.into(), answer.token.clone()),
                (keys::TEAM.into(), answer.team.clone().unwrap_or_default()),
                (keys::LAST_ERROR.into(), String::new()),
            ],
            ..SyncWrite::default()
        };
        self.store.apply_sync(&write)?;
        Ok(Enrolment {
            server,
            device_id: answer.device_id,
            officer: answer.officer,
            role: answer.role,
            team: answer.team,
        })
    }

    /// Sets how requests are retried (tests use tiny delays).
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.retry = policy;
    }

    /// Pushes the outbox, pulls feed pages until caught up, and repairs what needs it. Every
    /// response is committed in one transaction before the next request, so an interrupted sync
    /// keeps what it applied and loses nothing. Never deletes unsynced local work; a revoked
    /// device keeps its work and [`Device::sync_status`] shows it.
    pub async fn sync(&mut self, progress: &dyn SyncProgress) -> Result<SyncReport, Error> {
        let started = std::time::Instant::now();
        let credentials = self.credentials()?;
        let transport =
            HttpTransport::new(&credentials.server, Some(credentials.token), self.retry)?;
        let mut result = self.sync_with(&transport, progress).await;
        if matches!(result, Err(Error::Store(crate::storage::StoreError::Stale))) {
            // Another handle on this store (the app saving while it syncs) committed to a record
            // this response touched, so its transaction was refused whole. What earlier responses
            // applied is kept; one more run starts from what is stored now.
            tracing::debug!("a record changed under the sync; syncing again");
            result = self.sync_with(&transport, progress).await;
        }
        let error_code = result.as_ref().err().map(|e| e.code().to_owned());
        let mut meta = vec![(keys::LAST_ERROR.to_owned(), error_code.unwrap_or_default())];
        if result.is_ok() {
            meta.push((
                keys::LAST_SYNC_AT.to_owned(),
                self.now().millis().to_string(),
            ));
        }
        // Best effort: the sync's own outcome matters more than noting it.
        if let Err(e) = self.store.apply_sync(&SyncWrite {
            meta,
            ..SyncWrite::default()
        }) {
            tracing::warn!(error = %e, "could not note the sync outcome");
        }
        let mut report = result?;
        report.duration = started.elapsed();
        progress.phase(SyncPhase::Done);
        Ok(report)
    }

    async fn sync_with(
        &mut self,
        transport: &HttpTransport,
        progress: &dyn SyncProgress,
    ) -> Result<SyncReport, Error> {
        let mut session = self.begin_sync()?;
        let mut report = SyncReport::default();
        progress.outbox(
            self.store.count_unsynced()?,
            session.pending_pushes() as u64,
        );
        progress.phase(if session.pending_pushes() > 0 {
            SyncPhase::Pushing
        } else {
            SyncPhase::Pulling
        });
        while let Some(request) = session.next_request() {
            let pushing = !request.push.is_empty();
            if !pushing {
                progress.phase(SyncPhase::Pulling);
            }
            let records = request.push.len() as u64;
            let changes: u64 = request.push.iter().map(|p| p.changes.len() as u64).sum();
            let received = transport.sync(&request).await?;
            report.round_trips += 1;
            report.pushed_records += records;
            report.pushed_changes += changes;
            report.pushed_bytes += received.sent_bytes as u64;
            report.pulled_bytes += received.received_bytes as u64;
            progress.pushed(records, received.sent_bytes as u64);
            let tally = self.apply_sync_response(&mut session, received.value)?;
            report.pages += 1;
            progress.pulled(
                u64::from(tally.records),
                received.received_bytes as u64,
                report.pages,
            );
            add_tally(&mut report, &tally);
        }
        let repairs = session.repairs();
        if !repairs.is_empty() {
            progress.phase(SyncPhase::Repairing);
        }
        for (id, kind) in repairs {
            match self.repair(transport, id, kind, &mut report).await {
                Ok(true) => report.repairs += 1,
                Ok(false) => report.repairs_failed += 1,
                Err(
                    e @ (Error::ServerRefused { .. }
                    | Error::Doc(_)
                    | Error::Protocol(_)
                    | Error::WrongKind { .. }),
                ) => {
                    tracing::warn!(record = %id, error = %e, "repair failed; tried again next sync");
                    report.repairs_failed += 1;
                }
                Err(e) => return Err(e),
            }
        }
        report.cursor = session.cursor();
        Ok(report)
    }

    /// Starts a sync run without the network: the outbox (every record whose heads the server
    /// does not hold, with exactly the changes it lacks) and the stored cursor. With
    /// [`Device::apply_sync_response`] this is the whole protocol, for tests and other
    /// transports.
    pub fn begin_sync(&mut self) -> Result<SyncSession, Error> {
        let cursor = self
            .store
            .meta(keys::CURSOR)?
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0);
        let mut outbox = Vec::new();
        let unsynced = self.store.unsynced(OUTBOX_RECORDS)?;
        // Loaded a cache's worth at a time: the outbox may list many thousands of records, and
        // each document is held only until its pending changes are listed.
        for batch in unsynced.chunks(super::CACHE_DOCUMENTS) {
            let ids: Vec<RecordId> = batch.iter().map(|u| u.id).collect();
            for (unsynced, (_, taken)) in batch.iter().zip(self.take_many(&ids, Reading::Now)?) {
                let loaded = match taken {
                    Ok((loaded, _)) => loaded,
                    Err(e @ Error::Doc(_)) => {
                        // What cannot be read cannot be pushed; the rest of the outbox can.
                        tracing::warn!(record = %unsynced.id, error = %e, "a stored record cannot be read; not pushed");
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let server = unsynced
                    .server_heads
                    .as_deref()
                    .map(|b| Heads::from_bytes(b).into_hashes());
                match PendingRecord::of(unsynced.id, &loaded.doc, server.as_deref()) {
                    Ok(pending) => {
                        self.keep(unsynced.id, loaded);
                        outbox.push(pending);
                    }
                    Err(e) => {
                        tracing::warn!(record = %unsynced.id, error = %e, "a record's changes cannot be listed; not pushed");
                    }
                }
            }
        }
        Ok(
            SyncSession::new(self.writer()?, self.actor.clone(), cursor, outbox)
                .with_held_back(self.store.held_back_records()?),
        )
    }

    /// This device's user as the write policy sees them (with the team learned at enrolment).
    fn writer(&self) -> Result<Writer, Error> {
        Ok(Writer {
            officer: self.user.officer.clone(),
            role: self.user.role,
            team: self.store.meta(keys::TEAM)?.filter(|t| !t.is_empty()),
        })
    }

    /// Applies one response of a run in one transaction: push outcomes, the feed page with
    /// documents, projections, receipts and server heads, and the cursor. On any failure nothing
    /// is stored, the documents involved are dropped from memory (the store stays the truth),
    /// and the run must end.
    pub fn apply_sync_response(
        &mut self,
        session: &mut SyncSession,
        response: SyncResponse,
    ) -> Result<ResponseTally, Error> {
        let needed = SyncSession::records_needed(&response);
        let mut local = HashMap::with_capacity(needed.len());
        // Read as records once, after the page's changes: a stored document that is no valid
        // record is named unreadable then (`held_back::apply_changes`).
        for (id, taken) in self.take_many(&needed, Reading::Later)? {
            match taken {
                Ok((loaded, server)) => {
                    let server = server.map(|s| Heads::from_bytes(&s).into_hashes());
                    local.insert(id, LocalRecord::new(loaded, server));
                }
                Err(Error::NotFound(_)) => {}
                Err(e @ Error::Doc(_)) => {
                    // Stored, but its document does not load: nothing may be applied over it
                    // (that would replace what it holds); the rest of the page goes on.
                    tracing::warn!(record = %id, error = %e, "a stored record cannot be read");
                    session.mark_unreadable(id);
                }
                Err(e) => return Err(e),
            }
        }
        let effects = session.receive(response, local, self.now())?;
        let applied = self.store.apply_sync(&effects.write)?;
        // The documents the cache lets go are freed off this thread ([`Device::keep`]): a page
        // touches many more records than the cache keeps.
        let mut released = Vec::new();
        for (id, record) in effects.records {
            if applied.evicted.contains(&id) {
                released.push(record.into_loaded());
            } else if let Some((_, old)) = self.cache.push(id, record.into_loaded()) {
                released.push(old);
            }
        }
        super::release(released);
        for id in &applied.evicted {
            self.cache.pop(id);
            tracing::debug!(record = %id, "evicted: left this device's scope");
        }
        for (id, _) in &effects.write.removals {
            self.cache.pop(id);
            tracing::info!(record = %id, "refused whole by the server: kept in the quarantine");
        }
        let mut tally = effects.tally;
        // The store decides evictions: a record with unsynced work is kept.
        tally.evictions = u32::try_from(applied.evicted.len()).unwrap_or(u32::MAX);
        Ok(tally_with_kept(tally, applied.kept.len()))
    }

    /// Repairs one record with automerge's sync protocol; true when it finished. The result is
    /// stored durably (document, projection, server heads, any refusal) in one transaction.
    async fn repair(
        &mut self,
        transport: &HttpTransport,
        id: RecordId,
        kind: Option<RecordKind>,
        report: &mut SyncReport,
    ) -> Result<bool, Error> {
        let (start, kind) = match self.take(id) {
            Ok(loaded) => {
                let kind = loaded.doc.kind();
                let copy = loaded.doc.automerge().fork();
                self.keep(id, loaded);
                (copy, kind?)
            }
            Err(Error::NotFound(_)) => match kind {
                Some(kind) => (Automerge::new(), kind),
                None => return Ok(false),
            },
            Err(e) => return Err(e),
        };
        let mut run = RepairRun::new(id, kind, start);
        while let Some(request) = run.next_request() {
            let received = transport.repair(&request).await?;
            report.round_trips += 1;
            report.pushed_bytes += received.sent_bytes as u64;
            report.pulled_bytes += received.received_bytes as u64;
            let answer = wire::encode(&received.value);
            match run.receive(received.value) {
                Ok(()) => {}
                Err(Error::Doc(e)) => {
                    // The server's answer does not apply: keep it aside, so this record is not
                    // repaired again at every sync, and tell the officer.
                    tracing::warn!(record = %id, error = %e, "a repair answer is held back");
                    self.hold_back(id, kind, answer, HoldReason::ChangeNotApplied, report)?;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        let result = run.try_finish()?;
        let complete = result.complete;
        let local = match self.take(id) {
            Ok(loaded) => Some(loaded),
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let Some(effects) =
            result.effects(kind, local, &self.writer()?, &self.actor, self.now())?
        else {
            return Ok(false);
        };
        self.store.apply_sync(&effects.write)?;
        if effects.held_back {
            report.held_back += 1;
            return Ok(false);
        }
        if let Some(rule) = effects.rejected {
            report.rejected.push((id, rule));
        }
        if effects.quarantined {
            report.quarantined += 1;
        }
        if let Some(loaded) = effects.loaded {
            self.keep(id, loaded);
        }
        Ok(complete)
    }

    /// Keeps a repair answer that does not apply aside (as CBOR) and counts it in the report.
    /// The record is then held: not repaired again by itself.
    fn hold_back(
        &mut self,
        id: RecordId,
        kind: RecordKind,
        entry: Vec<u8>,
        reason: HoldReason,
        report: &mut SyncReport,
    ) -> Result<(), Error> {
        self.store.apply_sync(&SyncWrite {
            held_back: vec![repair::held_back_entry(id, kind, entry, reason, self.now())],
            ..SyncWrite::default()
        })?;
        report.held_back += 1;
        Ok(())
    }

    /// Where this device stands with the server; no network.
    pub fn sync_status(&self) -> Result<SyncStatus, Error> {
        let meta = |key: &str| -> Result<Option<String>, Error> {
            Ok(self.store.meta(key)?.filter(|v| !v.is_empty()))
        };
        Ok(SyncStatus {
            server: meta(keys::SERVER)?,
            device_id: meta(keys::DEVICE_ID)?,
            team: meta(keys::TEAM)?,
            unsynced: self.store.count_unsynced()?,
            last_sync_at: meta(keys::LAST_SYNC_AT)?.and_then(|v| v.parse().ok()),
            cursor: meta(keys::CURSOR)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            last_error: meta(keys::LAST_ERROR)?,
            quarantined: self.store.count_quarantined()?,
            held_back: self.store.count_held_back()?,
            attention: self
                .store
                .attention()?
                .into_iter()
                .map(|a| AttentionItem {
                    id: a.id,
                    kind: a.kind,
                    rule: a.attention.rule,
                    message: a.attention.message,
                    field: a.attention.field,
                })
                .collect(),
        })
    }

    /// The feed entries held back because they could not be applied, oldest first
    /// ([`crate::sync::held_back`]).
    pub fn held_back(&self) -> Result<Vec<HeldBackItem>, Error> {
        self.store
            .held_back()?
            .into_iter()
            .map(|row| {
                let e = row.entry;
                let when = Timestamp::from_millis(e.at).ok_or_else(|| StoreError::Corrupt {
                    detail: "a held-back entry's time is out of range".into(),
                })?;
                Ok(HeldBackItem {
                    id: row.id,
                    record: e.record,
                    kind: e.kind,
                    reason: e.reason,
                    when,
                })
            })
            .collect()
    }

    /// The server's receipt times of a record's changes, oldest first.
    pub fn receipts(&self, id: RecordId) -> Result<Vec<Receipt>, Error> {
        if self.store.sync_heads(id)?.is_none() {
            return Err(Error::NotFound(id));
        }
        Ok(self
            .store
            .receipts(id)?
            .into_iter()
            .map(|r| Receipt {
                change: hex::encode(&r.hash),
                received_at: r.received_at,
            })
            .collect())
    }

    fn credentials(&self) -> Result<Credentials, Error> {
        let server = self.store.meta(keys::SERVER)?.filter(|s| !s.is_empty());
        let token = self.store.meta(keys::TOKEN)?.filter(|s| !s.is_empty());
        match (server, token) {
            (Some(server), Some(token)) => Ok(Credentials { server, token }),
            _ => Err(Error::NotEnrolled),
        }
    }

    /// Points an enrolled device at another address of its server (`fieldbook sync --server`).
    pub fn set_sync_server(&mut self, server: &str) -> Result<(), Error> {
        self.credentials()?;
        let server = crate::sync::http::check_server_url(server)?;
        Ok(self.store.set_meta(keys::SERVER, &server)?)
    }
}

fn add_tally(report: &mut SyncReport, tally: &ResponseTally) {
    report.accepted += u64::from(tally.accepted);
    report.quarantined += u64::from(tally.quarantined);
    report.held_back += u64::from(tally.held_back);
    report.rejected.extend(tally.rejected.iter().cloned());
    report.pulled_changes += u64::from(tally.changes);
    report.pulled_snapshots += u64::from(tally.snapshots);
    report.evicted += u64::from(tally.evictions);
    report.evictions_kept += u64::from(tally.evictions_kept);
}

fn tally_with_kept(mut tally: ResponseTally, kept: usize) -> ResponseTally {
    tally.evictions_kept = u32::try_from(kept).unwrap_or(u32::MAX);
    tally
}
