//! What every record shares: roles, kinds, status, workflow history, meta, places, coded values and
//! THRIVE.

use std::time::SystemTime;

use fieldbook_core::Error;
use fieldbook_core::domain;

use super::fields::{
    field, id_to_ffi, list, officer_id, officer_to_ffi, optional, record_id, time_to_ffi, timestamp,
};

/// What a user of a device may do; decided at enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Role {
    /// A warranted police officer.
    Officer,
    /// A police community support officer: logs neighbourhood issues, never stop-searches.
    Pcso,
    /// Reviews, returns and approves entries of their team.
    Supervisor,
}
plain_enum_conversions!(Role {
    Officer,
    Pcso,
    Supervisor
});

/// The kinds of record Fieldbook keeps, one document each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum RecordKind {
    /// A crime report (National Crime Recording Standard).
    CrimeReport,
    /// A victim needs assessment (Victims' Code).
    VictimNeedsAssessment,
    /// A stop-and-search record (PACE Code A).
    StopSearch,
    /// A neighbourhood (anti-social behaviour) issue logged by a PCSO.
    NeighbourhoodIssue,
    /// A person: the only place personal details are held.
    Person,
}
plain_enum_conversions!(RecordKind {
    CrimeReport,
    VictimNeedsAssessment,
    StopSearch,
    NeighbourhoodIssue,
    Person,
});

/// Workflow state, derived from a record's workflow history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Status {
    /// Being written; only its author edits it.
    Draft,
    /// Passed every rule and waits for a supervisor.
    Submitted,
    /// Sent back by a supervisor with a reason; its author edits it again.
    Returned,
    /// Approved by a supervisor at specific heads.
    Approved,
}
plain_enum_conversions!(Status {
    Draft,
    Submitted,
    Returned,
    Approved,
});

/// The workflow actions a record's history can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum WorkflowAction {
    /// The author submitted the record after every rule passed.
    Submitted,
    /// A supervisor returned it with a reason.
    Returned,
    /// A supervisor approved it at specific heads.
    Approved,
    /// An approved record was re-opened for editing (it goes back to review).
    Reopened,
}
plain_enum_conversions!(WorkflowAction {
    Submitted,
    Returned,
    Approved,
    Reopened,
});

/// One entry of a record's append-only workflow history.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WorkflowEvent {
    /// What happened.
    pub action: WorkflowAction,
    /// Who did it (collar number).
    pub by: String,
    /// In which role.
    pub role: Role,
    /// Device time of the action.
    pub at: SystemTime,
    /// Why (required for returns and re-opening).
    pub reason: Option<String>,
    /// For approvals: the document heads (hex) that were approved.
    pub heads: Vec<String>,
}

impl From<domain::WorkflowEvent> for WorkflowEvent {
    fn from(value: domain::WorkflowEvent) -> Self {
        let domain::WorkflowEvent {
            action,
            by,
            role,
            at,
            reason,
            heads,
        } = value;
        WorkflowEvent {
            action: action.into(),
            by: officer_to_ffi(by),
            role: role.into(),
            at: time_to_ffi(at),
            reason,
            heads,
        }
    }
}

impl TryFrom<WorkflowEvent> for domain::WorkflowEvent {
    type Error = Error;
    fn try_from(value: WorkflowEvent) -> Result<Self, Error> {
        let WorkflowEvent {
            action,
            by,
            role,
            at,
            reason,
            heads,
        } = value;
        Ok(domain::WorkflowEvent {
            action: action.into(),
            by: field("by", by, officer_id)?,
            role: role.into(),
            at: field("at", at, timestamp)?,
            reason,
            heads,
        })
    }
}

/// What every record carries, whatever its kind.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordMeta {
    /// Generated on the device (UUIDv7, time ordered).
    pub id: String,
    /// Which kind of record this is.
    pub kind: RecordKind,
    /// The officer who created it (collar number).
    pub author: String,
    /// Device clock at creation.
    pub created_at: SystemTime,
    /// Set by the sync server when it first receives the record; written by nobody else.
    pub server_received_at: Option<SystemTime>,
    /// Append-only workflow history; status is derived from it.
    pub workflow: Vec<WorkflowEvent>,
}

