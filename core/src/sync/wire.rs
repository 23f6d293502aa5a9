//! The sync protocol's messages, shared by the device and the server so both mean the same
//! bytes. Encoded as CBOR (RFC 8949): binary (automerge changes travel as byte strings, not
//! base64), self-describing (a server can log a message's shape, a future version can add
//! fields), and standard (any language can read a capture). See `docs/sync-protocol.md`.
//!
//! Endpoints (all bodies `application/cbor`):
//!
//! | method and path   | auth         | request          | response           |
//! |-------------------|--------------|------------------|--------------------|
//! | `POST /v1/enrol`  | the code     | [`EnrolRequest`] | [`EnrolResponse`]  |
//! | `POST /v1/sync`   | Bearer token | [`SyncRequest`]  | [`SyncResponse`]   |
//! | `POST /v1/repair` | Bearer token | [`RepairRequest`]| [`RepairResponse`] |
//! | `GET /v1/review-queue` | Bearer token (supervisor) | | [`ReviewQueue`] |
//! | `GET /health`     | none         |                  | `ok`               |
//! | `GET /metrics`    | none         |                  | Prometheus text    |
//!
//! Errors are a 4xx/5xx status with an [`ErrorBody`].

use crate::domain::{OfficerId, RecordId, RecordKind, Role};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Version of this protocol; a server refuses requests of another version with `protocol`.
pub const PROTOCOL_VERSION: u32 = 1;
/// The content type of every body.
pub const CONTENT_TYPE: &str = "application/cbor";
/// Largest request body a server accepts (413 `too-large` above it).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Most changes in one push (400 `too-many-changes` above it); a client splits larger outboxes.
pub const MAX_PUSH_CHANGES: usize = 20_000;
/// Most records in one push.
pub const MAX_PUSH_RECORDS: usize = 5_000;
/// Most automerge operations in one push, over all its changes (400 `too-many-changes` above
/// it); a client splits larger outboxes. Bounds the work one request can ask of the server.
pub const MAX_PUSH_OPERATIONS: usize = 2_000_000;
/// Default and largest number of changes in one feed page.
pub const DEFAULT_PAGE_CHANGES: u32 = 500;
/// Largest feed page a client may ask for.
pub const MAX_PAGE_CHANGES: u32 = 5_000;

/// An automerge change hash: 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hash(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl From<automerge::ChangeHash> for Hash {
    fn from(h: automerge::ChangeHash) -> Hash {
        Hash(h.0.to_vec())
    }
}

impl TryFrom<&Hash> for automerge::ChangeHash {
    type Error = WireError;
    fn try_from(h: &Hash) -> Result<automerge::ChangeHash, WireError> {
        <[u8; 32]>::try_from(h.0.as_slice())
            .map(automerge::ChangeHash)
            .map_err(|_| WireError::Malformed("a change hash must be 32 bytes".into()))
    }
}

impl crate::doc::Heads {
    /// The wire form: one [`Hash`] a head.
    pub fn to_wire(&self) -> Vec<Hash> {
        self.hashes().iter().copied().map(Hash::from).collect()
    }

    /// Heads from their wire form; a hash that is not 32 bytes is malformed.
    pub fn from_wire(hashes: &[Hash]) -> Result<crate::doc::Heads, WireError> {
        hashes
            .iter()
            .map(automerge::ChangeHash::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map(crate::doc::Heads::new)
    }
}

/// Bytes carried as a CBOR byte string (an automerge change, document or sync message).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bytes(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Enrolment
// ---------------------------------------------------------------------------------------------

/// `POST /v1/enrol`: exchange a one-time enrolment code for a device token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The one-time code printed by `fieldbook-server enrol`.
    pub code: String,
    /// The automerge actor ids (hex) this device writes with; bound to it from now on.
    pub actors: Vec<String>,
    /// A label for the device, e.g. "PC1234 phone".
    pub label: String,
}

/// The device's credentials and who it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The server's id for this device (for `fieldbook-server revoke --device`).
    pub device_id: String,
    /// The bearer token; the server keeps only its hash.
    pub token: String,
    /// The officer the code was issued to.
    pub officer: OfficerId,
    /// Their role.
    pub role: Role,
    /// Their team, if any.
    pub team: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Sync: push and feed in one round trip
// ---------------------------------------------------------------------------------------------

