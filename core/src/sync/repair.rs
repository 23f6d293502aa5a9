//! The slow path: automerge's own sync protocol for one record, used only when the change feed
//! cannot settle it (the server lacks dependencies, the device lacks changes the feed's heads
//! name, or the device does not hold the record at all).
//!
//! Sans-I/O like [`super::client`]: [`RepairRun::next_request`] gives the message to POST to
//! `/v1/repair`, [`RepairRun::receive`] takes the server's answer. The run keeps a fresh
//! `sync::State` on the device side; the server keeps none between rounds. It ends when the
//! device has nothing to say after the server's last message, or after [`MAX_ROUNDS`].
//! [`RepairResult::effects`] then says what to store, still without I/O: what the repair brought
//! checked as a feed entry is (or held back), a refusal handled as a push refusal is (the
//! refused state to the quarantine, the record rebuilt), the document and the server's heads.

use super::held_back::{self, HoldReason};
use super::quarantine::{self, Disposition, Refusal};
use super::wire::{
    self, FeedEntry, PushOutcome, ReceivedChange, RefusalCode, RepairRequest, RepairResponse,
};
use crate::domain::{RecordId, RecordKind, Timestamp};
use crate::error::Error;
use crate::loaded::{Loaded, document_save};
use crate::storage::{NewHeldBack, SyncWrite};
use crate::workflow::policy::Writer;
use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, Automerge, Change, ChangeHash};

/// Rounds one repair may take before it gives up (it is retried at the next sync).
pub const MAX_ROUNDS: u32 = 16;

/// One record's repair run.
#[derive(Debug)]
pub struct RepairRun {
    record: RecordId,
    kind: RecordKind,
    doc: Automerge,
    start_heads: Vec<ChangeHash>,
    state: sync::State,
    rounds: u32,
    server_heads: Option<Vec<ChangeHash>>,
    rejected: Option<PushOutcome>,
}

impl RepairRun {
    /// A run for `record` starting from a copy of the device's document (an empty document when
    /// the device does not hold the record).
    pub fn new(record: RecordId, kind: RecordKind, doc: Automerge) -> RepairRun {
        RepairRun {
            record,
            kind,
            start_heads: doc.get_heads(),
            doc,
            state: sync::State::new(),
            rounds: 0,
            server_heads: None,
            rejected: None,
        }
    }

    /// The next request, or `None` when the run is over (in sync, or out of rounds).
    pub fn next_request(&mut self) -> Option<RepairRequest> {
        if self.rounds >= MAX_ROUNDS {
            return None;
        }
        let (doc, state) = (&mut self.doc, &mut self.state);
        let message = crate::doc::guarded("preparing a repair message", || {
            doc.generate_sync_message(state)
        })
        .unwrap_or_else(|e| {
            tracing::warn!(record = %self.record, error = %e, "a repair cannot go on");
            None
        })?;
        self.rounds += 1;
        Some(RepairRequest {
            protocol: wire::PROTOCOL_VERSION,
            record: self.record,
            kind: self.kind,
            message: wire::Bytes(message.encode()),
        })
    }

