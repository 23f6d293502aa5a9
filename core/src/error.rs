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
    #[error("this store has no enrolled user: set it up with an officer and a role first")]
    NotInitialised,
    /// Storage failed (wrong key, corrupt file, disk full...).
    #[error(transparent)]
    Store(#[from] crate::storage::StoreError),
    /// A document could not be read or written.
    #[error(transparent)]
    Doc(#[from] crate::doc::DocError),
    /// The server could not be reached (no network, timeout) after retrying. Local work is
    /// kept: sync again later.
    #[error(
        "the server cannot be reached ({detail}); your work is kept on this device: sync again later"
    )]
    Offline {
        /// What failed (no personal data).
        detail: String,
    },
    /// The server failed (5xx) after retrying. Local work is kept.
    #[error(
        "the server failed (status {status}: {message}); your work is kept on this device: sync again later"
    )]
    ServerFailed {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server does not know this device's token.
    #[error("the server does not recognise this device: enrol it again with a new code")]
    Unauthenticated,
    /// The device was revoked at the server. Its unsynced work stays on the device.
    #[error("this device has been revoked; its unsynced work stays on it: ask your supervisor")]
    DeviceRevoked,
    /// The device's token has expired.
    #[error("this device's sign-in has expired: enrol it again with a new code")]
    TokenExpired,
    /// The device has not been enrolled with a server.
    #[error(
        "this device is not enrolled with a server: enrol it with the server's address and an enrolment code"
    )]
    NotEnrolled,
    /// The server refused the request as a whole (a 4xx other than 401).
    #[error("the server refused the request: {message} [{code}]")]
    ServerRefused {
        /// The server's stable code, e.g. `bad-code`, `too-large`.
        code: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The server's answer is not one this build understands.
    #[error("the server's answer could not be understood ({0}): update the app or report it")]
    Protocol(String),
    /// The server redirected a request to another origin (another host or port, or from https
    /// to http); it was not followed and nothing was sent there.
    #[error(
        "the server redirected the request to {to}, which is not the server this device is set up for; nothing was sent there: check the server address with your IT team"
    )]
    RedirectRefused {
        /// The origin redirected to (no personal data: scheme, host and port).
        to: String,
    },
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
                StoreError::Empty => "store-empty",
                StoreError::WalMissing => "store-wal-missing",
                StoreError::BadKey(_) => "bad-key",
                StoreError::Stale => "stale-record",
                StoreError::Sqlite(_) => "storage",
            },
            Error::Doc(e) => match e {
                DocError::NotADocument(_) => "not-a-document",
                DocError::NotARecord(_) => "not-a-record",
                DocError::Automerge(_) => "document",
                DocError::NoConflict(_) => "no-conflict",
                DocError::UnknownVersion => "unknown-version",
                DocError::Bounds(e) => e.code(),
                DocError::Inconsistent(_) => "document-inconsistent",
            },
            Error::Offline { .. } => "offline",
            Error::ServerFailed { .. } => "server-failed",
            Error::Unauthenticated => "unauthenticated",
            Error::DeviceRevoked => "device-revoked",
            Error::TokenExpired => "token-expired",
            Error::NotEnrolled => "not-enrolled",
            Error::ServerRefused { .. } => "server-refused",
            Error::Protocol(_) => "protocol",
            Error::RedirectRefused { .. } => "redirect-refused",
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

impl From<crate::invalid::Invalid> for Error {
    fn from(e: crate::invalid::Invalid) -> Error {
        let crate::invalid::Invalid {
            field,
            rule,
            message,
        } = e;
        Error::Invalid {
            field,
            rule,
            message,
        }
    }
}

/// Result with the core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