/// `POST /v1/sync`: push what the server has not acknowledged and pull a page of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The highest feed position this device has applied (0: never synced).
    pub cursor: u64,
    /// Most changes wanted in the feed page (≤ [`MAX_PAGE_CHANGES`]).
    pub page_limit: u32,
    /// Changes for many records, in one request. May be empty (a pull).
    pub push: Vec<RecordPush>,
}

/// One record's changes the server has not acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPush {
    /// The record.
    pub record: RecordId,
    /// Its kind (checked against the document).
    pub kind: RecordKind,
    /// Raw automerge changes (`Change::raw_bytes`), dependencies before dependants.
    pub changes: Vec<Bytes>,
}

/// The push results and the first feed page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// One result per pushed record, in request order.
    pub results: Vec<PushResult>,
    /// Changes accepted after the request's cursor, in the device's scope.
    pub page: FeedPage,
}

/// What happened to one pushed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    /// The record.
    pub record: RecordId,
    /// Accepted, rejected, or missing dependencies.
    pub outcome: PushOutcome,
}

/// The outcome of one record's push. Other records of the same push are unaffected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum PushOutcome {
    /// Every change is in the server's history (pushing it again changes nothing).
    Accepted {
        /// The server's heads for the record after this push.
        heads: Vec<Hash>,
        /// Server receipt time of the changes new to the server (ms since epoch).
        received_at: i64,
        /// How many of the pushed changes were new to the server.
        new_changes: u32,
    },
    /// Refused: none of the record's pushed changes entered the server's history.
    Rejected {
        /// The stable rule, e.g. `actor-not-bound`, `not-a-record`, `policy-approved-locked`.
        rule: RefusalCode,
        /// What is wrong and what to do (no personal data).
        message: String,
        /// The first refused change, when one change is to blame.
        change: Option<Hash>,
        /// The field, when one field is to blame.
        field: Option<String>,
    },
    /// The server lacks changes these depend on: run the repair path for this record.
    MissingDependencies {
        /// Hashes the server does not have.
        missing: Vec<Hash>,
    },
}

/// Why the server refused a record's push: the stable `rule` of a [`PushOutcome::Rejected`], one
/// list shared by the server (which sends it), the device (which decides what to do with the
/// refused changes) and the wire (a string, e.g. `actor-not-bound`). The trust checks' own codes
/// are variants; the rules stated in their own modules (the record's history `history-*`,
/// [`crate::doc::lineage::LineageError::rule`]; the automerge bounds,
/// [`crate::doc::bounded::BoundsError::code`]; the workflow policy `policy-*`, its matrix) travel
/// as [`RefusalCode::Rule`], as does a code from a newer server this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum RefusalCode {
    /// A change was written by an actor that is not enrolled to the pushing device.
    ActorNotBound,
    /// A change names another officer or role than the device's own.
    AuthorNotDeviceOfficer,
    /// A change arrived garbled, or could not be applied.
    MalformedChange,
    /// The changes do not make (or no longer make) a Fieldbook record.
    NotARecord,
    /// The record is of another kind than the push says.
    KindMismatch,
    /// The document holds another record's id.
    RecordMismatch,
    /// A new record is not authored by the device's officer.
    AuthorMismatch,
    /// A record's author was changed.
    AuthorChanged,
    /// The device's officer neither wrote nor attends the record.
    NotPermitted,
    /// The record, or its document, is beyond the limits the server keeps.
    OverLimits,
    /// With these changes the record's history no longer saves and loads.
    HistoryUnloadable,
    /// An approval pins a version the record never had before it.
    ApprovalHeadsUnknown,
    /// A rule stated in its own module (history, bounds, policy), or one this build does not know.
    Rule(String),
}

impl RefusalCode {
    /// Every code with a variant of its own, in declaration order.
    pub const OWN: [RefusalCode; 12] = [
        RefusalCode::ActorNotBound,
        RefusalCode::AuthorNotDeviceOfficer,
        RefusalCode::MalformedChange,
        RefusalCode::NotARecord,
        RefusalCode::KindMismatch,
        RefusalCode::RecordMismatch,
        RefusalCode::AuthorMismatch,
        RefusalCode::AuthorChanged,
        RefusalCode::NotPermitted,
        RefusalCode::OverLimits,
        RefusalCode::HistoryUnloadable,
        RefusalCode::ApprovalHeadsUnknown,
    ];