impl From<domain::RecordMeta> for RecordMeta {
    fn from(value: domain::RecordMeta) -> Self {
        let domain::RecordMeta {
            id,
            kind,
            author,
            created_at,
            server_received_at,
            workflow,
        } = value;
        RecordMeta {
            id: id_to_ffi(id),
            kind: kind.into(),
            author: officer_to_ffi(author),
            created_at: time_to_ffi(created_at),
            server_received_at: server_received_at.map(time_to_ffi),
            workflow: workflow.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<RecordMeta> for domain::RecordMeta {
    type Error = Error;
    fn try_from(value: RecordMeta) -> Result<Self, Error> {
        let RecordMeta {
            id,
            kind,
            author,
            created_at,
            server_received_at,
            workflow,
        } = value;
        Ok(domain::RecordMeta {
            id: field("id", id, record_id)?,
            kind: kind.into(),
            author: field("author", author, officer_id)?,
            created_at: field("created_at", created_at, timestamp)?,
            server_received_at: optional("server_received_at", server_received_at, timestamp)?,
            workflow: list("workflow", workflow, domain::WorkflowEvent::try_from)?,
        })
    }
}

/// A place: device GPS and/or a description. Exact coordinates are never published.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Location {
    /// WGS84 latitude in degrees.
    pub lat: Option<f64>,
    /// WGS84 longitude in degrees.
    pub lon: Option<f64>,
    /// GPS accuracy radius in metres.
    pub accuracy_m: Option<f64>,
    /// Free-text address or place description.
    pub description: Option<String>,
    /// Street, if known.
    pub street: Option<String>,
    /// Ward, if known.
    pub ward: Option<String>,
}

impl From<domain::Location> for Location {
    fn from(value: domain::Location) -> Self {
        let domain::Location {
            lat,
            lon,
            accuracy_m,
            description,
            street,
            ward,
        } = value;
        Location {
            lat,
            lon,
            accuracy_m,
            description,
            street,
            ward,
        }
    }
}

impl From<Location> for domain::Location {
    fn from(value: Location) -> Self {
        let Location {
            lat,
            lon,
            accuracy_m,
            description,
            street,
            ward,
        } = value;
        domain::Location {
            lat,
            lon,
            accuracy_m,
            description,
            street,
            ward,
        }
    }
}

/// A reference-data value kept as both code and label (labels change by year).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Coded {
    /// Stable code, e.g. Home Office offence code "8N".
    pub code: String,
    /// The label as published at the time it was recorded.
    pub label: String,
}

impl From<domain::Coded> for Coded {
    fn from(value: domain::Coded) -> Self {
        let domain::Coded { code, label } = value;
        Coded { code, label }
    }
}

impl From<Coded> for domain::Coded {
    fn from(value: Coded) -> Self {
        let Coded { code, label } = value;
        domain::Coded { code, label }
    }
}

/// THRIVE risk assessment with the advice given.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Thrive {
    /// Threat.
    pub threat: String,
    /// Harm.
    pub harm: String,
    /// Risk.
    pub risk: String,
    /// Investigation.
    pub investigation: String,
    /// Vulnerability.
    pub vulnerability: String,
    /// Engagement.
    pub engagement: String,
    /// Advice given to the person.
    pub advice_given: String,
}

impl From<domain::Thrive> for Thrive {
    fn from(value: domain::Thrive) -> Self {
        let domain::Thrive {
            threat,
            harm,
            risk,
            investigation,
            vulnerability,
            engagement,
            advice_given,
        } = value;
        Thrive {
            threat,
            harm,
            risk,
            investigation,
            vulnerability,
            engagement,
            advice_given,
        }
    }
}

impl From<Thrive> for domain::Thrive {
    fn from(value: Thrive) -> Self {
        let Thrive {
            threat,
            harm,
            risk,
            investigation,
            vulnerability,
            engagement,
            advice_given,
        } = value;
        domain::Thrive {
            threat,
            harm,
            risk,
            investigation,
            vulnerability,
            engagement,
            advice_given,
        }
    }
}
