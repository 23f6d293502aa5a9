//! Submission rules for every record kind (PACE Code A, NCRS, the Victims' Code), as pure
//! functions from a record and its context to findings. All findings are returned at once.
//! No I/O: the caller gathers linked records into a [`RuleContext`].
//!
//! STUB: being written; the API below is fixed.

use crate::domain::{
    CrimeReport, Person, Record, RecordId, Role, Timestamp, VictimNeedsAssessment,
};
use crate::refdata::ReferenceData;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks submission.
    Error,
    /// Shown, does not block (e.g. a recording decision made after 24 hours).
    Warning,
}

/// One broken rule: which field, which rule, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// Field path, e.g. `grounds`, `victims[0]`, `referral.explicit_consent`.
    pub field: String,
    /// Stable rule id, e.g. `ss-grounds-specific`.
    pub rule: String,
    /// A sentence an officer understands, with what to do. No personal data.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} [{}]", self.field, self.message, self.rule)
    }
}

/// Linked records and circumstances the rules need; gathered by the caller.
#[derive(Debug, Clone)]
pub struct RuleContext {
    /// The time the check runs.
    pub now: Timestamp,
    /// Role of the user submitting.
    pub role: Role,
    /// People the record refers to (victims, the searched person), by id.
    pub people: Vec<Person>,
    /// For a crime report: the needs assessments recorded for this crime.
    pub assessments: Vec<VictimNeedsAssessment>,
    /// For a needs assessment: the crime it belongs to.
    pub crime: Option<CrimeReport>,
}

impl RuleContext {
    /// A context with no linked records.
    pub fn bare(now: Timestamp, role: Role) -> RuleContext {
        RuleContext {
            now,
            role,
            people: Vec::new(),
            assessments: Vec::new(),
            crime: None,
        }
    }

    /// The person with this id, if in context.
    pub fn person(&self, id: RecordId) -> Option<&Person> {
        self.people.iter().find(|p| p.meta.id == id)
    }
}

/// Runs every rule for the record's kind; returns all findings (errors and warnings).
pub fn check(record: &Record, ctx: &RuleContext, reference: &ReferenceData) -> Vec<Finding> {
    let _ = (record, ctx, reference);
    Vec::new()
}

/// True when no finding is an error.
pub fn passes(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.severity != Severity::Error)
}