    /// The code on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            RefusalCode::ActorNotBound => "actor-not-bound",
            RefusalCode::AuthorNotDeviceOfficer => "author-not-device-officer",
            RefusalCode::MalformedChange => "malformed-change",
            RefusalCode::NotARecord => "not-a-record",
            RefusalCode::KindMismatch => "kind-mismatch",
            RefusalCode::RecordMismatch => "record-mismatch",
            RefusalCode::AuthorMismatch => "author-mismatch",
            RefusalCode::AuthorChanged => "author-changed",
            RefusalCode::NotPermitted => "not-permitted",
            RefusalCode::OverLimits => "over-limits",
            RefusalCode::HistoryUnloadable => "history-unloadable",
            RefusalCode::ApprovalHeadsUnknown => "approval-heads-unknown",
            RefusalCode::Rule(rule) => rule,
        }
    }

    /// The code for a wire string: its own variant when it has one, else [`RefusalCode::Rule`].
    pub fn parse(code: &str) -> RefusalCode {
        RefusalCode::OWN
            .into_iter()
            .find(|c| c.as_str() == code)
            .unwrap_or_else(|| RefusalCode::Rule(code.to_owned()))
    }

    /// Whether the refusal is final for the refused changes. Three codes are about the pushing
    /// device or the bytes, not the record (the actor is not enrolled, a change names another
    /// officer, a change arrived garbled): the same changes may be accepted once the device is
    /// enrolled again or pushes them whole, so the device keeps them in its outbox and marks the
    /// record as needing attention. Every other code is final (one this build does not know
    /// too): the device keeps its refused state in the quarantine and rebuilds the record from
    /// the server's version (`docs/sync-protocol.md`, "Quarantine").
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            RefusalCode::ActorNotBound
                | RefusalCode::AuthorNotDeviceOfficer
                | RefusalCode::MalformedChange
        )
    }
}

impl std::fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<RefusalCode> for String {
    fn from(code: RefusalCode) -> String {
        match code {
            RefusalCode::Rule(rule) => rule,
            own => own.as_str().to_owned(),
        }
    }
}

impl From<String> for RefusalCode {
    fn from(code: String) -> RefusalCode {
        RefusalCode::parse(&code)
    }
}

impl From<&str> for RefusalCode {
    fn from(code: &str) -> RefusalCode {
        RefusalCode::parse(code)
    }
}

impl PartialEq<str> for RefusalCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RefusalCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A page of the change feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    /// Entries in feed order, grouped by record within the page.
    pub entries: Vec<FeedEntry>,
    /// The cursor to persist once every entry is applied.
    pub cursor: u64,
    /// More changes wait after `cursor`: ask again (with an empty push).
    pub more: bool,
}

/// One record's part of a feed page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "kebab-case")]
pub enum FeedEntry {
    /// New changes to a record the device holds.
    Changes {
        /// The record.
        record: RecordId,
        /// Its kind.
        kind: RecordKind,
        /// The changes, in feed order, each with its server receipt time.
        changes: Vec<ReceivedChange>,
        /// The server's heads for the record after these changes.
        heads: Vec<Hash>,
    },
    /// A record new to the device (it entered the device's scope): the whole document.
    Snapshot {
        /// The record.
        record: RecordId,
        /// Its kind.
        kind: RecordKind,
        /// `Automerge::save` of the server's document.
        document: Bytes,
        /// The server's heads for the record.
        heads: Vec<Hash>,
        /// Receipt time of every change in the document.
        receipts: Vec<Receipt>,
    },
    /// The record left the device's scope: delete it once nothing of it is unsynced.
    Evict {
        /// The record.
        record: RecordId,
    },
}

/// A change with its server receipt time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedChange {
    /// Raw automerge change.
    pub bytes: Bytes,
    /// Server receipt time (ms since epoch); device clocks lie, this does not.
    pub received_at: i64,
}

/// A change hash with its server receipt time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The change.
    pub hash: Hash,
    /// Server receipt time (ms since epoch).
    pub received_at: i64,
}

// ---------------------------------------------------------------------------------------------
// Repair: automerge's own sync protocol for one record
// ---------------------------------------------------------------------------------------------

/// `POST /v1/repair`: one round of automerge's sync protocol for one record. The server keeps
/// no state between rounds; the device repeats until neither side has a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairRequest {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// `automerge::sync::Message::encode()` from the device.
    pub message: Bytes,
}

