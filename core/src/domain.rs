//! The typed records an officer, PCSO or supervisor works with.
//!
//! These structs are the API of the core; the automerge document (see [`crate::doc`]) is their
//! storage and merge format, mapped through their serde derives. Personal details (names, dates of
//! birth, addresses, contact details) live only in [`Person`]; every other record refers to people
//! by [`RecordId`]. This module does no I/O and knows nothing of automerge or SQLite.

mod ids;
mod time_types;

pub use ids::{OfficerId, RecordId};
pub use time_types::{CalendarDate, Timestamp};

use serde::{Deserialize, Serialize};

/// What a user of a device may do; decided at enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A warranted police officer.
    Officer,
    /// A police community support officer: logs neighbourhood issues, never stop-searches.
    Pcso,
    /// Reviews, returns and approves entries of their team.
    Supervisor,
}

impl Role {
    /// The name used on the command line and in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Pcso => "pcso",
            Role::Supervisor => "supervisor",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = crate::invalid::Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "officer" => Ok(Role::Officer),
            "pcso" => Ok(Role::Pcso),
            "supervisor" => Ok(Role::Supervisor),
            other => Err(crate::invalid::Invalid::new(
                "role",
                "known-role",
                format!("unknown role '{other}': use officer, pcso or supervisor"),
            )),
        }
    }
}

/// Declares [`RecordKind`] and its [`RecordKind::ALL`] from one list, so a kind added to the enum
/// is in `ALL` too (every loop over the kinds, and every test that walks them, meets it).
macro_rules! record_kinds {
    ($($(#[$attr:meta])* $kind:ident,)+) => {
        /// The kinds of record Fieldbook keeps, one automerge document each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum RecordKind {
            $($(#[$attr])* $kind,)+
        }

        impl RecordKind {
            /// Every kind, in declaration order.
            pub const ALL: [RecordKind; [$(RecordKind::$kind),+].len()] = [$(RecordKind::$kind),+];
        }
    };
}

record_kinds! {
    /// A crime report (National Crime Recording Standard).
    #[serde(rename = "crime")]
    CrimeReport,
    /// A victim needs assessment (Victims' Code).
    #[serde(rename = "vna")]
    VictimNeedsAssessment,
    /// A stop-and-search record (PACE Code A).
    #[serde(rename = "stop-search")]
    StopSearch,
    /// A neighbourhood (anti-social behaviour) issue logged by a PCSO.
    #[serde(rename = "issue")]
    NeighbourhoodIssue,
    /// A person: the only place personal details are held.
    #[serde(rename = "person")]
    Person,
}

impl RecordKind {
    /// What the rest of Fieldbook needs to know about this kind, answered in one place: a new
    /// kind does not compile until it answers every question (`docs/architecture.md`, "Adding
    /// a record kind", lists what else it needs).
    pub const fn profile(self) -> KindProfile {
        match self {
            RecordKind::CrimeReport => KindProfile {
                name: "crime",
                label: "crime report",
                personal: false,
                shared: false,
                reaches: Reaches::Directly,
            },
            RecordKind::VictimNeedsAssessment => KindProfile {
                name: "vna",
                label: "victim needs assessment",
                personal: false,
                shared: false,
                reaches: Reaches::WithItsCrime,
            },
            RecordKind::StopSearch => KindProfile {
                name: "stop-search",
                label: "stop and search",
                personal: false,
                shared: false,
                reaches: Reaches::Directly,
            },
            RecordKind::NeighbourhoodIssue => KindProfile {
                name: "issue",
                label: "neighbourhood issue",
                personal: false,
                shared: false,
                reaches: Reaches::DirectlyAndToTheTeamsPcsos,
            },
            RecordKind::Person => KindProfile {
                name: "person",
                label: "person",
                personal: true,
                shared: true,
                reaches: Reaches::WithEveryLink,
            },
        }
    }

    /// The short name used on the command line, in documents and in the store.
    pub const fn as_str(self) -> &'static str {
        self.profile().name
    }

    /// A label a person reads.
    pub const fn label(self) -> &'static str {
        self.profile().label
    }
}

/// One record kind's answers ([`RecordKind::profile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindProfile {
    /// The short name: the command line, documents, the store and the wire.
    pub name: &'static str,
    /// A label a person reads.
    pub label: &'static str,
    /// It holds personal details: every read, export and erasure of it on a device is written
    /// to the access log.
    pub personal: bool,
    /// It is shared between officers rather than owned: any officer may put its details right
    /// (the policy matrix's edit rows say the same; a test holds them together), and any
    /// officer's device may write to it.
    pub shared: bool,
    /// Which devices the feed brings it to ([`Reaches`]).
    pub reaches: Reaches,
}

