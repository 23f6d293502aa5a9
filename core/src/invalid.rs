//! Bad input, as the leaf modules report it: the field and the rule it breaks.
//!
//! `domain`, `edit` and `limits` sit at the bottom of the core: they parse and check values and
//! know nothing of storage or documents, so they return this and not the crate-wide
//! [`crate::error::Error`] (which carries storage and document errors, and with them rusqlite's and
//! automerge's types). It converts into [`crate::error::Error::Invalid`] with `?`, field for field.

/// A value that breaks a rule: nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message} [{rule}]")]
pub struct Invalid {
    /// Field path, e.g. `grounds` or `location.lat`.
    pub field: String,
    /// Rule id, e.g. `max-length`.
    pub rule: String,
    /// What is wrong and how to put it right.
    pub message: String,
}

impl Invalid {
    /// The field, the rule it breaks, and what to do.
    pub fn new(
        field: impl Into<String>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Invalid {
        Invalid {
            field: field.into(),
            rule: rule.into(),
            message: message.into(),
        }
    }
}
