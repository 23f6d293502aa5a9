//! The one error the apps see, mapped from the core's [`fieldbook_core::Error`] here and nowhere
//! else. Each variant is something an app can act on; every message is the core's, which never
//! holds personal data.

use crate::types::Finding;
use fieldbook_core::Error as CoreError;
use fieldbook_core::storage::StoreError;

/// What went wrong, as an app acts on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum FieldbookError {
    /// Bad input or a refused submission: every broken rule, each naming its field. Show them
    /// next to the fields; nothing was stored.
    #[error("{} finding(s): {}", findings.len(), summary(findings))]
    Validation {
        /// Every rule that failed.
        findings: Vec<Finding>,
    },
    /// This user may not do this now (role, workflow state, not the author). `code` is
    /// `forbidden` or `not-editable`.
    #[error("{detail} [{code}]")]
    NotPermitted {
        /// Stable code.
        code: String,
        /// What to tell the user.
        detail: String,
    },
    /// No such record on this device.
    #[error("no record {id} on this device")]
    NotFound {
        /// The record id asked for.
        id: String,
    },
    /// The record changed since it was read (a sync merged into it): read it again and
    /// re-apply the edit, or use `save_versioned`.
    #[error("the record changed since it was read: read it again")]
    Stale,
    /// The server cannot be reached, or the platform reports no connection. Work is kept:
    /// sync later.
    #[error("{detail}")]
    Offline {
        /// What failed.
        detail: String,
    },
    /// The server failed (5xx) after retries. Work is kept: sync later.
    #[error("{detail}")]
    ServerUnavailable {
        /// What failed.
        detail: String,
    },
    /// The device's sign-in is no longer valid: `token-expired`, or `unauthenticated` (the
    /// server does not know it). Enrol it again with a new code.
    #[error("{detail} [{code}]")]
    AuthenticationExpired {
        /// Stable code.
        code: String,
        /// What to tell the user.
        detail: String,
    },
    /// The device was revoked at the server. Its unsynced work stays on it.
    #[error("{detail}")]
    DeviceRevoked {
        /// What to tell the user.
        detail: String,
    },
    /// The device is not enrolled with a server yet.
    #[error("{detail}")]
    NotEnrolled {
        /// What to tell the user.
        detail: String,
    },
    /// The server refused the request (bad enrolment code, too large, ...). `code` is the
    /// server's stable code.
    #[error("{detail} [{code}]")]
    RefusedByServer {
        /// The server's stable code, e.g. `bad-code`, `too-large`.
        code: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The sync was cancelled through its [`crate::SyncCancel`] handle. What it applied before
    /// is kept.
    #[error("the sync was cancelled; what it had applied is kept")]
    Cancelled,
    /// The encrypted store failed: `key-rejected` (the key provider gave another key),
    /// `store-corrupt`, `store-too-new`, `store-missing`, `bad-key`, `storage`.
    #[error("{detail} [{code}]")]
    Storage {
        /// Stable code.
        code: String,
        /// What failed.
        detail: String,
    },
    /// Anything else (a damaged document, a server answer this build does not understand).
    #[error("{detail} [{code}]")]
    Other {
        /// Stable code.
        code: String,
        /// What failed.
        detail: String,
    },
}

fn summary(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{}: {} [{}]", f.field, f.message, f.rule))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<fieldbook_core::Invalid> for FieldbookError {
    fn from(e: fieldbook_core::Invalid) -> Self {
        CoreError::from(e).into()
    }
}

impl From<CoreError> for FieldbookError {
    fn from(e: CoreError) -> Self {
        let code = e.code().to_owned();
        let detail = e.to_string();
        match e {
            CoreError::Invalid {
                field,
                rule,
                message,
            } => FieldbookError::Validation {
                findings: vec![Finding {
                    field,
                    rule,
                    message,
                    severity: crate::types::Severity::Error,
                }],
            },
            CoreError::Refused { findings } => FieldbookError::Validation {
                findings: findings.into_iter().map(Finding::from).collect(),
            },
            CoreError::Forbidden(_) | CoreError::NotEditable { .. } => {
                FieldbookError::NotPermitted { code, detail }
            }
            CoreError::NotFound(id) => FieldbookError::NotFound { id: id.to_string() },
            CoreError::Offline { .. } => FieldbookError::Offline { detail },
            CoreError::ServerFailed { .. } => FieldbookError::ServerUnavailable { detail },
            CoreError::Unauthenticated | CoreError::TokenExpired => {
                FieldbookError::AuthenticationExpired { code, detail }
            }
            CoreError::DeviceRevoked => FieldbookError::DeviceRevoked { detail },
            // The core's texts for these name CLI commands; an app says it its own way.
            CoreError::NotEnrolled => FieldbookError::NotEnrolled {
                detail: "this device is not enrolled with a server yet: enrol it with a code from your supervisor".into(),
            },
            CoreError::NotInitialised | CoreError::Store(StoreError::Missing) => {
                FieldbookError::Storage {
                    code,
                    detail: "there is no Fieldbook store on this phone yet: set it up first".into(),
                }
            }
            CoreError::Store(StoreError::Empty) => FieldbookError::Storage {
                code,
                detail: "the Fieldbook store on this phone is an empty file; nothing was changed: restore the phone's backup, or set Fieldbook up again".into(),
            },
            CoreError::Store(StoreError::WalMissing) => FieldbookError::Storage {
                code,
                detail: "part of the Fieldbook store on this phone (its -wal file) is missing after the app was stopped; nothing was changed: restore the phone's backup, or ask your IT team".into(),
            },
            // "Read it again": the version an editor held is gone (e.g. rebuilt after a refusal).
            CoreError::Store(StoreError::Stale)
            | CoreError::Doc(fieldbook_core::doc::DocError::UnknownVersion) => FieldbookError::Stale,
            CoreError::ServerRefused { code, message } => FieldbookError::RefusedByServer {
                code,
                detail: message,
            },
            CoreError::Store(_) => FieldbookError::Storage { code, detail },
            CoreError::WrongKind { .. }
            | CoreError::Doc(_)
            | CoreError::Protocol(_)
            | CoreError::RedirectRefused { .. } => FieldbookError::Other { code, detail },
        }
    }
}