/// Which devices the feed brings a kind of record to, besides its author's and attending
/// officers' (`docs/sync-protocol.md`, "Who receives what").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaches {
    /// Its author and attending officers, and the team's supervisors once submitted.
    Directly,
    /// As [`Reaches::Directly`], and every PCSO of the author's team.
    DirectlyAndToTheTeamsPcsos,
    /// As [`Reaches::Directly`], and any officer or supervisor holding the crime it assesses
    /// (never a PCSO).
    WithItsCrime,
    /// As [`Reaches::Directly`], and every device holding a record that links it.
    WithEveryLink,
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RecordKind {
    type Err = crate::invalid::Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
                crate::invalid::Invalid::new(
                    "kind",
                    "known-kind",
                    format!("unknown record kind '{s}': use one of {}", names.join(", ")),
                )
            })
    }
}

/// Workflow state, derived at read time from [`RecordMeta::workflow`] (see [`crate::workflow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

impl Status {
    /// The name used on the command line and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::Returned => "returned",
            Status::Approved => "approved",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = crate::invalid::Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "draft" => Ok(Status::Draft),
            "submitted" => Ok(Status::Submitted),
            "returned" => Ok(Status::Returned),
            "approved" => Ok(Status::Approved),
            other => Err(crate::invalid::Invalid::new(
                "status",
                "known-status",
                format!("unknown status '{other}': use draft, submitted, returned or approved"),
            )),
        }
    }
}

/// One entry of a record's append-only workflow history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowEvent {
    /// What happened.
    pub action: WorkflowAction,
    /// Who did it.
    pub by: OfficerId,
    /// In which role.
    pub role: Role,
    /// Device time of the action.
    pub at: Timestamp,
    /// Why (required for returns and re-opening).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For approvals: the document heads (hex) that were approved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<String>,
}

/// The workflow actions a record's history can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// What every record carries, whatever its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordMeta {
    /// Generated on the device (UUIDv7, time ordered).
    pub id: RecordId,
    /// Which kind of record this is.
    pub kind: RecordKind,
    /// The officer who created it.
    pub author: OfficerId,
    /// Device clock at creation.
    pub created_at: Timestamp,
    /// Set by the sync server when it first receives the record; written by nobody else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_received_at: Option<Timestamp>,
    /// Append-only workflow history; status is derived from it.
    #[serde(default)]
    pub workflow: Vec<WorkflowEvent>,
}

/// A place: device GPS and/or a description. Exact coordinates are never published.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// WGS84 latitude in degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// WGS84 longitude in degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// GPS accuracy radius in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    /// Free-text address or place description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Street, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// Ward, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ward: Option<String>,
}

impl Location {
    /// True when the location says where, by coordinates or by description.
    pub fn is_given(&self) -> bool {
        (self.lat.is_some() && self.lon.is_some())
            || self
                .description
                .as_deref()
                .is_some_and(|d| !d.trim().is_empty())
    }
}

/// A reference-data value kept as both code and label (labels change by year).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coded {
    /// Stable code, e.g. Home Office offence code "8N".
    pub code: String,
    /// The label as published at the time it was recorded.
    pub label: String,
}

