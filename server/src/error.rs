//! Errors: [`ServerError`] for the library and binary (start-up, admin), and `ApiError`, the
//! one type every handler failure becomes before it is written as a CBOR `ErrorBody`.

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldbook_core::sync::wire::{self, ErrorBody};

/// Why the server (or an admin command) could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound or served.
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    /// The configuration is not usable.
    #[error("bad configuration: {0}")]
    Config(String),
    /// A configuration value outside the range it may take.
    #[error("bad configuration: {key} = {value} is outside {min}..={max}")]
    ConfigOutOfRange {
        /// The key (as written in the TOML file).
        key: &'static str,
        /// The value given.
        value: u64,
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// Text holding a control character (a device label, an officer name, a team).
    #[error(transparent)]
    NotPlainText(#[from] crate::text::NotPlainText),
    /// An empty name or team.
    #[error("{0} is empty: give a value, or leave the flag out")]
    EmptyDetail(&'static str),
    /// A code was asked for with details that differ from the registered officer's.
    #[error("{}", officer_differs(officer, field, values.as_ref()))]
    OfficerDiffers {
        /// Collar number.
        officer: String,
        /// `name`, `role` or `team`.
        field: &'static str,
        /// (registered, given), except for a name (personal data).
        values: Option<(String, String)>,
    },
    /// A new officer needs this flag.
    #[error("{officer} is not registered yet: give {flag} to register them")]
    NewOfficerNeeds {
        /// Collar number.
        officer: String,
        /// The missing flag.
        flag: &'static str,
    },
    /// No officer with this id.
    #[error("no officer '{0}' is registered: list them with `fieldbook-server officer list`")]
    UnknownOfficer(String),
    /// `officer set` with nothing to set.
    #[error("nothing to change: give --role, --team, --no-team or --name")]
    NothingToChange,
    /// No database key was given.
    #[error(
        "the server database is encrypted and no key was given: put the key (64 hex characters, or a passphrase) in a file readable only by the server and give --key-file PATH (or FIELDBOOK_SERVER_KEY_FILE, or key_file in the config file), or set FIELDBOOK_SERVER_KEY"
    )]
    KeyMissing,
    /// The key file could not be read.
    #[error("cannot read the key file {}: {source}", path.display())]
    KeyFile {
        /// The key file.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The key given is not usable.
    #[error("bad database key ({origin}): {source}")]
    Key {
        /// Where it came from (the key file, FIELDBOOK_SERVER_KEY).
        origin: String,
        /// Why it is not a key.
        source: fieldbook_core::storage::KeyTextError,
    },
    /// No device with this id.
    #[error("no device with id '{0}': list them with `fieldbook-server devices`")]
    UnknownDevice(String),
}

fn officer_differs(officer: &str, field: &str, values: Option<&(String, String)>) -> String {
    let registered = match values {
        Some((stored, given)) => format!(" (registered: {stored}; given: {given})"),
        None => String::new(),
    };
    format!(
        "{officer} is registered with another {field}{registered}, and issuing a code never changes an officer: \
         leave --{field} out to issue a code for the officer as registered, or change them first with \
         `fieldbook-server officer set --officer {officer} --{field} ...`"
    )
}

/// A refused request: status, stable code and a message saying what to do (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send `Authorization: Bearer <token>` with the token from enrolment",
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; nothing of this request was stored: retry later",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "storage failed");
        match e {
            // Out of rotation until the database is restored: the device keeps everything and
            // retries, as for any unavailable server.
            StoreError::Damaged { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server cannot use its database; nothing of this request was stored: retry later",
            ),
            _ => ApiError::internal(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = wire::encode(&ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
        });
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, wire::CONTENT_TYPE)],
            body,
        )
            .into_response()
    }
}