    /// Takes the server's answer to the last request. On a [`crate::doc::DocError`] the run's
    /// copy of the document is unusable and the run must end.
    pub fn receive(&mut self, response: RepairResponse) -> Result<(), Error> {
        let heads = response
            .heads
            .iter()
            .map(ChangeHash::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        self.server_heads = Some(heads);
        if response.rejected.is_some() {
            self.rejected = response.rejected;
        }
        if let Some(message) = response.message {
            let message = sync::Message::decode(&message.0)
                .map_err(|e| Error::Protocol(format!("a repair message is malformed: {e}")))?;
            let (doc, state) = (&mut self.doc, &mut self.state);
            crate::doc::guarded("applying a repair message", || {
                doc.receive_sync_message(state, message)
            })?
            .map_err(|e| Error::Doc(crate::doc::DocError::Automerge(e)))?;
        }
        Ok(())
    }

    /// Rounds taken.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Ends the run: what it learned. May panic on a document whose changes do not fit
    /// together: see [`RepairRun::try_finish`].
    pub fn finish(self) -> RepairResult {
        let new_changes = self
            .doc
            .get_changes(&self.start_heads)
            .into_iter()
            .map(|c: Change| c.raw_bytes().to_vec())
            .collect();
        self.result(new_changes)
    }

    /// [`RepairRun::finish`], with automerge's panic on an inconsistent document as an error
    /// (what the device uses).
    pub fn try_finish(self) -> Result<RepairResult, Error> {
        let (doc, start) = (&self.doc, &self.start_heads);
        let new_changes = crate::doc::guarded("listing what a repair brought", || {
            doc.get_changes(start)
                .into_iter()
                .map(|c: Change| c.raw_bytes().to_vec())
                .collect()
        })?;
        Ok(self.result(new_changes))
    }

    fn result(self, new_changes: Vec<Vec<u8>>) -> RepairResult {
        // The server heads are worth recording only when the device now holds all of them.
        let server_heads = self
            .server_heads
            .filter(|hs| hs.iter().all(|h| crate::doc::holds_change(&self.doc, h)));
        RepairResult {
            record: self.record,
            rounds: self.rounds,
            complete: self.rounds < MAX_ROUNDS,
            new_changes,
            document: self.doc,
            server_heads,
            rejected: self.rejected,
        }
    }
}

/// What a repair run brought.
#[derive(Debug)]
pub struct RepairResult {
    /// The record.
    pub record: RecordId,
    /// Rounds taken.
    pub rounds: u32,
    /// False when it stopped at the round cap.
    pub complete: bool,
    /// Changes the device did not have before, dependencies first.
    pub new_changes: Vec<Vec<u8>>,
    /// The repaired document.
    pub document: Automerge,
    /// The server's heads, when the device now holds all of them.
    pub server_heads: Option<Vec<ChangeHash>>,
    /// Set when the server refused changes the device sent.
    pub rejected: Option<PushOutcome>,
}

/// What the device must do once a repair finished ([`RepairResult::effects`]): commit `write` in
/// one transaction, then keep `loaded` in memory (`None`: nothing to keep, the record was
/// removed to the quarantine or what the repair brought was held back).
#[derive(Debug)]
pub struct RepairEffects {
    /// Everything to store, in one transaction.
    pub write: SyncWrite,
    /// The repaired document, with its chunk count updated for the write.
    pub(crate) loaded: Option<Loaded>,
    /// What the repair brought did not apply and is kept aside ([`super::held_back`]).
    pub held_back: bool,
    /// The server refused what the device sent, with this rule.
    pub rejected: Option<RefusalCode>,
    /// That refused state went to the quarantine.
    pub quarantined: bool,
}

impl RepairResult {
    /// Interprets a finished repair of a record of `kind` against `local`, the device's
    /// document (`None`: the device does not hold the record), for the device's user `writer`
    /// and `actor`, without I/O. What the repair brought is checked as a feed entry is, and held
    /// back if it does not apply; a refusal for good keeps the refused state in the quarantine
    /// and rebuilds the record from the server's version (as a push refusal does). `None` when
    /// there is nothing to store (a record not held, of which the repair brought nothing).
    pub(crate) fn effects(
        self,
        kind: RecordKind,
        local: Option<Loaded>,
        writer: &Writer,
        actor: &ActorId,
        now: Timestamp,
    ) -> Result<Option<RepairEffects>, Error> {
        let id = self.record;
        let changes: Vec<ReceivedChange> = self
            .new_changes
            .iter()
            .map(|bytes| ReceivedChange {
                bytes: wire::Bytes(bytes.clone()),
                received_at: 0,
            })
            .collect();
        let applied = match local {
            Some(mut loaded) => {
                held_back::apply_changes(id, kind, &mut loaded.doc, &changes).map(|_| loaded)
            }
            None if !self.new_changes.is_empty() => repaired_whole(id, kind, &self.document, actor),
            None => return Ok(None),
        };
        let mut write = SyncWrite::default();
        let mut loaded = match applied {
            Ok(loaded) => loaded,
            Err(reason) => {
                let entry = FeedEntry::Changes {
                    record: id,
                    kind,
                    changes,
                    heads: self
                        .server_heads
                        .iter()
                        .flatten()
                        .copied()
                        .map(wire::Hash::from)
                        .collect(),
                };
                write
                    .held_back
                    .push(held_back_entry(id, kind, wire::encode(&entry), reason, now));
                return Ok(Some(RepairEffects {
                    write,
                    loaded: None,
                    held_back: true,
                    rejected: None,
                    quarantined: false,
                }));
            }
        };
        let refusal = self.rejected.as_ref().and_then(Refusal::of);
        let mut removed = false;
        let mut quarantined = false;
        if let Some(refusal) = &refusal {
            // A stored record refused for good: keep its refused state, rebuild it from the
            // server's version.
            let stored = loaded.chunks > 0;
            quarantined = stored
                && refusal.rule.is_final()
                && match quarantine::quarantine_into(
                    id,
                    &mut loaded,
                    self.server_heads.as_deref(),
                    refusal,
                    writer,
                    actor,
                    now,
                    &mut write,
                ) {
                    Ok(disposition) => {
                        removed = disposition == Disposition::Removed;
                        true
                    }
                    Err(e) => {
                        tracing::warn!(record = %id, error = %e, "a refused record could not be rebuilt");
                        false
                    }
                };
            if !quarantined {
                write.attention.push((id, Some(refusal.attention())));
            }
        }
        if !removed {
            if let Some(save) = document_save(id, &mut loaded, now, None)? {
                write.saves.push(save);
            }
            if let Some(server) = &self.server_heads {
                write
                    .server_heads
                    .push((id, crate::doc::Heads::from(server.as_slice()).to_bytes()));
            }
        }
        Ok(Some(RepairEffects {
            write,
            loaded: (!removed).then_some(loaded),
            held_back: false,
            rejected: refusal.map(|r| r.rule),
            quarantined,
        }))
    }
}

/// What a repair received (`entry`: a feed entry, or the repair answer, as CBOR), kept aside
/// with `reason`: the record is then held, not repaired again by itself.
pub(crate) fn held_back_entry(
    record: RecordId,
    kind: RecordKind,
    entry: Vec<u8>,
    reason: HoldReason,
    now: Timestamp,
) -> NewHeldBack {
    NewHeldBack {
        record,
        kind,
        entry,
        reason: reason.code().to_owned(),
        at: now.millis(),
    }
}

/// A record new to the device, received whole by repair: loaded and checked as a snapshot.
fn repaired_whole(
    id: RecordId,
    kind: RecordKind,
    document: &Automerge,
    actor: &ActorId,
) -> Result<Loaded, HoldReason> {
    let bytes = crate::doc::guarded("saving what a repair brought", || document.save())
        .map_err(|_| HoldReason::NotADocument)?;
    let mut doc =
        crate::doc::RecordDoc::load(&bytes, actor).map_err(|_| HoldReason::NotADocument)?;
    held_back::check_record(id, kind, &mut doc)?;
    Ok(Loaded::from_whole(doc, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    /// A stateless server side: a fresh state per round, as the protocol says.
    fn server_round(server: &mut Automerge, request: &RepairRequest) -> RepairResponse {
        let mut state = sync::State::new();
        let message = sync::Message::decode(&request.message.0).unwrap();
        server.receive_sync_message(&mut state, message).unwrap();
        RepairResponse {
            message: server
                .generate_sync_message(&mut state)
                .map(|m| wire::Bytes(m.encode())),
            heads: server
                .get_heads()
                .into_iter()
                .map(wire::Hash::from)
                .collect(),
            rejected: None,
        }
    }

    fn edit(doc: &mut Automerge, key: &str) {
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, key, 1).unwrap();
        tx.commit();
    }

    #[test]
    fn a_repair_against_a_stateless_server_brings_both_sides_to_the_same_heads() {
        let mut server = Automerge::new();
        edit(&mut server, "a");
        let mut device = server.fork();
        edit(&mut device, "device-only");
        edit(&mut server, "server-only");

        let mut run = RepairRun::new(RecordId::generate(), RecordKind::CrimeReport, device);
        while let Some(request) = run.next_request() {
            let response = server_round(&mut server, &request);
            run.receive(response).unwrap();
        }
        let result = run.try_finish().unwrap();
        assert!(result.complete, "took {} rounds", result.rounds);
        assert_eq!(result.document.get_heads(), server.get_heads());
        assert_eq!(result.new_changes.len(), 1, "the server-only change");
        assert_eq!(result.server_heads, Some(server.get_heads()));
    }

    #[test]
    fn a_device_without_the_record_receives_it_whole_by_repair() {
        let mut server = Automerge::new();
        edit(&mut server, "a");
        edit(&mut server, "b");
        let mut run = RepairRun::new(RecordId::generate(), RecordKind::Person, Automerge::new());
        while let Some(request) = run.next_request() {
            let response = server_round(&mut server, &request);
            run.receive(response).unwrap();
        }
        let result = run.finish();
        assert_eq!(result.new_changes.len(), 2);
        assert_eq!(result.document.get_heads(), server.get_heads());
    }
}