/// THRIVE risk assessment with the advice given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thrive {
    /// Threat.
    #[serde(default)]
    pub threat: String,
    /// Harm.
    #[serde(default)]
    pub harm: String,
    /// Risk.
    #[serde(default)]
    pub risk: String,
    /// Investigation.
    #[serde(default)]
    pub investigation: String,
    /// Vulnerability.
    #[serde(default)]
    pub vulnerability: String,
    /// Engagement.
    #[serde(default)]
    pub engagement: String,
    /// Advice given to the person.
    #[serde(default)]
    pub advice_given: String,
}

// ---------------------------------------------------------------------------------------------
// Crime report
// ---------------------------------------------------------------------------------------------

/// Offence classification: Home Office offence code and the police.uk category it falls under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// Home Office offence code and label, e.g. 8N "Assault with injury".
    pub offence: Coded,
    /// police.uk category, e.g. "violent-crime".
    pub category: String,
}

/// The NCRS recording decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordingDecisionKind {
    /// On the balance of probabilities a crime occurred.
    Crimed,
    /// Not crimed: needs a written rationale and a supervisor's sign-off.
    NotCrimed,
}

/// The recording decision, to be made within 24 hours of the report (NCRS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingDecision {
    /// Crimed or not crimed.
    pub decision: RecordingDecisionKind,
    /// When the decision was made.
    pub decided_at: Timestamp,
    /// Why; required when not crimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
}

/// Flags that change how a crime and its victims are handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrimeFlags {
    /// Domestic abuse.
    #[serde(default)]
    pub domestic_abuse: bool,
    /// Hate crime.
    #[serde(default)]
    pub hate_crime: bool,
    /// The victim has been a victim before.
    #[serde(default)]
    pub repeat_victim: bool,
    /// The victim is vulnerable.
    #[serde(default)]
    pub vulnerable_victim: bool,
}

/// Why a victim has no needs assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoAssessmentReason {
    /// The victim declined an assessment.
    Declined,
    /// The victim could not be contacted.
    Uncontactable,
    /// Contact would put the victim at risk.
    Safety,
}

/// A recorded reason why a victim of this crime has no needs assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentExemption {
    /// The victim (a person id listed in `victims`).
    pub victim_id: RecordId,
    /// Declined, uncontactable or safety.
    pub reason: NoAssessmentReason,
    /// Detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The victim's decision not to support action (required for outcome 16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VictimDecision {
    /// The victim whose decision this is.
    pub victim_id: RecordId,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// How it was obtained, e.g. "signed statement", "body-worn video".
    pub method: String,
    /// Reference to the auditable record of it (statement number, BWV clip reference).
    pub evidence_ref: String,
}

/// An item of property or an exhibit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyItem {
    /// What it is.
    pub description: String,
    /// Exhibit reference, if seized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhibit_ref: Option<String>,
    /// Value in pence, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_pence: Option<i64>,
}

/// A photo or file attached to a record (bytes stored elsewhere, referenced by hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Media type, e.g. "image/jpeg".
    pub media_type: String,
    /// Caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// A crime report: one crime per victim (NCRS / Home Office Counting Rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrimeReport {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// When the report was received (the 24-hour recording clock starts here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<Timestamp>,
    /// When it happened (from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_from: Option<Timestamp>,
    /// When it happened (to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_to: Option<Timestamp>,
    /// Where it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Other officers who attended: they may add to this report while it is a draft, and it
    /// reaches their devices.
    #[serde(default)]
    pub attending_officers: Vec<OfficerId>,
    /// Offence classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Why the classification last changed (required to reclassify a submitted record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclassification_reason: Option<String>,
    /// The NCRS recording decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_decision: Option<RecordingDecision>,
    /// The account, written by one or more officers (automerge text: concurrent additions merge).
    #[serde(default)]
    pub narrative: String,
    /// Victims (person ids).
    #[serde(default)]
    pub victims: Vec<RecordId>,
    /// Suspects (person ids).
    #[serde(default)]
    pub suspects: Vec<RecordId>,
    /// Witnesses (person ids).
    #[serde(default)]
    pub witnesses: Vec<RecordId>,
    /// Property and exhibits.
    #[serde(default)]
    pub property: Vec<PropertyItem>,
    /// Photos and files.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Domestic abuse, hate crime, repeat and vulnerable victim flags.
    #[serde(default)]
    pub flags: CrimeFlags,
    /// THRIVE risk assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thrive: Option<Thrive>,
    /// Outcome code 0–22 with its label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Coded>,
    /// The victim's decision, required for outcome 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victim_decision: Option<VictimDecision>,
    /// Recorded reasons why a victim has no needs assessment.
    #[serde(default)]
    pub assessment_exemptions: Vec<AssessmentExemption>,
}