impl FieldbookError {
    /// A stable code for every error (the rule id of a single validation finding).
    pub fn code(&self) -> String {
        match self {
            FieldbookError::Validation { findings } => match findings.as_slice() {
                [one] => one.rule.clone(),
                _ => "refused".into(),
            },
            FieldbookError::NotPermitted { code, .. }
            | FieldbookError::AuthenticationExpired { code, .. }
            | FieldbookError::RefusedByServer { code, .. }
            | FieldbookError::Storage { code, .. }
            | FieldbookError::Other { code, .. } => code.clone(),
            FieldbookError::NotFound { .. } => "unknown-record".into(),
            FieldbookError::Stale => "stale-record".into(),
            FieldbookError::Offline { .. } => "offline".into(),
            FieldbookError::ServerUnavailable { .. } => "server-failed".into(),
            FieldbookError::DeviceRevoked { .. } => "device-revoked".into(),
            FieldbookError::NotEnrolled { .. } => "not-enrolled".into(),
            FieldbookError::Cancelled => "cancelled".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldbook_core::domain::{RecordId, RecordKind, Status};
    use fieldbook_core::rules::{Finding as CoreFinding, Severity as CoreSeverity};

    #[test]
    fn every_core_error_becomes_the_variant_an_app_acts_on() {
        let id = RecordId::generate();
        let cases: Vec<(CoreError, &str)> = vec![
            (
                CoreError::invalid("grounds", "ss-grounds-specific", "be specific"),
                "ss-grounds-specific",
            ),
            (CoreError::Forbidden("no".into()), "forbidden"),
            (
                CoreError::NotEditable {
                    id,
                    status: Status::Submitted,
                    message: "wait".into(),
                },
                "not-editable",
            ),
            (CoreError::NotFound(id), "unknown-record"),
            (CoreError::Store(StoreError::Stale), "stale-record"),
            (CoreError::Store(StoreError::KeyRejected), "key-rejected"),
            (CoreError::Store(StoreError::Empty), "store-empty"),
            (
                CoreError::Store(StoreError::WalMissing),
                "store-wal-missing",
            ),
            (
                CoreError::Offline {
                    detail: "timeout".into(),
                },
                "offline",
            ),
            (
                CoreError::ServerFailed {
                    status: 503,
                    message: "busy".into(),
                },
                "server-failed",
            ),
            (CoreError::TokenExpired, "token-expired"),
            (CoreError::Unauthenticated, "unauthenticated"),
            (
                CoreError::Doc(fieldbook_core::doc::DocError::UnknownVersion),
                "stale-record",
            ),
            (CoreError::NotInitialised, "not-initialised"),
            (CoreError::DeviceRevoked, "device-revoked"),
            (CoreError::NotEnrolled, "not-enrolled"),
            (
                CoreError::ServerRefused {
                    code: "bad-code".into(),
                    message: "m".into(),
                },
                "bad-code",
            ),
            (
                CoreError::WrongKind {
                    id,
                    expected: RecordKind::CrimeReport,
                    actual: RecordKind::Person,
                },
                "wrong-kind",
            ),
            (CoreError::Protocol("x".into()), "protocol"),
            (
                CoreError::RedirectRefused {
                    to: "https://elsewhere.example".into(),
                },
                "redirect-refused",
            ),
        ];
        for (core, code) in cases {
            let ffi = FieldbookError::from(core);
            assert_eq!(ffi.code(), code, "{ffi:?}");
        }
    }

    #[test]
    fn a_refused_submission_keeps_every_finding_with_its_field() {
        let finding = |field: &str, rule: &str, severity| CoreFinding {
            field: field.into(),
            rule: rule.into(),
            message: "m".into(),
            severity,
        };
        let ffi = FieldbookError::from(CoreError::Refused {
            findings: vec![
                finding("grounds", "ss-grounds-specific", CoreSeverity::Error),
                finding(
                    "recording_decision",
                    "crime-decision-late",
                    CoreSeverity::Warning,
                ),
            ],
        });
        let FieldbookError::Validation { findings } = ffi else {
            panic!("not a validation error");
        };
        let fields: Vec<_> = findings
            .iter()
            .map(|f| (f.field.as_str(), f.severity))
            .collect();
        assert_eq!(
            fields,
            [
                ("grounds", crate::types::Severity::Error),
                ("recording_decision", crate::types::Severity::Warning)
            ]
        );
    }
}
