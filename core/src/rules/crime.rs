//! Crime report rules (National Crime Recording Standard, Home Office Counting Rules): the
//! classification against reference data, the 24-hour recording decision, victims and their needs
//! assessments, outcome 16's auditable victim decision.

use super::{Findings, RuleContext, blank, passes, thrive_complete};
use crate::domain::{CrimeReport, NoAssessmentReason, RecordingDecisionKind};
use crate::refdata::ReferenceData;

/// The NCRS recording decision is due within this many hours of the report.
const DECISION_DUE_HOURS: i64 = 24;
/// Shortest written rationale for not crime-ing an incident, in characters.
const MIN_RATIONALE_CHARS: usize = 20;

pub(super) fn check(
    c: &CrimeReport,
    ctx: &RuleContext,
    reference: &ReferenceData,
    out: &mut Findings,
) {
    check_times(c, ctx, out);
    if !c.location.as_ref().is_some_and(|l| l.is_given()) {
        out.error(
            "location",
            "crime-location-required",
            "Record where the crime happened: a GPS fix or a description of the place.",
        );
    }
    let offence = check_classification(c, reference, out);
    check_outcome(c, reference, out);

    // People: one role each, victims where the offence has them, an assessment each.
    check_duplicates(c, out);
    if offence.is_some_and(|o| o.victim_based) && c.victims.is_empty() {
        out.error(
            "victims",
            "crime-victim-required",
            "This is a victim-based crime: add the victim.",
        );
    }
    check_assessments(c, ctx, reference, out);

    if (c.flags.vulnerable_victim || c.flags.domestic_abuse) && !thrive_complete(c.thrive.as_ref())
    {
        out.error(
            "thrive",
            "crime-thrive-required",
            "A vulnerable victim or domestic abuse needs a THRIVE risk assessment: complete threat, harm, risk, investigation, vulnerability, engagement and the advice given.",
        );
    }
}

fn check_times(c: &CrimeReport, ctx: &RuleContext, out: &mut Findings) {
    let due =
        |reported: crate::domain::Timestamp| reported.0 + time::Duration::hours(DECISION_DUE_HOURS);
    match c.reported_at {
        None => out.error(
            "reported_at",
            "crime-reported-at-required",
            "Record when the report was received: the 24-hour recording clock starts there.",
        ),
        Some(reported) => match &c.recording_decision {
            Some(d) if d.decided_at.0 > due(reported) => out.warning(
                "recording_decision.decided_at",
                "crime-decision-late",
                "The recording decision was made more than 24 hours after the report: explain the delay in the narrative.",
            ),
            None if ctx.now.0 > due(reported) => out.warning(
                "recording_decision",
                "crime-decision-overdue",
                "The recording decision is overdue (more than 24 hours since the report): make it now.",
            ),
            _ => {}
        },
    }
    match &c.recording_decision {
        None => out.error(
            "recording_decision",
            "crime-decision-required",
            "Make the recording decision: crimed, or not crimed with a rationale.",
        ),
        Some(d) if d.decision == RecordingDecisionKind::NotCrimed => {
            let written = d
                .rationale
                .as_deref()
                .map_or(0, |r| r.trim().chars().count());
            if written < MIN_RATIONALE_CHARS {
                out.error(
                    "recording_decision.rationale",
                    "crime-not-crimed-rationale",
                    format!(
                        "An incident that is not crimed needs a written rationale (at least {MIN_RATIONALE_CHARS} characters) for the supervisor to sign off."
                    ),
                );
            }
        }
        Some(_) => {}
    }
    if let (Some(from), Some(to)) = (c.occurred_from, c.occurred_to)
        && to < from
    {
        out.error(
            "occurred_to",
            "crime-occurred-order",
            "The end of the time the crime occurred cannot be before its start: correct the times.",
        );
    }
}

fn check_classification<'r>(
    c: &CrimeReport,
    reference: &'r ReferenceData,
    out: &mut Findings,
) -> Option<&'r crate::refdata::Offence> {
    let Some(class) = &c.classification else {
        out.error(
            "classification",
            "crime-classification-required",
            "Classify the crime: choose the Home Office offence.",
        );
        return None;
    };
    let Some(offence) = reference.offence(&class.offence.code) else {
        out.error(
            "classification.offence.code",
            "crime-offence-known",
            "The offence code is not a Home Office offence code: choose it from the list.",
        );
        return None;
    };
    if class.offence.label != offence.label {
        // Labels change by year; a record keeps the label it was made with. Shown, not blocking.
        out.warning(
            "classification.offence.label",
            "crime-offence-label",
            format!(
                "The offence label differs from this year's label for {}: '{}'. Check the classification.",
                offence.code, offence.label
            ),
        );
    }
    if class.category != offence.category {
        out.error(
            "classification.category",
            "crime-category-matches",
            format!(
                "Offence {} is published under the police.uk category '{}': correct the category.",
                offence.code, offence.category
            ),
        );
    }
    Some(offence)
}