// ---------------------------------------------------------------------------------------------
// Victim needs assessment
// ---------------------------------------------------------------------------------------------

/// A reason to leave out an enhanced-rights category the crime or the victim implies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnhancedRightsOverride {
    /// The implied category code that is not applied.
    pub category: String,
    /// Why.
    pub reason: String,
}

/// Communication needs of a victim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunicationNeeds {
    /// Interpreter needed, in this language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter_language: Option<String>,
    /// EasyRead material.
    #[serde(default)]
    pub easy_read: bool,
    /// Braille.
    #[serde(default)]
    pub braille: bool,
    /// A registered intermediary.
    #[serde(default)]
    pub intermediary: bool,
}

/// How to contact a victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContactChannel {
    /// Phone call.
    Phone,
    /// Text message.
    Sms,
    /// Email.
    Email,
    /// Letter.
    Letter,
    /// In person.
    InPerson,
}

/// Contact preferences of a victim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPreferences {
    /// Preferred channel.
    pub channel: ContactChannel,
    /// How often, e.g. "weekly", "on change".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    /// A safe way to make contact (domestic abuse: never a possibly shared phone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_contact_method: Option<String>,
    /// Whether automatic updates (texts, emails) may be sent.
    #[serde(default)]
    pub automatic_messages: bool,
}

/// The decision on referral to victim support services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferralDecision {
    /// Referred to victim support.
    Referred,
    /// The victim opted out.
    OptedOut,
    /// Not referred because the explicit consent these crimes need was not given.
    NoConsent,
}

/// Referral to victim support services (default within 2 working days unless opted out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    /// Referred, opted out, or no consent.
    pub decision: ReferralDecision,
    /// Explicit consent given (required for sexual offences, domestic abuse, bereaved relatives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit_consent: Option<bool>,
    /// When the decision was recorded.
    pub decided_at: Timestamp,
    /// When the referral was sent, if referred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referred_at: Option<Timestamp>,
}

/// Victim Personal Statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VpsStatus {
    /// Offered, not yet taken.
    Offered,
    /// Declined.
    Declined,
    /// Made.
    Made,
}

/// A victim needs assessment: one per victim of a crime (Victims' Code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VictimNeedsAssessment {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// The crime this assessment belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crime_id: Option<RecordId>,
    /// The victim (person id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victim_id: Option<RecordId>,
    /// When the assessment was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessed_at: Option<Timestamp>,
    /// Enhanced-rights categories (codes from reference data).
    #[serde(default)]
    pub enhanced_rights: Vec<String>,
    /// Implied categories left out, each with a reason.
    #[serde(default)]
    pub enhanced_rights_overrides: Vec<EnhancedRightsOverride>,
    /// Interpreter, EasyRead, Braille, intermediary.
    #[serde(default)]
    pub communication: CommunicationNeeds,
    /// Contact preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactPreferences>,
    /// Referral decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    /// Victim Personal Statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vps: Option<VpsStatus>,
    /// Written acknowledgement given to the victim.
    #[serde(default)]
    pub acknowledgement_given: bool,
    /// Notes (automerge text).
    #[serde(default)]
    pub notes: String,
}

// ---------------------------------------------------------------------------------------------
// Stop and search
// ---------------------------------------------------------------------------------------------

/// The person's age as the officer knows it; the published age range is derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeEvidence {
    /// Age in whole years.
    pub years: u8,
    /// True when the officer estimated it.
    #[serde(default)]
    pub estimated: bool,
}

