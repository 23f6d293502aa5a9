//! Submission rules for every record kind (PACE Code A, NCRS, the Victims' Code), as pure
//! functions from a record and its context to findings. All findings are returned at once.
//! No I/O: the caller gathers linked records into a [`RuleContext`].
//!
//! One submodule per record kind. Every finding names the field by its JSON path (serde names, as
//! `show --json` prints them), a stable rule id prefixed by kind (`ss-`, `crime-`, `vna-`,
//! `issue-`, `person-`) and a sentence saying what to do. **Messages never contain personal data**:
//! no names, no narrative, no free text copied from the record. Lists of codes and labels come from
//! [`crate::refdata`], never from match arms here.

mod crime;
mod issue;
mod person;
mod stop_search;
mod vna;

pub use stop_search::grounds_are_specific;

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

    /// The context for checking `record`: the people it names, a crime's needs assessments, a
    /// needs assessment's crime, read through `linked` (the device's store, the server's
    /// documents). Records that are not held, or not of the expected kind, are left out.
    pub fn gather<L: LinkedRecords + ?Sized>(
        record: &Record,
        now: Timestamp,
        role: Role,
        linked: &mut L,
    ) -> Result<RuleContext, L::Error> {
        let mut ctx = RuleContext::bare(now, role);
        let mut person_ids: Vec<RecordId> = Vec::new();
        match record {
            Record::Crime(c) => {
                person_ids.extend(c.victims.iter().copied());
                for vna_id in linked.assessments_of(c.meta.id)? {
                    if let Some(Record::Vna(v)) = linked.record(vna_id)? {
                        ctx.assessments.push(v);
                    }
                }
            }
            Record::Vna(v) => {
                person_ids.extend(v.victim_id);
                if let Some(crime_id) = v.crime_id
                    && let Some(Record::Crime(c)) = linked.record(crime_id)?
                {
                    ctx.crime = Some(c);
                }
            }
            Record::StopSearch(s) => person_ids.extend(s.person_id),
            Record::Issue(_) | Record::Person(_) => {}
        }
        for pid in person_ids {
            if let Some(Record::Person(p)) = linked.record(pid)? {
                ctx.people.push(p);
            }
        }
        Ok(ctx)
    }
}

/// Where [`RuleContext::gather`] reads linked records from. The device reads its store; the
/// server its documents. Reading a person here is for the rules, not shown to anyone.
pub trait LinkedRecords {
    /// Why a read failed.
    type Error;
    /// The record with this id, `None` when it is not held.
    fn record(&mut self, id: RecordId) -> Result<Option<Record>, Self::Error>;
    /// The needs assessments that belong to this crime (their `crime_id` is it).
    fn assessments_of(&mut self, crime: RecordId) -> Result<Vec<RecordId>, Self::Error>;
}

/// Runs every rule for the record's kind; returns all findings (errors and warnings).
pub fn check(record: &Record, ctx: &RuleContext, reference: &ReferenceData) -> Vec<Finding> {
    let mut findings = Findings::default();
    match record {
        Record::Crime(r) => crime::check(r, ctx, reference, &mut findings),
        Record::Vna(r) => vna::check(r, ctx, reference, &mut findings),
        Record::StopSearch(r) => stop_search::check(r, ctx, reference, &mut findings),
        Record::Issue(r) => issue::check(r, ctx, reference, &mut findings),
        Record::Person(r) => person::check(r, ctx, &mut findings),
    }
    findings.0
}

/// True when no finding is an error.
pub fn passes(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.severity != Severity::Error)
}

/// Collects findings as the rules of one kind run.
#[derive(Debug, Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(
        &mut self,
        severity: Severity,
        field: impl Into<String>,
        rule: &str,
        message: impl Into<String>,
    ) {
        self.0.push(Finding {
            field: field.into(),
            rule: rule.to_owned(),
            message: message.into(),
            severity,
        });
    }

    /// A finding that blocks submission.
    fn error(&mut self, field: impl Into<String>, rule: &str, message: impl Into<String>) {
        self.push(Severity::Error, field, rule, message);
    }

    /// A finding that is shown but does not block.
    fn warning(&mut self, field: impl Into<String>, rule: &str, message: impl Into<String>) {
        self.push(Severity::Warning, field, rule, message);
    }
}

/// True when the text is missing or only whitespace.
fn blank(text: Option<&str>) -> bool {
    text.is_none_or(|t| t.trim().is_empty())
}

/// True when every part of a THRIVE assessment and the advice given are written.
fn thrive_complete(thrive: Option<&crate::domain::Thrive>) -> bool {
    thrive.is_some_and(|t| {
        [
            &t.threat,
            &t.harm,
            &t.risk,
            &t.investigation,
            &t.vulnerability,
            &t.engagement,
            &t.advice_given,
        ]
        .iter()
        .all(|s| !s.trim().is_empty())
    })
}

#[cfg(test)]
mod tests;
