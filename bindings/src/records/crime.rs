//! The crime report (NCRS / Home Office Counting Rules) and its parts.

use std::time::SystemTime;

use fieldbook_core::Error;
use fieldbook_core::domain;

use super::fields::{
    field, id_to_ffi, list, officer_id, officer_to_ffi, optional, record_id, time_to_ffi, timestamp,
};
use super::{Coded, Location, RecordMeta, Thrive};

/// Offence classification: Home Office offence code and the police.uk category it falls under.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Classification {
    /// Home Office offence code and label, e.g. 8N "Assault with injury".
    pub offence: Coded,
    /// police.uk category, e.g. "violent-crime".
    pub category: String,
}

impl From<domain::Classification> for Classification {
    fn from(value: domain::Classification) -> Self {
        let domain::Classification { offence, category } = value;
        Classification {
            offence: offence.into(),
            category,
        }
    }
}

impl From<Classification> for domain::Classification {
    fn from(value: Classification) -> Self {
        let Classification { offence, category } = value;
        domain::Classification {
            offence: offence.into(),
            category,
        }
    }
}

/// The NCRS recording decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum RecordingDecisionKind {
    /// On the balance of probabilities a crime occurred.
    Crimed,
    /// Not crimed: needs a written rationale and a supervisor's sign-off.
    NotCrimed,
}
plain_enum_conversions!(RecordingDecisionKind { Crimed, NotCrimed });

/// The recording decision, to be made within 24 hours of the report (NCRS).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordingDecision {
    /// Crimed or not crimed.
    pub decision: RecordingDecisionKind,
    /// When the decision was made.
    pub decided_at: SystemTime,
    /// Why; required when not crimed.
    pub rationale: Option<String>,
}

impl From<domain::RecordingDecision> for RecordingDecision {
    fn from(value: domain::RecordingDecision) -> Self {
        let domain::RecordingDecision {
            decision,
            decided_at,
            rationale,
        } = value;
        RecordingDecision {
            decision: decision.into(),
            decided_at: time_to_ffi(decided_at),
            rationale,
        }
    }
}

impl TryFrom<RecordingDecision> for domain::RecordingDecision {
    type Error = Error;
    fn try_from(value: RecordingDecision) -> Result<Self, Error> {
        let RecordingDecision {
            decision,
            decided_at,
            rationale,
        } = value;
        Ok(domain::RecordingDecision {
            decision: decision.into(),
            decided_at: field("decided_at", decided_at, timestamp)?,
            rationale,
        })
    }
}

/// Flags that change how a crime and its victims are handled.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CrimeFlags {
    /// Domestic abuse.
    pub domestic_abuse: bool,
    /// Hate crime.
    pub hate_crime: bool,
    /// The victim has been a victim before.
    pub repeat_victim: bool,
    /// The victim is vulnerable.
    pub vulnerable_victim: bool,
}

impl From<domain::CrimeFlags> for CrimeFlags {
    fn from(value: domain::CrimeFlags) -> Self {
        let domain::CrimeFlags {
            domestic_abuse,
            hate_crime,
            repeat_victim,
            vulnerable_victim,
        } = value;
        CrimeFlags {
            domestic_abuse,
            hate_crime,
            repeat_victim,
            vulnerable_victim,
        }
    }
}

impl From<CrimeFlags> for domain::CrimeFlags {
    fn from(value: CrimeFlags) -> Self {
        let CrimeFlags {
            domestic_abuse,
            hate_crime,
            repeat_victim,
            vulnerable_victim,
        } = value;
        domain::CrimeFlags {
            domestic_abuse,
            hate_crime,
            repeat_victim,
            vulnerable_victim,
        }
    }
}

/// Why a victim has no needs assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum NoAssessmentReason {
    /// The victim declined an assessment.
    Declined,
    /// The victim could not be contacted.
    Uncontactable,
    /// Contact would put the victim at risk.
    Safety,
}
plain_enum_conversions!(NoAssessmentReason {
    Declined,
    Uncontactable,
    Safety,
});

/// A recorded reason why a victim of this crime has no needs assessment.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AssessmentExemption {
    /// The victim (a person id listed in `victims`).
    pub victim_id: String,
    /// Declined, uncontactable or safety.
    pub reason: NoAssessmentReason,
    /// Detail.
    pub note: Option<String>,
}