/// A stop-and-search encounter (PACE Code A). Field names follow data.police.uk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopSearch {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// "Person search", "Vehicle search" or "Person and Vehicle search".
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub search_type: Option<String>,
    /// When the person was detained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detained_at: Option<Timestamp>,
    /// When the search happened, if different.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searched_at: Option<Timestamp>,
    /// Where the person was detained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Where the search happened, if different.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_location: Option<Location>,
    /// The power used, as police.uk labels it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legislation: Option<String>,
    /// What was searched for, as police.uk labels it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_of_search: Option<String>,
    /// The grounds for suspicion (for powers that need them): specific, not boilerplate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grounds: Option<String>,
    /// The authorisation reference (s60 CJPOA 1994, s47A TA 2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorisation_ref: Option<String>,
    /// Outcome, as police.uk labels it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Whether the outcome was linked to the object of search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_linked_to_object_of_search: Option<bool>,
    /// Whether more than outer clothing was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_of_more_than_outer_clothing: Option<bool>,
    /// Any injury or damage caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injury_or_damage: Option<bool>,
    /// Details of injury or damage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injury_or_damage_details: Option<String>,
    /// Self-defined ethnicity (18 census categories + "Not stated"), police.uk label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_defined_ethnicity: Option<String>,
    /// Officer-defined ethnicity (White, Black, Asian, Mixed, Other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer_defined_ethnicity: Option<String>,
    /// Gender: "Male", "Female" or "Other".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// The person's age or the officer's estimate of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<AgeEvidence>,
    /// Derived from `age` on every save; never typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_range: Option<String>,
    /// Registration of the vehicle searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_registration: Option<String>,
    /// Body-worn video recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bwv_used: Option<bool>,
    /// Why body-worn video was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bwv_reason: Option<String>,
    /// Whether a receipt was given at the scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_given: Option<bool>,
    /// Why no receipt was given (e.g. called away to an emergency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_not_given_reason: Option<String>,
    /// The unique receipt reference, assigned on the device at creation.
    pub receipt_reference: String,
    /// The person searched, if they gave details (they need not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<RecordId>,
    /// A description of the person when no details are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_description: Option<String>,
    /// Operation name, if part of one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Neighbourhood issue
// ---------------------------------------------------------------------------------------------

/// Issue flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueFlags {
    /// The reporter or victim has reported before.
    #[serde(default)]
    pub repeat: bool,
    /// The reporter or victim is vulnerable.
    #[serde(default)]
    pub vulnerable: bool,
}

/// A neighbourhood issue (anti-social behaviour) logged by a PCSO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighbourhoodIssue {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// When it was reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<Timestamp>,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Other officers or PCSOs working the issue: they may add to it while it is a draft.
    #[serde(default)]
    pub attending_officers: Vec<OfficerId>,
    /// ASB type code (National Standard for Incident Recording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asb_type: Option<String>,
    /// "personal", "nuisance" or "environmental".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// The reporter (person id), unless anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter_id: Option<RecordId>,
    /// The reporter asked to stay anonymous.
    #[serde(default)]
    pub anonymous_reporter: bool,
    /// Repeat and vulnerable flags.
    #[serde(default)]
    pub flags: IssueFlags,
    /// THRIVE risk assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thrive: Option<Thrive>,
    /// What happened (automerge text).
    #[serde(default)]
    pub narrative: String,
    /// Actions taken (automerge text).
    #[serde(default)]
    pub actions_taken: String,
    /// Problem-solving (SARA) plan reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sara_plan_ref: Option<String>,
    /// The crime report this issue became, if it turned out to be a crime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_crime_id: Option<RecordId>,
}

// ---------------------------------------------------------------------------------------------
// Person
// ---------------------------------------------------------------------------------------------

/// One name a person is known by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonName {
    /// Given name(s).
    #[serde(default)]
    pub given: String,
    /// Family name.
    #[serde(default)]
    pub family: String,
    /// True for an alias or former name.
    #[serde(default)]
    pub alias: bool,
}

