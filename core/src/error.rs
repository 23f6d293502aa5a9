//! The core's public error: what a caller (CLI, bindings) can act on.
//!
//! Each module has its own error enum ([`crate::storage::StoreError`], [`crate::doc::DocError`]);
//! they convert into [`Error`] here and nowhere else. Messages are lower-case, say what to do, and
//! never contain personal data (names, addresses, narrative text).

use crate::domain::{RecordId, RecordKind, Status};
use crate::rules::Finding;

/// Everything that can go wrong in the core, as a caller sees it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: names the field and the rule broken. Nothing was stored.
    #[error("{field}: {message} [{rule}]")]
    Invalid {
        /// Field path, e.g. `grounds` or `location.lat`.
        field: String,
        /// Rule id, e.g. `max-length`.
        rule: String,
        /// What is wrong and how to put it right.
        message: String,
    },
    /// Submission refused: every finding at once.
    #[error("refused: {} finding(s): {}", findings.len(), findings.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "))]
    Refused {
        /// Every rule that failed.
        findings: Vec<Finding>,
    },
    /// No record with this id on this device.
    #[error("no record {0} on this device")]
    NotFound(RecordId),
    /// The record exists but is of another kind than the operation needs.
    #[error("record {id} is a {actual}, not a {expected}")]
    WrongKind {
        /// The record.
        id: RecordId,
        /// What the operation needs.
        expected: RecordKind,
        /// What it is.
        actual: RecordKind,
    },
    /// The workflow does not allow this now (e.g. editing a submitted record).
    #[error("record {id} is {status}: {message}")]
    NotEditable {
        /// The record.
        id: RecordId,
        /// Its current status.
        status: Status,
        /// Why and what to do.
        message: String,
    },
    /// This user's role may not do this.
    #[error("not permitted: {0}")]
    Forbidden(String),
    /// The device has not been set up with `init`.
    #[error("this store has no enrolled user: run `fieldbook init --officer ID --role ROLE` first")]
    NotInitialised,
    /// Storage failed (wrong key, corrupt file, disk full...).
    #[error(transparent)]
    Store(#[from] crate::storage::StoreError),
    /// A document could not be read or written.
    #[error(transparent)]
    Doc(#[from] crate::doc::DocError),
}

impl Error {
    /// A stable code for every error, for scripts and apps to act on (the rule id for bad input).
    pub fn code(&self) -> &str {
        use crate::doc::DocError;
        use crate::storage::StoreError;
        match self {
            Error::Invalid { rule, .. } => rule,
            Error::Refused { .. } => "refused",
            Error::NotFound(_) => "unknown-record",
            Error::WrongKind { .. } => "wrong-kind",
            Error::NotEditable { .. } => "not-editable",
            Error::Forbidden(_) => "forbidden",
            Error::NotInitialised => "not-initialised",
            Error::Store(e) => match e {
                StoreError::KeyRejected => "key-rejected",
                StoreError::Corrupt { .. } => "store-corrupt",
                StoreError::TooNew { .. } => "store-too-new",
                StoreError::Missing => "store-missing",
                StoreError::BadKey(_) => "bad-key",
                StoreError::Sqlite(_) => "storage",
            },
            Error::Doc(e) => match e {
                DocError::NotADocument(_) => "not-a-document",
                DocError::NotARecord(_) => "not-a-record",
                DocError::Automerge(_) => "document",
                DocError::NoConflict(_) => "no-conflict",
                DocError::UnknownVersion => "unknown-version",
            },
        }
    }

    /// A bad-input error naming the field and rule.
    pub fn invalid(
        field: impl Into<String>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            field: field.into(),
            rule: rule.into(),
            message: message.into(),
        }
    }
}

/// Result with the core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
