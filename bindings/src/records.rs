//! Mirrors of the core's domain records (`fieldbook_core::domain`) for uniffi, and the translations
//! both ways. This module translates; it does not validate (that is `fieldbook_core::rules`).
//!
//! Each mirror has the core type's name and field names, so the Kotlin, Swift and Python apps read
//! the model the core documents. What the foreign languages cannot hold becomes the nearest thing
//! they can: a time is a `SystemTime` (Kotlin `java.time.Instant`, Swift `Date`, Python
//! `datetime`); a record id, a collar number and a calendar date (`YYYY-MM-DD`) are text.
//!
//! - core → FFI is `From`: it cannot fail. `Record::from(core_record)`.
//! - FFI → core is `TryFrom` with [`fieldbook_core::Error`] for every type that holds an id, a
//!   collar number, a time or a date: `domain::Record::try_from(ffi_record)?`. A bad value gives
//!   `Error::Invalid` naming the field path (`victims[2]`, `meta.created_at`) and the rule
//!   (`record-id`, `officer-id`, `date`, `time-range`); the message never repeats the value.
//!   Times before 1970 are accepted (a non-recent crime occurred long ago); times are kept to the
//!   millisecond, as in the core.
//! - Plain enums, and structs with nothing to check, convert with `From` both ways.
//!
//! Every conversion destructures without `..` and builds with every field named, so a field added
//! to a core type is a compile error here until it is mirrored.

use fieldbook_core::Error;
use fieldbook_core::domain;

/// `From` both ways for a mirror of a core enum without data, by exhaustive `match`.
macro_rules! plain_enum_conversions {
    ($name:ident { $($variant:ident),+ $(,)? }) => {
        impl From<fieldbook_core::domain::$name> for $name {
            fn from(value: fieldbook_core::domain::$name) -> Self {
                match value {
                    $(fieldbook_core::domain::$name::$variant => $name::$variant,)+
                }
            }
        }

        impl From<$name> for fieldbook_core::domain::$name {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => fieldbook_core::domain::$name::$variant,)+
                }
            }
        }
    };
}

mod common;
mod crime;
mod fields;
mod issue;
mod person;
mod stop_search;
#[cfg(test)]
mod tests;
mod vna;

pub(crate) use fields::{record_id, time_to_ffi};

pub use common::{
    Coded, Location, RecordKind, RecordMeta, Role, Status, Thrive, WorkflowAction, WorkflowEvent,
};
pub use crime::{
    AssessmentExemption, Attachment, Classification, CrimeFlags, CrimeReport, NoAssessmentReason,
    PropertyItem, RecordingDecision, RecordingDecisionKind, VictimDecision,
};
pub use issue::{IssueFlags, NeighbourhoodIssue};
pub use person::{ContactDetails, Person, PersonName};
pub use stop_search::{AgeEvidence, StopSearch};
pub use vna::{
    CommunicationNeeds, ContactChannel, ContactPreferences, EnhancedRightsOverride, Referral,
    ReferralDecision, VictimNeedsAssessment, VpsStatus,
};

/// Any record, by kind.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum Record {
    /// A crime report.
    Crime {
        /// The report.
        value: CrimeReport,
    },
    /// A victim needs assessment.
    Vna {
        /// The assessment.
        value: VictimNeedsAssessment,
    },
    /// A stop-and-search record.
    StopSearch {
        /// The record.
        value: StopSearch,
    },
    /// A neighbourhood issue.
    Issue {
        /// The issue.
        value: NeighbourhoodIssue,
    },
    /// A person.
    Person {
        /// The person.
        value: Person,
    },
}

impl From<domain::Record> for Record {
    fn from(record: domain::Record) -> Self {
        match record {
            domain::Record::Crime(r) => Record::Crime { value: r.into() },
            domain::Record::Vna(r) => Record::Vna { value: r.into() },
            domain::Record::StopSearch(r) => Record::StopSearch { value: r.into() },
            domain::Record::Issue(r) => Record::Issue { value: r.into() },
            domain::Record::Person(r) => Record::Person { value: r.into() },
        }
    }
}

/// Field paths in errors are relative to the record (`meta.created_at`), as in the core's JSON.
impl TryFrom<Record> for domain::Record {
    type Error = Error;
    fn try_from(record: Record) -> Result<Self, Error> {
        Ok(match record {
            Record::Crime { value } => domain::Record::Crime(value.try_into()?),
            Record::Vna { value } => domain::Record::Vna(value.try_into()?),
            Record::StopSearch { value } => domain::Record::StopSearch(value.try_into()?),
            Record::Issue { value } => domain::Record::Issue(value.try_into()?),
            Record::Person { value } => domain::Record::Person(value.try_into()?),
        })
    }
}