/// A person's contact details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactDetails {
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A person: the only record holding personal details; others refer to it by id, so rectification
/// and erasure happen in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// Names, the first being the primary one; aliases flagged.
    #[serde(default)]
    pub names: Vec<PersonName>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<CalendarDate>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Phone and email.
    #[serde(default)]
    pub contact: ContactDetails,
    /// Communication needs.
    #[serde(default)]
    pub communication: CommunicationNeeds,
    /// Physical description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Person {
    /// Age in whole years on `on`, if the date of birth is known.
    pub fn age_on(&self, on: Timestamp) -> Option<u32> {
        let dob = self.date_of_birth?.0;
        let today = on.0.date();
        let mut years = today.year() - dob.year();
        if (today.month() as u8, today.day()) < (dob.month() as u8, dob.day()) {
            years -= 1;
        }
        u32::try_from(years).ok()
    }
}

// ---------------------------------------------------------------------------------------------
// Record
// ---------------------------------------------------------------------------------------------

/// Any record, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Record {
    /// A crime report.
    Crime(CrimeReport),
    /// A victim needs assessment.
    Vna(VictimNeedsAssessment),
    /// A stop-and-search record.
    StopSearch(StopSearch),
    /// A neighbourhood issue.
    Issue(NeighbourhoodIssue),
    /// A person.
    Person(Person),
}

impl Record {
    /// A new, empty record of `kind`, authored now by `author`.
    pub fn new(kind: RecordKind, id: RecordId, author: OfficerId, now: Timestamp) -> Record {
        let meta = RecordMeta {
            id,
            kind,
            author,
            created_at: now,
            server_received_at: None,
            workflow: Vec::new(),
        };
        match kind {
            RecordKind::CrimeReport => Record::Crime(CrimeReport {
                meta,
                reported_at: Some(now),
                occurred_from: None,
                occurred_to: None,
                location: None,
                attending_officers: Vec::new(),
                classification: None,
                reclassification_reason: None,
                recording_decision: None,
                narrative: String::new(),
                victims: Vec::new(),
                suspects: Vec::new(),
                witnesses: Vec::new(),
                property: Vec::new(),
                attachments: Vec::new(),
                flags: CrimeFlags::default(),
                thrive: None,
                outcome: None,
                victim_decision: None,
                assessment_exemptions: Vec::new(),
            }),
            RecordKind::VictimNeedsAssessment => Record::Vna(VictimNeedsAssessment {
                meta,
                crime_id: None,
                victim_id: None,
                assessed_at: Some(now),
                enhanced_rights: Vec::new(),
                enhanced_rights_overrides: Vec::new(),
                communication: CommunicationNeeds::default(),
                contact: None,
                referral: None,
                vps: None,
                acknowledgement_given: false,
                notes: String::new(),
            }),
            RecordKind::StopSearch => Record::StopSearch(StopSearch {
                receipt_reference: receipt_reference(&meta.id, now),
                meta,
                search_type: None,
                detained_at: Some(now),
                searched_at: None,
                location: None,
                search_location: None,
                legislation: None,
                object_of_search: None,
                grounds: None,
                authorisation_ref: None,
                outcome: None,
                outcome_linked_to_object_of_search: None,
                removal_of_more_than_outer_clothing: None,
                injury_or_damage: None,
                injury_or_damage_details: None,
                self_defined_ethnicity: None,
                officer_defined_ethnicity: None,
                gender: None,
                age: None,
                age_range: None,
                vehicle_registration: None,
                bwv_used: None,
                bwv_reason: None,
                receipt_given: None,
                receipt_not_given_reason: None,
                person_id: None,
                person_description: None,
                operation_name: None,
            }),
            RecordKind::NeighbourhoodIssue => Record::Issue(NeighbourhoodIssue {
                meta,
                reported_at: Some(now),
                location: None,
                attending_officers: Vec::new(),
                asb_type: None,
                qualifier: None,
                reporter_id: None,
                anonymous_reporter: false,
                flags: IssueFlags::default(),
                thrive: None,
                narrative: String::new(),
                actions_taken: String::new(),
                sara_plan_ref: None,
                linked_crime_id: None,
            }),
            RecordKind::Person => Record::Person(Person {
                meta,
                names: Vec::new(),
                date_of_birth: None,
                address: None,
                contact: ContactDetails::default(),
                communication: CommunicationNeeds::default(),
                description: None,
            }),
        }
    }