impl From<domain::AssessmentExemption> for AssessmentExemption {
    fn from(value: domain::AssessmentExemption) -> Self {
        let domain::AssessmentExemption {
            victim_id,
            reason,
            note,
        } = value;
        AssessmentExemption {
            victim_id: id_to_ffi(victim_id),
            reason: reason.into(),
            note,
        }
    }
}

impl TryFrom<AssessmentExemption> for domain::AssessmentExemption {
    type Error = Error;
    fn try_from(value: AssessmentExemption) -> Result<Self, Error> {
        let AssessmentExemption {
            victim_id,
            reason,
            note,
        } = value;
        Ok(domain::AssessmentExemption {
            victim_id: field("victim_id", victim_id, record_id)?,
            reason: reason.into(),
            note,
        })
    }
}

/// The victim's decision not to support action (required for outcome 16).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VictimDecision {
    /// The victim whose decision this is (person id).
    pub victim_id: String,
    /// When it was recorded.
    pub recorded_at: SystemTime,
    /// How it was obtained, e.g. "signed statement", "body-worn video".
    pub method: String,
    /// Reference to the auditable record of it (statement number, BWV clip reference).
    pub evidence_ref: String,
}

impl From<domain::VictimDecision> for VictimDecision {
    fn from(value: domain::VictimDecision) -> Self {
        let domain::VictimDecision {
            victim_id,
            recorded_at,
            method,
            evidence_ref,
        } = value;
        VictimDecision {
            victim_id: id_to_ffi(victim_id),
            recorded_at: time_to_ffi(recorded_at),
            method,
            evidence_ref,
        }
    }
}

impl TryFrom<VictimDecision> for domain::VictimDecision {
    type Error = Error;
    fn try_from(value: VictimDecision) -> Result<Self, Error> {
        let VictimDecision {
            victim_id,
            recorded_at,
            method,
            evidence_ref,
        } = value;
        Ok(domain::VictimDecision {
            victim_id: field("victim_id", victim_id, record_id)?,
            recorded_at: field("recorded_at", recorded_at, timestamp)?,
            method,
            evidence_ref,
        })
    }
}

/// An item of property or an exhibit.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PropertyItem {
    /// What it is.
    pub description: String,
    /// Exhibit reference, if seized.
    pub exhibit_ref: Option<String>,
    /// Value in pence, if known.
    pub value_pence: Option<i64>,
}

impl From<domain::PropertyItem> for PropertyItem {
    fn from(value: domain::PropertyItem) -> Self {
        let domain::PropertyItem {
            description,
            exhibit_ref,
            value_pence,
        } = value;
        PropertyItem {
            description,
            exhibit_ref,
            value_pence,
        }
    }
}

impl From<PropertyItem> for domain::PropertyItem {
    fn from(value: PropertyItem) -> Self {
        let PropertyItem {
            description,
            exhibit_ref,
            value_pence,
        } = value;
        domain::PropertyItem {
            description,
            exhibit_ref,
            value_pence,
        }
    }
}

/// A photo or file attached to a record (bytes stored elsewhere, referenced by hash).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Attachment {
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Media type, e.g. "image/jpeg".
    pub media_type: String,
    /// Caption.
    pub caption: Option<String>,
}

impl From<domain::Attachment> for Attachment {
    fn from(value: domain::Attachment) -> Self {
        let domain::Attachment {
            sha256,
            media_type,
            caption,
        } = value;
        Attachment {
            sha256,
            media_type,
            caption,
        }
    }
}

impl From<Attachment> for domain::Attachment {
    fn from(value: Attachment) -> Self {
        let Attachment {
            sha256,
            media_type,
            caption,
        } = value;
        domain::Attachment {
            sha256,
            media_type,
            caption,
        }
    }
}