fn check_outcome(c: &CrimeReport, reference: &ReferenceData, out: &mut Findings) {
    let Some(outcome) = &c.outcome else {
        return;
    };
    match reference.outcome(&outcome.code) {
        None => out.error(
            "outcome.code",
            "crime-outcome-known",
            "The outcome code is not one of the outcomes 0 to 22: choose it from the list.",
        ),
        Some(known) if known.label != outcome.label => out.warning(
            "outcome.label",
            "crime-outcome-label",
            format!(
                "The outcome label differs from this year's label for outcome {}: check the outcome.",
                known.code
            ),
        ),
        Some(_) => {}
    }
    if outcome.code != "16" {
        return;
    }
    const RULE: &str = "crime-outcome16-victim-decision";
    let Some(d) = &c.victim_decision else {
        out.error(
            "victim_decision",
            RULE,
            "Outcome 16 needs an auditable record of the victim's decision not to support action: record who decided, how, and the evidence reference.",
        );
        return;
    };
    if !c.victims.contains(&d.victim_id) {
        out.error(
            "victim_decision.victim_id",
            RULE,
            "The victim decision must be from a victim listed on this crime.",
        );
    }
    if d.method.trim().is_empty() {
        out.error(
            "victim_decision.method",
            RULE,
            "Record how the victim's decision was obtained (for example, signed statement or body-worn video).",
        );
    }
    if d.evidence_ref.trim().is_empty() {
        out.error(
            "victim_decision.evidence_ref",
            RULE,
            "Record the reference of the auditable record of the victim's decision (statement number or video reference).",
        );
    }
}

fn check_duplicates(c: &CrimeReport, out: &mut Findings) {
    let listed = c
        .victims
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("victims[{i}]"), id))
        .chain(
            c.suspects
                .iter()
                .enumerate()
                .map(|(i, id)| (format!("suspects[{i}]"), id)),
        );
    let mut seen = std::collections::BTreeSet::new();
    for (field, id) in listed {
        if !seen.insert(*id) {
            out.error(
                field,
                "crime-person-duplicate",
                "This person is already listed as a victim or suspect on this crime: list each person once.",
            );
        }
    }
}

/// Each victim needs a needs assessment that passes its own rules, or a recorded exemption.
fn check_assessments(
    c: &CrimeReport,
    ctx: &RuleContext,
    reference: &ReferenceData,
    out: &mut Findings,
) {
    for (i, e) in c.assessment_exemptions.iter().enumerate() {
        if !c.victims.contains(&e.victim_id) {
            out.error(
                format!("assessment_exemptions[{i}].victim_id"),
                "crime-exemption-victim",
                "The exemption names a person who is not a victim on this crime: correct it or remove it.",
            );
        }
        // "Declined" is the victim's own decision and explains itself. "Uncontactable" and
        // "safety" are officer judgements a supervisor must be able to review: what attempts
        // were made, what the risk is.
        if e.reason != NoAssessmentReason::Declined && blank(e.note.as_deref()) {
            out.error(
                format!("assessment_exemptions[{i}].note"),
                "crime-exemption-note",
                "Explain the exemption: the attempts made to contact the victim, or the risk contact would bring.",
            );
        }
    }
    if c.victims.is_empty() {
        return;
    }
    // The assessments are checked against this crime as it stands now.
    let with_crime = RuleContext {
        crime: Some(c.clone()),
        ..ctx.clone()
    };
    for (i, victim) in c.victims.iter().enumerate() {
        let assessed = ctx
            .assessments
            .iter()
            .filter(|a| a.crime_id == Some(c.meta.id) && a.victim_id == Some(*victim))
            .any(|a| {
                let mut found = Findings::default();
                super::vna::check(a, &with_crime, reference, &mut found);
                passes(&found.0)
            });
        let exempt = c
            .assessment_exemptions
            .iter()
            .any(|e| e.victim_id == *victim);
        if !assessed && !exempt {
            out.error(
                format!("victims[{i}]"),
                "crime-victim-assessment",
                "This victim has no completed needs assessment: complete one, or record why not (declined, uncontactable, safety).",
            );
        }
    }
}
