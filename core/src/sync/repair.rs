//! The slow path: automerge's own sync protocol for one record, used only when the change feed
//! cannot settle it (the server lacks dependencies, the device lacks changes the feed's heads
//! name, or the device does not hold the record at all).
//!
//! Sans-I/O like [`super::client`]: [`RepairRun::next_request`] gives the message to POST to
//! `/v1/repair`, [`RepairRun::receive`] takes the server's answer. The run keeps a fresh
//! `sync::State` on the device side; the server keeps none between rounds. It ends when the
//! device has nothing to say after the server's last message, or after [`MAX_ROUNDS`].

use super::wire::{self, PushOutcome, RepairRequest, RepairResponse};
use crate::Error;
use crate::domain::{RecordId, RecordKind};
use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, Change, ChangeHash, ReadDoc};

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
            .filter(|hs| hs.iter().all(|h| self.doc.get_change_by_hash(h).is_some()));
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