/// A crime report: one crime per victim (NCRS / Home Office Counting Rules).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CrimeReport {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// When the report was received (the 24-hour recording clock starts here).
    pub reported_at: Option<SystemTime>,
    /// When it happened (from).
    pub occurred_from: Option<SystemTime>,
    /// When it happened (to).
    pub occurred_to: Option<SystemTime>,
    /// Where it happened.
    pub location: Option<Location>,
    /// Other officers who attended (collar numbers): they may add to this report while it is a
    /// draft, and it reaches their devices.
    pub attending_officers: Vec<String>,
    /// Offence classification.
    pub classification: Option<Classification>,
    /// Why the classification last changed (required to reclassify a submitted record).
    pub reclassification_reason: Option<String>,
    /// The NCRS recording decision.
    pub recording_decision: Option<RecordingDecision>,
    /// The account, written by one or more officers.
    pub narrative: String,
    /// Victims (person ids).
    pub victims: Vec<String>,
    /// Suspects (person ids).
    pub suspects: Vec<String>,
    /// Witnesses (person ids).
    pub witnesses: Vec<String>,
    /// Property and exhibits.
    pub property: Vec<PropertyItem>,
    /// Photos and files.
    pub attachments: Vec<Attachment>,
    /// Domestic abuse, hate crime, repeat and vulnerable victim flags.
    pub flags: CrimeFlags,
    /// THRIVE risk assessment.
    pub thrive: Option<Thrive>,
    /// Outcome code 0–22 with its label.
    pub outcome: Option<Coded>,
    /// The victim's decision, required for outcome 16.
    pub victim_decision: Option<VictimDecision>,
    /// Recorded reasons why a victim has no needs assessment.
    pub assessment_exemptions: Vec<AssessmentExemption>,
}

impl From<domain::CrimeReport> for CrimeReport {
    fn from(value: domain::CrimeReport) -> Self {
        let domain::CrimeReport {
            meta,
            reported_at,
            occurred_from,
            occurred_to,
            location,
            attending_officers,
            classification,
            reclassification_reason,
            recording_decision,
            narrative,
            victims,
            suspects,
            witnesses,
            property,
            attachments,
            flags,
            thrive,
            outcome,
            victim_decision,
            assessment_exemptions,
        } = value;
        CrimeReport {
            meta: meta.into(),
            reported_at: reported_at.map(time_to_ffi),
            occurred_from: occurred_from.map(time_to_ffi),
            occurred_to: occurred_to.map(time_to_ffi),
            location: location.map(Into::into),
            attending_officers: attending_officers.into_iter().map(officer_to_ffi).collect(),
            classification: classification.map(Into::into),
            reclassification_reason,
            recording_decision: recording_decision.map(Into::into),
            narrative,
            victims: victims.into_iter().map(id_to_ffi).collect(),
            suspects: suspects.into_iter().map(id_to_ffi).collect(),
            witnesses: witnesses.into_iter().map(id_to_ffi).collect(),
            property: property.into_iter().map(Into::into).collect(),
            attachments: attachments.into_iter().map(Into::into).collect(),
            flags: flags.into(),
            thrive: thrive.map(Into::into),
            outcome: outcome.map(Into::into),
            victim_decision: victim_decision.map(Into::into),
            assessment_exemptions: assessment_exemptions.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<CrimeReport> for domain::CrimeReport {
    type Error = Error;
    fn try_from(value: CrimeReport) -> Result<Self, Error> {
        let CrimeReport {
            meta,
            reported_at,
            occurred_from,
            occurred_to,
            location,
            attending_officers,
            classification,
            reclassification_reason,
            recording_decision,
            narrative,
            victims,
            suspects,
            witnesses,
            property,
            attachments,
            flags,
            thrive,
            outcome,
            victim_decision,
            assessment_exemptions,
        } = value;
        Ok(domain::CrimeReport {
            meta: field("meta", meta, domain::RecordMeta::try_from)?,
            reported_at: optional("reported_at", reported_at, timestamp)?,
            occurred_from: optional("occurred_from", occurred_from, timestamp)?,
            occurred_to: optional("occurred_to", occurred_to, timestamp)?,
            location: location.map(Into::into),
            attending_officers: list("attending_officers", attending_officers, officer_id)?,
            classification: classification.map(Into::into),
            reclassification_reason,
            recording_decision: optional(
                "recording_decision",
                recording_decision,
                domain::RecordingDecision::try_from,
            )?,
            narrative,
            victims: list("victims", victims, record_id)?,
            suspects: list("suspects", suspects, record_id)?,
            witnesses: list("witnesses", witnesses, record_id)?,
            property: property.into_iter().map(Into::into).collect(),
            attachments: attachments.into_iter().map(Into::into).collect(),
            flags: flags.into(),
            thrive: thrive.map(Into::into),
            outcome: outcome.map(Into::into),
            victim_decision: optional(
                "victim_decision",
                victim_decision,
                domain::VictimDecision::try_from,
            )?,
            assessment_exemptions: list(
                "assessment_exemptions",
                assessment_exemptions,
                domain::AssessmentExemption::try_from,
            )?,
        })
    }
}