    /// Reads a record of `kind` from JSON, naming the offending field on error.
    pub fn from_json(
        kind: RecordKind,
        value: serde_json::Value,
    ) -> Result<Record, crate::invalid::Invalid> {
        fn typed<T: serde::de::DeserializeOwned>(
            value: serde_json::Value,
        ) -> Result<T, crate::invalid::Invalid> {
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                crate::invalid::Invalid::new(
                    if path == "." {
                        "record".into()
                    } else {
                        crate::limits::preview(&path)
                    },
                    "well-typed",
                    crate::limits::redact_quoted(&e.into_inner().to_string()),
                )
            })
        }
        Ok(match kind {
            RecordKind::CrimeReport => Record::Crime(typed(value)?),
            RecordKind::VictimNeedsAssessment => Record::Vna(typed(value)?),
            RecordKind::StopSearch => Record::StopSearch(typed(value)?),
            RecordKind::NeighbourhoodIssue => Record::Issue(typed(value)?),
            RecordKind::Person => Record::Person(typed(value)?),
        })
    }

    /// The record as a JSON value (the shape documents, `show --json` and `set` paths use).
    pub fn to_json(&self) -> serde_json::Value {
        // Serialising these plain structs cannot fail: no maps with non-string keys, no custom errors.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Id, kind, author, times and workflow.
    pub fn meta(&self) -> &RecordMeta {
        match self {
            Record::Crime(r) => &r.meta,
            Record::Vna(r) => &r.meta,
            Record::StopSearch(r) => &r.meta,
            Record::Issue(r) => &r.meta,
            Record::Person(r) => &r.meta,
        }
    }

    /// Mutable access to the common fields.
    pub fn meta_mut(&mut self) -> &mut RecordMeta {
        match self {
            Record::Crime(r) => &mut r.meta,
            Record::Vna(r) => &mut r.meta,
            Record::StopSearch(r) => &mut r.meta,
            Record::Issue(r) => &mut r.meta,
            Record::Person(r) => &mut r.meta,
        }
    }

    /// Officers besides the author who may edit the record while it is a draft.
    pub fn attending_officers(&self) -> &[OfficerId] {
        match self {
            Record::Crime(c) => &c.attending_officers,
            Record::Issue(i) => &i.attending_officers,
            Record::Vna(_) | Record::StopSearch(_) | Record::Person(_) => &[],
        }
    }

    /// The record's id.
    pub fn id(&self) -> RecordId {
        self.meta().id
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.meta().kind
    }

    /// Recomputes fields that are derived, never typed (the stop-search age range).
    pub fn derive_fields(&mut self, reference: &crate::refdata::ReferenceData) {
        if let Record::StopSearch(s) = self {
            s.age_range = s.age.map(|a| reference.age_range_for(a.years).to_owned());
        }
    }
}

/// The receipt reference printed for a stop-search: unique, short enough to read out.
fn receipt_reference(id: &RecordId, now: Timestamp) -> String {
    let hex = id.0.simple().to_string();
    // The tail of a UUIDv7 is random; the date makes it readable.
    format!(
        "SS-{:04}{:02}{:02}-{}",
        now.0.year(),
        now.0.month() as u8,
        now.0.day(),
        hex[hex.len() - 8..].to_uppercase()
    )
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn every_kind_has_one_name_that_parses_back_and_serialises_as_itself() {
        let names: std::collections::HashSet<&str> =
            RecordKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), RecordKind::ALL.len());
        for kind in RecordKind::ALL {
            assert_eq!(kind.as_str().parse::<RecordKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).expect("serialises"),
                serde_json::json!(kind.as_str())
            );
        }
        let personal: Vec<RecordKind> = RecordKind::ALL
            .into_iter()
            .filter(|k| k.profile().personal)
            .collect();
        assert_eq!(
            personal,
            [RecordKind::Person],
            "personal details live in one kind"
        );
    }
}