/// The server's reply in a repair round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairResponse {
    /// The server's next sync message, if it has one.
    pub message: Option<Bytes>,
    /// The server's heads after applying the device's message.
    pub heads: Vec<Hash>,
    /// Set when changes in the device's message were refused (as in [`PushOutcome::Rejected`]).
    pub rejected: Option<PushOutcome>,
}

// ---------------------------------------------------------------------------------------------
// Review
// ---------------------------------------------------------------------------------------------

/// `GET /v1/review-queue` (JSON by default, CBOR on request): a supervisor's review queue as
/// the server builds it with [`crate::review`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewQueue {
    /// The supervisor's team (`None`: no team, so no queue).
    pub team: Option<String>,
    /// When the queue was built (server clock).
    pub at: crate::domain::Timestamp,
    /// The team's records waiting for review, oldest report first.
    pub items: Vec<crate::review::QueueItem>,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code: `unauthenticated`, `device-revoked`, `token-expired`, `bad-code`,
    /// `actor-taken`, `control-character`, `rate-limited`, `malformed`, `protocol`,
    /// `too-large`, `too-many-changes`, `content-type`, `unknown-record`, `forbidden`,
    /// `supervisor-only`, `internal`.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// A message that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not a valid message of the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Encodes a message as CBOR.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing plain data into a Vec cannot fail.
    if ciborium::into_writer(message, &mut out).is_err() {
        out.clear();
    }
    out
}

/// Decodes a CBOR message, refusing anything that is not exactly a `T`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    ciborium::from_reader(bytes).map_err(|e| WireError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_code_travels_as_its_string_and_a_code_this_build_does_not_know_is_kept_and_final()
    {
        for code in RefusalCode::OWN {
            let wire = encode(&code);
            assert_eq!(decode::<String>(&wire).expect("a string"), code.as_str());
            assert_eq!(decode::<RefusalCode>(&wire).expect("a code"), code);
            assert_eq!(RefusalCode::parse(code.as_str()), code);
        }
        let codes: std::collections::HashSet<&str> =
            RefusalCode::OWN.iter().map(RefusalCode::as_str).collect();
        assert_eq!(
            codes.len(),
            RefusalCode::OWN.len(),
            "every code is distinct"
        );

        let newer = decode::<RefusalCode>(&encode(&"policy-from-a-newer-server")).expect("a code");
        assert_eq!(
            newer,
            RefusalCode::Rule("policy-from-a-newer-server".into())
        );
        assert_eq!(encode(&newer), encode(&"policy-from-a-newer-server"));
        assert!(
            newer.is_final(),
            "an unknown refusal quarantines, never retries forever"
        );

        let retryable: Vec<&str> = RefusalCode::OWN
            .iter()
            .filter(|c| !c.is_final())
            .map(RefusalCode::as_str)
            .collect();
        assert_eq!(
            retryable,
            [
                "actor-not-bound",
                "author-not-device-officer",
                "malformed-change"
            ]
        );
        assert!(RefusalCode::parse("history-gap").is_final());
        assert!(RefusalCode::parse("policy-approved-locked").is_final());
    }

    #[test]
    fn a_sync_request_round_trips_through_cbor_with_changes_as_byte_strings() {
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: 42,
            page_limit: DEFAULT_PAGE_CHANGES,
            push: vec![RecordPush {
                record: RecordId::generate(),
                kind: RecordKind::CrimeReport,
                changes: vec![Bytes(vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3])],
            }],
        };
        let bytes = encode(&request);
        assert_eq!(decode::<SyncRequest>(&bytes).expect("decodes"), request);
        // A byte string costs its length plus a short header, not base64's third more.
        let raw = encode(&Bytes(vec![7u8; 1000]));
        assert!(raw.len() <= 1003, "{}", raw.len());
    }

    #[test]
    fn garbage_and_truncated_messages_are_refused() {
        let bytes = encode(&SyncRequest {
            protocol: 1,
            cursor: 0,
            page_limit: 10,
            push: Vec::new(),
        });
        assert!(decode::<SyncRequest>(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode::<SyncRequest>(b"not cbor at all").is_err());
        assert!(
            decode::<SyncResponse>(&bytes).is_err(),
            "a request is not a response"
        );
    }
}
