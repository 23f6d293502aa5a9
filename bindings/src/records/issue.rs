//! The neighbourhood issue (anti-social behaviour) a PCSO logs.

use std::time::SystemTime;

use fieldbook_core::Error;
use fieldbook_core::domain;

use super::fields::{
    field, id_to_ffi, list, officer_id, officer_to_ffi, optional, record_id, time_to_ffi, timestamp,
};
use super::{Location, RecordMeta, Thrive};

/// Issue flags.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct IssueFlags {
    /// The reporter or victim has reported before.
    pub repeat: bool,
    /// The reporter or victim is vulnerable.
    pub vulnerable: bool,
}

impl From<domain::IssueFlags> for IssueFlags {
    fn from(value: domain::IssueFlags) -> Self {
        let domain::IssueFlags { repeat, vulnerable } = value;
        IssueFlags { repeat, vulnerable }
    }
}

impl From<IssueFlags> for domain::IssueFlags {
    fn from(value: IssueFlags) -> Self {
        let IssueFlags { repeat, vulnerable } = value;
        domain::IssueFlags { repeat, vulnerable }
    }
}

/// A neighbourhood issue (anti-social behaviour) logged by a PCSO.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NeighbourhoodIssue {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// When it was reported.
    pub reported_at: Option<SystemTime>,
    /// Where.
    pub location: Option<Location>,
    /// Other officers or PCSOs working the issue (collar numbers): they may add to it while it is
    /// a draft.
    pub attending_officers: Vec<String>,
    /// ASB type code (National Standard for Incident Recording).
    pub asb_type: Option<String>,
    /// "personal", "nuisance" or "environmental".
    pub qualifier: Option<String>,
    /// The reporter (person id), unless anonymous.
    pub reporter_id: Option<String>,
    /// The reporter asked to stay anonymous.
    pub anonymous_reporter: bool,
    /// Repeat and vulnerable flags.
    pub flags: IssueFlags,
    /// THRIVE risk assessment.
    pub thrive: Option<Thrive>,
    /// What happened.
    pub narrative: String,
    /// Actions taken.
    pub actions_taken: String,
    /// Problem-solving (SARA) plan reference.
    pub sara_plan_ref: Option<String>,
    /// The crime report (record id) this issue became, if it turned out to be a crime.
    pub linked_crime_id: Option<String>,
}

impl From<domain::NeighbourhoodIssue> for NeighbourhoodIssue {
    fn from(value: domain::NeighbourhoodIssue) -> Self {
        let domain::NeighbourhoodIssue {
            meta,
            reported_at,
            location,
            attending_officers,
            asb_type,
            qualifier,
            reporter_id,
            anonymous_reporter,
            flags,
            thrive,
            narrative,
            actions_taken,
            sara_plan_ref,
            linked_crime_id,
        } = value;
        NeighbourhoodIssue {
            meta: meta.into(),
            reported_at: reported_at.map(time_to_ffi),
            location: location.map(Into::into),
            attending_officers: attending_officers.into_iter().map(officer_to_ffi).collect(),
            asb_type,
            qualifier,
            reporter_id: reporter_id.map(id_to_ffi),
            anonymous_reporter,
            flags: flags.into(),
            thrive: thrive.map(Into::into),
            narrative,
            actions_taken,
            sara_plan_ref,
            linked_crime_id: linked_crime_id.map(id_to_ffi),
        }
    }
}

impl TryFrom<NeighbourhoodIssue> for domain::NeighbourhoodIssue {
    type Error = Error;
    fn try_from(value: NeighbourhoodIssue) -> Result<Self, Error> {
        let NeighbourhoodIssue {
            meta,
            reported_at,
            location,
            attending_officers,
            asb_type,
            qualifier,
            reporter_id,
            anonymous_reporter,
            flags,
            thrive,
            narrative,
            actions_taken,
            sara_plan_ref,
            linked_crime_id,
        } = value;
        Ok(domain::NeighbourhoodIssue {
            meta: field("meta", meta, domain::RecordMeta::try_from)?,
            reported_at: optional("reported_at", reported_at, timestamp)?,
            location: location.map(Into::into),
            attending_officers: list("attending_officers", attending_officers, officer_id)?,
            asb_type,
            qualifier,
            reporter_id: optional("reporter_id", reporter_id, record_id)?,
            anonymous_reporter,
            flags: flags.into(),
            thrive: thrive.map(Into::into),
            narrative,
            actions_taken,
            sara_plan_ref,
            linked_crime_id: optional("linked_crime_id", linked_crime_id, record_id)?,
        })
    }
}
