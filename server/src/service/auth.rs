//! Enrolment and authentication: exchanging a one-time code for a device and its token,
//! checking a bearer token, and the per-device turn that sync and repair requests take.

use super::{SyncService, lock, normalise_code, protocol_error, sha256};
use crate::error::ApiError;
use crate::store::{DeviceAuth, EnrolOutcome, NewDevice};
use axum::http::StatusCode;
use fieldbook_core::sync::wire::{self, EnrolRequest, EnrolResponse};
use std::sync::Arc;

impl SyncService {
    /// The lock a device's sync and repair requests take in turn: one device's requests are
    /// worked on one at a time, so a device sending many at once (a retrying client, or a hostile
    /// one) occupies one worker, not all of them.
    pub fn device_turn(&self, device: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = lock(&self.turns);
        if let Some(turn) = turns.get(device).and_then(std::sync::Weak::upgrade) {
            return turn;
        }
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        if turns.len() >= 1024 {
            turns.retain(|_, t| t.strong_count() > 0);
        }
        turns.insert(device.to_owned(), Arc::downgrade(&turn));
        turn
    }

    /// The device a bearer token belongs to, if it may sync.
    pub fn authenticate(&self, token: Option<&str>) -> Result<DeviceAuth, ApiError> {
        let token = token
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(ApiError::unauthenticated)?;
        let device = self
            .store
            .device_by_token(sha256(token.as_bytes()))?
            .ok_or_else(ApiError::unauthenticated)?;
        if device.revoked {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "device-revoked",
                "this device was revoked: ask for a new enrolment code",
            ));
        }
        let ttl = i64::try_from(self.config.token_ttl.as_millis()).unwrap_or(i64::MAX);
        if self.now_ms().saturating_sub(device.created_at) >= ttl {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token-expired",
                "this device's token has expired: enrol the device again",
            ));
        }
        Ok(device)
    }

    /// Exchanges a one-time code for a device and its token.
    pub fn enrol(&self, request: EnrolRequest) -> Result<EnrolResponse, ApiError> {
        if request.protocol != wire::PROTOCOL_VERSION {
            return Err(protocol_error(request.protocol));
        }
        if request.actors.is_empty() || request.actors.len() > 64 {
            return Err(ApiError::malformed("send between 1 and 64 actor ids"));
        }
        let mut actors = Vec::with_capacity(request.actors.len());
        for a in &request.actors {
            match hex::decode(a) {
                Ok(bytes) if !bytes.is_empty() && bytes.len() <= 32 => {
                    actors.push(hex::encode(bytes))
                }
                _ => {
                    return Err(ApiError::malformed(
                        "an actor id must be 1 to 32 bytes in hex",
                    ));
                }
            }
        }
        actors.sort();
        actors.dedup();
        if request.label.chars().count() > 200 {
            return Err(ApiError::malformed(
                "the device label is longer than 200 characters",
            ));
        }
        if let Err(e) = crate::text::check_plain("device label", &request.label) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "control-character",
                e.to_string(),
            ));
        }
        let token: [u8; 32] = rand::random();
        let token = hex::encode(token);
        let device = NewDevice {
            id: uuid::Uuid::now_v7().to_string(),
            label: request.label,
            token_hash: sha256(token.as_bytes()),
            actors,
            created_at: self.now_ms(),
        };
        let code_hash = sha256(normalise_code(&request.code).as_bytes());
        match self.store.enrol(code_hash, self.now_ms(), &device)? {
            EnrolOutcome::Enrolled { officer, replaced } => {
                if replaced.is_empty() {
                    tracing::info!(device = %device.id, officer = %officer.id, actors = device.actors.len(), "device enrolled");
                } else {
                    tracing::info!(device = %device.id, officer = %officer.id, actors = device.actors.len(), replaced = ?replaced, "device enrolled again: it takes over the actors and holdings of its earlier enrolment");
                }
                Ok(EnrolResponse {
                    device_id: device.id,
                    token,
                    officer: officer.id,
                    role: officer.role,
                    team: officer.team,
                })
            }
            EnrolOutcome::BadCode => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "bad-code",
                "the enrolment code is unknown, used or expired: ask for a new one",
            )),
            EnrolOutcome::ActorTaken(actor) => {
                tracing::warn!(reason = "actor-taken", actor = %actor, "enrolment refused: an actor is bound to another officer's device");
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "actor-taken",
                    "an actor id is already bound to another officer's device: generate new actor ids for this install",
                ))
            }
        }
    }
}
