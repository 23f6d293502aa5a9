//! Repair: one stateless round of automerge's sync protocol for one record, its incoming
//! changes checked as a push.

use super::feed::PageBuilder;
use super::{SyncService, protocol_error};
use crate::documents::CachedDoc;
use crate::error::ApiError;
use crate::store::DeviceAuth;
use crate::trust;
use automerge::Automerge;
use automerge::sync::SyncDoc;
use axum::http::StatusCode;
use fieldbook_core::doc::bounded;
use fieldbook_core::domain::RecordId;
use fieldbook_core::sync::wire::{
    self, Bytes, Hash, PushOutcome, RecordPush, RepairRequest, RepairResponse,
};

impl SyncService {
    /// One stateless round of automerge's sync protocol for one record.
    pub fn repair(
        &self,
        device: &DeviceAuth,
        request: RepairRequest,
    ) -> Result<RepairResponse, ApiError> {
        if request.protocol != wire::PROTOCOL_VERSION {
            return Err(protocol_error(request.protocol));
        }
        let mut message = bounded::read_sync_message(&request.message.0, &bounded::Bounds::RECORD)
            .map_err(|e| ApiError::malformed(format!("the repair message is refused: {e}")))?;
        // The message's changes are checked as a push, bounded, never applied by automerge's
        // sync protocol directly.
        let items: Vec<&[u8]> = message.changes.iter().collect();
        let incoming: Vec<Bytes> = trust::repair_changes(&items)
            .map_err(ApiError::malformed)?
            .into_iter()
            .map(Bytes)
            .collect();
        message.changes = automerge::sync::ChunkList::empty();
        let base = self.document(request.record)?;
        if let Some(b) = &base
            && !self.may_repair(device, request.record, b)?
        {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown-record",
                "this device holds no such record",
            ));
        }
        let mut state = automerge::sync::State::new();
        let mut view = match &base {
            Some(b) => b.doc.automerge().fork(),
            None => Automerge::new(),
        };
        view.receive_sync_message(&mut state, message)
            .map_err(|_| ApiError::malformed("the repair message does not apply"))?;
        let mut rejected = None;
        if !incoming.is_empty() {
            let push = RecordPush {
                record: request.record,
                kind: request.kind,
                changes: incoming,
            };
            let result = self.push(device, std::slice::from_ref(&push))?;
            if let Some(r) = result.into_iter().next()
                && !matches!(r.outcome, PushOutcome::Accepted { .. })
            {
                rejected = Some(r.outcome);
            }
        }
        let current = self.document(request.record)?;
        let reply = match &current {
            Some(c) => c.doc.automerge().generate_sync_message(&mut state),
            None => Automerge::new().generate_sync_message(&mut state),
        };
        Ok(RepairResponse {
            message: reply.map(|m| Bytes(m.encode())),
            heads: current
                .map(|c| c.doc.heads().into_iter().map(Hash::from).collect())
                .unwrap_or_default(),
            rejected,
        })
    }

    /// A device may repair a record it holds, one in its scope, or one it writes to.
    fn may_repair(
        &self,
        device: &DeviceAuth,
        record: RecordId,
        _doc: &CachedDoc,
    ) -> Result<bool, ApiError> {
        if self
            .store
            .holding(&device.device_id, record)?
            .is_some_and(|h| h.held)
        {
            return Ok(true);
        }
        let mut page = PageBuilder::new(device, 0);
        let Some((facts, direct)) = self.direct(&mut page, record)? else {
            return Ok(false);
        };
        self.in_scope(&mut page, &facts, direct)
    }
}
